"""The command line: the app, its commands, and one-line errors. Each command lives in
`rnncli.commands` (its options, one library call and printing), and its module is
imported only when that command runs, so that ``rnncli --help`` loads none of them.

Exit codes: 0 ok, 1 a check failed or training diverged, 2 bad usage or input,
130 interrupted (143 for SIGTERM, 129 for SIGHUP). Tables go to stdout, diagnostics to
stderr; ``--json`` prints exactly one JSON document on stdout. Every error is one line,
``rnncli: error: ...``, usage errors included.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Annotated, Any

import typer
from typer._click import Context, HelpFormatter
from typer.core import TyperGroup

from rnncli import __version__

#: Every command, in the order `rnncli --help` lists them: the module of
#: `rnncli.commands` that defines it, and its description there (the first paragraph of
#: its help; a test holds the two equal).
COMMANDS: dict[str, tuple[str, str]] = {
    "forward": ("passes", "Run a cell or a whole sequence forward and show every array."),
    "backward": ("passes", "Run forward, then backward through time, and show every gradient."),
    "gradcheck": ("passes", "Verify every gradient against central differences; exit 1 if any "
                  "fails."),
    "check": ("check", "Check your own implementation of the notebook's functions."),
    "train": ("train", "Train a model on a sequence task until solved or train.steps."),
    "sample": ("train", "Sample from a trained model; for reber, also the fraction the grammar "
               "accepts."),
    "runs": ("runs", "List past runs, newest first (runs inside sweep folders too); or remove "
             "some."),
    "show": ("runs", "One run: its config (the keys not at their defaults), summary, files and, "
             "for a training run, the curve in the terminal."),
    "compare": ("runs", "Runs side by side: the config keys that differ, the final metrics, and "
                "compare.png with the curves overlaid (for a sweep: mean and spread over seeds "
                "per grid point, written into the sweep folder)."),
    "sweep": ("sweep", "Train a grid of configs x seeds on all local cores, or on a Dask "
              "cluster. With only --out DIR, resume the sweep stored there."),
    "inspect": ("inspect", "See inside a network: gradient flow through time, gate saturation, "
                "states, and the units of a text model that track the text."),
    "report": ("inspect", "Write RUN_DIR/report.html: the run on one self-contained page "
               "(config, metrics, loss curves, gradient flow, gates, states, text units, "
               "samples; images inline, no scripts, no network)."),
    "export": (
        "export",
        "Write a trained run's parameters as a weights file or ONNX graph other tools read.",
    ),
    "cells": ("cells", "List the cells: built-in, registered by installed packages (entry-point "
              "group rnncli.cells), or the ones named, with their states and parameter shapes."),
    "bench": ("bench", "How fast is forward + backward through time on this machine?"),
    "cache": ("runs", "The cache: the encoded texts that text runs memory-map and the compiled "
              "kernels, most recently used first; or remove some."),
}  # fmt: skip


#: Set by the shell's completion script (Click's protocol, for `rnncli`).
COMPLETE_VAR = "_RNNCLI_COMPLETE"


_NB_HYPHEN = "\u2011"


def _glue(text: str) -> str:
    """Hyphens inside words as non-breaking ones (`_Formatter` puts them back)."""
    return re.sub(r"(?<=\w)-(?=\w)", _NB_HYPHEN, text)


class _Formatter(HelpFormatter):
    """Click's help formatter, wrapping at spaces only: its TextWrapper also breaks after
    hyphens (``lag-⏎noise``), so they go in as non-breaking hyphens and come out as they
    were."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(_glue(prog), _glue(args), prefix)

    def write_text(self, text: str) -> None:
        super().write_text(_glue(text))

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        super().write_dl([(_glue(a), _glue(b)) for a, b in rows], col_max, col_spacing)

    def getvalue(self) -> str:
        return super().getvalue().replace(_NB_HYPHEN, "-")


class _Context(Context):
    formatter_class = _Formatter


class _Commands(TyperGroup):
    """The app's group: commands loaded on first use, the list of them from `COMMANDS`,
    and usage errors (an unknown option, a bad value) as one line, like every other
    error, instead of Click's usage block. Help wraps between words only (`_Context`)."""

    context_class = _Context

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module = importlib.import_module(f"rnncli.commands.{COMMANDS[cmd_name][0]}")
            from rnncli.commands.common import readable_help

            group = typer.main.get_group(module.app)
            command = readable_help(group.commands[cmd_name])
            command.context_class = _Context
            self.commands[cmd_name] = command
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if os.environ.get(COMPLETE_VAR, "").startswith("complete_"):  # a TAB
            from rnncli.completion import respond  # only then: --help stays light

            answer = respond(os.environ[COMPLETE_VAR], app, COMMANDS, COMPLETE_VAR)
            if answer is not None:
                print(answer)
                sys.exit(0)
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except Exception as exc:
            if type(exc).__name__ == "Abort":  # Ctrl-C at a prompt
                print("rnncli: interrupted", file=sys.stderr)
                code = 130
            elif hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # Click's
                ctx = getattr(exc, "ctx", None)
                where = ctx.command_path if ctx is not None else "rnncli"
                given = kwargs.get("args") or (args[0] if args else sys.argv[1:])
                hint = _key_hint(exc, list(given or []), where)
                text = hint or f"{exc.format_message()} (see {where} --help)"
                print(f"rnncli: error: {text}", file=sys.stderr)
                code = exc.exit_code
            else:
                raise
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def _key_hint(exc: Exception, argv: list[str], where: str) -> str:
    """For an option that is a config key (``--steps 10``): the key=value to write."""
    name = getattr(exc, "option_name", None)
    if type(exc).__name__ != "NoSuchOption" or not name or not name.startswith("--"):
        return ""
    from rnncli.config import leaf_keys

    bare = name[2:].replace("-", "_")
    keys = [k for k in leaf_keys() if k.rsplit(".", 1)[-1] == bare]
    if not keys:
        return ""
    section = "dims" if where.split()[-1] in ("forward", "backward", "gradcheck") else "train"
    key = next((k for k in keys if k.startswith(section + ".")), keys[0])
    value = "VALUE"
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return f"no option {name}: did you mean the config key {key}={value}? (see {where} --help)"


app = typer.Typer(
    name="rnncli",  # the help text is _root's docstring (with examples)
    cls=_Commands,
    rich_markup_mode=None,  # plain help that wraps to the terminal, flags without metavars
    add_completion=True,  # --install-completion / --show-completion
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rnncli {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    color: Annotated[
        str,
        typer.Option(
            "--color",
            help="Colour: auto (a terminal, unless NO_COLOR; FORCE_COLOR forces it), "
            "always or never.",
            metavar="auto|always|never",
        ),
    ] = "auto",
) -> None:
    """Recurrent neural networks from scratch in NumPy.

    \b
    Examples:
      rnncli forward --cell lstm
      rnncli backward --cell gru backward.upstream=loss
      rnncli gradcheck
      rnncli train
    """
    if color not in ("auto", "always", "never"):
        raise typer.BadParameter(f"{color!r}: expected auto, always or never")
    os.environ["RNNCLI_COLOR"] = color  # rnncli.report reads it (COLOR_ENV)
    if ctx.invoked_subcommand is None:  # a bare `rnncli` prints help and exits 0
        typer.echo(ctx.get_help())
        raise typer.Exit()


def main() -> None:
    if os.name != "posix":  # fcntl locks, resource limits, process groups
        print("rnncli: error: rnncli runs on Linux and macOS, not on this system "
              f"({sys.platform})", file=sys.stderr)  # fmt: skip
        sys.exit(2)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
