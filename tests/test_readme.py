"""What the README and the documentation pages show a command printing is what the
command prints (on an 80-column terminal).

Every ``console`` block of README.md and of every page under docs/ whose command is
deterministic on any machine (forward, backward, gradcheck, check on the course notebook
as shipped) is run, and each line the page shows must appear in the output, in order;
``...`` marks lines left out, and durations ("in 0.75 s") may differ. Blocks that show
runs trained elsewhere (inspect on the docs' own runs) are not rerun here: their commands
are in the docs beside the figures they made.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnncli.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]
RERUN = ("forward", "backward", "gradcheck", "check")
FIXTURES = ROOT / "tests" / "fixtures" / "check"


def blocks(page: Path = README) -> list[tuple[str, list[str]]]:
    """(command, shown lines) of every console block of a page that starts with
    ``$ rnncli``."""
    out = []
    for body in re.findall(r"```console\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
        lines = body.rstrip("\n").split("\n")
        if lines and lines[0].startswith("$ rnncli "):
            out.append((lines[0][2:], lines[1:]))
    return out


def normal(line: str) -> str:
    """A line with its durations blanked and trailing space dropped."""
    return re.sub(r"\b\d+(\.\d+)? s\b", "<t> s", line).rstrip()


def shown_in_order(shown: list[str], printed: list[str]) -> str | None:
    """None if every shown line (but ``...``) is printed, in order; else the first one
    that is not."""
    at = 0
    for line in shown:
        if re.sub(r"[│\s]", "", line) == "...":  # left out (also as a table row)
            continue
        want = normal(line)
        while at < len(printed) and normal(printed[at]) != want:
            at += 1
        if at == len(printed):
            return line
        at += 1
    return None


CASES = [(cmd, shown) for cmd, shown in blocks() if shlex.split(cmd)[1] in RERUN]
# every page's rerunnable blocks, the README's included: (page, command, shown lines)
PAGE_CASES = [
    (page.relative_to(ROOT).as_posix(), cmd, shown)
    for page in PAGES
    for cmd, shown in blocks(page)
    if shlex.split(cmd)[1] in RERUN
]


def test_the_readme_shows_these_commands() -> None:
    assert {shlex.split(cmd)[1] for cmd, _ in CASES} == set(RERUN)


def test_the_docs_show_these_commands() -> None:
    """The docs pages keep the full examples the README now shortens."""
    in_docs = {shlex.split(cmd)[1] for page, cmd, _ in PAGE_CASES if page != "README.md"}
    assert in_docs == set(RERUN)


@pytest.mark.parametrize(
    ("page", "cmd", "shown"), PAGE_CASES, ids=[f"{p}: {c}" for p, c, _ in PAGE_CASES]
)
def test_readme_output_is_what_the_command_prints(
    page: str, cmd: str, shown: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = shlex.split(cmd)[1:]
    if args[0] == "check":  # the course notebook as shipped, under the README's name
        notebook = tmp_path / args[1]
        notebook.write_bytes((FIXTURES / "notebook_seed.ipynb").read_bytes())
        args[1] = str(notebook)
    monkeypatch.chdir(ROOT)  # the pages' paths are relative to the repository
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")],
                                env={"NO_COLOR": "1", "COLUMNS": "80"})  # fmt: skip
    printed = (result.stdout + result.stderr).split("\n")
    missing = shown_in_order(shown, printed)
    assert missing is None, f"{page} line not printed by `{cmd}`:\n{missing}\n\n" + "\n".join(
        printed
    )
