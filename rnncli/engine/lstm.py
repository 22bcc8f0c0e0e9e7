"""Fused LSTM kernels on time-major buffers.

Per step, with ``Z_t = Wa a_{t-1} + Wx x_t + b`` split into gate blocks (o, f, i, g)::

    o, f, i = sigmoid(Z_t[o, f, i])     g = tanh(Z_t[g])          (g is the notebook's cct)
    c_t = f * c_{t-1} + i * g           a_t = o * tanh(c_t)

c_0 = 0 as in the notebook unless given. Shapes: X: (T, n_x, m), Z: (T, 4 n_a, m)
(pre-activations, overwritten by the gate values), A, C: (T+1, n_a, m),
TC = tanh(C[1:]): (T, n_a, m). Twelve NumPy calls per step forward, seven backward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnncli.engine.epilogue import input_grads, recurrent_grad
from rnncli.engine.layout import Packed
from rnncli.engine.workspace import Workspace, feature_major


@dataclass
class Cache:
    X: np.ndarray  # (T, n_x, m)
    A: np.ndarray  # (T+1, n_a, m), A[0] = a0
    C: np.ndarray  # (T+1, n_a, m), C[0] = c0
    Z: np.ndarray  # (T, 4 n_a, m) gate values o, f, i, g
    TC: np.ndarray  # (T, n_a, m) tanh(c_t)


def forward(
    p: Packed,
    X: np.ndarray,
    a0: np.ndarray,
    c0: np.ndarray | None = None,
    ws: Workspace | None = None,
) -> Cache:
    """X: (T, n_x, m), a0 and c0: (n_a, m) (c0 = 0 if None)."""
    ws = Workspace() if ws is None else ws
    T, _, m = X.shape
    n, dt = p.n_a, X.dtype
    Z = ws.get("Z", (T, 4 * n, m), dt)
    np.matmul(p.Wx, X, out=Z)  # input projection for all steps at once
    Z += p.b
    A = ws.get("A", (T + 1, n, m), dt)
    C = ws.get("C", (T + 1, n, m), dt)
    TC = ws.get("TC", (T, n, m), dt)
    A[0] = a0
    C[0] = 0 if c0 is None else c0
    rec = ws.get("rec", (4 * n, m), dt)
    ig = rec[:n]  # scratch for i * g, reusing rec once it has been added to Z_t
    one = ws.one(dt)

    def step(t: int) -> tuple[np.ndarray, ...]:  # the views step t works on
        z = Z[t]
        o, f, i, g = z[:n], z[n : 2 * n], z[2 * n : 3 * n], z[3 * n :]
        return A[t], z, z[: 3 * n], g, f, C[t], C[t + 1], i, TC[t], o, A[t + 1]

    steps = ws.views("lstm.forward", (Z, A, C, TC), lambda: [step(t) for t in range(T)])
    Wa = p.Wa
    with np.errstate(over="ignore"):  # exp(-z) -> inf gives sigmoid 0, as it should
        for a_prev, z, s, g, f, c_prev, c, i, tc, o, a in steps:
            np.dot(Wa, a_prev, out=rec)
            z += rec  # Z_t = Wa a_{t-1} + (Wx x_t + b)
            np.negative(s, out=s)  # o, f, i: sigmoid = 1 / (1 + exp(-z))
            np.exp(s, out=s)
            s += one
            np.reciprocal(s, out=s)
            np.tanh(g, out=g)
            np.multiply(f, c_prev, out=c)  # c = f * c_prev + i * g
            np.multiply(i, g, out=ig)
            c += ig
            np.tanh(c, out=tc)
            np.multiply(o, tc, out=a)  # a = o * tanh(c)
    return Cache(X, A, C, Z, TC)


def backward(
    p: Packed,
    cache: Cache,
    dA: np.ndarray,
    grads: Packed,
    need_dx: bool = True,
    ws: Workspace | None = None,
    At: np.ndarray | None = None,
    consume: bool = False,
) -> tuple[np.ndarray | None, np.ndarray]:
    """Back-propagate dA: (T, n_a, m) through time; write dWa, dWx, db into `grads`.

    At: A in feature-major layout (n_a, T+1, m) if the caller already has it.
    consume: reuse the cache's memory (the gate gradients go over the gate values, a
    coefficient over tanh(c)): two buffers less, and the cache is invalid afterwards.
    Returns (dX (T, n_x, m) or None, da0 (n_a, m)), both fresh (dX is a transposed view
    of a new (n_x, T, m) array).
    """
    ws = Workspace() if ws is None else ws
    X, A, C, Z, TC = cache.X, cache.A, cache.C, cache.Z, cache.TC
    T, n, m = dA.shape
    dt = dA.dtype
    Z4 = Z.reshape(T, 4, n, m)  # gate values o, f, i, g
    one = ws.one(dt)
    O, F, I, G = Z4[:, 0], Z4[:, 1], Z4[:, 2], Z4[:, 3]
    # Step-independent factors, in bulk before the loop. K[:, k] maps the gradient on
    # a_t (for o) or on c_t (for f, i, g) to the gradient on gate k's pre-activation.
    K = ws.get("K", (T, 4, n, m), dt)
    np.subtract(one, Z4[:, :3], out=K[:, :3])
    K[:, :3] *= Z4[:, :3]  # sigmoid' = s (1 - s) for o, f, i
    K[:, 0] *= TC  # a_t = o tanh(c_t)
    K[:, 1] *= C[:-1]  # c_t = f c_{t-1} + ...
    K[:, 2] *= G  # c_t = ... + i g
    np.multiply(G, G, out=K[:, 3])
    np.subtract(one, K[:, 3], out=K[:, 3])
    K[:, 3] *= I  # ... + i g, g = tanh: tanh' = 1 - g^2
    Kc = TC if consume else ws.get("Kc", (T, n, m), dt)  # dc_t / da_t = o tanh'(c_t)
    np.multiply(TC, TC, out=Kc)
    np.subtract(one, Kc, out=Kc)
    Kc *= O
    # pre-activation gradients, same block order as Z (each dz_t replaces z_t once read)
    dZ = Z if consume else ws.get("dZ", (T, 4 * n, m), dt)
    dZ4 = dZ.reshape(T, 4, n, m)
    da = ws.get("da", (n, m), dt)  # gradient carried into a_{t-1}
    dc = ws.get("dc", (n, m), dt)  # gradient carried into c_{t-1}
    dct = ws.get("dct", (n, m), dt)  # total gradient on c_t
    da.fill(0)
    dc.fill(0)

    def step(t: int) -> tuple[np.ndarray, ...]:  # the views step t works on
        return dA[t], K[t, 0], dZ4[t, 0], Kc[t], K[t, 1:], dZ4[t, 1:], F[t], dZ[t]

    steps = ws.views("lstm.backward", (dA, K, Kc, dZ, Z), lambda: [step(t) for t in range(T)])
    WaT = ws.get("WaT", (n, 4 * n), dt)  # contiguous: BLAS runs it ~30% faster than Wa.T
    np.copyto(WaT, p.Wa.T)
    for dA_t, Ko, dZo, Kc_t, Kfig, dZfig, f, dZ_t in reversed(steps):
        da += dA_t  # total gradient on a_t
        np.multiply(da, Ko, out=dZo)  # d pre_o
        np.multiply(da, Kc_t, out=dct)  # into c_t through a_t ...
        dct += dc  # ... and from c_{t+1}
        np.multiply(dct, f, out=dc)  # into c_{t-1}
        np.multiply(Kfig, dct, out=dZfig)  # d pre_f, d pre_i, d pre_g
        np.dot(WaT, dZ_t, out=da)  # into a_{t-1}
    # Weight gradients as sums over steps and examples: one GEMM each, on dZ laid out
    # (4 n_a, T, m) in K's memory (K is spent).
    dZt = K.reshape(4 * n, T, m)
    np.copyto(dZt, dZ.transpose(1, 0, 2))
    dZ2 = dZt.reshape(4 * n, T * m)
    if At is None:
        At = feature_major(ws, "At", A)
    recurrent_grad(dZ2, At, grads.Wa)
    return input_grads(p, ws, dZ2, X, grads, need_dx), da.copy()


def hidden(cache: Cache) -> np.ndarray:
    """a_1..a_T: (T, n_a, m)."""
    return cache.A[1:]
