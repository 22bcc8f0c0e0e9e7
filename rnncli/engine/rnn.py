"""Fused basic-RNN kernels on time-major buffers.

    a_t = tanh(Waa a_{t-1} + Wax x_t + ba)

Shapes (time-major, feature-major per step): X: (T, n_x, m), A: (T+1, n_a, m) with
A[0] = a0, dA: (T, n_a, m) the upstream gradient on each a_t. Three NumPy calls per step
forward (GEMM, add, tanh) and three backward (add, multiply, GEMM); everything else is
a bulk call over all steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnncli.engine.epilogue import stacked_inputs, weight_grads
from rnncli.engine.fastcall import dot
from rnncli.engine.layout import Layer
from rnncli.workspace import Workspace, feature_major


@dataclass
class Cache:
    X: np.ndarray  # (T, n_x, m)
    A: np.ndarray  # (T+1, n_a, m), A[0] = a0


def forward(p: Layer, X: np.ndarray, a0: np.ndarray, ws: Workspace | None = None) -> Cache:
    """X: (T, n_x, m), a0: (n_a, m). Buffers come from `ws` (fresh ones without it)."""
    ws = Workspace() if ws is None else ws
    T, _, m = X.shape
    A = ws.get("A", (T + 1, p.n_a, m), X.dtype)
    A[0] = a0
    Z = A[1:]  # each a_t's slot first holds its input projection Wx x_t + b
    np.matmul(p.Wx, X, out=Z)  # for all steps at once
    Z += p.b
    rec = ws.get("rec", (p.n_a, m), X.dtype)
    steps = ws.views("rnn.forward", (A,), lambda: [(A[t], A[t + 1]) for t in range(T)])
    Wa = ws.get("Wa", (p.n_a, p.n_a), X.dtype)  # contiguous: np.dot would copy the view
    np.copyto(Wa, p.Wa)
    add, tanh = np.add, np.tanh  # `out` positional: see fastcall
    for a_prev, a in steps:
        dot(Wa, a_prev, rec)
        add(a, rec, a)  # Wa a_{t-1} + (Wx x_t + b)
        tanh(a, a)
    return Cache(X, A)


def backward(
    p: Layer,
    cache: Cache,
    dA: np.ndarray,
    grads: Layer,
    need_dx: bool = True,
    ws: Workspace | None = None,
    AX: np.ndarray | None = None,
    consume: bool = False,
    record: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray | None, np.ndarray]:
    """Back-propagate dA: (T, n_a, m) through time; write dW and db into `grads`.

    AX: the stacked inputs (`epilogue.stacked_inputs`) if the caller already has them.
    consume: accepted for a uniform signature (the RNN's cache is just X and A).
    record: if given, gets ``record["a"]``: (T, n_a, m), the total gradient on each a_t.
    Returns (dX (T, n_x, m) or None, da0 (n_a, m)), both fresh (dX is a transposed view
    of a new (n_x, T, m) array).
    """
    ws = Workspace() if ws is None else ws
    X, A = cache.X, cache.A
    T, n, m = dA.shape
    dt = dA.dtype
    dZ = ws.get("dZ", (T, n, m), dt)
    np.multiply(A[1:], A[1:], out=dZ)
    np.subtract(ws.one(dt), dZ, out=dZ)  # tanh'(z_t) = 1 - a_t^2, then overwritten by dz_t
    da = ws.get("da", (n, m), dt)  # gradient carried into a_{t-1}
    da.fill(0)
    steps = ws.views("rnn.backward", (dA, dZ), lambda: [(dA[t], dZ[t]) for t in range(T)])
    WaT = ws.get("WaT", (n, n), dt)  # contiguous: BLAS runs it ~30% faster than Wa.T
    np.copyto(WaT, p.Wa.T)
    add, multiply = np.add, np.multiply  # `out` positional: see fastcall
    if record is None:
        for dA_t, dz in reversed(steps):
            add(da, dA_t, da)  # total gradient on a_t: from above plus from step t+1
            multiply(dz, da, dz)  # through tanh
            dot(WaT, dz, da)  # into a_{t-1}
    else:  # the same loop, keeping each total (a loop of its own: training never pays)
        kept = record["a"] = np.empty((T, n, m), dt)
        for (dA_t, dz), kept_t in zip(reversed(steps), kept[::-1], strict=True):
            add(da, dA_t, da)
            np.copyto(kept_t, da)
            multiply(dz, da, dz)
            dot(WaT, dz, da)
    # Weight gradients as sums over steps and examples: one GEMM each.
    dZ2 = feature_major(ws, "dZt", dZ).reshape(n, T * m)
    if AX is None:
        AX = stacked_inputs(ws, A, X)
    return weight_grads(p, ws, dZ2, AX, grads, need_dx), da.copy()


def hidden(cache: Cache) -> np.ndarray:
    """a_1..a_T: (T, n_a, m)."""
    return cache.A[1:]
