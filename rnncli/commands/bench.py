"""``rnncli bench``: how fast forward + backward through time runs on this machine."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Annotated, Any

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
    notice,
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
    names = split_list(sizes) or [s for s in bn.SIZES if not (quick and s == "large")]
    bar = StageBar(err, [*names, "peak memory", *(["throughput"] * (not no_throughput))])
    progress: Callable[[str], None] | None = None
    if verbose and not quiet:
        progress = notice(err)  # a line per round
    elif err.is_terminal and not (quiet or json_out):
        progress = bar  # one bar
    hook = None if no_throughput else lambda: _measured(progress, 100 if quick else 300)
    try:
        blas.use(gemm)
        with bar if progress is bar else contextlib.nullcontext(), (
            contextlib.nullcontext() if threads is None else engine.limit_threads(threads)):
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


def _measured(progress: Callable[[str], None] | None, steps: int) -> Any:
    if progress is not None:
        progress("throughput: training steps")
    return throughput.measure(steps)


class StageBar:
    """One transient bar for the benchmark's stages (each size, peak memory, training
    throughput), the current step written beside it, instead of a line per round."""

    def __init__(self, console: Any, stages: list[str]) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.stages, self.at = stages, -1
        self.progress = Progress(
            TextColumn("[bold]bench"), BarColumn(bar_width=20),
            TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
            TextColumn("{task.description}"), console=console, transient=True,
        )  # fmt: skip
        self.task = self.progress.add_task("", total=len(stages))

    def __call__(self, message: str) -> None:
        stage = next((i for i, s in enumerate(self.stages) if message.startswith(s)), self.at)
        self.at = max(self.at, stage)
        self.progress.update(self.task, completed=max(self.at, 0), description=message)

    def __enter__(self) -> StageBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()
