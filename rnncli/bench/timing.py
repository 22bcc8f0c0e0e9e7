"""Timing one size: every variant sampled in interleaved rounds (the method is in the
`rnncli.bench` docstring), then each variant's median and IQR and the paired ratios."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rnncli.bench.calls import auto_backend, compiled_call, engine_call, notebook_call
from rnncli.bench.peers import jax_call, torch_call
from rnncli.bench.sizes import CELLS, SIZES, gemm_flops, models

PAUSE_S = 0.3  # between NumPy and PyTorch timings: OpenBLAS threads spin ~0.2 s
MAX_ROUNDS = 200  # the time budget adds rounds up to this many

Progress = Callable[[str], None]
Key = tuple[str, str, str]  # (cell, dtype, variant)
Calls = dict[Key, Callable[[], Any]]
Model = tuple[str, str, int, int]  # (cell, row label, layers, directions)


def _calls_per_sample(fn: Callable[[], Any], min_sample_s: float) -> tuple[int, float]:
    """Warm up fn; return (calls per sample, seconds per call)."""
    fn()
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    return max(1, int(np.ceil(min_sample_s / max(once, 1e-7)))), once


def _sample(fn: Callable[[], Any], k: int, warm: bool) -> float:
    """Mean seconds per call over k calls, after one untimed call if `warm` (the first
    call after a pause is slower: threads asleep, caches cold)."""
    if warm:
        fn()
    start = time.perf_counter()
    for _ in range(k):
        fn()
    return (time.perf_counter() - start) / k


def _stats(samples: list[float], k: int) -> dict[str, Any]:
    ms = np.array(samples) * 1e3
    q1, med, q3 = np.percentile(ms, [25, 50, 75])
    return {
        "median_ms": float(med),
        "iqr_ms": float(q3 - q1),
        "q1_ms": float(q1),
        "q3_ms": float(q3),
        "min_ms": float(ms.min()),
        "rounds": len(samples),
        "calls_per_sample": k,
    }


def _paired_ratio(other: list[float] | None, engine: list[float] | None) -> dict[str, float] | None:
    """Median and quartiles over rounds of other / engine, sample by sample."""
    if other is None or engine is None:
        return None
    ratios = np.array(other) / np.array(engine)
    q1, med, q3 = np.percentile(ratios, [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3)}


def _variants(
    size: str, timed: list[Model], dtypes: Sequence[str], use_torch: bool, use_jax: bool = False
) -> tuple[Calls, Calls]:
    """The calls to time at `size`: the NumPy variants, and the peers' (PyTorch's, and
    JAX's for one-layer models)."""
    from rnncli.engine import compiled

    numpy_fns: Calls = {}
    torch_fns: Calls = {}
    for dtype in dtypes:
        for cell, label, layers, D in timed:
            builtin = cell in CELLS  # a user's cell has neither notebook nor PyTorch twin
            numpy_fns[label, dtype, "engine"] = engine_call(cell, size, dtype, layers, D)
            if builtin and layers * D == 1:  # the notebook and the kernels: one layer
                numpy_fns[label, dtype, "notebook"] = notebook_call(cell, size, dtype)
                if compiled.available():
                    numpy_fns[label, dtype, "compiled"] = compiled_call(cell, size, dtype)
            if use_torch and builtin:
                torch_fns[label, dtype, "torch"] = torch_call(cell, size, dtype, layers, D)
            if use_jax and builtin and layers * D == 1:
                torch_fns[label, dtype, "jax"] = jax_call(cell, size, dtype)
    return numpy_fns, torch_fns


def _plan(numpy_fns: Calls, torch_fns: Calls, min_sample_s: float) -> dict[Key, tuple[int, float]]:
    """Warm up every call; (calls per sample, seconds per call) of each."""
    plan = {key: _calls_per_sample(fn, min_sample_s) for key, fn in numpy_fns.items()}
    if torch_fns:
        time.sleep(PAUSE_S)
        plan.update({key: _calls_per_sample(fn, min_sample_s) for key, fn in torch_fns.items()})
    return plan


def _rounds(
    size: str,
    numpy_fns: Calls,
    torch_fns: Calls,
    plan: dict[Key, tuple[int, float]],
    rounds: int,
    min_time_s: float,
    progress: Progress | None,
) -> dict[Key, list[float]]:
    """The samples of each call over at least `rounds` interleaved rounds, and more until
    `min_time_s` seconds have passed."""
    samples: dict[Key, list[float]] = {key: [] for key in plan}

    def run(fns: Calls, backwards: bool) -> None:
        items = list(fns.items())
        for key, fn in reversed(items) if backwards else items:
            k, once = plan[key]
            samples[key].append(_sample(fn, k, warm=once < 0.1))

    deadline = time.perf_counter() + min_time_s
    r = 0
    while r < rounds or (r < MAX_ROUNDS and time.perf_counter() < deadline):
        if progress:
            progress(f"{size}: round {r + 1}" + (f"/{rounds}" if r < rounds else ""))
        if torch_fns:
            time.sleep(PAUSE_S)  # PyTorch's OpenMP threads spin after its calls too
        run(numpy_fns, backwards=r % 2 == 1)
        if torch_fns:
            time.sleep(PAUSE_S)
            run(torch_fns, backwards=r % 2 == 1)
        r += 1
    return samples


def _row(
    size: str,
    model: Model,
    dtype: str,
    samples: dict[Key, list[float]],
    plan: dict[Key, tuple[int, float]],
) -> dict[str, Any]:
    """One model's results row: each variant's statistics, the paired speed-ups and the
    engine's GEMM rate."""
    cell, label, layers, D = model
    stats: dict[str, dict[str, Any] | None] = {}
    for v in ("engine", "compiled", "notebook", "torch", "jax"):
        key = (label, dtype, v)
        stats[v] = _stats(samples[key], plan[key][0]) if key in samples else None
    engine = stats["engine"]
    assert engine is not None
    flops = gemm_flops(cell, *SIZES[size], layers, D)
    mine = samples[label, dtype, "engine"]
    vs_nb = _paired_ratio(samples.get((label, dtype, "notebook")), mine)
    vs_torch = _paired_ratio(samples.get((label, dtype, "torch")), mine)
    vs_jax = _paired_ratio(samples.get((label, dtype, "jax")), mine)
    vs_compiled = _paired_ratio(mine, samples.get((label, dtype, "compiled")))
    one_layer = layers * D == 1 and cell in CELLS
    return {
        "size": size,
        "cell": label,
        "layers": layers,
        "directions": D,
        "dtype": dtype,
        "auto": auto_backend(cell, size) if one_layer else "numpy",
        **stats,
        "compiled_speedup": None if vs_compiled is None else vs_compiled["median"],
        "speedup_vs_notebook": None if vs_nb is None else vs_nb["median"],
        "speedup_vs_torch": None if vs_torch is None else vs_torch["median"],
        "speedup_vs_notebook_iqr": None if vs_nb is None else [vs_nb["q1"], vs_nb["q3"]],
        "speedup_vs_torch_iqr": None if vs_torch is None else [vs_torch["q1"], vs_torch["q3"]],
        "speedup_vs_jax": None if vs_jax is None else vs_jax["median"],
        "speedup_vs_jax_iqr": None if vs_jax is None else [vs_jax["q1"], vs_jax["q3"]],
        "gemm_flops": flops,
        "engine_gflops": None if flops is None else flops / (engine["median_ms"] * 1e-3) / 1e9,
    }


def time_size(
    size: str,
    cells: Sequence[str],
    dtypes: Sequence[str],
    rounds: int,
    min_sample_s: float,
    use_torch: bool,
    progress: Progress | None = None,
    min_time_s: float = 0.0,
    use_jax: bool = False,
) -> list[dict[str, Any]]:
    """Time every (model, dtype, variant) of one size, interleaved over at least `rounds`
    rounds, and more until `min_time_s` seconds of rounds have passed."""
    timed = models(cells, size)
    numpy_fns, torch_fns = _variants(size, timed, dtypes, use_torch, use_jax)
    plan = _plan(numpy_fns, torch_fns, min_sample_s)
    samples = _rounds(size, numpy_fns, torch_fns, plan, rounds, min_time_s, progress)
    return [_row(size, model, dtype, samples, plan) for dtype in dtypes for model in timed]
