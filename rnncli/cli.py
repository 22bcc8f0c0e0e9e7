"""The command line: parse, call the library, print. Nothing else lives here.

Exit codes: 0 ok, 1 a check failed or training diverged, 2 bad usage or input,
130 interrupted. Tables go to stdout, diagnostics to stderr; ``--json`` prints exactly
one JSON document on stdout.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer

from rnncli import __version__, passes, report, samples
from rnncli.config import Config, check_memory, dump_yaml, load_config, to_dict
from rnncli.errors import CheckFailed, InputError
from rnncli.runs import Run, to_json

app = typer.Typer(
    name="rnncli",
    help="Recurrent neural networks from scratch in NumPy: forward, backward, gradcheck, train.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

F = TypeVar("F", bound=Callable[..., Any])

# ----------------------------------------------------------------------------- options

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file.", show_default=False)
]
CellOpt = Annotated[
    str | None, typer.Option("--cell", help="rnn, lstm or gru (shortcut for cell=...).", show_default=False)
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Root random seed (shortcut for seed=...).", show_default=False)
]
Overrides = Annotated[
    list[str] | None,
    typer.Argument(help="Dotted key=value overrides, e.g. dims.n_a=64 backward.upstream=loss.", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Root folder for run folders.")]
NoSaveOpt = Annotated[bool, typer.Option("--no-save", help="Write no run folder.")]
ShowOpt = Annotated[bool, typer.Option("--show-config", help="Print the resolved config and exit.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rnncli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Recurrent neural networks from scratch in NumPy.

    Examples:

      rnncli forward --cell lstm

      rnncli backward --cell gru backward.upstream=loss

      rnncli gradcheck

      rnncli train
    """


def _err(message: str) -> None:
    print(f"rnncli: error: {message}", file=sys.stderr)


def guard(fn: F) -> F:
    """Map library errors to exit codes with a one-line message and no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as err:
            _err(str(err))
            raise typer.Exit(2) from None
        except CheckFailed as err:
            _err(str(err))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            _err("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _flags(**flags: Any) -> dict[str, Any]:
    return {k: v for k, v in flags.items() if v is not None}


def _load(config: Path | None, flags: dict[str, Any], overrides: list[str] | None) -> Config:
    return load_config(config, flags, overrides or [])


def _show_config(cfg: Config) -> None:
    sys.stdout.write(dump_yaml(cfg))


def _start_run(
    cfg: Config, command: str, out: Path, flags: dict[str, Any], overrides: list[str] | None
) -> Run:
    return Run.start(out, command, cfg.cell, to_dict(cfg), overrides or [], sys.argv, cfg.seed, flags)


def _emit_json(doc: dict[str, Any]) -> None:
    sys.stdout.write(to_json(doc) + "\n")


# ----------------------------------------------------------------------------- forward / backward


def _sampled(cfg: Config, run: passes.Pass) -> dict[str, Any]:
    """The config's sample expressions (or a deterministic default pick), resolved."""
    if cfg.samples:
        exprs = list(cfg.samples)
    elif run.grads:
        exprs = samples.default_samples({}, per_array=2, seed=cfg.seed, gradients=run.grads)
    else:
        exprs = samples.default_samples(run.outputs, per_array=2, seed=cfg.seed)
    lookup = run.lookup()
    return {e: samples.resolve(e, lookup, run.grads) for e in exprs}


def _inspect(
    command: str,
    config: Path | None,
    flags: dict[str, Any],
    overrides: list[str] | None,
    json_out: bool,
    out: Path,
    no_save: bool,
    show_config: bool,
) -> None:
    cfg = _load(config, flags, overrides)
    if show_config:
        return _show_config(cfg)
    check_memory(cfg)
    run = passes.forward_only(passes.forward(cfg)) if command == "forward" else passes.backward(cfg)
    values = _sampled(cfg, run)  # may refuse a bad expression: before anything is written
    run_dir = None
    if not no_save:
        folder = _start_run(cfg, command, out, flags, overrides)
        folder.save_arrays("arrays.npz", run.arrays())
        folder.finish("completed", loss=run.loss)
        run_dir = str(folder.path)
    groups = [("input", run.inputs), ("param", run.params), ("output", run.outputs)]
    if json_out:
        doc: dict[str, Any] = {
            "command": command,
            "config": to_dict(cfg),
            "arrays": {name: report.stats(a) for _, g in groups for name, a in g.items()},
            "caches": {name: report.stats(a) for name, a in run.caches.items()},
            "samples": {k: samples.to_jsonable(v) for k, v in values.items()},
            "loss": run.loss,
            "run_dir": run_dir,
        }
        if run.grads:
            doc["gradients"] = {name: report.stats(g) for name, g in run.grads.items()}
        return _emit_json(doc)
    con = report.console()
    title = f"{command} · {cfg.cell} · {cfg.level} · {cfg.dtype} · seed {cfg.seed}"
    if run.caches:
        groups.append(("cache", run.caches))
    if command == "forward" or cfg.backward.upstream == "random":
        con.print(report.arrays_table(title, groups))
    if run.grads:
        con.print(report.grads_table("gradients", run.grads))
    if run.loss is not None:
        con.print(f"loss = {run.loss!r}")
    con.print(report.samples_table(values))
    if run_dir:
        report.console(stderr=True).print(f"run folder: {run_dir}")


@app.command()
@guard
def forward(
    overrides: Overrides = None,
    config: ConfigOpt = None,
    cell: CellOpt = None,
    seed: SeedOpt = None,
    json_out: JsonOpt = False,
    out: OutOpt = Path("outputs"),
    no_save: NoSaveOpt = False,
    show_config: ShowOpt = False,
) -> None:
    """Run a cell or a whole sequence forward and show every array.

    Examples:

      rnncli forward --cell lstm

      rnncli forward --config configs/seed/rnn_forward.yaml

      rnncli forward --cell gru level=cell dims.m=4 --json
    """
    _inspect("forward", config, _flags(cell=cell, seed=seed), overrides, json_out, out, no_save, show_config)


@app.command()
@guard
def backward(
    overrides: Overrides = None,
    config: ConfigOpt = None,
    cell: CellOpt = None,
    seed: SeedOpt = None,
    json_out: JsonOpt = False,
    out: OutOpt = Path("outputs"),
    no_save: NoSaveOpt = False,
    show_config: ShowOpt = False,
) -> None:
    """Run forward, then backward through time, and show every gradient.

    backward.upstream=random draws da as the notebook does; backward.upstream=loss
    back-propagates the output layer's cross-entropy against seeded random targets.

    Examples:

      rnncli backward --cell gru backward.upstream=loss

      rnncli backward --config configs/seed/lstm_cell_backward.yaml
    """
    _inspect("backward", config, _flags(cell=cell, seed=seed), overrides, json_out, out, no_save, show_config)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
