"""``rnncli bench``: how fast is forward + backward on this machine?

Times one forward pass and full BPTT with a softmax cross-entropy at every step
(`rnncli.loss_and_grads`, which also returns dx and da0) for each cell at the sizes in
`SIZES`, in float64 and float32, against

* the literal notebook implementation (`rnncli.reference.reference_loss_and_grads`)
  in the same process, and
* PyTorch when it is importable (the optional ``[bench]`` extra): ``nn.RNN`` /
  ``nn.LSTM`` / ``nn.GRU`` (time-major input ``(T, m, n_x)``) + ``nn.Linear`` +
  ``CrossEntropyLoss(reduction="sum") / m``, with ``x.requires_grad`` so that it too
  computes dx. PyTorch's GRU applies the reset gate after the recurrent product; the
  FLOP count is the same.

Method, per size: two warm-up calls per variant (which also size the samples), then
at least `rounds` rounds, and more while the size's time budget (`min_time_s`) lasts.
In each round every NumPy variant (cell x dtype x engine/notebook) takes one sample,
interleaved, in reverse order every other round, then, after a pause of `PAUSE_S`
(OpenBLAS's threads keep spinning for ~0.2 s after a GEMM and would steal a core),
every PyTorch variant, then another pause. A sample is the mean of enough back-to-back
calls to last `min_sample_s`, after one untimed call when a call is shorter than 0.1 s
(the first call after a pause is slow). Reported: the median and interquartile range
of each variant's samples, and each speed-up as the median (and IQR) over rounds of
that round's ratio. Pairing the samples of a round matters on a shared machine, whose
speed drifts over seconds: the drift moves both samples of a round together, while a
ratio of two medians would mix samples from fast and slow spells.

Also reported: the machine's GEMM peak (best of a few square float GEMMs) against the
engine's achieved GEMM rate (`gemm_flops` / median time), the peak memory of one call
(tracemalloc, which sees NumPy's allocations) at the largest size run, and a
``throughput`` field for training throughput that is filled in elsewhere (None here).

``quick`` runs at least 7 rounds with short samples and a 1 s budget per size, and
leaves out ``large`` unless it is asked for by name (the notebook takes over a second
per call there), so it ends in well under a minute.
"""

from __future__ import annotations

import gc
import os
import platform
import re
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import rnncli
from rnncli import cells as registry
from rnncli import workspace
from rnncli.engine.compiled import AUTO_FROM_STEP

#: name -> (n_x, n_a, n_y, m, T_x), the sizes the benchmark times.
SIZES: dict[str, tuple[int, int, int, int, int]] = {
    "tiny": (3, 5, 2, 10, 7),
    "small": (27, 50, 27, 16, 25),
    "medium": (64, 128, 64, 32, 50),
    "large": (256, 512, 256, 64, 100),
}
CELLS = tuple(registry.BUILTIN)
DTYPES = ("float64", "float32")
#: Model shapes beside one layer, (label, layers, directions): timed for the LSTM at every
#: size but large, against PyTorch's nn.LSTM(num_layers=2) / (bidirectional=True).
MODELS = (("2-layer", 2, 1), ("bidir", 1, 2))
#: The cell the deeper models (`MODELS`) and the speed targets are measured on.
TARGET_CELL = "lstm"

PAUSE_S = 0.3  # between NumPy and PyTorch timings: OpenBLAS threads spin ~0.2 s
ROUNDS = 9  # default rounds per size ...
LARGE_ROUNDS = 7  # ... but at large, where the notebook takes over a second a call
QUICK_ROUNDS = 7
MAX_ROUNDS = 200  # the time budget adds rounds up to this many
MIN_TIME_S = 3.0  # time budget per size (seconds of rounds), and with --quick:
QUICK_MIN_TIME_S = 1.0

#: The project's speed targets: (size, minimum speed-up of the engine over the notebook) for
#: the LSTM in float64, and the sizes where it must beat PyTorch (within 1.1x at large).
NOTEBOOK_TARGETS = {"tiny": 4.0, "small": 2.5, "medium": 1.7, "large": 1.7}
TORCH_TARGETS = {"tiny": 1.0, "small": 1.0, "medium": 1.0, "large": 1 / 1.1}
#: The compiled backend's: the tiny LSTM step in at most this many ms (float64), the
#: small one at least this much faster than the NumPy engine, and float32 LSTM against
#: PyTorch at these sizes.
COMPILED_TINY_MS = 0.025
COMPILED_SMALL_SPEEDUP = 1.5
TORCH32_TARGETS = {"small": 1.0, "medium": 1.0}

Progress = Callable[[str], None]


# --------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------


def gemm_flops(
    cell: str, n_x: int, n_a: int, n_y: int, m: int, T: int, layers: int = 1, directions: int = 1
) -> int | None:
    """Matrix-product FLOPs of one forward + backward with dx (2 per multiply-add), for a
    built-in cell (None for a user's cell, whose arithmetic rnncli does not know).

    Over N = T*m columns, per block with n_in inputs: forward input projection
    2GnN n_in, recurrence 2GnNn; backward the recurrence and the recurrent columns of dW
    (2GnnN each), its input columns and dx (2Gn n_in N each); the output layer on the
    top layer's D*n units, forward, dWy and dH (2 n_y D n N each). In all
    6 N (sum over blocks of G n (n + n_in) + n_y D n), G = gates per cell.
    """
    spec = registry.get(cell)
    if not spec.fused:
        return None
    N = T * m
    blocks = sum(
        directions * spec.n_gates * n_a * (n_a + (n_x if layer == 0 else directions * n_a))
        for layer in range(layers)
    )
    return 6 * N * (blocks + n_y * directions * n_a)


def make_problem(
    cell: str, size: str, dtype: str, seed: int = 0, layers: int = 1, directions: int = 1
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Notebook-named parameters (a stacked model's with ``_l0``, ``_l0_reverse``, ...),
    x: (n_x, m, T_x) and int targets: (m, T_x)."""
    from rnncli.engine.layout import suffix

    n_x, n_a, n_y, m, T = SIZES[size]
    rng = np.random.default_rng(seed)
    scale = 1 / np.sqrt(n_a + n_x)
    spec = registry.get(cell)
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(layers):
        n_in = n_x if layer == 0 else directions * n_a
        for d in range(directions):
            end = suffix(layer, d, layers * directions > 1)
            shapes.update({k + end: v for k, v in spec.shapes(n_in, n_a).items()})
    shapes.update({spec.output: (n_y, directions * n_a), registry.OUTPUT_BIAS: (n_y, 1)})
    params = {k: (scale * rng.standard_normal(s)).astype(dtype) for k, s in shapes.items()}
    x = rng.standard_normal((n_x, m, T)).astype(dtype)
    targets = rng.integers(0, n_y, (m, T))
    return params, x, targets


def engine_call(
    cell: str, size: str, dtype: str, layers: int = 1, directions: int = 1
) -> Callable[[], Any]:
    params, x, targets = make_problem(cell, size, dtype, 0, layers, directions)
    return lambda: rnncli.loss_and_grads(cell, params, x, targets, None, "xent", layers,
                                         directions)  # fmt: skip


def compiled_call(cell: str, size: str, dtype: str) -> Callable[[], Any]:
    """The compiled backend on the same problem and work (loss, every gradient, dx)."""
    from rnncli import engine
    from rnncli.engine import compiled

    params, x, targets = make_problem(cell, size, dtype)
    p = engine.pack(cell, params)
    grads = p.zeros_like()
    X, t = engine.to_time_major(x), np.ascontiguousarray(targets.T)
    return lambda: compiled.loss_and_grads(p, X, t, None, "xent", grads, True)


def auto_backend(cell: str, size: str) -> str:
    """What ``engine.backend=auto`` runs a training step of this size on."""
    from rnncli import engine

    _, n_a, _, m, _ = SIZES[size]
    return engine.choose_backend("auto", cell, False, n_a, m)


def notebook_call(cell: str, size: str, dtype: str) -> Callable[[], Any]:
    from rnncli.reference import reference_loss_and_grads

    params, x, targets = make_problem(cell, size, dtype)
    return lambda: reference_loss_and_grads(cell, params, x, targets)


def torch_call(
    cell: str, size: str, dtype: str, layers: int = 1, directions: int = 1
) -> Callable[[], Any]:
    """PyTorch's own layers on the same sizes, forward + backward (with dx)."""
    import torch

    n_x, n_a, n_y, m, T = SIZES[size]
    tdtype = getattr(torch, dtype)
    torch.manual_seed(0)
    twin = registry.get(cell).torch  # the PyTorch layer of the cell's kind
    assert twin is not None
    layer = getattr(torch.nn, twin.layer.removeprefix("nn."))
    rnn = layer(n_x, n_a, num_layers=layers, bidirectional=directions == 2).to(tdtype)
    out = torch.nn.Linear(directions * n_a, n_y).to(tdtype)  # input (T, m, n_x)
    xent = torch.nn.CrossEntropyLoss(reduction="sum")
    _, x_np, targets_np = make_problem(cell, size, dtype, 0, layers, directions)
    x = torch.from_numpy(np.ascontiguousarray(x_np.transpose(2, 1, 0))).requires_grad_(True)
    y = torch.from_numpy(np.ascontiguousarray(targets_np.T).reshape(-1))  # (T*m,)

    def call() -> None:
        rnn.zero_grad()
        out.zero_grad()
        x.grad = None
        h, _ = rnn(x)
        loss = xent(out(h).reshape(T * m, n_y), y) / m
        loss.backward()

    return call


def torch_info() -> dict[str, Any]:
    try:
        import torch
    except ImportError as e:
        return {"available": False, "reason": f"PyTorch is not installed ({e})"}
    return {
        "available": True,
        "version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "blas": _torch_blas(torch),
    }


def _torch_blas(torch: Any) -> str | None:
    try:
        config = torch.__config__.show()
    except Exception:  # pragma: no cover - informational only
        return None
    found = re.search(r"BLAS_INFO=([^,\s]+)", config)
    return found.group(1) if found else None


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------


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


Key = tuple[str, str, str]  # (cell, dtype, variant)


def _models(cells: Sequence[str], size: str) -> list[tuple[str, str, int, int]]:
    """(cell, row label, layers, directions) of every model timed at `size`: one layer
    of each cell, and the LSTM's `MODELS` below large."""
    out = [(cell, registry.get(cell).label, 1, 1) for cell in cells]
    if TARGET_CELL in cells and size != "large":
        out += [(TARGET_CELL, f"{TARGET_CELL} {label}", layers, d) for label, layers, d in MODELS]
    return out


def time_size(
    size: str,
    cells: Sequence[str],
    dtypes: Sequence[str],
    rounds: int,
    min_sample_s: float,
    use_torch: bool,
    progress: Progress | None = None,
    min_time_s: float = 0.0,
) -> list[dict[str, Any]]:
    """Time every (model, dtype, variant) of one size, interleaved over at least `rounds`
    rounds, and more until `min_time_s` seconds of rounds have passed."""
    from rnncli.engine import compiled

    models = _models(cells, size)
    numpy_fns: dict[Key, Callable[[], Any]] = {}
    torch_fns: dict[Key, Callable[[], Any]] = {}
    for dtype in dtypes:
        for cell, label, layers, D in models:
            builtin = cell in CELLS  # a user's cell has neither notebook nor PyTorch twin
            numpy_fns[label, dtype, "engine"] = engine_call(cell, size, dtype, layers, D)
            if builtin and layers * D == 1:  # the notebook and the kernels: one layer
                numpy_fns[label, dtype, "notebook"] = notebook_call(cell, size, dtype)
                if compiled.available():
                    numpy_fns[label, dtype, "compiled"] = compiled_call(cell, size, dtype)
            if use_torch and builtin:
                torch_fns[label, dtype, "torch"] = torch_call(cell, size, dtype, layers, D)
    plan = {key: _calls_per_sample(fn, min_sample_s) for key, fn in numpy_fns.items()}
    if torch_fns:
        time.sleep(PAUSE_S)
        plan.update({key: _calls_per_sample(fn, min_sample_s) for key, fn in torch_fns.items()})
    samples: dict[Key, list[float]] = {key: [] for key in plan}

    def run(fns: dict[Key, Callable[[], Any]], backwards: bool) -> None:
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
    n_x, n_a, n_y, m, T = SIZES[size]
    rows = []
    for dtype in dtypes:
        for cell, label, layers, D in models:
            stats: dict[str, dict[str, Any] | None] = {}
            for v in ("engine", "compiled", "notebook", "torch"):
                key = (label, dtype, v)
                stats[v] = _stats(samples[key], plan[key][0]) if key in samples else None
            engine = stats["engine"]
            assert engine is not None
            flops = gemm_flops(cell, n_x, n_a, n_y, m, T, layers, D)
            mine = samples[label, dtype, "engine"]
            vs_nb = _paired_ratio(samples.get((label, dtype, "notebook")), mine)
            vs_torch = _paired_ratio(samples.get((label, dtype, "torch")), mine)
            vs_compiled = _paired_ratio(mine, samples.get((label, dtype, "compiled")))
            one_layer = layers * D == 1 and cell in CELLS
            rows.append(
                {
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
                    "speedup_vs_notebook_iqr": None
                    if vs_nb is None
                    else [vs_nb["q1"], vs_nb["q3"]],
                    "speedup_vs_torch_iqr": None
                    if vs_torch is None
                    else [vs_torch["q1"], vs_torch["q3"]],
                    "gemm_flops": flops,
                    "engine_gflops": None
                    if flops is None
                    else flops / (engine["median_ms"] * 1e-3) / 1e9,
                }
            )
    return rows


def gemm_peak(dtype: str, n: int = 1024, repeats: int = 5) -> dict[str, Any]:
    """The machine's GEMM rate: the best of `repeats` (n x n) @ (n x n) products."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - start)
    return {"n": n, "gflops": 2 * n**3 / best / 1e9, "best_ms": best * 1e3}


def peak_memory(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated during one call (NumPy reports to tracemalloc), counting a
    fresh engine workspace."""
    workspace.clear()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return int(peak - base)


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "env": {
            k: os.environ[k]
            for k in sorted(os.environ)
            if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO_"))
        },
    }
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {
                k: v
                for k, v in pool.items()
                if k in ("user_api", "internal_api", "version", "num_threads", "architecture")
            }
            for pool in threadpool_info()
        ]
    except ImportError:
        info["threadpools"] = None
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


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
) -> dict[str, Any]:
    """Run the benchmark; return JSON-safe results (see the module docstring).

    sizes: names from `SIZES` (default: all, or all but ``large`` when quick);
    rounds: at least 7 for a real measurement (default 9, 7 at large or when quick;
    fewer are accepted for smoke tests); min_time_s: more rounds while this many seconds
    per size have not passed (default 3 s, 1 s when quick, 0 when `rounds` is given,
    which then is the exact count); torch: include PyTorch if it can be imported;
    throughput: the hook for training throughput: called once at the end, its
    (JSON-safe) result is stored as ``results["throughput"]`` (None without it).
    """
    if sizes is None:
        sizes = [s for s in SIZES if not (quick and s == "large")]
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

    def rounds_for(size: str) -> int:
        if rounds is not None:
            return rounds
        return QUICK_ROUNDS if quick else LARGE_ROUNDS if size == "large" else ROUNDS

    if min_sample_s is None:
        min_sample_s = 0.005 if quick else 0.01
    if min_time_s is None:
        min_time_s = 0.0 if rounds is not None else QUICK_MIN_TIME_S if quick else MIN_TIME_S
    tinfo = torch_info() if torch else {"available": False, "reason": "disabled"}
    use_torch = bool(tinfo["available"])
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    # The GEMM peak is measured before the first size and after each (after a pause:
    # spinning BLAS or OpenMP threads would halve it); the best measurement counts.
    peaks = {d: gemm_peak(d) for d in dtypes}
    for size in sizes:
        if progress:
            progress(f"{size}: warming up")
        n = rounds_for(size)
        results += time_size(size, cells, dtypes, n, min_sample_s, use_torch, progress, min_time_s)
        time.sleep(PAUSE_S)
        for d in dtypes:
            peaks[d] = max(peaks[d], gemm_peak(d), key=lambda p: p["gflops"])
    for row in results:
        rate = row["engine_gflops"]
        row["gemm_share"] = None if rate is None else rate / peaks[row["dtype"]]["gflops"]
    mem: dict[str, Any] | None = None
    if memory and sizes:
        biggest = max(sizes, key=lambda s: np.prod(SIZES[s]))
        mem = {"size": biggest, "dtype": "float64", "cells": {}}
        for cell in [c for c in cells if c in CELLS]:
            if progress:
                progress(f"peak memory {biggest} {cell}")
            mem["cells"][cell] = {
                "engine_bytes": peak_memory(engine_call(cell, biggest, "float64")),
                "notebook_bytes": peak_memory(notebook_call(cell, biggest, "float64")),
            }
        workspace.clear()
    out = {
        "version": 1,
        "config": {
            "sizes": list(sizes),
            "cells": [registry.get(c).label for c in cells],
            "dtypes": list(dtypes),
            "min_rounds": {s: rounds_for(s) for s in sizes},
            "min_time_s": min_time_s,
            "quick": quick,
            "min_sample_s": min_sample_s,
            "pause_s": PAUSE_S,
            "threads": threads,  # BLAS threads asked for (None: as installed)
        },
        "size_table": {
            s: dict(zip(("n_x", "n_a", "n_y", "m", "T_x"), SIZES[s], strict=True)) for s in sizes
        },
        "machine": machine_info(),
        "torch": tinfo,
        "results": results,
        "gemm_peak": peaks,
        "memory": mem,
        "throughput": None if throughput is None else throughput(),  # training, see above
        "targets": check_targets(results),
        "elapsed_s": time.perf_counter() - started,
    }
    return out


def check_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets (LSTM) that this run measured, met or not, and every row where
    ``engine.backend=auto`` would pick the slower backend."""
    found = []

    def target(size: str, what: str, value: float, goal: float, met: bool) -> None:
        found.append({"size": size, "what": what, "value": value, "goal": goal, "met": met})

    for row in results:
        size, fast = row["size"], row.get("compiled_speedup")
        if fast is not None:  # auto must never pick the slower one
            picked = fast if row["auto"] == "compiled" else 1 / fast
            target(size, f"{row['cell']} {row['dtype']} auto={row['auto']}", picked, 1.0,
                   picked >= 1.0 or abs(fast - 1) < 0.1)  # fmt: skip
        if row["cell"] != TARGET_CELL:
            continue
        if row["dtype"] == "float32":
            ratio = row["speedup_vs_torch"]
            if size in TORCH32_TARGETS and ratio is not None:
                target(size, "float32 vs torch", ratio, TORCH32_TARGETS[size],
                       ratio >= TORCH32_TARGETS[size])  # fmt: skip
            continue
        for other, goal in (("notebook", NOTEBOOK_TARGETS.get(size)),
                            ("torch", TORCH_TARGETS.get(size))):  # fmt: skip
            ratio = row[f"speedup_vs_{other}"]
            if goal is not None and ratio is not None:
                target(size, f"vs {other}", ratio, goal, ratio >= goal)
        if row.get("compiled") and size == "tiny":
            ms = row["compiled"]["median_ms"]
            target(size, "compiled ms", ms, COMPILED_TINY_MS, ms <= COMPILED_TINY_MS)
        if fast is not None and size == "small":
            target(size, "compiled vs engine", fast, COMPILED_SMALL_SPEEDUP,
                   fast >= COMPILED_SMALL_SPEEDUP)  # fmt: skip
    return found


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def _ms(stats: dict[str, Any] | None) -> str:
    if stats is None:
        return "-"
    med, iqr = stats["median_ms"], stats["iqr_ms"]
    digits = 3 if med < 1 else 2 if med < 10 else 1 if med < 100 else 0
    return f"{med:.{digits}f}±{iqr:.{digits}f}"


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def _rate(gflops: float | None) -> str:
    return "-" if gflops is None else f"{gflops:.1f}"


def _share(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"


def render(results: dict[str, Any], console: Any = None) -> None:
    """Print the results as a table that fits the console, plus summary lines."""
    from rich.console import Console

    from rnncli.report import Col, fit_table

    console = console or Console()
    cols = [
        Col("size"), Col("cell"), Col("dtype", priority=3), Col("engine", "right"),
        Col("compiled", "right", priority=2), Col("auto", priority=3),
        Col("notebook", "right", priority=2), Col("x nb", "right"),
        Col("torch", "right", priority=2), Col("x torch", "right"),
        Col("GFLOP/s", "right", priority=4), Col("% peak", "right", priority=5),
    ]  # fmt: skip
    rows = [
        [
            row["size"],
            row["cell"],
            row["dtype"].replace("float", "f"),
            _ms(row["engine"]),
            _ms(row.get("compiled")),
            row.get("auto", "numpy"),
            _ms(row["notebook"]),
            _x(row["speedup_vs_notebook"]),
            _ms(row["torch"]),
            _x(row["speedup_vs_torch"]),
            _rate(row["engine_gflops"]),
            _share(row["gemm_share"]),
        ]  # fmt: skip
        for row in results["results"]
    ]
    console.print(fit_table(
        "forward + backward (loss_and_grads), median ms ± IQR", cols, rows, console.width,
        caption="engine: NumPy; compiled: the numba kernels; auto: what engine.backend=auto "
        "trains this size on; x other = median over rounds of other / engine (> 1: the engine "
        "is faster)",
    ))  # fmt: skip
    tp = results["throughput"]
    for line in summary_lines(results) + (throughput_lines(tp) if tp else []):
        console.print(line, highlight=False, markup=False)


def summary_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    peaks = ", ".join(f"{d} {p['gflops']:.1f} GFLOP/s" for d, p in results["gemm_peak"].items())
    lines.append(f"GEMM peak (1024^3 matmul, best of 5 after each size): {peaks}")
    tinfo = results["torch"]
    if tinfo["available"]:
        lines.append(
            f"PyTorch {tinfo['version']}, {tinfo['num_threads']} threads"
            + (f", BLAS {tinfo['blas']}" if tinfo.get("blas") else "")
        )
    else:
        lines.append(f"PyTorch: skipped ({tinfo['reason']}); pip install 'rnncli[bench]'")
    mem = results["memory"]
    if mem:
        for cell, m in mem["cells"].items():
            engine, notebook = m["engine_bytes"] / 2**20, m["notebook_bytes"] / 2**20
            lines.append(
                f"peak memory, one call at {mem['size']} {mem['dtype']} {cell}: "
                f"engine {engine:.1f} MiB, notebook {notebook:.1f} MiB"
            )
    for t in results["targets"]:
        verdict = "met" if t["met"] else "MISSED"
        if t["what"] == "compiled ms":
            lines.append(f"target lstm {t['size']} compiled: {t['value']:.3f} ms "
                         f"(goal <= {t['goal']:.3f} ms) {verdict}")  # fmt: skip
        elif "auto=" in t["what"]:
            if not t["met"]:
                lines.append(f"auto at {t['size']} {t['what']}: the slower backend "
                             f"({t['value']:.2f}x) MISSED")  # fmt: skip
        else:
            lines.append(f"target lstm {t['size']} {t['what']}: {t['value']:.2f}x "
                         f"(goal >= {t['goal']:.2f}x) {verdict}")  # fmt: skip
    pools = results["machine"].get("threadpools") or []
    blas = [p for p in pools if p.get("user_api") == "blas"]
    if blas:
        b = blas[0]
        lines.append(
            f"NumPy BLAS: {b.get('internal_api')} {b.get('version')} "
            f"({b.get('architecture')} kernels, {b.get('num_threads')} threads)"
        )
    env = results["machine"]["env"]
    lines.append("environment: " + (", ".join(f"{k}={v}" for k, v in env.items()) or "-"))
    return lines


def throughput_lines(tp: dict[str, Any]) -> list[str]:
    """Training throughput, one line per task: the rate on each backend."""
    lines = [f"training throughput ({tp['cell']}, task defaults, median of runs):"]
    for r in tp["rows"]:
        rates = [f"{b} {r[b]:,.0f}" for b in ("numpy", "compiled") if r.get(b)]
        ratio = f" ({r['compiled'] / r['numpy']:.2f}x)" if r.get("compiled") else ""
        auto = r["auto"] + (f" from step {AUTO_FROM_STEP:,}" if r["auto"] == "compiled" else "")
        lines.append(f"  {r['task']}: {', '.join(rates)} {r['unit']}{ratio}; auto: {auto}")
    return lines


def to_markdown(results: dict[str, Any]) -> str:
    """The table as GitHub markdown (for benchmarks/RESULTS.md)."""
    head = (
        "| size | cell | dtype | engine ms | compiled ms | auto | notebook ms | x notebook "
        "| torch ms | x torch | GFLOP/s | % peak |\n"
        "|---|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|\n"
    )
    rows = [
        f"| {r['size']} | {r['cell']} | {r['dtype']} | {_ms(r['engine'])} | "
        f"{_ms(r.get('compiled'))} | {r.get('auto', 'numpy')} | "
        f"{_ms(r['notebook'])} | {_x(r['speedup_vs_notebook'])} | {_ms(r['torch'])} | "
        f"{_x(r['speedup_vs_torch'])} | {_rate(r['engine_gflops'])} | "
        f"{_share(r['gemm_share'])} |"
        for r in results["results"]
    ]
    tp = results["throughput"]
    lines = summary_lines(results) + (throughput_lines(tp) if tp else [])
    return head + "\n".join(rows) + "\n\n" + "\n".join(f"- {s}" for s in lines)
