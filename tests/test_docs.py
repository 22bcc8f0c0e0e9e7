"""The README is a front door to the documentation site under docs/, which builds.

The README stays short and links every page; every page is in the site's navigation;
the site builds with ``mkdocs build --strict``; the command reference it generates is
each command's ``--help`` as the command line prints it. (What the pages show commands
printing is tested in tests/test_readme.py.)
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from rnncli.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
GENERATED = "reference/commands.md"  # written by docs/hooks.py at build time


def pages() -> set[str]:
    """The pages under docs/, relative to it."""
    return {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}


def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rnncli_docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").split("\n")
    assert len(lines) < 300, f"README.md has {len(lines)} lines"


def test_the_readme_links_docs_pages_that_exist() -> None:
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#\s]+)(?:#[^)]*)?\)", text)
    assert links
    missing = sorted({link for link in links if not (ROOT / link).is_file()})
    assert not missing, f"README links to files that do not exist: {missing}"
    linked = {link.removeprefix("docs/") for link in links if link.endswith(".md")}
    assert pages() - linked == set(), "pages the README does not link to"


def _nav(entries: Any) -> set[str]:
    out: set[str] = set()
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        out |= _nav(value) if isinstance(value, list) else {value}
    return out


def test_every_page_is_in_the_navigation() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["docs_dir"] == "docs"
    nav = _nav(config["nav"])
    assert nav == pages() | {GENERATED}
    assert not (DOCS / GENERATED).exists(), "the command reference is generated, not kept"


def test_the_command_reference_is_each_commands_help() -> None:
    page = hooks().render()
    commands = sorted(re.findall(r"^## `rnncli (\w+)`$", page, re.M))
    assert commands and commands == sorted(typer_commands())
    for args in [[], *([c] for c in commands)]:
        result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "80", "NO_COLOR": "1"})
        assert result.exit_code == 0
        shown = f"```text\n$ {' '.join(['rnncli', *args])} --help\n{result.stdout.rstrip()}\n```"
        assert shown in page, f"the reference's `{' '.join(args)} --help` is not the command's"


def typer_commands() -> list[str]:
    import typer

    group = typer.main.get_command(app)
    ctx = group.make_context("rnncli", [], resilient_parsing=True)
    names = group.list_commands(ctx)  # type: ignore[attr-defined]
    return [n for n in names if not group.get_command(ctx, n).hidden]  # type: ignore[attr-defined]


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="mkdocs-material is not installed (pip install -e '.[docs]', or make docs)",
)
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "NO_MKDOCS_2_WARNING": "1",
    }
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
         "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    reference = (site / "reference" / "commands" / "index.html").read_text(encoding="utf-8")
    assert "rnncli gradcheck --help" in reference
    assert (site / "inspect" / "vanishing-adding.png").is_file()
