"""``rnncli bench``: how fast forward + backward through time runs on this machine."""

from __future__ import annotations

import contextlib
import sys
from typing import Annotated

import typer

from rnncli import bench as bn
from rnncli import engine, report
from rnncli.commands.common import (
    JsonOpt,
    QuietOpt,
    VerboseOpt,
    command_app,
    emit_json,
    guard,
    split_list,
)
from rnncli.engine import blas
from rnncli.errors import InputError
from rnncli.training import throughput

app = command_app()


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
    no_jax: Annotated[
        bool, typer.Option("--no-jax", help="Skip JAX even if installed.")
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
    gemm: Annotated[
        str,
        typer.Option("--blas", help="The engine's products: auto, numpy or mkl (engine.blas)."),
    ] = "auto",
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """How fast is forward + backward through time on this machine?

    Times loss_and_grads (the engine) against the literal notebook implementation and,
    when installed (pip install 'rnncli[bench]'), PyTorch and JAX; interleaved rounds, medians
    and interquartile ranges, speed-ups as paired per-round ratios; GEMM rate vs the
    machine's peak; peak memory; and training throughput (reber sequences/s, text
    characters/s).

    \b
    Examples:
      rnncli bench --quick
      rnncli bench --sizes small,medium --cells lstm --json
    """
    err = report.console(stderr=True)
    loud = verbose or (sys.stderr.isatty() and not json_out)
    progress = (lambda msg: err.print(msg, markup=False)) if loud and not quiet else None
    hook = None if no_throughput else lambda: throughput.measure(100 if quick else 300)
    try:
        blas.use(gemm)
        with contextlib.nullcontext() if threads is None else engine.limit_threads(threads):
            results = bn.run_bench(
                sizes=split_list(sizes), cells=split_list(cells) or bn.CELLS,
                dtypes=split_list(dtypes) or bn.DTYPES, rounds=rounds, quick=quick,
                torch=not no_torch, jax=not no_jax, progress=progress, threads=threads,
                throughput=hook,
            )  # fmt: skip
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if json_out:
        emit_json(results, "bench")
    else:
        bn.render(results, report.console())
