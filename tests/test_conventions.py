"""Conventions of the tools around rnncli: FORCE_COLOR, NO_COLOR and --color."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("FORCE_COLOR", "NO_COLOR", "RNNCLI_COLOR")}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "rnncli", *args], capture_output=True,
                          text=True, env={**clean, **env}, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        (["cells"], {}, False),  # piped: plain
        (["cells"], {"FORCE_COLOR": "1"}, True),
        (["--color", "always", "cells"], {}, True),
        (["--color", "never", "cells"], {"FORCE_COLOR": "1"}, False),
        (["--color", "always", "cells"], {"NO_COLOR": "1"}, True),  # the flag wins
    ],
)
def test_colour_follows_the_flag_then_the_environment(args, env, coloured):
    done = _run(args, **env)
    assert done.returncode == 0, done.stderr
    assert ("\x1b[" in done.stdout) is coloured


def test_a_bad_color_value_is_one_line():
    done = _run(["--color", "sometimes", "cells"])
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "expected auto, always or never" in done.stderr


def test_another_system_is_refused_in_one_line(monkeypatch, capsys):
    from rnncli import cli

    monkeypatch.setattr(cli.os, "name", "nt")
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    assert "runs on Linux and macOS" in capsys.readouterr().err


def test_the_package_declares_its_systems():
    from importlib.metadata import metadata

    classifiers = metadata("rnncli").get_all("Classifier") or []
    assert "Operating System :: POSIX :: Linux" in classifiers
    assert "Operating System :: MacOS" in classifiers


def test_every_command_takes_quiet_verbose_and_json():
    import typer

    from rnncli.cli import COMMANDS, app

    group = typer.main.get_command(app)
    ctx = group.make_context("rnncli", [], resilient_parsing=True)
    for name in COMMANDS:
        opts = {o for p in group.get_command(ctx, name).params for o in getattr(p, "opts", [])}
        assert {"-q", "-v", "--json"} <= opts, name
