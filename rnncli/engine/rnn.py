"""Fused basic-RNN kernels on time-major buffers.

    a_t = tanh(Waa a_{t-1} + Wax x_t + ba)

Shapes (time-major, feature-major per step): X: (T, n_x, m), A: (T+1, n_a, m) with
A[0] = a0, dA: (T, n_a, m) the upstream gradient on each a_t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnncli.engine.layout import Packed


@dataclass
class Cache:
    X: np.ndarray  # (T, n_x, m)
    A: np.ndarray  # (T+1, n_a, m), A[0] = a0


def forward(p: Packed, X: np.ndarray, a0: np.ndarray, c0: np.ndarray | None = None) -> Cache:
    """c0 is accepted for a uniform signature and ignored (no cell state)."""
    T, _, m = X.shape
    Z = np.matmul(p.Wx, X)  # input projection for all steps at once: (T, n_a, m)
    Z += p.b
    A = np.empty((T + 1, p.n_a, m), dtype=X.dtype)
    A[0] = a0
    Wa = p.Wa
    for t in range(T):
        a = A[t + 1]
        np.matmul(Wa, A[t], out=a)
        a += Z[t]
        np.tanh(a, out=a)
    return Cache(X, A)


def backward(
    p: Packed, cache: Cache, dA: np.ndarray, grads: Packed, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray]:
    """Back-propagate dA through time; write dWa, dWx, db into `grads`; return (dX, da0)."""
    X, A = cache.X, cache.A
    T, n_a, m = dA.shape
    dZ = 1 - A[1:] ** 2  # tanh'(z_t), then overwritten in place by dz_t
    da = np.zeros((n_a, m), dtype=dA.dtype)  # gradient carried into a_{t-1}
    WaT = p.Wa.T
    for t in range(T - 1, -1, -1):
        dz = dZ[t]
        da += dA[t]  # total gradient on a_t: from above plus from step t+1
        dz *= da  # through tanh
        np.matmul(WaT, dz, out=da)  # into a_{t-1}
    grads.Wa[...] = np.tensordot(dZ, A[:-1], axes=([0, 2], [0, 2]))  # sum_t dz_t a_{t-1}^T
    grads.Wx[...] = np.tensordot(dZ, X, axes=([0, 2], [0, 2]))  # sum_t dz_t x_t^T
    grads.b[:, 0] = dZ.sum(axis=(0, 2))
    dX = np.matmul(p.Wx.T, dZ) if need_dx else None
    return dX, da


def final_state(cache: Cache) -> tuple[np.ndarray, np.ndarray | None]:
    """(a_T, None), a copy."""
    return cache.A[-1].copy(), None


def hidden(cache: Cache) -> np.ndarray:
    """a_1..a_T: (T, n_a, m)."""
    return cache.A[1:]
