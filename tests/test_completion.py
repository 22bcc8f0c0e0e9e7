"""Shell completion of what users type most: config keys and their choices, tasks,
cells, run names and option values, answered from an index without loading commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _complete(line: str, cwd: Path, cache: Path, shell: str = "bash") -> list[str]:
    words = line.split(" ")
    env = {**os.environ, "_RNNCLI_COMPLETE": f"complete_{shell}", "RNNCLI_CACHE": str(cache),
           "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1),
           "_TYPER_COMPLETE_ARGS": line}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "rnncli"], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> tuple[Path, Path]:
    cwd = tmp_path_factory.mktemp("tab")
    run = cwd / "outputs" / "2026-12-08" / "10-00-00-train-reber-lstm"
    run.mkdir(parents=True)
    return cwd, tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("rnncli train train.st", {"train.steps=", "train.stop_on_solve="}),
        ("rnncli train cell=", {"cell=rnn", "cell=lstm", "cell=gru"}),
        ("rnncli backward backward.upstream=", {"backward.upstream=random",
                                                "backward.upstream=loss"}),
        ("rnncli train --task temporal", {"temporal-order", "temporal-order-3"}),
        ("rnncli gradcheck --cell ", {"rnn", "lstm", "gru"}),
        ("rnncli sample ", {"latest", "10-00-00-train-reber-lstm"}),
        ("rnncli train --resume 10-", {"10-00-00-train-reber-lstm"}),
        ("rnncli check hw.py --format ", {"table", "json", "gradescope"}),
        ("rnncli --color ", {"auto", "always", "never"}),
        ("rnncli sw", {"sweep"}),
        ("rnncli train --re", {"--resume", "--report"}),
    ],
)
def test_completes(place, line: str, expected: set[str]):
    cwd, cache = place
    assert set(_complete(line, cwd, cache)) == expected


def test_zsh_gets_its_own_format(place):
    cwd, cache = place
    out = _complete("rnncli train --task ad", cwd, cache, shell="zsh")
    assert any("adding" in line for line in out), out


def test_the_index_follows_the_installed_code(place, monkeypatch):
    from rnncli import completion

    cwd, cache = place
    _complete("rnncli tr", cwd, cache)
    from rnncli.cli import COMMANDS, app

    monkeypatch.setenv("RNNCLI_CACHE", str(cache))
    stamp = completion.index(app, COMMANDS)["stamp"]
    assert stamp == completion._stamp()
    (cache / "completion.json").write_text('{"stamp": "old"}')
    assert completion.index(app, COMMANDS)["stamp"] == stamp  # a stale index is built anew
