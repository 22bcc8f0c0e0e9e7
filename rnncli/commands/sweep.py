"""``rnncli sweep``: a grid of configs x seeds, on local cores or a Dask cluster."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rnncli import report
from rnncli import sweep as sw
from rnncli.commands.common import (
    CellOpt,
    ConfigOpt,
    JsonOpt,
    QuietOpt,
    SeedOpt,
    ShowOpt,
    VerboseOpt,
    command_app,
    emit_json,
    flags,
    guard,
    print_config,
    task_help,
)
from rnncli.config import config_view

app = command_app()
TASK_HELP = task_help()


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
        str | None, typer.Option("--task", help=TASK_HELP, show_default=False)
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="A text file to train on (implies its task).", show_default=False
        ),
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
      rnncli sweep --config configs/sweeps/adding-lstm-vs-rnn.yaml \\
          --out outputs/sweeps/adding
      rnncli sweep --config configs/sweeps/reber-cells.yaml \\
          --dask tcp://127.0.0.1:8786
    """
    given = flags(cell=cell, seed=seed,
                  **{"train.task": task, "train.data": str(data) if data else None})  # fmt: skip
    plan = sw.plan_or_resume(out, config, given, overrides or [], seeds)
    if show_config:
        resolved = config_view(plan.base_config, "sweep")
        resolved["sweep"] = {"grid": plan.grid, "seeds": plan.seeds}
        return print_config(resolved, json_out)
    run_and_print(plan, out, workers, dask, fail_fast, json_out, quiet, verbose)
    return None


def run_and_print(
    plan: sw.SweepPlan,
    out: Path | None,
    workers: int | None = None,
    dask: str | None = None,
    fail_fast: bool = False,
    json_out: bool = False,
    quiet: bool = False,
    verbose: bool = False,
    root: Path = Path("outputs"),
) -> None:
    """Run a planned sweep (in `out`, else a new folder under `root`/sweeps) and print its
    table (or JSON); exit with its code."""
    if plan.batch_members == "on" and not (json_out or quiet):  # asked to stack: say what not
        from rnncli.sweep.batched import units

        for note in units(plan.jobs, 1, plan.batch_members)[1]:
            report.console(stderr=True).print(note, markup=False, highlight=False)
    result = sw.run_sweep(
        plan, out=out, root=root, workers=workers, dask=dask, fail_fast=fail_fast,
        reporter=sw.make_reporter(json_out or quiet, report.console(stderr=True), verbose),
        argv=sys.argv,
    )  # fmt: skip
    if json_out:
        emit_json(result.to_json(), "sweep")
    else:
        sw.render(result, report.console())
    if result.exit_code:
        raise typer.Exit(result.exit_code)
