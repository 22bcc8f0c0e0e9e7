"""The command line: parse, call the library, print. Nothing else lives here.

Exit codes: 0 ok, 1 a check failed or training diverged, 2 bad usage or input,
130 interrupted. Tables go to stdout, diagnostics to stderr; ``--json`` prints exactly
one JSON document on stdout.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer
import yaml

from rnncli import __version__, passes, report, samples
from rnncli.config import Config, check_memory, dump_yaml, load_config, to_dict
from rnncli.errors import CheckFailed, InputError
from rnncli.runs import Run, to_json

app = typer.Typer(
    name="rnncli",  # the help text is _root's docstring (with examples)
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
        help="Dotted key=value overrides, e.g. dims.n_a=64 backward.upstream=loss.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Root folder for run folders.")]
NoSaveOpt = Annotated[bool, typer.Option("--no-save", help="Write no run folder.")]
ShowOpt = Annotated[bool, typer.Option("--show-config", help="Print the resolved config and exit.")]


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
    return Run.start(
        out, command, cfg.cell, to_dict(cfg), overrides or [], sys.argv, cfg.seed, flags
    )


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
    _inspect(
        "forward",
        config,
        _flags(cell=cell, seed=seed),
        overrides,
        json_out,
        out,
        no_save,
        show_config,
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
) -> None:
    """Run forward, then backward through time, and show every gradient.

    backward.upstream=random draws da as the notebook does; backward.upstream=loss
    back-propagates the output layer's cross-entropy against seeded random targets.

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
) -> None:
    """Verify every gradient against central differences; exit 1 if any fails.

    Levels: cell (the notebook's *_cell_backward), sequence (the notebook's *_backward),
    model (loss_and_grads on the engine, cross-entropy and mse_last). With no options
    every cell type is checked at every level.

    Examples:

      rnncli gradcheck

      rnncli gradcheck --cell lstm --level sequence dims.T_x=12

      rnncli gradcheck gradcheck.mode=fast dims.n_a=64 --json
    """
    from rnncli import gradcheck as gc

    cfg = _load(config, _flags(seed=seed), overrides)
    if show_config:
        return _show_config(cfg)
    err_console = report.console(stderr=True)
    progress = None
    if sys.stderr.isatty() and not json_out:  # a transient status line on a terminal only
        progress = lambda label: err_console.print(f"checking {label}…", end="\r")  # noqa: E731
    result = gc.run_gradcheck(cfg, cells=cell, levels=level, progress=progress)
    doc = result.to_json()
    run_dir = None
    if not no_save:
        run = Run.start(
            out, "gradcheck", cell or "all", to_dict(cfg), overrides or [], sys.argv, cfg.seed
        )
        run.write_json("gradcheck.json", doc)
        run.finish(
            "completed" if result.ok else "failed", passed=result.passed, failed=result.failed
        )
        run_dir = str(run.path)
    if json_out:
        _emit_json({**doc, "config": to_dict(cfg), "run_dir": run_dir})
    else:
        gc.render(result, report.console())
        if run_dir:
            err_console.print(f"run folder: {run_dir}")
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
        return _show_config(cfg)
    err_console = report.console(stderr=True)
    progress = None
    if sys.stderr.isatty() and fmt == "table":  # a transient status line on a terminal only
        progress = lambda name: err_console.print(f"checking {name}…", end="\r")  # noqa: E731
    try:
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
        if run_dir:
            err_console.print(f"run folder: {run_dir}")
    if not result.ok:
        raise CheckFailed(result.failure_line())


# ----------------------------------------------------------------------------- train / sample


def _summary_rows(summary: dict[str, Any]) -> dict[str, Any]:
    skip = ("final", "message", "best", "evaluation")
    rows = {k: v for k, v in summary.items() if k not in skip and v is not None}
    if summary.get("evaluation"):  # text: the held-out characters val_loss scores
        e = summary["evaluation"]
        rows["evaluated"] = f"{e['characters']:,} of {e['held_out']:,} held-out characters"
    rows.update({k: v for k, v in summary["final"].items()})
    if summary.get("best"):
        rows["best step"] = summary["best"]["step"]
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


QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="More progress output.")]


@app.command()
@guard
def train(
    overrides: Overrides = None,
    config: ConfigOpt = None,
    cell: CellOpt = None,
    seed: SeedOpt = None,
    task: Annotated[
        str | None,
        typer.Option("--task", help="reber, adding or text (train.task).", show_default=False),
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
) -> None:
    """Train a model on a sequence task until solved or train.steps.

    Tasks: reber (embedded Reber grammar, the default), adding (the adding problem,
    MSE at the last step), text (a character model on --data FILE).

    Text: losses per character, in nats (loss, val_loss) and bits (bpc, val_bpc);
    val_loss scores the same held-out characters every time: the file's last 10%, up
    to train.eval_chars (100,000) of them. The file is encoded once into the text cache
    ($RNNCLI_CACHE, else ~/.cache/rnncli) and memory-mapped by later runs;
    train.vocab_min_count=N maps characters seen fewer than N times to one symbol.

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
                return _show_config(cfg)
            plan = plan_new(
                cfg, None if no_save else out, name=name, argv=sys.argv, flags=flags,
                overrides=overrides or [], init_from=init_from, notice=notice, progress=progress,
            )  # fmt: skip
    if show_config:
        return _show_config(plan.cfg)
    if plan.nothing_to_do:
        err.print(plan.nothing_to_do, markup=False, highlight=False)
        return None
    with catch_stops() as stop:
        outcome = execute(plan, _train_reporter(json_out, quiet, verbose), stop.requested, notice)
    summary = outcome.summary
    if json_out:
        _emit_json({**summary, "config": to_dict(plan.cfg)} if summary else
                   {"status": outcome.status, "message": outcome.message})  # fmt: skip
    elif summary:
        report.console().print(report.key_values("train summary", _summary_rows(summary)))
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
) -> None:
    """Sample from a trained model; for reber, also the fraction the grammar accepts.

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
) -> None:
    """List the cells: built-in, registered by installed packages (entry-point group
    rnncli.cells), or the ones named, with their states and parameter shapes.

    A cell of your own is a class in a file or module (see rnncli/cells/protocol.py);
    naming one loads it, which runs its code.

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
    json_out: JsonOpt = False,
) -> None:
    """How fast is forward + backward through time on this machine?

    Times loss_and_grads (the engine) against the literal notebook implementation and,
    when installed (pip install 'rnncli\\[bench]'), PyTorch; interleaved rounds, medians
    and interquartile ranges, speed-ups as paired per-round ratios; GEMM rate vs the
    machine's peak; peak memory; and training throughput (reber sequences/s, text
    characters/s).

    Examples:

      rnncli bench --quick

      rnncli bench --sizes small,medium --cells lstm --json
    """
    from rnncli import bench as bn
    from rnncli.training import throughput

    def split(text: str | None) -> list[str] | None:
        return [t.strip() for t in text.split(",") if t.strip()] if text else None

    err = report.console(stderr=True)
    progress = (lambda msg: err.print(msg)) if sys.stderr.isatty() and not json_out else None
    try:
        results = bn.run_bench(
            sizes=split(sizes), cells=split(cells) or bn.CELLS, dtypes=split(dtypes) or bn.DTYPES,
            rounds=rounds, quick=quick, torch=not no_torch, progress=progress,
            throughput=None if no_throughput else lambda: throughput.measure(100 if quick else 300),
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
        typer.Option("--task", help="reber, adding or text (train.task).", show_default=False),
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
) -> None:
    """Train a grid of configs x seeds on all local cores, or on a Dask cluster.

    Each job is an ordinary train run with its own run folder under
    outputs/sweeps/<date>/<time>-<name>/<job-id>/; summary.csv aggregates over seeds.

    Examples:

      rnncli sweep --task reber cell=rnn,lstm --seeds 0-1

      rnncli sweep --config configs/sweeps/adding-lstm-vs-rnn.yaml --out outputs/sweeps/adding

      rnncli sweep --config configs/sweeps/reber-cells.yaml --dask tcp://127.0.0.1:8786
    """
    from rnncli import sweep as sw

    flags = _flags(
        cell=cell, seed=seed, **{"train.task": task, "train.data": str(data) if data else None}
    )
    plan = sw.plan_sweep(config, flags, overrides or [], seeds=seeds)
    if show_config:
        resolved = {**plan.base_config, "sweep": {"grid": plan.grid, "seeds": plan.seeds}}
        sys.stdout.write(yaml.safe_dump(resolved, sort_keys=False))
        return
    result = sw.run_sweep(
        plan, out=out, workers=workers, dask=dask, fail_fast=fail_fast,
        reporter=sw.make_reporter(json_out, report.console(stderr=True)), argv=sys.argv,
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
