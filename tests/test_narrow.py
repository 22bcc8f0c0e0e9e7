"""At 80 columns (and 100), nothing is split inside a word or a path: every help and the
main messages keep each token of their unwrapped text whole on some line, help shows
readable placeholders, and usage lines name each argument once, the same way."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from rnncli.cli import COMMANDS, app

WIDTHS = (80, 100)


def at(width: int, args: list[str]):
    result = CliRunner(env={"COLUMNS": str(width)}).invoke(app, args)
    assert result.exit_code == 0, result.stderr
    return result


def tokens(text: str) -> set[str]:
    """The tokens of every line, table borders left out."""
    text = re.sub(r"[\u2500-\u257f]", " ", text)
    return {t for line in text.splitlines() for t in line.split()}


def assert_whole(narrow: str, unwrapped: str) -> None:
    """Every token (a run of non-space characters) of the unwrapped text appears whole
    on some line of the narrow one: a word or path broken across lines (``lag-`` then
    ``noise``) would leave its token on no line."""
    missing = sorted(tokens(unwrapped) - tokens(narrow))
    assert not missing, missing[:10]


def unwrapped_help(name: str | None) -> str:
    group = get_command(app)
    cmd = group if name is None else group.get_command(None, name)  # type: ignore[attr-defined]
    ctx = cmd.context_class(cmd, info_name=name or "rnncli", terminal_width=4000,
                            max_content_width=4000)  # fmt: skip
    return cmd.get_help(ctx)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", [None, *COMMANDS])
def test_help_keeps_words_and_paths_whole(name: str | None, width: int):
    text = at(width, [*([name] if name else []), "--help"]).stdout
    assert max(len(line) for line in text.splitlines()) <= width
    assert_whole(text, unwrapped_help(name))


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_shows_placeholders_and_one_name_per_argument(name: str):
    text = at(80, [name, "--help"]).stdout
    assert not re.search(r"<(int|float|str|path|list|bool)[^>]*>", text), text
    usage = text.splitlines()[0]
    assert "{" not in usage and "[[" not in usage, usage
    args = text.split("Arguments:\n")[1].split("\n\n")[0] if "Arguments:" in text else ""
    for line in args.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            first = line.split("  ")[1]
            assert first.strip() in usage, (first, usage)  # the same name in both


def test_placeholders_by_kind():
    text = at(80, ["train", "--help"]).stdout
    for shown in ("--seed N", "--out DIR", "--data FILE", "--resume RUN", "--name TEXT",
                  "[KEY=VALUE]..."):  # fmt: skip
        assert shown in text
    assert "lag-noise" in text and "temporal-order-3" in text  # never lag-⏎noise
    usage = at(80, ["show", "--help"]).stdout.splitlines()[0]
    assert usage.endswith("show [OPTIONS] RUN_DIR")
    usage = at(80, ["cells", "--help"]).stdout.splitlines()[0]
    assert usage.endswith("cells [OPTIONS] [CELL]...")
    usage = at(80, ["check", "--help"]).stdout.splitlines()[0]
    assert usage.endswith("check [OPTIONS] PATH... [KEY=VALUE]...")


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root whose run folders have paths longer than 80 characters."""
    root = tmp_path_factory.mktemp("narrow") / ("a-rather-long-folder-name-" * 3) / "outputs"
    at(80, ["train", "--task", "reber", "train.steps=20", "train.eval_every=10", "--out",
            str(root), "-q"])  # fmt: skip
    return root


@pytest.mark.parametrize("width", WIDTHS)
def test_messages_keep_paths_whole(deep: Path, width: int):
    show = at(width, ["show", "latest", "--out", str(deep)]).stdout
    assert_whole(show, at(4000, ["show", "latest", "--out", str(deep)]).stdout)
    run = json.loads(at(80, ["show", "latest", "--out", str(deep), "--json"]).stdout)["run_dir"]
    assert f"run folder: {run}" in show.splitlines()
    narrow = at(width, ["train", "--task", "reber", "train.steps=10", "--out", str(deep),
                        "-q"]).stdout  # fmt: skip
    info = json.loads((deep / "latest" / "run.json").read_text())
    summary = {**info["summary"], **info["summary"]["final"]}
    words = {str(v) for v in summary.values() if isinstance(v, (str, int))}
    assert_whole(narrow, " ".join(words) + f" {(deep / 'latest').resolve()}")
