"""``rnncli inspect`` and ``rnncli report``: see inside a network, on one page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rnncli import report
from rnncli.commands.common import (
    ConfigOpt,
    JsonOpt,
    NoSaveOpt,
    OutOpt,
    QuietOpt,
    SeedOpt,
    ThreadsOpt,
    VerboseOpt,
    command_app,
    emit_json,
    flags,
    guard,
)
from rnncli.inspect import command as ic
from rnncli.inspect import show
from rnncli.runs import store

app = command_app()

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


@app.command("inspect")
@guard
def inspect_cmd(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[RUN_DIR | KEY=VALUE]...",
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
        typer.Option("--task", help="Untrained model: its task (train.task).", show_default=False),
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
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
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
    matplotlib: pip install 'rnncli[plot]'), cells.html (text models),
    inspect.json (every number, as --json prints it).

    \b
    Examples:
      rnncli inspect latest
      rnncli inspect --compare RUN_RNN RUN_LSTM RUN_GRU
      rnncli inspect --task adding --compare --cell rnn,lstm,gru
      rnncli inspect --task reber --params model.safetensors
      rnncli inspect TEXT_RUN --find
      rnncli inspect TEXT_RUN --unit c:12 --text "He said \\"no\\"."
    """
    runs = [a for a in args or [] if "=" not in a]
    overrides = [a for a in args or [] if "=" in a]
    opts = ic.Options(text=text, data=data, length=length, batch=batch, batch_seed=batch_seed,
                      find=find, unit=unit, best=best, compare=compare)  # fmt: skip
    where = ic.Where(out, config, flags(cell=cell, seed=seed, task=task), params, threads,
                     no_save, sys.argv)  # fmt: skip
    done = ic.run_inspect(runs, overrides, opts, where)
    err = report.console(stderr=True)
    if json_out:
        emit_json(done.to_json(), "inspect")
    else:
        unit_ = ic.chosen_unit(done.subjects[0], unit)
        show.render(done.inspections, report.console(), find, unit_)
    for line in [] if quiet else done.notices:
        err.print(line, markup=False, highlight=False)
    if done.folder is not None and not (json_out or quiet):
        err.print(f"written to {done.folder}: {', '.join(done.files)}", markup=False,
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
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write RUN_DIR/report.html: the run on one self-contained page (config, metrics,
    loss curves, gradient flow, gates, states, text units, samples; images inline, no
    scripts, no network).

    Examples:

      rnncli report latest

      rnncli train --task adding --report
    """
    path = ic.write_report(store.resolve(run_dir, out, "train").resolve(), best)
    if json_out:
        return emit_json({"report": str(path)}, "report")
    if not quiet:
        report.console().print(f"report: {path}", markup=False, highlight=False, soft_wrap=True)
    return None
