"""``rnncli forward``, ``backward`` and ``gradcheck``: one pass, or every gradient checked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from rnncli import gradcheck as gc
from rnncli import jobs, report
from rnncli.commands.common import (
    CellOpt,
    ConfigOpt,
    JsonOpt,
    NoSaveOpt,
    OutOpt,
    Overrides,
    ParamsOpt,
    QuietOpt,
    SeedOpt,
    ShowOpt,
    VerboseOpt,
    command_app,
    emit_json,
    flags,
    guard,
    print_config,
    status,
)
from rnncli.config import config_view, load_config
from rnncli.errors import CheckFailed

app = command_app()


def _run_pass(
    command: str,
    overrides: list[str] | None,
    config: Path | None,
    given: dict[str, object],
    json_out: bool,
    out: Path,
    no_save: bool,
    show: bool,
    quiet: bool,
    params: Path | None,
) -> None:
    cfg = load_config(config, given, overrides or [])
    if show:
        return print_config(config_view(cfg, command), json_out)
    saving = jobs.Saving(None if no_save else out, sys.argv, given, overrides or [])
    job = jobs.pass_job(command, cfg, params, saving)
    if json_out:
        emit_json(job.to_json(), command)
    else:
        _print_pass(job, quiet)
    job.kept.raise_error()
    return None


def _print_pass(job: jobs.PassJob, quiet: bool) -> None:
    cfg, run = job.cfg, job.run
    con = report.console()
    title = f"{job.command} · {cfg.cell} · {cfg.level} · {cfg.dtype} · seed {cfg.seed}"
    groups = job.groups() + ([("cache", run.caches)] if run.caches else [])
    con.print(report.arrays_table(title, groups, con.width))
    if run.grads:
        con.print(report.grads_table("gradients", run.grads, con.width))
    if run.step_norms is not None:
        con.print(_norms_row(run.step_norms, con.width), markup=False, highlight=False)
    if run.loss is not None:
        con.print(f"loss = {run.loss!r}")
    con.print(report.samples_table(job.values, con.width))
    if job.kept.run_dir and not quiet:
        report.console(stderr=True).print(f"run folder: {job.kept.run_dir}", soft_wrap=True)


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
    _run_pass("forward", overrides, config, flags(cell=cell, seed=seed), json_out, out,
              no_save, show_config, quiet, params)  # fmt: skip


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
    _run_pass("backward", overrides, config, flags(cell=cell, seed=seed), json_out, out,
              no_save, show_config, quiet, params)  # fmt: skip


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
      rnncli gradcheck --params RUN_DIR --level model \\
          dims.n_x=7 dims.n_a=16 dims.n_y=7

    With --params, the config's cell (or the one --cell names) is checked at those
    parameters (a stacked model's at the model level).
    """
    cfg = load_config(config, flags(seed=seed), overrides or [])
    if show_config:
        return print_config(config_view(cfg, "gradcheck"), json_out)
    err = report.console(stderr=True)
    saving = jobs.Saving(None if no_save else out, sys.argv, {}, overrides or [])
    with status(err, json_out or quiet, verbose) as progress:
        job = jobs.gradcheck_job(cfg, cell, level, params, saving, progress)
    if json_out:
        emit_json(job.to_json(), "gradcheck")
    else:
        gc.render(job.result, report.console())
        if job.kept.run_dir and not quiet:
            err.print(f"run folder: {job.kept.run_dir}", soft_wrap=True)
    job.kept.raise_error()  # the check ran and is printed; only keeping it failed
    if not job.result.ok:
        raise CheckFailed(job.failure_line())
    return None

