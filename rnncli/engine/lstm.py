"""Fused LSTM kernels on time-major buffers.

Per step, with ``Z_t = Wa a_{t-1} + Wx x_t + b`` split into gate blocks (o, f, i, g)::

    o, f, i = sigmoid(Z_t[o, f, i])     g = tanh(Z_t[g])          (g is the notebook's cct)
    c_t = f * c_{t-1} + i * g           a_t = o * tanh(c_t)

c_0 = 0 as in the notebook. Shapes: X: (T, n_x, m), Z: (T, 4 n_a, m) (pre-activations,
overwritten by the gate values), A, C: (T+1, n_a, m), TC = tanh(C[1:]): (T, n_a, m).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnncli.engine.layout import Packed


@dataclass
class Cache:
    X: np.ndarray  # (T, n_x, m)
    A: np.ndarray  # (T+1, n_a, m), A[0] = a0
    C: np.ndarray  # (T+1, n_a, m), C[0] = 0
    Z: np.ndarray  # (T, 4 n_a, m) gate values o, f, i, g
    TC: np.ndarray  # (T, n_a, m) tanh(c_t)


def forward(p: Packed, X: np.ndarray, a0: np.ndarray, c0: np.ndarray | None = None) -> Cache:
    """c0 defaults to zeros, as in the notebook (the text task carries it across chunks)."""
    T, _, m = X.shape
    n = p.n_a
    Z = np.matmul(p.Wx, X)  # input projection for all steps at once: (T, 4n, m)
    Z += p.b
    A = np.empty((T + 1, n, m), dtype=X.dtype)
    C = np.empty_like(A)
    TC = np.empty((T, n, m), dtype=X.dtype)
    A[0] = a0
    C[0] = 0 if c0 is None else c0
    rec = np.empty((4 * n, m), dtype=X.dtype)
    ig = rec[:n]  # scratch for i * g, reusing rec once it has been added to Z_t
    Wa = p.Wa
    with np.errstate(over="ignore"):  # exp(-z) -> inf gives sigmoid 0, as it should
        for t in range(T):
            z = Z[t]
            np.matmul(Wa, A[t], out=rec)
            z += rec
            s = z[: 3 * n]  # o, f, i: sigmoid = 1 / (1 + exp(-z))
            np.negative(s, out=s)
            np.exp(s, out=s)
            s += 1
            np.reciprocal(s, out=s)
            g = z[3 * n :]
            np.tanh(g, out=g)
            c = C[t + 1]
            np.multiply(z[n : 2 * n], C[t], out=c)  # f * c_prev
            np.multiply(z[2 * n : 3 * n], g, out=ig)  # i * g
            c += ig
            np.tanh(c, out=TC[t])
            np.multiply(z[:n], TC[t], out=A[t + 1])  # o * tanh(c)
    return Cache(X, A, C, Z, TC)


def backward(
    p: Packed, cache: Cache, dA: np.ndarray, grads: Packed, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray]:
    """Back-propagate dA through time; write dWa, dWx, db into `grads`; return (dX, da0)."""
    X, A, C, Z, TC = cache.X, cache.A, cache.C, cache.Z, cache.TC
    T, n, m = dA.shape
    O, F, I, G = Z[:, :n], Z[:, n : 2 * n], Z[:, 2 * n : 3 * n], Z[:, 3 * n :]
    # Step-independent factors, computed in bulk before the loop:
    Kc = O * (1 - TC**2)  # dc_t/da_t through a = o * tanh(c)
    Ko = TC * O * (1 - O)  # d pre_o / da_t
    K3 = np.empty((T, 3, n, m), dtype=dA.dtype)  # d pre_{f,i,g} / dc_t
    np.multiply(C[:-1], F * (1 - F), out=K3[:, 0])  # c_prev * f'
    np.multiply(G, I * (1 - I), out=K3[:, 1])  # g * i'
    np.multiply(I, 1 - G**2, out=K3[:, 2])  # i * g'
    dZ = np.empty_like(Z)  # pre-activation gradients, same block order as Z
    dZ3 = dZ[:, n:].reshape(T, 3, n, m)  # the f, i, g blocks as one (3, n, m) view
    da = np.zeros((n, m), dtype=dA.dtype)  # gradient carried into a_{t-1}
    dc = np.zeros((n, m), dtype=dA.dtype)  # gradient carried into c_{t-1}
    dct = np.empty((n, m), dtype=dA.dtype)
    WaT = p.Wa.T
    for t in range(T - 1, -1, -1):
        da += dA[t]  # total gradient on a_t
        np.multiply(da, Ko[t], out=dZ[t, :n])  # d pre_o
        np.multiply(da, Kc[t], out=dct)
        dct += dc  # total gradient on c_t
        np.multiply(K3[t], dct, out=dZ3[t])  # d pre_f, d pre_i, d pre_g
        np.multiply(dct, F[t], out=dc)  # into c_{t-1}
        np.matmul(WaT, dZ[t], out=da)  # into a_{t-1}
    grads.Wa[...] = np.tensordot(dZ, A[:-1], axes=([0, 2], [0, 2]))
    grads.Wx[...] = np.tensordot(dZ, X, axes=([0, 2], [0, 2]))
    grads.b[:, 0] = dZ.sum(axis=(0, 2))
    dX = np.matmul(p.Wx.T, dZ) if need_dx else None
    return dX, da


def final_state(cache: Cache) -> tuple[np.ndarray, np.ndarray | None]:
    """(a_T, c_T), copies."""
    return cache.A[-1].copy(), cache.C[-1].copy()


def hidden(cache: Cache) -> np.ndarray:
    """a_1..a_T: (T, n_a, m)."""
    return cache.A[1:]
