"""Peak memory of one call, the engine's and the notebook's, at the largest size run."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rnncli import workspace
from rnncli.bench.calls import engine_call, notebook_call
from rnncli.bench.sizes import CELLS, SIZES
from rnncli.bench.timing import Progress


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


def measure_memory(
    sizes: Sequence[str], cells: Sequence[str], progress: Progress | None = None
) -> dict[str, Any]:
    """Peak memory of the engine and the notebook, float64, at the largest of `sizes`,
    for each built-in cell of `cells`."""
    biggest = max(sizes, key=lambda s: np.prod(SIZES[s]))
    mem: dict[str, Any] = {"size": biggest, "dtype": "float64", "cells": {}}
    for cell in [c for c in cells if c in CELLS]:
        if progress:
            progress(f"peak memory {biggest} {cell}")
        mem["cells"][cell] = {
            "engine_bytes": peak_memory(engine_call(cell, biggest, "float64")),
            "notebook_bytes": peak_memory(notebook_call(cell, biggest, "float64")),
        }
    workspace.clear()
    return mem
