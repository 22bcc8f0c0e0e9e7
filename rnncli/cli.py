"""The command line: parse, call the library, print. Nothing else lives here.

Exit codes: 0 ok, 1 a check failed or training diverged, 2 bad usage or input,
130 interrupted (143 for SIGTERM, 129 for SIGHUP). Tables go to stdout, diagnostics to
stderr; ``--json`` prints exactly one JSON document on stdout. Every error is one line,
``rnncli: error: ...``, usage errors included.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer
import yaml
from typer.core import TyperGroup

from rnncli import __version__, passes, report, samples
from rnncli.config import Config, check_memory, load_config, to_dict
from rnncli.errors import CheckFailed, InputError
from rnncli.runs import Run, check_out, to_json


class _OneLineErrors(TyperGroup):
    """Usage errors (an unknown option, a bad value) as one line, like every other error,
    instead of Click's usage block."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
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
                print(f"rnncli: error: {exc.format_message()} (see {where} --help)",
                      file=sys.stderr)  # fmt: skip
                code = exc.exit_code
            else:
                raise
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="rnncli",  # the help text is _root's docstring (with examples)
    cls=_OneLineErrors,
    rich_markup_mode=None,  # plain help that wraps to the terminal, flags without metavars
    add_completion=True,  # --install-completion / --show-completion
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

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
InspectParamsOpt = Annotated[
    Path | None,
    typer.Option(
        "--params",
        help="Inspect the model at these parameters (a weights file with notebook or "
        "PyTorch names, a run folder, its best.npz); shapes must fit the task and "
        "train.hidden.",
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
        "else every core).",
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
) -> None:
    """Recurrent neural networks from scratch in NumPy.

    \b
    Examples:
      rnncli forward --cell lstm
      rnncli backward --cell gru backward.upstream=loss
      rnncli gradcheck
      rnncli train
    """
    if ctx.invoked_subcommand is None:  # a bare `rnncli` prints help and exits 0
        typer.echo(ctx.get_help())
        raise typer.Exit()


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
            print("rnncli: interrupted", file=sys.stderr)
            raise typer.Exit(130) from None
        except OSError as err:  # a file that cannot be read or written: say which
            where = f"{err.filename}: " if err.filename else ""
            _err(f"{where}{err.strerror or type(err).__name__}")
            raise typer.Exit(2) from None
        except RecursionError:
            _err("input nested too deeply")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _flags(**flags: Any) -> dict[str, Any]:
    return {k: v for k, v in flags.items() if v is not None}


def _load(config: Path | None, flags: dict[str, Any], overrides: list[str] | None) -> Config:
    return load_config(config, flags, overrides or [])


#: The config sections each command reads (what --show-config shows).
SECTIONS = {
    "forward": ("cell", "seed", "dtype", "dims", "model", "init", "level", "samples"),
    "backward": ("cell", "seed", "dtype", "dims", "model", "init", "level", "samples",
                 "backward"),
    "gradcheck": ("cell", "seed", "dtype", "dims", "model", "gradcheck"),
    "train": ("cell", "seed", "dtype", "model", "init", "train"),
    "check": ("check",),
    "sweep": ("cell", "seed", "dtype", "model", "init", "train", "sweep"),
}  # fmt: skip


def _show_config(cfg: Config, command: str | None = None, json_out: bool = False) -> None:
    """The resolved config: the sections `command` reads, as YAML (or JSON)."""
    data = to_dict(cfg)
    if command in SECTIONS:
        data = {k: v for k, v in data.items() if k in SECTIONS[command]}
    if json_out:
        _emit_json(data)
    else:
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def _start_run(
    cfg: Config,
    command: str,
    out: Path,
    flags: dict[str, Any],
    overrides: list[str] | None,
    extra: dict[str, Any] | None = None,
) -> Run:
    return Run.start(
        out, command, cfg.cell, to_dict(cfg), overrides or [], sys.argv, cfg.seed, flags,
        extra=extra,
    )  # fmt: skip


def _source(path: Path, out: Path, flag: str) -> Path:
    """A file as it is; else a run folder by path, `latest` or a unique start of its name
    under `out` (as RUN_DIR arguments take them)."""
    from rnncli.runs import store

    if path.is_file():
        return path
    try:
        return store.resolve(path, out)
    except InputError as err:
        raise InputError(f"{flag} {err}") from None


def _given(
    cfg: Config, path: Path | None, out: Path = Path("outputs")
) -> tuple[dict[str, np.ndarray] | None, dict[str, Any]]:
    """The parameters of --params FILE for the config's model (every shape checked), and
    what run.json records of them."""
    if path is None:
        return None, {}
    from rnncli import weights

    path = _source(path, out, "--params")
    d, layers = cfg.dims, cfg.model.layers
    D = 2 if cfg.model.bidirectional else 1
    named = weights.named_for(path, cfg.cell, d.n_x, d.n_a, d.n_y, cfg.dtype, layers, D)
    return named, _params_record(path)


def _params_record(path: Path) -> dict[str, Any]:
    """What run.json records of --params: the path and, for a file, its sha256."""
    from rnncli.hashing import file_sha256

    record = {"path": str(path.resolve())}
    if path.is_file():
        record["sha256"] = file_sha256(path)
    return {"params": record}


def _saved(save: Callable[[], str]) -> tuple[str | None, str | None]:
    """Run `save` (which writes a run folder): (its folder, None), or (None, why not) when
    the folder cannot be written; the caller prints its results first."""
    try:
        return save(), None
    except InputError as err:
        return None, str(err)


@contextlib.contextmanager
def _status(console: Any, quiet: bool, verbose: bool) -> Iterator[Callable[[str], None] | None]:
    """What a command is doing: a transient status line on a terminal, a line per step
    with --verbose, nothing when quiet or piped."""
    if quiet:
        yield None
    elif verbose:
        yield lambda text: console.print(text, markup=False, highlight=False)
    elif console.is_terminal:
        with console.status("") as status:
            yield lambda text: status.update(f"checking {text}")
    else:
        yield None


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
    quiet: bool = False,
    params: Path | None = None,
) -> None:
    cfg = _load(config, flags, overrides)
    if show_config:
        return _show_config(cfg, command, json_out)
    check_memory(cfg)
    if not no_save:
        check_out(out)
    given, record = _given(cfg, params, out)
    if command == "forward":
        run = passes.forward_only(passes.forward(cfg, given))
    else:
        run = passes.backward(cfg, given)
    values = _sampled(cfg, run)  # may refuse a bad expression: before anything is written

    def save() -> str:
        folder = _start_run(cfg, command, out, flags, overrides, record)
        folder.save_arrays("arrays.npz", run.arrays())
        folder.finish("completed", loss=run.loss)
        folder.release()
        return str(folder.path)

    run_dir, save_error = (None, None) if no_save else _saved(save)
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
        if run.step_norms is not None:
            doc["da_t_norms"] = run.step_norms.tolist()
        _emit_json(doc)
        if save_error:
            raise InputError(save_error)
        return None
    con = report.console()
    title = f"{command} · {cfg.cell} · {cfg.level} · {cfg.dtype} · seed {cfg.seed}"
    if run.caches:
        groups.append(("cache", run.caches))
    con.print(report.arrays_table(title, groups, con.width))
    if run.grads:
        con.print(report.grads_table("gradients", run.grads, con.width))
    if run.step_norms is not None:
        con.print(_norms_row(run.step_norms, con.width), markup=False, highlight=False)
    if run.loss is not None:
        con.print(f"loss = {run.loss!r}")
    con.print(report.samples_table(values, con.width))
    if run_dir and not quiet:
        report.console(stderr=True).print(f"run folder: {run_dir}")
    if save_error:
        raise InputError(save_error)


def _norms_row(norms: np.ndarray, width: int) -> str:
    """‖da_t‖ over t as a sparkline on a log scale, with its range."""
    from rnncli.inspect.gradflow import log_range, sparkline

    span = log_range([norms])
    if span is None:
        return "‖da_t‖  all zero"
    tail = f"  t = 1 … {norms.size}, log scale {span[0]:.2e} … {span[1]:.2e}"
    room = max(min(norms.size, width - len(tail) - 8), 10)
    return f"‖da_t‖  {sparkline(norms, room, *span)}{tail}"


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
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    params: ParamsOpt = None,
) -> None:
    """Run a cell or a whole sequence forward and show every array.

    \b
    Examples:
      rnncli forward --cell lstm
      rnncli forward --config configs/seed/rnn_forward.yaml
      rnncli forward --cell gru level=cell dims.m=4 --json
      rnncli forward --params model.safetensors dims.n_x=7 dims.n_a=16 dims.n_y=7
    """
    _inspect(
        "forward",
        config,
        _flags(cell=cell, seed=seed),
        overrides,
        json_out,
        out,
        no_save,
        show_config,
        quiet,
        params,
    )


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
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    params: ParamsOpt = None,
) -> None:
    """Run forward, then backward through time, and show every gradient.

    backward.upstream=random draws da as the notebook does; backward.upstream=loss
    back-propagates the output layer's cross-entropy against seeded random targets.

    \b
    Examples:
      rnncli backward --cell gru backward.upstream=loss
      rnncli backward --config configs/seed/lstm_cell_backward.yaml
    """
    _inspect(
        "backward",
        config,
        _flags(cell=cell, seed=seed),
        overrides,
        json_out,
        out,
        no_save,
        show_config,
        quiet,
        params,
    )


# ----------------------------------------------------------------------------- gradcheck


@app.command()
@guard
def gradcheck(
    overrides: Overrides = None,
    config: ConfigOpt = None,
    cell: Annotated[
        str | None,
        typer.Option(
            "--cell",
            help="Check only these cells (rnn, lstm, gru; comma list).",
            show_default=False,
        ),
    ] = None,
    level: Annotated[
        str | None,
        typer.Option(
            "--level", help="Check only these levels (cell, sequence, model).", show_default=False
        ),
    ] = None,
    seed: SeedOpt = None,
    json_out: JsonOpt = False,
    out: OutOpt = Path("outputs"),
    no_save: NoSaveOpt = False,
    show_config: ShowOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    params: ParamsOpt = None,
) -> None:
    """Verify every gradient against central differences; exit 1 if any fails.

    Levels: cell (the notebook's *_cell_backward), sequence (the notebook's *_backward),
    model (loss_and_grads on the engine, cross-entropy and mse_last). With no options
    every cell type is checked at every level.

    \b
    Examples:
      rnncli gradcheck
      rnncli gradcheck --cell lstm --level sequence dims.T_x=12
      rnncli gradcheck gradcheck.mode=fast dims.n_a=64 --json
      rnncli gradcheck --params RUN_DIR --level model dims.n_x=7 dims.n_a=16 dims.n_y=7

    With --params, the config's cell (or the one --cell names) is checked at those
    parameters (a stacked model's at the model level).
    """
    from rnncli import gradcheck as gc

    cfg = _load(config, _flags(seed=seed), overrides)
    if show_config:
        return _show_config(cfg, "gradcheck", json_out)
    err_console = report.console(stderr=True)
    if not no_save:
        check_out(out)
    record: dict[str, Any] = {}
    given = None
    if params is not None:
        if cell is not None and "," in cell:
            raise InputError("--params holds one model's parameters: give one --cell")
        if cell is not None:
            cfg = cfg.model_copy(update={"cell": cell})
        cell = cfg.cell
        given, record = _given(cfg, params, out)
    with _status(err_console, json_out or quiet, verbose) as progress:
        result = gc.run_gradcheck(cfg, cells=cell, levels=level, progress=progress, given=given)
    doc = result.to_json()

    def save() -> str:
        run = Run.start(
            out, "gradcheck", cell or "all", to_dict(cfg), overrides or [], sys.argv, cfg.seed,
            extra=record,
        )  # fmt: skip
        run.write_json("gradcheck.json", doc)
        run.finish(
            "completed" if result.ok else "failed", passed=result.passed, failed=result.failed
        )
        run.release()
        return str(run.path)

    run_dir, save_error = (None, None) if no_save else _saved(save)
    if json_out:
        _emit_json({**doc, "config": to_dict(cfg), "run_dir": run_dir})
    else:
        gc.render(result, report.console())
        if run_dir and not quiet:
            err_console.print(f"run folder: {run_dir}")
    if save_error:  # the check ran and is printed; only keeping it failed
        raise InputError(save_error)
    if not result.ok:
        names = ", ".join(f"{r.cell} {r.level} {r.name}" for r in result.failures()[:6])
        more = f" and {result.failed - 6} more" if result.failed > 6 else ""
        raise CheckFailed(f"gradcheck failed: {names}{more}")


# ----------------------------------------------------------------------------- check


@app.command()
@guard
def check(
    path: Annotated[Path, typer.Argument(help="Your .py file or .ipynb notebook.")],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="key=value overrides, e.g. check.timeout=5.", show_default=False),
    ] = None,
    config: ConfigOpt = None,
    only: Annotated[
        str | None,
        typer.Option("--only", help="Check only these functions (comma list).", show_default=False),
    ] = None,
    require: Annotated[
        str | None,
        typer.Option(
            "--require",
            help="Fail if these are missing (comma list; 'notebook' = the eight).",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
    fmt: Annotated[
        str,
        typer.Option("--format", help="table, json, or gradescope (Gradescope's results.json)."),
    ] = "table",
    gradescope_out: Annotated[
        Path | None,
        typer.Option(
            "--gradescope-out",
            help="Also write Gradescope's results.json here.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds per function (check.timeout, default 10).",
            show_default=False,
        ),
    ] = None,
    memory: Annotated[
        int | None,
        typer.Option(
            "--memory", help="Memory cap in MiB (check.memory, default 2048).", show_default=False
        ),
    ] = None,
    keep_source: Annotated[
        bool, typer.Option("--keep-source", help="Keep a copy of the file in the run folder.")
    ] = False,
    out: OutOpt = Path("outputs"),
    no_save: NoSaveOpt = False,
    show_config: ShowOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Check your own implementation of the notebook's functions.

    Finds the notebook's functions (rnn_cell_forward, rnn_forward,
    rnn_cell_backward, rnn_backward, lstm_cell_forward, lstm_forward,
    lstm_cell_backward, lstm_backward; also gru_*) in a .py file or a
    .ipynb notebook (read as JSON: no Jupyter needed), and checks each: the
    returned structure, shapes and dtypes; whole arrays on the notebook's
    test cells and on fresh shapes; a backward against finite differences
    of your own forward, and with zero, doubled and partial upstreams. A
    failing function gets a hint: what is most likely wrong. Exit 1 if a
    function that is there fails (or a --require'd one is missing).

    Only definitions run: imports, def, class, and assignments of literal
    values. Test code (np.random.seed(1) ... print(...)), IPython magics
    and shell lines are skipped. Checking your code means running it: it
    runs in a child process, with a time limit per function and a memory
    cap, but otherwise with your user's rights.

    \b
    Examples:
      rnncli check my_rnn.py
      rnncli check Building_a_RNN_Step_by_Step.ipynb
      rnncli check my_rnn.py --only lstm_backward --json
      rnncli check hw.ipynb --require notebook --gradescope-out results.json
    """
    from rnncli import check as ck

    if json_out and fmt not in ("table", "json"):
        raise InputError(f"--json and --format {fmt} ask for two outputs: give one")
    fmt = "json" if json_out else fmt
    if fmt not in ("table", "json", "gradescope"):
        raise InputError(f"--format {fmt!r}: expected table, json or gradescope")
    if keep_source and no_save:
        raise InputError("--keep-source keeps the file in the run folder: drop --no-save")
    flags = _flags(**{"check.timeout": timeout, "check.memory": memory})
    cfg = _load(config, flags, overrides)
    if show_config:
        return _show_config(cfg, "check", json_out)
    err_console = report.console(stderr=True)
    try:
        with _status(err_console, fmt != "table" or quiet, verbose) as progress:
            result = ck.run_check(
                path, only=only, require=require, timeout=cfg.check.timeout,
                memory_mib=cfg.check.memory, seed=cfg.seed, progress=progress,
            )  # fmt: skip
    except InputError as err:  # a submission that cannot be checked still gets its results.json
        if gradescope_out is not None:
            ck.write_gradescope(err, gradescope_out)
        raise
    run_dir = None
    if not no_save:
        folder = ck.save_run(
            result, out, sys.argv, to_dict(cfg), overrides or [], cfg.seed, keep_source
        )
        run_dir = str(folder)
    if gradescope_out is not None:
        ck.write_gradescope(result, gradescope_out)
    if fmt == "json":
        _emit_json({**result.to_json(), "run_dir": run_dir})
    elif fmt == "gradescope":
        _emit_json(ck.gradescope(result))
    else:
        ck.render(result, report.console())
        if run_dir and not quiet:
            err_console.print(f"run folder: {run_dir}")
    if not result.ok:
        raise CheckFailed(result.failure_line())


# ----------------------------------------------------------------------------- train / sample


def _summary_rows(summary: dict[str, Any]) -> dict[str, Any]:
    skip = ("final", "message", "best", "engine", "evaluation")
    rows = {k: v for k, v in summary.items() if k not in skip and v is not None}
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
        )
    return rows


def _train_reporter(json_out: bool, quiet: bool, verbose: bool) -> Any:
    """A progress bar on a terminal, plain lines otherwise, none for --json or --quiet."""
    from rnncli.training.progress import PlainReporter, RichReporter

    if json_out or quiet:
        return None
    if verbose:
        return PlainReporter(every=0.0)
    err = report.console(stderr=True)
    return RichReporter(err) if err.is_terminal else PlainReporter()


@app.command()
@guard
def train(
    overrides: TrainOverrides = None,
    config: ConfigOpt = None,
    cell: CellOpt = None,
    seed: SeedOpt = None,
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            help="reber, adding, text, or one of the 1997 battery: lag, lag-noise, "
            "multiplication, temporal-order, temporal-order-3, copy (train.task).",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="A text file to train on (implies --task text).", show_default=False
        ),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Continue RUN_DIR (or latest, or a unique start of its name); with "
            "train.steps=N, extend a finished run.",
            show_default=False,
        ),
    ] = None,
    init_from: Annotated[
        Path | None,
        typer.Option(
            "--init-from",
            help="Start from the parameters of a run folder, its best.npz, or a weights file.",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="A name for the run (in its folder name).", show_default=False),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Resume even if the cell or data file changed.")
    ] = False,
    json_out: JsonOpt = False,
    out: OutOpt = Path("outputs"),
    no_save: NoSaveOpt = False,
    show_config: ShowOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    report_html: Annotated[
        bool, typer.Option("--report", help="Also write report.html into the run folder.")
    ] = False,
    threads: ThreadsOpt = None,
) -> None:
    """Train a model on a sequence task until solved or train.steps.

    Tasks: reber (embedded Reber grammar, the default), adding (the adding problem,
    MSE at the last step), text (a character model on --data FILE), and the long
    time lags of Hochreiter & Schmidhuber (1997): lag (2a, train.p), lag-noise (2c,
    train.q, train.p), multiplication (5, train.T), temporal-order (6a),
    temporal-order-3 (6b), copy (train.T). Each has its own defaults
    (--show-config) and is judged by the paper's criterion.

    Text: losses per character, in nats (loss, val_loss) and bits (bpc, val_bpc);
    val_loss scores the same held-out characters every time: the file's last 10%, up
    to train.eval_chars (100,000) of them. The file is encoded once into the text cache
    ($RNNCLI_CACHE, else ~/.cache/rnncli) and memory-mapped by later runs;
    train.vocab_min_count=N maps characters seen fewer than N times to one symbol.

    \b
    Examples:
      rnncli train
      rnncli train --task adding --cell rnn --name first-try
      rnncli train --data notes.txt train.steps=2000
      rnncli train --resume latest train.steps=6000
      rnncli train --task adding train.T=200 --init-from latest
    """
    from rnncli.training import execute, plan_new, plan_resume
    from rnncli.training.signals import catch_stops

    if data is not None:
        if task is not None and task != "text":
            raise InputError(f"--data is the text of --task text; this run is --task {task}")
        task = "text"
    if report_html and no_save:
        raise InputError("--report writes report.html into the run folder: drop --no-save")
    if threads is not None:  # a train.* key, so that --resume takes it too
        overrides = [*(overrides or []), f"train.threads={threads}"]
    flags = _flags(
        cell=cell, seed=seed, **{"train.task": task, "train.data": str(data) if data else None}
    )
    err = report.console(stderr=True)
    notice = (lambda text: None) if (quiet or json_out) else _notice(err)
    with _encode_bar(err, json_out or quiet or show_config) as progress:
        if resume is not None:
            if flags or config is not None or no_save or init_from is not None or name:
                raise InputError(
                    "--resume continues a run with its saved config: give only train.* keys "
                    "that extend it (train.steps=N, ...), not a config, flags, --init-from or "
                    "--name"
                )
            from rnncli.runs import store

            plan = plan_resume(store.resolve(resume, out), overrides or [], sys.argv, force,
                               notice, progress)  # fmt: skip
        else:
            cfg = load_config(config, flags, overrides or [], training=True)
            if show_config:
                return _show_config(cfg, "train", json_out)
            if init_from is not None:
                init_from = _source(init_from, out, "--init-from")
            plan = plan_new(
                cfg, None if no_save else out, name=name, argv=sys.argv, flags=flags,
                overrides=overrides or [], init_from=init_from, notice=notice, progress=progress,
            )  # fmt: skip
    if show_config:
        return _show_config(plan.cfg, "train", json_out)
    if plan.nothing_to_do:
        if json_out:
            return _emit_json({"status": "nothing-to-do", "message": plan.nothing_to_do,
                               "run_dir": str(plan.run_dir)})  # fmt: skip
        err.print(plan.nothing_to_do, markup=False, highlight=False)
        return None
    with catch_stops() as stop:
        outcome = execute(plan, _train_reporter(json_out, quiet, verbose), stop.requested, notice)
    summary = outcome.summary
    if json_out:
        _emit_json({**summary, "config": to_dict(plan.cfg)} if summary else
                   {"status": outcome.status, "message": outcome.message})  # fmt: skip
    elif summary:
        con = report.console()
        con.print(report.key_values("train summary", _summary_rows(summary), con.width))
    if report_html and outcome.status == "completed" and outcome.run_dir is not None:
        from rnncli.inspect.command import write_report

        notice(f"report: {write_report(outcome.run_dir)}")
    if outcome.write_error:
        raise InputError(outcome.message)
    if outcome.status == "diverged":
        raise CheckFailed(outcome.message)
    if outcome.status == "interrupted":
        where = outcome.run_dir
        how = f"; resume with: rnncli train --resume {where}" if where else ""
        print(f"rnncli: {stop.name}: {outcome.message}{how}", file=sys.stderr)
        raise typer.Exit(stop.exit_code)
    return None


def _notice(console: Any) -> Callable[[str], None]:
    return lambda text: console.print(text, markup=False, highlight=False)


def _encode_bar(console: Any, silent: bool) -> Any:
    """A bar for encoding a text file into the cache, on a terminal only."""
    from rnncli.training.progress import ByteBar

    if silent or not console.is_terminal:
        return contextlib.nullcontext(None)
    return ByteBar(console)


@app.command()
@guard
def sample(
    run_dir: Annotated[
        str,
        typer.Argument(
            metavar="RUN_DIR",
            help="A train run folder (reber or text), latest, or a unique start of its name.",
            show_default=False,
        ),
    ],
    n: Annotated[
        int | None,
        typer.Option(
            "--n",
            "-n",
            min=1,
            max=1_000_000,
            help="Strings (reber, default 10) or characters (text, default 400).",
            show_default=False,
        ),
    ] = None,
    temperature: Annotated[
        float, typer.Option("--temperature", min=1e-6, max=1e6, help="Softmax temperature.")
    ] = 1.0,
    prime: Annotated[
        str | None, typer.Option("--prime", help="Text to start from (text models).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Sampling seed.")] = 0,
    best: Annotated[
        bool, typer.Option("--best", help="Sample the best parameters (best.npz), not the last.")
    ] = False,
    out: OutOpt = Path("outputs"),
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Sample from a trained model; for reber, also the fraction the grammar accepts.

    \b
    Examples:
      rnncli sample latest -n 20
      rnncli sample RUN_DIR --prime "The " -n 300 --temperature 0.8
    """
    from rnncli.runs import store
    from rnncli.tasks.text import Vocab
    from rnncli.training import sampling
    from rnncli.weights import packed_from_run

    folder = store.resolve(run_dir, out)
    p, cfg, task = packed_from_run(folder, "best" if best else "last")
    if task["task"] not in ("reber", "text"):
        raise InputError(
            f"{folder}: sampling needs a reber or text model, this one is {task['task']}"
        )
    if prime is not None and task["task"] != "text":
        raise InputError(f"--prime is for text models; {folder} is a {task['task']} model")
    rng = np.random.default_rng(seed)
    if task["task"] == "reber":
        result = sampling.sample_reber(p, n or 10, temperature, rng)
    else:
        vocab = Vocab.from_list(task["vocab"], task.get("unknown"))
        start = prime or task.get("first_char") or vocab.to_list()[0]
        result = sampling.sample_text(p, vocab, n or 400, temperature, start, rng)
    if json_out:
        return _emit_json(result)
    con = report.console()
    if task["task"] == "reber":
        for s, ok in zip(result["samples"], result["accepted"], strict=True):
            con.print(f"{s}  {'[green]ok[/]' if ok else '[red]not in grammar[/]'}")
        con.print(f"accepted by the grammar: {result['accept_rate']:.1%}")
    else:
        con.print(result["text"], markup=False)


# ----------------------------------------------------------------------------- runs


@app.command("runs")
@guard
def runs_(
    out: OutOpt = Path("outputs"),
    command: Annotated[
        str | None, typer.Option("--command", help="Only this command's runs.", show_default=False)
    ] = None,
    task: Annotated[
        str | None, typer.Option("--task", help="Only this task's runs.", show_default=False)
    ] = None,
    cell: Annotated[
        str | None, typer.Option("--cell", help="Only runs of this cell.", show_default=False)
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Only runs with this status (comma list).", show_default=False
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only runs started on or after this date (YYYY-MM-DD)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many rows.")
    ] = None,
    clean: Annotated[
        bool, typer.Option("--clean", help="Remove the runs listed (needs --status).")
    ] = False,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="With --clean: only runs older than e.g. 30d, 12h."),
    ] = None,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List past runs, newest first (runs inside sweep folders too); or remove some.

    Reads each run's run.json only. --out names the root (default outputs/) or a sweep
    folder. --clean removes the runs that match, asking first unless --yes; it never
    touches a folder without run.json or a run a live process holds.

    \b
    Examples:
      rnncli runs --task reber --status completed
      rnncli runs --clean --status interrupted,diverged --older-than 30d --yes
    """
    from datetime import datetime

    from rnncli.runs import compare, store

    entries = store.scan(out)
    if since is not None:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise InputError(f"--since {since!r}: expected a date such as 2026-11-01") from None
        entries = [e for e in entries if e.start and e.start.replace(tzinfo=None) >= start]
    wanted = {s.strip() for s in status.split(",")} if status else None
    rows = []
    for e in entries:
        r = compare.row(e, out)
        if command and r["command"] != command or task and r["task"] != task:
            continue
        if cell and r["cell"] != cell and str(e.info.get("cell")) != cell:
            continue
        if wanted and r["status"] not in wanted:
            continue
        rows.append((e, r))
    if older_than is not None:
        cutoff = datetime.now() - store.parse_age(older_than)
        rows = [(e, r) for e, r in rows if e.start and e.start.replace(tzinfo=None) < cutoff]
    if clean:
        if not wanted:
            raise InputError("--clean needs --status (e.g. --status interrupted,diverged)")
        return _clean(rows, yes)
    if limit is not None:
        rows = rows[:limit]
    if json_out:
        return _emit_json({"root": str(out), "runs": [r for _, r in rows]})
    con = report.console()
    if not rows:
        con.print(f"no runs under {out}" + (" match" if entries else ""), markup=False)
        return None
    con.print(compare.runs_table([r for _, r in rows], con.width))
    return None


def _confirm_removal(what: str, yes: bool) -> None:
    """Ask before removing `what` ("3 runs") unless --yes; where nobody can answer (stdin
    not a terminal), refuse with one line instead."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError(f"--clean would remove {what}: add --yes to confirm")
    if not typer.confirm(f"remove these {what}?", default=False):
        raise typer.Exit(1)


def _clean(rows: list[Any], yes: bool) -> None:
    from rnncli.runs import store

    doomed = [(e, r) for e, r in rows if not store.removable(e)]
    kept = len(rows) - len(doomed)
    con = report.console(stderr=True)
    if not doomed:
        con.print("nothing to remove", markup=False)
        return
    for _, r in doomed:
        con.print(f"  {r['path']}  ({r['status']})", markup=False, highlight=False)
    _confirm_removal(f"{len(doomed)} runs", yes)
    for e, _ in doomed:
        store.remove(e)
    skipped = f" ({kept} in use, left alone)" if kept else ""
    con.print(f"removed {len(doomed)} runs{skipped}", markup=False)


@app.command()
@guard
def cache(
    clean: Annotated[
        bool, typer.Option("--clean", help="Remove the entries listed (asks unless --yes).")
    ] = False,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Only entries unused for longer than e.g. 30d, 12h."),
    ] = None,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """The text cache: the encoded texts that text runs memory-map, most recently used
    first; or remove some.

    The cache is $RNNCLI_CACHE, else $XDG_CACHE_HOME/rnncli, else ~/.cache/rnncli.
    Removing an entry is always safe: the next run on that text encodes it again. A run
    that is reading an entry keeps reading it.

    \b
    Examples:
      rnncli cache
      rnncli cache --clean --older-than 30d --yes
    """
    from rnncli.runs.store import parse_age
    from rnncli.tasks.text import cache as text_cache

    folder = text_cache.cache_dir() / "text"
    rows = text_cache.listing()
    if older_than is not None:
        age = parse_age(older_than).total_seconds()
        rows = [r for r in rows if text_cache.unused_for(r) > age]
    if clean:
        return _clean_cache(rows, yes, text_cache.remove)
    if json_out:
        return _emit_json({"folder": str(folder), "entries": rows})
    con = report.console()
    if not rows:
        con.print(f"text cache: nothing in {folder}" + (" unused for that long" if older_than
                  else ""), markup=False, highlight=False)  # fmt: skip
        return None
    total = sum(r["bytes"] for r in rows)
    n = f"{len(rows)} {'entry' if len(rows) == 1 else 'entries'}"
    con.print(_cache_table(rows, con.width, f"text cache: {folder} · {n} · "
                           f"{total / 2**20:,.1f} MiB"))  # fmt: skip
    return None


def _cache_table(rows: list[dict[str, Any]], width: int, title: str) -> Any:
    from datetime import datetime

    from rnncli.report import Col, fit_table

    cols = [Col("entry"), Col("source", priority=2, wrap=True), Col("characters", "right"),
            Col("MiB", "right"), Col("last used", priority=1), Col("note", priority=3,
            wrap=True)]  # fmt: skip
    body = [
        [_short_entry(r["name"]), r["source"] or "-",
         f"{r['characters']:,}" if r["characters"] is not None else "-",
         f"{r['bytes'] / 2**20:,.1f}",
         datetime.fromtimestamp(r["last_used"]).strftime("%Y-%m-%d %H:%M"),
         r["problem"] or ""]
        for r in rows
    ]  # fmt: skip
    return fit_table(title, cols, body, width)


def _short_entry(name: str) -> str:
    """An entry's name as the table shows it: the text's hash cut to 12 digits."""
    sha, _, k = name.rpartition("-k")
    if name.startswith(".") or not sha:
        return name[:16] + ("…" if len(name) > 16 else "")
    return f"{sha[:12]}-k{k}"


def _clean_cache(rows: list[dict[str, Any]], yes: bool, remove: Callable[[Any], None]) -> None:
    doomed = [r for r in rows if r["removable"]]
    con = report.console(stderr=True)
    if not doomed:
        con.print("nothing to remove", markup=False)
        return
    total = sum(r["bytes"] for r in doomed) / 2**20
    for r in doomed:
        con.print(f"  {r['name']}  ({r['source'] or r['problem']})", markup=False,
                  highlight=False)  # fmt: skip
    _confirm_removal(f"{len(doomed)} cache entries ({total:,.1f} MiB)", yes)
    for r in doomed:
        remove(r)
    kept = len(rows) - len(doomed)
    left = f" ({kept} left alone: a write under way, or not rnncli's)" if kept else ""
    n = len(doomed)
    con.print(f"removed {n} {'entry' if n == 1 else 'entries'}, {total:,.1f} MiB{left}",
              markup=False)  # fmt: skip


@app.command()
@guard
def show(
    run_dir: Annotated[
        str, typer.Argument(metavar="RUN_DIR", help="A run folder, latest, or a unique start.")
    ],
    out: OutOpt = Path("outputs"),
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """One run: its config (the keys not at their defaults), summary, files and, for a
    training run, the curve in the terminal.

    \b
    Examples:
      rnncli show latest
    """
    from rnncli import plot
    from rnncli.config import load_config
    from rnncli.runs import Run, compare, store

    folder = store.resolve(run_dir, out)
    info = Run.load_json(folder)
    config = compare.load_config_dict(folder)
    training = info.get("command") in ("train",)
    defaults = to_dict(load_config(None, {"train.task": config.get("train", {}).get("task")},
                                   training=training))  # fmt: skip
    changed = [(k, v[1]) for k, v in compare.config_diff([defaults, config])]
    files = sorted((p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file()
                   and not p.name.startswith("."))  # fmt: skip
    records = compare.curves(folder) if (folder / "metrics.jsonl").exists() else []
    if json_out:
        return _emit_json({"run_dir": str(folder), "run": info, "config_changes": dict(changed),
                           "files": dict(files), "metrics": records})  # fmt: skip
    con = report.console()
    head = {k: info.get(k) for k in ("command", "status", "task", "cell", "name", "start_time",
                                     "duration_s") if info.get(k) is not None}  # fmt: skip
    head["run folder"] = str(folder)
    w = con.width
    con.print(report.key_values("run", head, w))
    con.print(report.key_values("config (not at the defaults)", dict(changed) or {"-": "-"}, w))
    summary = info.get("summary")
    if isinstance(summary, dict):
        con.print(report.key_values("summary", _summary_rows(summary), w))
    con.print(report.key_values("files", {n: f"{size:,} bytes" for n, size in files}, w))
    if records:
        metric = str(summary.get("metric") or "") if isinstance(summary, dict) else ""
        for key in ("loss", metric):
            values = [r[key] for r in records if key and isinstance(r.get(key), (int, float))]
            if values:
                con.print(f"{key} over {len(values)} evaluations", markup=False)
                con.print(plot.text_plot(values, width=min(60, con.width - 12)), markup=False)
    return None


@app.command()
@guard
def compare(
    run_dirs: Annotated[
        list[str],
        typer.Argument(
            metavar="RUN_DIR... | SWEEP_DIR",
            help="Runs to compare (folders, latest, unique starts), or one sweep folder.",
        ),
    ],
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric", help="The metric to plot (default: the task's).", show_default=False
        ),
    ] = None,
    x: Annotated[
        str, typer.Option("--x", help="The x axis: sequences, steps or wall_s.")
    ] = "sequences",
    out: OutOpt = Path("outputs"),
    no_save: NoSaveOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Runs side by side: the config keys that differ, the final metrics, and
    compare.png with the curves overlaid (for a sweep: mean and spread over seeds per
    grid point, written into the sweep folder).

    \b
    Examples:
      rnncli compare outputs/2026-11-30/10-00-00-train-reber-lstm latest
      rnncli compare outputs/sweeps/2026-11-30/10-00-00-reber-cells --metric outer_acc
    """
    from rnncli import plot
    from rnncli.runs import Run, store
    from rnncli.runs import compare as cmp

    if x not in cmp.X_AXES:
        raise InputError(f"--x {x!r}: expected one of {', '.join(cmp.X_AXES)}")
    folders = [store.resolve(d, out) for d in run_dirs]
    con = report.console()
    if len(folders) == 1 and (folders[0] / store.SWEEP_JSON).is_file():
        sweep_dir = folders[0]
        doc, groups = cmp.sweep_groups(sweep_dir)
        firsts = [paths[0] for paths in groups.values()]
        metric = metric or _task_metric(firsts)
        series = cmp.sweep_series(groups, metric, x)
        target = None if no_save else sweep_dir / "compare.png"
        labels = list(groups)
        dirs = firsts
        title = f"sweep {doc.get('name', sweep_dir.name)}"
    else:
        if len(folders) < 2:
            raise InputError("compare needs two or more run folders, or one sweep folder")
        dirs = folders
        labels = [chr(ord("A") + i) if i < 26 else f"R{i}" for i in range(len(dirs))]
        metric = metric or _task_metric(dirs)
        series = cmp.run_series(dirs, labels, metric, x)
        target = None
        title = "rnncli compare"
    configs = [cmp.load_config_dict(d) for d in dirs]
    diff = cmp.config_diff(configs)
    finals = []
    for d in dirs:
        summary = Run.load_json(d).get("summary")
        finals.append((summary or {}).get("final", {}) if isinstance(summary, dict) else {})
    run: Run | None = None
    if not no_save and target is None:
        run = Run.start(out, "compare", "runs", {"runs": [str(d) for d in dirs]}, [], sys.argv, 0,
                        what=[str(len(dirs)), "runs"])  # fmt: skip
        target = run.path / "compare.png"
    figure = None
    if target is not None and plot.have_matplotlib() and series:
        cmp.plot(series, metric, x, target, title)
        figure = str(target)
    doc_out = {
        "runs": [{"label": lab, "path": str(d)} for lab, d in zip(labels, dirs, strict=True)],
        "differences": {k: v for k, v in diff}, "final": finals, "metric": metric, "x": x,
        "figure": figure,
    }  # fmt: skip
    if run is not None:
        run.write_json("compare.json", doc_out)
        run.finish("completed")
        run.release()
    if json_out:
        return _emit_json(doc_out)
    for lab, d in zip(labels, dirs, strict=True):
        con.print(f"{lab} = {d}", markup=False, highlight=False)
    con.print(cmp.diff_table(labels, diff, con.width) if diff else "same config", markup=False)
    con.print(cmp.finals_table(labels, finals, con.width))
    err = report.console(stderr=True)
    if figure and not quiet:
        err.print(f"figure: {figure}", markup=False, highlight=False)
    elif target is not None and not plot.have_matplotlib():
        err.print("matplotlib is not installed (pip install 'rnncli[plot]'): no compare.png",
                  markup=False)  # fmt: skip
    return None


def _task_metric(dirs: list[Path]) -> str:
    from rnncli.runs import Run

    for d in dirs:
        summary = Run.load_json(d).get("summary")
        if isinstance(summary, dict) and summary.get("metric"):
            return str(summary["metric"])
    return "loss"


# ----------------------------------------------------------------------------- export


@app.command()
@guard
def export(
    run_dir: Annotated[
        str,
        typer.Argument(metavar="RUN_DIR", help="A train run folder, latest, or a unique start."),
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="safetensors (the [export] extra) or npz.")
    ] = "safetensors",
    names: Annotated[
        str | None,
        typer.Option(
            "--names",
            help="torch (nn.RNN/LSTM/GRU + nn.Linear state-dict names, PyTorch's gate order) "
            "or notebook (Wf, bf, ..., Wy, by). Default: torch where a PyTorch layer computes "
            "the cell, else notebook.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="The file to write (default: RUN_DIR/model.FORMAT).", show_default=False
        ),
    ] = None,
    best: Annotated[bool, typer.Option("--best", help="Export best.npz, not the last.")] = False,
    runs: Annotated[Path, typer.Option("--runs", help="Where RUN_DIR names are looked up.")] = Path(
        "outputs"
    ),
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write a trained run's parameters as a weights file other tools read.

    With torch names the file loads into PyTorch: nn.LSTM / nn.RNN / nn.GRU (for the
    torch-gru cell) take the tensors without the fc. prefix, nn.Linear takes fc.weight and
    fc.bias. The notebook's gru computes a different function than nn.GRU and is refused.
    A model read out at the last step (adding) reads h_n of the top layer, forward then
    reverse. The safetensors metadata says what model it is.

    \b
    Examples:
      rnncli export latest
      rnncli export RUN_DIR --format npz --names notebook --out weights.npz
    """
    from rnncli import weights
    from rnncli.runs import store

    folder = store.resolve(run_dir, runs)
    if names is None:
        cfg, _ = weights.run_model(folder)
        names = "torch" if cfg.cell in weights.TORCH_LAYERS else "notebook"
    path = weights.export(folder, fmt, names, out, "best" if best else "last")
    if not quiet:
        report.console(stderr=True).print(f"wrote {path}", markup=False, highlight=False)


# ----------------------------------------------------------------------------- inspect / report


@app.command("inspect")
@guard
def inspect_cmd(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="RUN_DIR | KEY=VALUE",
            help="Train run folders (latest, or a unique start of a name); without one, an "
            "untrained model from --config and key=value overrides, initialised as train "
            "would initialise it.",
            show_default=False,
        ),
    ] = None,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare", help="Overlay the gradient flow of several runs (or of --cell a,b,c)."
        ),
    ] = False,
    config: ConfigOpt = None,
    cell: Annotated[
        str | None,
        typer.Option(
            "--cell",
            help="Untrained model: rnn, lstm, gru or file.py:Class (a comma list with --compare).",
            show_default=False,
        ),
    ] = None,
    seed: SeedOpt = None,
    task: Annotated[
        str | None,
        typer.Option("--task", help="Untrained model: reber, adding or text.", show_default=False),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Text models: read the start of this file (untrained: also its vocabulary, "
            "as train --data).",
            show_default=False,
        ),
    ] = None,
    text: Annotated[
        str | None,
        typer.Option("--text", help="Text models: read this text.", show_default=False),
    ] = None,
    length: Annotated[
        int, typer.Option("--length", min=2, help="Text models: characters to read at most.")
    ] = 1000,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Other tasks: sequences in the batch.")
    ] = 32,
    batch_seed: Annotated[
        int, typer.Option("--batch-seed", min=0, help="Seed of the batch drawn from the task.")
    ] = 0,
    best: Annotated[
        bool, typer.Option("--best", help="The run's best parameters (best.npz), not the last.")
    ] = False,
    find: Annotated[
        bool,
        typer.Option(
            "--find", help="Text models: rank units by how well they track features of the text."
        ),
    ] = False,
    unit: Annotated[
        str | None,
        typer.Option(
            "--unit",
            help="Text models: colour the text by this unit, e.g. a:17 or c:3.",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
    out: OutOpt = Path("outputs"),
    no_save: NoSaveOpt = False,
    threads: ThreadsOpt = None,
    params: InspectParamsOpt = None,
) -> None:
    """See inside a network: gradient flow through time, gate
    saturation, states, and the units of a text model that track the text.

    Reads a batch of the run's task (--batch sequences, drawn with
    --batch-seed) or, for a text model, a passage: --text, the start of
    --data FILE, or the validation part of the run's own file. Prints
    the per-step gradient norms ||dL/da_t|| (and ||dL/dc_t||) for the
    loss at the last step and for the whole loss, and the connectivity
    ||da_T/dx_t||, as sparklines on a log scale and as a table of their
    decay per 10 steps; gate saturation (Karpathy et al. 2015); the
    states over time.

    Files go to RUN_DIR/inspect/ for one run, or to a new run folder
    under --out (outputs/<date>/<time>-inspect-...) for an untrained
    model or --compare: gradflow.png, gates.png and states.png (with
    matplotlib: pip install 'rnncli\\[plot]'), cells.html (text models),
    inspect.json (every number, as --json prints it).

    Examples:

      rnncli inspect latest

      rnncli inspect --compare RUN_RNN RUN_LSTM RUN_GRU

      rnncli inspect --task adding --compare --cell rnn,lstm,gru

      rnncli inspect --task reber --params model.safetensors

      rnncli inspect TEXT_RUN --find

      rnncli inspect TEXT_RUN --unit c:12 --text "He said \\"no\\"."
    """
    from rnncli import engine
    from rnncli.inspect import command as ic
    from rnncli.inspect import show

    runs = [a for a in args or [] if "=" not in a]
    overrides = [a for a in args or [] if "=" in a]
    opts = ic.Options(text=text, data=data, length=length, batch=batch, batch_seed=batch_seed,
                      find=find, unit=unit)  # fmt: skip
    flags = _flags(cell=cell, seed=seed, task=task)
    if runs:
        subjects = ic.subjects_from_runs(runs, out, best, compare, config, flags, overrides,
                                         params)  # fmt: skip
    else:
        params = _source(params, out, "--params") if params is not None else None
        subjects = ic.subjects_from_config(config, flags, overrides, compare, best, data, params)
    n_a = max(s.p.n_a for s in subjects)
    with engine.limit_threads(engine.threads_for(threads, n_a)):
        inspections = ic.analyse(subjects, opts)
    files, notices = ic.outputs(inspections, opts)
    folder = None
    if not no_save:
        extra = _params_record(params) if params is not None and not runs else None
        folder = ic.save_outputs(subjects, files, out, compare, overrides, flags, sys.argv, extra)
    err = report.console(stderr=True)
    if json_out:
        _emit_json(ic.document(inspections, files=sorted(files), out_dir=str(folder) if folder
                               else None))  # fmt: skip
    else:
        show.render(inspections, report.console(), find, ic.chosen_unit(subjects[0], unit))
    for line in notices:
        err.print(line, markup=False, highlight=False)
    if folder is not None and not json_out:
        err.print(f"written to {folder}: {', '.join(sorted(files))}", markup=False,
                  highlight=False)  # fmt: skip


@app.command("report")
@guard
def report_cmd(
    run_dir: Annotated[
        str,
        typer.Argument(
            metavar="RUN_DIR",
            help="A train run folder, latest, or a unique start of its name.",
            show_default=False,
        ),
    ],
    best: Annotated[
        bool, typer.Option("--best", help="Inspect the best parameters (best.npz), not the last.")
    ] = False,
    out: OutOpt = Path("outputs"),
    json_out: JsonOpt = False,
) -> None:
    """Write RUN_DIR/report.html: the run on one self-contained page (config, metrics,
    loss curves, gradient flow, gates, states, text units, samples; images inline, no
    scripts, no network).

    Examples:

      rnncli report latest

      rnncli train --task adding --report
    """
    from rnncli.inspect.command import write_report
    from rnncli.runs import store

    path = write_report(store.resolve(run_dir, out).resolve(), best)
    if json_out:
        return _emit_json({"report": str(path)})
    report.console().print(f"report: {path}", markup=False, highlight=False)


# ----------------------------------------------------------------------------- cells


@app.command()
@guard
def cells(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Cells to show (default: built-in and registered).", show_default=False
        ),
    ] = None,
    n_x: Annotated[int, typer.Option("--n-x", min=1, help="Input size for the shapes.")] = 3,
    n_a: Annotated[int, typer.Option("--n-a", min=1, help="Hidden size for the shapes.")] = 5,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List the cells: built-in, registered by installed packages (entry-point group
    rnncli.cells), or the ones named, with their states and parameter shapes.

    A cell of your own is a class in a file or module (see rnncli/cells/protocol.py);
    naming one loads it, which runs its code.

    \b
    Examples:
      rnncli cells
      rnncli cells examples/cells/mgu.py:MGU --n-a 16
    """
    from rnncli.cells import listing

    rows = listing.list_cells(names, n_x, n_a)
    if json_out:
        return _emit_json({"n_x": n_x, "n_a": n_a, "cells": rows})
    listing.render(rows, n_x, n_a, report.console())


# ----------------------------------------------------------------------------- bench


@app.command()
@guard
def bench(
    sizes: Annotated[
        str | None,
        typer.Option(
            "--sizes",
            help="Comma list of tiny, small, medium, large (default: all).",
            show_default=False,
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Short samples, no large: under a minute.")
    ] = False,
    cells: Annotated[
        str | None,
        typer.Option(
            "--cells",
            help="Comma list of rnn, lstm, gru or your own cells (file.py:Class).",
            show_default=False,
        ),
    ] = None,
    dtypes: Annotated[
        str | None,
        typer.Option("--dtypes", help="Comma list of float64, float32.", show_default=False),
    ] = None,
    rounds: Annotated[
        int | None,
        typer.Option(
            "--rounds",
            min=1,
            help="Exact timed rounds per size (>= 7 to count; default: 9, or 7, and more "
            "while a time budget per size lasts).",
            show_default=False,
        ),
    ] = None,
    no_torch: Annotated[
        bool, typer.Option("--no-torch", help="Skip PyTorch even if installed.")
    ] = False,
    no_throughput: Annotated[
        bool, typer.Option("--no-throughput", help="Skip the training-throughput measurement.")
    ] = False,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads", min=1, help="BLAS threads (default: as installed).", show_default=False
        ),
    ] = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """How fast is forward + backward through time on this machine?

    Times loss_and_grads (the engine) against the literal notebook implementation and,
    when installed (pip install 'rnncli[bench]'), PyTorch; interleaved rounds, medians
    and interquartile ranges, speed-ups as paired per-round ratios; GEMM rate vs the
    machine's peak; peak memory; and training throughput (reber sequences/s, text
    characters/s).

    \b
    Examples:
      rnncli bench --quick
      rnncli bench --sizes small,medium --cells lstm --json
    """
    from rnncli import bench as bn
    from rnncli import engine
    from rnncli.training import throughput

    def split(text: str | None) -> list[str] | None:
        return [t.strip() for t in text.split(",") if t.strip()] if text else None

    err = report.console(stderr=True)
    loud = verbose or (sys.stderr.isatty() and not json_out)
    progress = (lambda msg: err.print(msg, markup=False)) if loud and not quiet else None
    try:
        with contextlib.nullcontext() if threads is None else engine.limit_threads(threads):
            results = bn.run_bench(
                sizes=split(sizes), cells=split(cells) or bn.CELLS,
                dtypes=split(dtypes) or bn.DTYPES, rounds=rounds, quick=quick,
                torch=not no_torch, progress=progress, threads=threads,
                throughput=None if no_throughput else lambda: throughput.measure(
                    100 if quick else 300),
            )  # fmt: skip
    except ValueError as err_:
        raise InputError(str(err_)) from None
    if json_out:
        _emit_json(results)
    else:
        bn.render(results, report.console())


# ----------------------------------------------------------------------------- sweep


@app.command()
@guard
def sweep(
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="key=v1,v2 grid axes (comma lists) and key=value fixed overrides.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOpt = None,
    cell: CellOpt = None,
    seed: SeedOpt = None,
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            help="reber, adding, text, or one of the 1997 battery: lag, lag-noise, "
            "multiplication, temporal-order, temporal-order-3, copy (train.task).",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Text file for --task text.", show_default=False),
    ] = None,
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds", help="Replicates: ranges and lists, e.g. 0-9 or 0,3,5-7.", show_default=False
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Jobs at once (default: cores, or the cluster's threads).",
            show_default=False,
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask", help="Run on a Dask scheduler, e.g. tcp://127.0.0.1:8786.", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="The sweep folder (rerun with the same --out to resume).",
            show_default=False,
        ),
    ] = None,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first failed job.")
    ] = False,
    json_out: JsonOpt = False,
    show_config: ShowOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Train a grid of configs x seeds on all local cores, or on a Dask cluster. With only
    --out DIR, resume the sweep stored there.

    Each job is an ordinary train run with its own run folder under
    outputs/sweeps/<date>/<time>-<name>/<job-id>/; summary.csv aggregates over seeds.

    \b
    Examples:
      rnncli sweep --task reber cell=rnn,lstm --seeds 0-1
      rnncli sweep --config configs/sweeps/adding-lstm-vs-rnn.yaml --out outputs/sweeps/adding
      rnncli sweep --config configs/sweeps/reber-cells.yaml --dask tcp://127.0.0.1:8786
    """
    from rnncli import sweep as sw

    flags = _flags(
        cell=cell, seed=seed, **{"train.task": task, "train.data": str(data) if data else None}
    )
    stored = None if out is None else out / sw.SWEEP_JSON
    if stored is not None and stored.is_file() and not (flags or overrides or config or seeds):
        from rnncli.runs import read_json

        plan = sw.plan_from_doc(read_json(stored, "sweep.json"))  # resume it as it was
    else:
        plan = sw.plan_sweep(config, flags, overrides or [], seeds=seeds)
    if show_config:
        keep = SECTIONS["sweep"]
        resolved = {k: v for k, v in plan.base_config.items() if k in keep}
        resolved["sweep"] = {"grid": plan.grid, "seeds": plan.seeds}
        if json_out:
            return _emit_json(resolved)
        sys.stdout.write(yaml.safe_dump(resolved, sort_keys=False))
        return
    result = sw.run_sweep(
        plan, out=out, workers=workers, dask=dask, fail_fast=fail_fast,
        reporter=sw.make_reporter(json_out or quiet, report.console(stderr=True), verbose),
        argv=sys.argv,
    )  # fmt: skip
    if json_out:
        _emit_json(result.to_json())
    else:
        sw.render(result, report.console())
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
