"""One benchmark run: the names checked, the rounds and time budget per size, every
size timed between measurements of the GEMM peak, peak memory, and the results."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from rnncli import cells as registry
from rnncli.bench.machine import gemm_peak, machine_info
from rnncli.bench.memory import measure_memory
from rnncli.bench.peers import jax_info, torch_info
from rnncli.bench.sizes import CELLS, DTYPES, SIZES
from rnncli.bench.targets import check_targets
from rnncli.bench.timing import PAUSE_S, Progress, time_size
from rnncli.engine import blas

ROUNDS = 9  # default rounds per size ...
LARGE_ROUNDS = 7  # ... but at large, where the notebook takes over a second a call
QUICK_ROUNDS = 7
MIN_TIME_S = 3.0  # time budget per size (seconds of rounds), and with --quick:
QUICK_MIN_TIME_S = 1.0


def _checked_cells(
    sizes: Sequence[str], cells: Sequence[str], dtypes: Sequence[str], rounds: int | None
) -> list[str]:
    """The canonical names of `cells`, after refusing (ValueError) an unknown size, cell
    or dtype, or fewer than one round, before any timing."""
    for s in sizes:
        if s not in SIZES:
            raise ValueError(f"unknown size {s!r}: expected one of {', '.join(SIZES)}")
    cells = [registry.canonical(c) for c in cells]
    for c in cells:
        registry.get(c)  # an unknown or broken cell is refused before any timing
    for d in dtypes:
        if d not in DTYPES:
            raise ValueError(f"unknown dtype {d!r}: expected one of {', '.join(DTYPES)}")
    if rounds is not None and rounds < 1:
        raise ValueError("rounds must be at least 1")
    return cells


def _min_rounds(size: str, rounds: int | None, quick: bool) -> int:
    if rounds is not None:
        return rounds
    return QUICK_ROUNDS if quick else LARGE_ROUNDS if size == "large" else ROUNDS


def _config(
    sizes: Sequence[str],
    cells: Sequence[str],
    dtypes: Sequence[str],
    rounds: int | None,
    quick: bool,
    min_sample_s: float | None,
    min_time_s: float | None,
    threads: int | None,
) -> dict[str, Any]:
    """The run's settings, defaults filled in, as the results record them."""
    if min_sample_s is None:
        min_sample_s = 0.005 if quick else 0.01
    if min_time_s is None:
        min_time_s = 0.0 if rounds is not None else QUICK_MIN_TIME_S if quick else MIN_TIME_S
    return {
        "sizes": list(sizes),
        "cells": [registry.get(c).label for c in cells],
        "dtypes": list(dtypes),
        "min_rounds": {s: _min_rounds(s, rounds, quick) for s in sizes},
        "min_time_s": min_time_s,
        "quick": quick,
        "min_sample_s": min_sample_s,
        "pause_s": PAUSE_S,
        "threads": threads,  # BLAS threads asked for (None: as installed)
        "blas": blas.active(),  # what runs the engine's products (engine.blas)
    }


def _time_sizes(
    sizes: Sequence[str],
    cells: Sequence[str],
    dtypes: Sequence[str],
    config: dict[str, Any],
    use_torch: bool,
    progress: Progress | None,
    use_jax: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The rows of every size, each with the engine's share of the GEMM peak, and the
    peak of each dtype."""
    results: list[dict[str, Any]] = []
    # The GEMM peak is measured before the first size and after each (after a pause:
    # spinning BLAS or OpenMP threads would halve it); the best measurement counts.
    peaks = {d: gemm_peak(d) for d in dtypes}
    for size in sizes:
        if progress:
            progress(f"{size}: warming up")
        results += time_size(size, cells, dtypes, config["min_rounds"][size],
                             config["min_sample_s"], use_torch, progress,
                             config["min_time_s"], use_jax)  # fmt: skip
        time.sleep(PAUSE_S)
        for d in dtypes:
            peaks[d] = max(peaks[d], gemm_peak(d), key=lambda p: p["gflops"])
    for row in results:
        rate = row["engine_gflops"]
        row["gemm_share"] = None if rate is None else rate / peaks[row["dtype"]]["gflops"]
    return results, peaks


def run_bench(
    sizes: Sequence[str] | None = None,
    cells: Sequence[str] = CELLS,
    dtypes: Sequence[str] = DTYPES,
    rounds: int | None = None,
    quick: bool = False,
    torch: bool = True,
    progress: Progress | None = None,
    memory: bool = True,
    min_sample_s: float | None = None,
    throughput: Callable[[], Any] | None = None,
    min_time_s: float | None = None,
    threads: int | None = None,
    jax: bool = True,
) -> dict[str, Any]:
    """Run the benchmark; return JSON-safe results (see the `rnncli.bench` docstring).

    sizes: names from `SIZES` (default: all, or all but ``large`` when quick);
    rounds: at least 7 for a real measurement (default 9, 7 at large or when quick;
    fewer are accepted for smoke tests); min_time_s: more rounds while this many seconds
    per size have not passed (default 3 s, 1 s when quick, 0 when `rounds` is given,
    which then is the exact count); torch: include PyTorch if it can be imported;
    jax: include JAX (one-layer models) if it can be imported;
    throughput: the hook for training throughput: called once at the end, its
    (JSON-safe) result is stored as ``results["throughput"]`` (None without it).
    """
    if sizes is None:
        sizes = [s for s in SIZES if not (quick and s == "large")]
    cells = _checked_cells(sizes, cells, dtypes, rounds)
    config = _config(sizes, cells, dtypes, rounds, quick, min_sample_s, min_time_s, threads)
    tinfo = torch_info() if torch else {"available": False, "reason": "disabled"}
    jinfo = jax_info() if jax else {"available": False, "reason": "disabled"}
    started = time.perf_counter()
    results, peaks = _time_sizes(sizes, cells, dtypes, config, bool(tinfo["available"]),
                                 progress, bool(jinfo["available"]))  # fmt: skip
    mem = measure_memory(sizes, cells, progress) if memory and sizes else None
    return {
        "version": 1,
        "config": config,
        "size_table": {
            s: dict(zip(("n_x", "n_a", "n_y", "m", "T_x"), SIZES[s], strict=True)) for s in sizes
        },
        "machine": machine_info(),
        "torch": tinfo,
        "jax": jinfo,
        "results": results,
        "gemm_peak": peaks,
        "memory": mem,
        "throughput": None if throughput is None else throughput(),  # training, see above
        "targets": check_targets(results),
        "elapsed_s": time.perf_counter() - started,
    }
