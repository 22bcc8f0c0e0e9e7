"""The compiled backend: whole training steps of one-layer models in machine code.

Optional (``pip install 'rnncli[fast]'``, numba): without it the NumPy engine runs
unchanged. `loss_and_grads` has the engine's contract (`rnncli.engine.train_step` and
`loss_and_grads_packed` call it when the backend is chosen); the kernels are in
`kernels`. numba compiles them on first use and caches the machine code on disk, in
rnncli's cache folder (``numba/`` of `rnncli.cachedir.cache_dir`, where ``rnncli cache``
lists and cleans it) unless the user has set ``NUMBA_CACHE_DIR``, so only the first run
on a machine pays the ~10 s of compiling; `warm` does that up front.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from rnncli.cachedir import numba_dir

# before numba is imported (by `kernels`): numba reads it once, at its import
if not os.environ.get("NUMBA_CACHE_DIR"):
    os.environ["NUMBA_CACHE_DIR"] = str(numba_dir())

LOSS_KIND = {"xent": 0, "mse_last": 1, "xent_last": 2}

#: `rnncli.engine.choose_backend`'s auto rule: the kernels are faster than NumPy (one BLAS
#: thread) where n_a * m is at most this. Measured on a 2-core machine, training steps of
#: T = 25 with 7 one-hot inputs, NumPy time / compiled time: at n_a * m = 8-64, 1.2-9x
#: (rnn, lstm, gru); at 128, 1.1-1.7x; at 256, 0.5-1.2x; at 512 and beyond, 0.25-0.9x.
#: The compiled loops call scalar tanh and exp where NumPy's are vectorised, and BLAS
#: multiplies faster once the matrices amortise its calls. `rnncli bench` shows both.
COMPILED_UP_TO = 128
#: Where ``auto`` picks the kernels, a run starts on NumPy and moves to them at this step.
#: Loading them costs each process ~0.4 s (importing numba, reading the disk cache; the
#: first run on a machine compiles for ~7 s), about what 1,000 NumPy steps of the reber
#: default take: so a short run never pays for them and a long one loses at most what
#: the load costs. A step count (not a time) keeps a resumed run bit for bit.
AUTO_FROM_STEP = 1000
HINT = "the compiled backend needs the [fast] extra: pip install 'rnncli[fast]'"


def available() -> bool:
    """Whether numba is installed (the kernels are importable)."""
    return importlib.util.find_spec("numba") is not None


def _kernel(key: str) -> Any:
    """The compiled kernel of a cell's `CellSpec.kernel` key."""
    from rnncli.engine.compiled import kernels

    return getattr(kernels, f"{key}_loss_and_grads")


_DUMMY: dict[Any, np.ndarray] = {}


def _dummy(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    key = (shape, np.dtype(dtype).str)
    if key not in _DUMMY:
        _DUMMY[key] = np.zeros(shape, dtype=dtype)
    return _DUMMY[key]


def loss_and_grads(
    p: Any,
    X: np.ndarray,
    targets: np.ndarray,
    state0: tuple[np.ndarray, ...] | None,
    loss: str,
    grads: Any,
    need_dx: bool,
    idx: np.ndarray | None = None,
) -> tuple[float, np.ndarray | None, np.ndarray, tuple[np.ndarray, ...]]:
    """Forward, loss and backward of a one-layer model: (loss, dX or None, da0, final
    state). X: (T, n_x, m) time-major, or `idx`: (T, m) symbol indices (one-hot inputs,
    X unused); targets as for `rnncli.engine.loss_and_grads_packed`. Writes every
    gradient into `grads`."""
    n, dt = p.n_a, p.dtype
    onehot = idx is not None
    if onehot:
        assert idx is not None
        T, m = idx.shape
        Xb = _dummy((1, 1, 1), dt)
        ix = np.ascontiguousarray(idx, dtype=np.int64)
    else:
        T, _, m = X.shape
        Xb = np.ascontiguousarray(X.transpose(0, 2, 1))  # batch-major steps
        ix = _dummy((1, 1), np.int64)
    kind = LOSS_KIND[loss]
    if kind == 1:
        ti, tr = _dummy((1, 1), np.int64), np.ascontiguousarray(targets, dtype=dt)
    else:
        ti = np.ascontiguousarray(targets, dtype=np.int64).reshape(-1 if kind == 0 else 1, m)
        tr = _dummy((1, 1), dt)
    a0 = np.ascontiguousarray(state0[0].T) if state0 else np.zeros((m, n), dt)
    has_c = p.spec.has_c
    c0 = np.ascontiguousarray(state0[1].T) if has_c and state0 and len(state0) > 1 else (
        np.zeros((m, n), dt) if has_c else _dummy((1, 1), dt)
    )  # fmt: skip
    dX = np.empty((T, m, p.n_x), dt) if need_dx and not onehot else _dummy((1, 1, 1), dt)
    a_last = np.empty((m, n), dt)
    c_last = np.empty((m, n), dt) if has_c else _dummy((1, 1), dt)
    g = grads.blocks[0]
    value, da0 = _kernel(p.spec.kernel)(
        p.W, p.b[:, 0], p.Wy, p.by[:, 0], Xb, ix, onehot, kind, ti, tr, a0, c0,
        need_dx and not onehot, g.W, g.b[:, 0], grads.Wy, grads.by[:, 0], dX, a_last, c_last,
    )  # fmt: skip
    final = (a_last.T.copy(), c_last.T.copy()) if has_c else (a_last.T.copy(),)
    dX_out = dX.transpose(0, 2, 1) if need_dx and not onehot else None
    return float(value), dX_out, da0.T.copy(), final


def warm(cell: str, dtype: Any, notice: Callable[[str], None] | None = None) -> float:
    """Compile (or load from the disk cache) the kernel of `cell` in `dtype` before a run
    starts (one signature serves every loss and input form); returns the seconds it
    took. Says through `notice` that it is compiling when that takes over a second (the
    first run on a machine: numba then caches the code on disk)."""
    import threading

    from rnncli.engine.layout import Packed

    p = Packed.zeros(cell, 2, 2, 2, dtype)
    X, targets = np.zeros((2, 2, 2), dtype), np.zeros((2, 2), np.int64)
    done = threading.Event()

    def say() -> None:
        if not done.wait(1.0) and notice is not None:
            notice(f"compiling the {cell} kernel (the first run on this machine only)...")

    start = time.perf_counter()
    threading.Thread(target=say, daemon=True).start()
    try:
        loss_and_grads(p, X, targets, None, "xent", p.zeros_like(), False)
    finally:
        done.set()
    return time.perf_counter() - start
