"""The machine the benchmark runs on: its GEMM peak, and what it is (CPU, NumPy's
BLAS and its threads, the thread variables set)."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import numpy as np


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
                if k in ("user_api", "internal_api", "version", "num_threads", "architecture",
                         "filepath")  # fmt: skip
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
