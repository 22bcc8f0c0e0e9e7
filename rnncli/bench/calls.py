"""The NumPy variants the benchmark times, each a call on the same problem that computes
the loss and every gradient with dx: the engine, the compiled backend and the notebook;
and which backend ``engine.backend=auto`` picks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import rnncli
from rnncli.bench.sizes import SIZES, make_problem


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


def notebook_call(cell: str, size: str, dtype: str) -> Callable[[], Any]:
    from rnncli.reference import reference_loss_and_grads

    params, x, targets = make_problem(cell, size, dtype)
    return lambda: reference_loss_and_grads(cell, params, x, targets)


def auto_backend(cell: str, size: str) -> str:
    """What ``engine.backend=auto`` runs a training step of this size on."""
    from rnncli import engine

    _, n_a, _, m, _ = SIZES[size]
    return engine.choose_backend("auto", cell, False, n_a, m)
