"""Fused GRU kernels on time-major buffers (the course's convention).

Per step, with gate blocks (z, r, h) of ``Wa``, ``Wx`` and ``b``::

    z = sigmoid(Wa_z a_{t-1} + Wx_z x_t + b_z)
    r = sigmoid(Wa_r a_{t-1} + Wx_r x_t + b_r)
    h = tanh(Wa_h (r * a_{t-1}) + Wx_h x_t + b_h)            (the notebook's ã)
    a_t = z * h + (1 - z) * a_{t-1}

Shapes: X: (T, n_x, m), Z: (T, 3 n_a, m) (pre-activations, overwritten by z, r, h),
A: (T+1, n_a, m), RA = r * a_{t-1}: (T, n_a, m).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnncli.engine.layout import Packed


@dataclass
class Cache:
    X: np.ndarray  # (T, n_x, m)
    A: np.ndarray  # (T+1, n_a, m), A[0] = a0
    Z: np.ndarray  # (T, 3 n_a, m) gate values z, r, h
    RA: np.ndarray  # (T, n_a, m) r * a_{t-1}


def forward(p: Packed, X: np.ndarray, a0: np.ndarray, c0: np.ndarray | None = None) -> Cache:
    """c0 is accepted for a uniform signature and ignored (no cell state)."""
    T, _, m = X.shape
    n = p.n_a
    Z = np.matmul(p.Wx, X)  # input projection for all steps at once: (T, 3n, m)
    Z += p.b
    A = np.empty((T + 1, n, m), dtype=X.dtype)
    RA = np.empty((T, n, m), dtype=X.dtype)
    A[0] = a0
    rec = np.empty((2 * n, m), dtype=X.dtype)
    Wzr, Wh = p.Wa[: 2 * n], p.Wa[2 * n :]
    with np.errstate(over="ignore"):  # exp(-z) -> inf gives sigmoid 0, as it should
        for t in range(T):
            zt, a_prev, a = Z[t], A[t], A[t + 1]
            s = zt[: 2 * n]  # z, r: sigmoid = 1 / (1 + exp(-pre))
            np.matmul(Wzr, a_prev, out=rec)
            s += rec
            np.negative(s, out=s)
            np.exp(s, out=s)
            s += 1
            np.reciprocal(s, out=s)
            np.multiply(zt[n : 2 * n], a_prev, out=RA[t])  # r * a_prev
            h = zt[2 * n :]
            np.matmul(Wh, RA[t], out=rec[:n])
            h += rec[:n]
            np.tanh(h, out=h)
            np.subtract(h, a_prev, out=a)  # a = a_prev + z * (h - a_prev)
            a *= zt[:n]
            a += a_prev
    return Cache(X, A, Z, RA)


def backward(
    p: Packed, cache: Cache, dA: np.ndarray, grads: Packed, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray]:
    """Back-propagate dA through time; write dWa, dWx, db into `grads`; return (dX, da0)."""
    X, A, Z, RA = cache.X, cache.A, cache.Z, cache.RA
    T, n, m = dA.shape
    Zg, R, H = Z[:, :n], Z[:, n : 2 * n], Z[:, 2 * n :]
    A_prev = A[:-1]
    # Step-independent factors, computed in bulk before the loop:
    Kz = (H - A_prev) * Zg * (1 - Zg)  # d pre_z / da_t
    Kh = Zg * (1 - H**2)  # d pre_h / da_t
    Kr = A_prev * R * (1 - R)  # d pre_r / d(r * a_prev)
    OMZ = 1 - Zg  # da_{t-1} / da_t, direct path
    dZ = np.empty_like(Z)
    da = np.zeros((n, m), dtype=dA.dtype)  # gradient carried into a_{t-1}
    dra = np.empty((n, m), dtype=dA.dtype)
    rec = np.empty((n, m), dtype=dA.dtype)
    WzrT, WhT = p.Wa[: 2 * n].T, p.Wa[2 * n :].T
    for t in range(T - 1, -1, -1):
        da += dA[t]  # total gradient on a_t
        np.multiply(da, Kz[t], out=dZ[t, :n])  # d pre_z
        np.multiply(da, Kh[t], out=dZ[t, 2 * n :])  # d pre_h
        np.matmul(WhT, dZ[t, 2 * n :], out=dra)  # d (r * a_prev)
        np.multiply(dra, Kr[t], out=dZ[t, n : 2 * n])  # d pre_r
        da *= OMZ[t]  # into a_{t-1}: direct path (1 - z)
        dra *= R[t]  # ... through r * a_prev
        da += dra
        np.matmul(WzrT, dZ[t, : 2 * n], out=rec)  # ... through the z and r gates
        da += rec
    grads.Wa[: 2 * n] = np.tensordot(dZ[:, : 2 * n], A_prev, axes=([0, 2], [0, 2]))
    grads.Wa[2 * n :] = np.tensordot(dZ[:, 2 * n :], RA, axes=([0, 2], [0, 2]))
    grads.Wx[...] = np.tensordot(dZ, X, axes=([0, 2], [0, 2]))
    grads.b[:, 0] = dZ.sum(axis=(0, 2))
    dX = np.matmul(p.Wx.T, dZ) if need_dx else None
    return dX, da


def final_state(cache: Cache) -> tuple[np.ndarray, np.ndarray | None]:
    """(a_T, None), a copy."""
    return cache.A[-1].copy(), None


def hidden(cache: Cache) -> np.ndarray:
    """a_1..a_T: (T, n_a, m)."""
    return cache.A[1:]
