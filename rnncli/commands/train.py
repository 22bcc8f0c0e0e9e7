"""``rnncli train`` and ``rnncli sample``: train a model on a task, sample from it."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rnncli import report
from rnncli.commands.common import (
    CellOpt,
    ConfigOpt,
    JsonOpt,
    NoSaveOpt,
    OutOpt,
    QuietOpt,
    SeedOpt,
    ShowOpt,
    ThreadsOpt,
    TrainOverrides,
    VerboseOpt,
    command_app,
    emit_json,
    flags,
    guard,
    notice,
    print_config,
    summary_rows,
    task_help,
    with_tasks,
)
from rnncli.config import Config, config_view, load_config, to_dict
from rnncli.errors import CheckFailed, InputError
from rnncli.runs import query, store
from rnncli.tasks import registry
from rnncli.training import Outcome, execute, start_or_resume
from rnncli.training.progress import ByteBar, PlainReporter, RichReporter
from rnncli.training.sampling import sample_run
from rnncli.training.signals import catch_stops

app = command_app()
TASK_HELP = task_help()


def _reporter(json_out: bool, quiet: bool, verbose: bool) -> Any:
    """A progress bar on a terminal, plain lines otherwise, none for --json or --quiet."""
    if json_out or quiet:
        return None
    if verbose:
        return PlainReporter(every=0.0)
    err = report.console(stderr=True)
    return RichReporter(err) if err.is_terminal else PlainReporter()


def _encode_bar(console: Any, silent: bool) -> Any:
    """A bar for encoding a text file into the cache, on a terminal only."""
    if silent or not console.is_terminal:
        return contextlib.nullcontext(None)
    return ByteBar(console)


def _print_outcome(outcome: Outcome, cfg: Config, json_out: bool) -> None:
    summary = outcome.summary
    if json_out:
        doc = {**summary, "config": to_dict(cfg)} if summary else {
            "status": outcome.status, "message": outcome.message}  # fmt: skip
        emit_json(doc, "train")
    elif summary:
        con = report.console()
        report.print_key_values(con, "train summary", summary_rows(summary))


#: What to do with a trained run, and what it gives (sample: generative tasks only).
NEXT = {"sample": "strings or text from the model", "show": "config, summary, the curve",
        "report": "the run on one HTML page"}  # fmt: skip


def next_steps(con: Any, task: str, out: Path) -> None:
    """The commands that take the run just trained as ``latest``."""
    from rnncli.tasks import registry

    where = "" if out == Path("outputs") else f" --out {out}"
    steps = [c for c in NEXT if c != "sample" or registry.get(task).sampler is not None]
    lines = [f"  rnncli {c} latest{where}" for c in steps]
    pad = max(map(len, lines))
    con.print("next:", markup=False, highlight=False)
    for c, line in zip(steps, lines, strict=True):
        con.print(f"{line:<{pad}}  ({NEXT[c]})", markup=False, highlight=False,
                  soft_wrap=True)  # fmt: skip


@app.command()
@guard
@with_tasks
def train(
    overrides: TrainOverrides = None,
    config: ConfigOpt = None,
    cell: CellOpt = None,
    seed: SeedOpt = None,
    task: Annotated[
        str | None, typer.Option("--task", help=TASK_HELP, show_default=False)
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="A text file to train on (implies its task).", show_default=False
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
    multirun: Annotated[
        bool,
        typer.Option(
            "--multirun", "-m", help="Train every combination of key=v1,v2 lists: a sweep."
        ),
    ] = False,
) -> None:
    """Train a model on a sequence task until solved or train.steps.

    Each task has its own defaults (--show-config); the long time lags of Hochreiter &
    Schmidhuber (1997), numbered as in the paper, are judged by its criterion.

    \b
    Tasks (train.task):
      {tasks}

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
      rnncli train -m cell=rnn,lstm train.lr=1e-3,1e-2
    """
    if multirun:
        return _multirun(overrides, config, cell, seed, task, data, out, json_out, quiet,
                         verbose, (resume, init_from, name, no_save, report_html, show_config))
    if data is not None:
        implied = registry.data_task()
        spec = registry.find(task) if task is not None else None
        if task is not None and not (spec and spec.data):
            raise InputError(f"--data is the text of --task {implied}; this run is --task {task}")
        task = task or implied
    if report_html and no_save:
        raise InputError("--report writes report.html into the run folder: drop --no-save")
    if threads is not None:  # a train.* key, so that --resume takes it too
        overrides = [*(overrides or []), f"train.threads={threads}"]
    given = flags(cell=cell, seed=seed,
                  **{"train.task": task, "train.data": str(data) if data else None})  # fmt: skip
    err = report.console(stderr=True)
    say = (lambda text: None) if (quiet or json_out) else notice(err)
    cfg = None
    if resume is None:
        cfg = load_config(config, given, overrides or [], training=True)
        if show_config:
            return print_config(config_view(cfg, "train"), json_out)
    elif given or config is not None or no_save or init_from is not None or name:
        raise InputError(
            "--resume continues a run with its saved config: give only train.* keys "
            "that extend it (train.steps=N, ...), not a config, flags, --init-from or --name"
        )
    with _encode_bar(err, json_out or quiet or show_config) as progress:
        plan = start_or_resume(
            cfg, resume=None if resume is None else store.resolve(resume, out, "train"),
            out=None if no_save else out, overrides=overrides or [], force=force, notice=say,
            progress=progress, name=name, argv=sys.argv, flags=given,
            init_from=None if init_from is None else query.source(init_from, out, "--init-from"),
        )  # fmt: skip
    if show_config:
        return print_config(config_view(plan.cfg, "train"), json_out)
    if plan.nothing_to_do:
        if json_out:
            return emit_json({"status": "nothing-to-do", "message": plan.nothing_to_do,
                              "run_dir": str(plan.run_dir)}, "train")  # fmt: skip
        return notice(err)(plan.nothing_to_do)
    with catch_stops(until_exit=True) as stop:
        outcome = execute(plan, _reporter(json_out, quiet, verbose), stop.requested, say)
    _print_outcome(outcome, plan.cfg, json_out)
    if outcome.status == "completed" and outcome.run_dir is not None and not (
            quiet or json_out):  # fmt: skip
        next_steps(err, plan.cfg.train.task, out)
    if report_html and outcome.status == "completed" and outcome.run_dir is not None:
        from rnncli.inspect.command import write_report

        say(f"report: {write_report(outcome.run_dir)}")
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
    result = sample_run(store.resolve(run_dir, out, "train"), n, temperature, prime, seed, best)
    if json_out:
        return emit_json(result, "sample")
    con = report.console()
    if "text" in result:
        con.print(result["text"], markup=False)
        return None
    for s, ok in zip(result["samples"], result["accepted"], strict=True):
        con.print(f"{s}  {'[green]ok[/]' if ok else '[red]not in grammar[/]'}")
    con.print(f"accepted by the grammar: {result['accept_rate']:.1%}")
    return None


def _multirun(
    overrides: list[str] | None,
    config: Path | None,
    cell: str | None,
    seed: int | None,
    task: str | None,
    data: Path | None,
    out: Path,
    json_out: bool,
    quiet: bool,
    verbose: bool,
    refused: tuple[object, ...],
) -> None:
    """``train -m``: the overrides' comma lists as a sweep, as ``rnncli sweep`` runs it."""
    from rnncli import sweep as sw
    from rnncli.commands.sweep import run_and_print

    if any(refused):
        raise InputError("-m runs a sweep: --resume, --init-from, --name, --no-save, --report "
                         "and --show-config are for one run (see rnncli sweep --help)")
    given = flags(cell=cell, seed=seed,
                  **{"train.task": task, "train.data": str(data) if data else None})  # fmt: skip
    plan = sw.plan_sweep(config, given, overrides or [])
    run_and_print(plan, None, json_out=json_out, quiet=quiet, verbose=verbose, root=out)
