"""What every command shares: its options, the mapping of errors to exit codes, and the
ways results are printed (one JSON document, the resolved config, progress)."""

from __future__ import annotations

import contextlib
import functools
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from rnncli.errors import CheckFailed, InputError

F = TypeVar("F", bound=Callable[..., Any])

# ----------------------------------------------------------------------------- options

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file.", show_default=False)
]
CellOpt = Annotated[
    str | None,
    typer.Option("--cell", help="rnn, lstm or gru (shortcut for cell=...).", show_default=False),
]
SeedOpt = Annotated[
    int | None,
    typer.Option("--seed", help="Root random seed (shortcut for seed=...).", show_default=False),
]
Overrides = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="[KEY=VALUE]...",
        help="Dotted key=value overrides, e.g. dims.n_a=64 backward.upstream=loss.",
        show_default=False,
    ),
]
TrainOverrides = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="[KEY=VALUE]...",
        help="Dotted key=value overrides, e.g. train.steps=2000 train.hidden=32 model.layers=2.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]
ParamsOpt = Annotated[
    Path | None,
    typer.Option(
        "--params",
        help="Run at these parameters (a weights file with notebook or PyTorch names, a "
        "run folder, its best.npz) instead of drawing them; shapes must fit dims.",
        show_default=False,
    ),
]
YesOpt = Annotated[bool, typer.Option("--yes", help="Remove without asking.")]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        min=1,
        help="BLAS threads (default: 1 below 128 hidden units, where more do not pay; "
        "else the cores left free by the load at the start, at least 1).",
        show_default=False,
    ),
]
OutOpt = Annotated[Path, typer.Option("--out", help="Root folder for run folders.")]
NoSaveOpt = Annotated[bool, typer.Option("--no-save", help="Write no run folder.")]
ShowOpt = Annotated[
    bool,
    typer.Option(
        "--show-config", help="Print the resolved config (with --json: as JSON) and exit."
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notices.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="More progress output.")]


def task_help() -> str:
    """The --task option's help: the registered tasks."""
    from rnncli.tasks import registry

    return f"The task (train.task): {', '.join(registry.names())}."


def with_tasks(fn: F) -> F:
    """Fill ``{tasks}`` in a command's help with the registered tasks and their lines."""
    from rnncli.tasks import registry

    names = registry.names()
    pad = max(len(n) for n in names) + 2
    lines = []
    for n in names:  # a block Click keeps as it is: wrapped here, to fit 80 columns
        text = textwrap.wrap(registry.get(n).description, 76 - 4 - pad)
        lines += [f"      {n:<{pad}}{text[0]}", *(f"      {'':<{pad}}{t}" for t in text[1:])]
    fn.__doc__ = (fn.__doc__ or "").replace("{tasks}", "\n".join(lines).lstrip())
    return fn


# ----------------------------------------------------------------------------- errors


def error(message: str) -> None:
    print(f"rnncli: error: {message}", file=sys.stderr)


def guard(fn: F) -> F:
    """Map library errors to exit codes with a one-line message and no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as err:
            error(str(err))
            raise typer.Exit(2) from None
        except CheckFailed as err:
            error(str(err))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            print("rnncli: interrupted", file=sys.stderr)
            raise typer.Exit(130) from None
        except OSError as err:  # a file that cannot be read or written: say which
            where = f"{err.filename}: " if err.filename else ""
            error(f"{where}{err.strerror or type(err).__name__}")
            raise typer.Exit(2) from None
        except RecursionError:
            error("input nested too deeply")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


# ----------------------------------------------------------------------------- printing


def flags(**given: Any) -> dict[str, Any]:
    """The flags the user gave (None: not given)."""
    return {k: v for k, v in given.items() if v is not None}


def emit_json(doc: dict[str, Any], schema: str | None = None) -> None:
    """Exactly one JSON document on stdout; with its ``schema`` field first, when it is
    one of rnncli's documents (`rnncli.schemas`; Gradescope's results.json is not)."""
    from rnncli.runs import to_json

    if schema is not None and schema != "gradescope":
        from rnncli.schemas import stamp

        doc = stamp(schema, doc)
    sys.stdout.write(to_json(doc) + "\n")


def print_config(data: dict[str, Any], json_out: bool = False) -> None:
    """A resolved config as YAML (or JSON) on stdout."""
    if json_out:
        return emit_json(data)
    import yaml

    sys.stdout.write(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return None


def notice(console: Any) -> Callable[[str], None]:
    """Print a plain line on `console` (no markup, no highlighting)."""
    return lambda text: console.print(text, markup=False, highlight=False)


@contextlib.contextmanager
def status(console: Any, quiet: bool, verbose: bool) -> Iterator[Callable[[str], None] | None]:
    """What a command is doing: a transient status line on a terminal, a line per step
    with --verbose, nothing when quiet or piped."""
    if quiet:
        yield None
    elif verbose:
        yield notice(console)
    elif console.is_terminal:
        with console.status("") as line:
            yield lambda text: line.update(f"checking {text}")
    else:
        yield None


def split_list(text: str | None) -> list[str] | None:
    """A comma list as its items (None or empty: None)."""
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def summary_rows(summary: dict[str, Any]) -> dict[str, Any]:
    """A train summary (run.json's, or ``train --json``'s) as the rows people read."""
    skip = ("final", "message", "best", "engine", "evaluation")
    rows = {k: f"{v:,}" if type(v) is int else v  # 16,000 as rnncli runs prints it
            for k, v in summary.items() if k not in skip and v is not None}  # fmt: skip
    if isinstance(summary.get("sequences_per_s"), (int, float)):  # as the bar showed it
        rows["sequences_per_s"] = f"{summary['sequences_per_s']:,.1f}"
    if summary.get("evaluation"):  # text: the held-out characters val_loss scores
        e = summary["evaluation"]
        rows["evaluated"] = f"{e['characters']:,} of {e['held_out']:,} held-out characters"
    rows.update({k: v for k, v in summary["final"].items()})
    if summary.get("best"):
        rows["best step"] = summary["best"]["step"]
    if summary.get("engine"):
        e = summary["engine"]
        rows["engine"] = (
            e["backend"]
            + (f" from step {e['from_step']:,}" if e.get("from_step") else "")
            + f", {e['threads']} BLAS thread"
            + ("s" if e["threads"] != 1 else "")
            + (f" ({e['threads_why']})" if e.get("threads_why") else "")
        )
    return rows


def command_app() -> typer.Typer:
    """The Typer app a command module registers its commands on (`rnncli.cli` takes them
    from it): plain help that wraps to the terminal, -h as well as --help."""
    return typer.Typer(
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


# ----------------------------------------------------------------------------- help

#: Placeholders for options without a metavar of their own, by name (else by type).
METAVARS = {
    "--out": "DIR", "--runs": "DIR", "--resume": "RUN", "--init-from": "RUN",
    "--task": "TASK", "--cell": "CELL", "--cells": "CELLS", "--seeds": "SEEDS",
    "--since": "DATE", "--older-than": "AGE", "--dask": "URI", "--unit": "STATE:K",
    "--sizes": "SIZES", "--dtypes": "DTYPES",
}  # fmt: skip


def _placeholder(param: Any) -> str:
    """A readable placeholder: N for numbers, FILE or DIR for paths, TEXT otherwise."""
    named = next((METAVARS[o] for o in param.opts if o in METAVARS), None)
    if named:
        return named
    desc = param.type_descriptor
    if desc.is_path:
        return "DIR" if "folder" in (param.help or "").lower() else "FILE"
    return "N" if param.bare_type() in ("int", "float") else "TEXT"


def readable_help(command: Any) -> Any:
    """A command's help as people read it: options show a placeholder (``--seed N``,
    ``--out DIR``) rather than a type (``<int>``, ``<path>``), each argument shows one
    name (``RUN_DIR``, ``[KEY=VALUE]...``) in the list and in the usage line."""
    from typer.core import TyperArgument

    for param in command.params:
        if isinstance(param, TyperArgument):
            if param.metavar is None:
                name = "KEY=VALUE" if param.name == "overrides" else param.name.upper()
                param.metavar = "FILE" if name == "PATH" else name
            param.__class__ = _Argument
        elif not getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = _placeholder(param)
    return command


def _argument_class() -> type:
    from typer.core import TyperArgument

    class Argument(TyperArgument):
        """An argument shown by its metavar alone: ``RUN_DIR``, ``[KEY=VALUE]...``."""

        def display_type_rich(self, ctx: Any) -> str | None:
            return None

        def _rich_display_name(self) -> str:
            return self._plain()

        def get_usage_pieces(self, ctx: Any) -> list[str]:
            return [self._plain()]

        def _plain(self) -> str:
            name = str(self.metavar)
            if "[" in name or "..." in name or "|" in name:
                return name  # written out already: [KEY=VALUE]..., RUN_DIR | KEY=VALUE
            name = name if self.required else f"[{name}]"
            return name + ("..." if self.nargs != 1 else "")

    return Argument


_Argument = _argument_class()
