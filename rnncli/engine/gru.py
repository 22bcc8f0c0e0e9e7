"""Fused GRU kernels on time-major buffers (the course's convention).

Per step, with gate blocks (z, r, h) of ``Wa``, ``Wx`` and ``b``::

    z = sigmoid(Wa_z a_{t-1} + Wx_z x_t + b_z)
    r = sigmoid(Wa_r a_{t-1} + Wx_r x_t + b_r)
    h = tanh(Wa_h (r * a_{t-1}) + Wx_h x_t + b_h)            (the notebook's ã)
    a_t = z * h + (1 - z) * a_{t-1}

Shapes: X: (T, n_x, m), Z: (T, 3 n_a, m) (pre-activations, overwritten by z, r, h),
A: (T+1, n_a, m), RA = r * a_{t-1}: (T, n_a, m). Thirteen NumPy calls per step forward,
eight backward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnncli.engine.epilogue import bias_and_input_grads, inputs_matrix, stacked_inputs
from rnncli.engine.fastcall import dot
from rnncli.engine.layout import Layer
from rnncli.workspace import Workspace, feature_major


@dataclass
class Cache:
    X: np.ndarray  # (T, n_x, m)
    A: np.ndarray  # (T+1, n_a, m), A[0] = a0
    Z: np.ndarray  # (T, 3 n_a, m) gate values z, r, h
    RA: np.ndarray  # (T, n_a, m) r * a_{t-1}


def forward(p: Layer, X: np.ndarray, a0: np.ndarray, ws: Workspace | None = None) -> Cache:
    """X: (T, n_x, m), a0: (n_a, m)."""
    ws = Workspace() if ws is None else ws
    T, _, m = X.shape
    n, dt = p.n_a, X.dtype
    Z = ws.get("Z", (T, 3 * n, m), dt)
    np.matmul(p.Wx, X, out=Z)  # input projection for all steps at once
    Z += p.b
    A = ws.get("A", (T + 1, n, m), dt)
    RA = ws.get("RA", (T, n, m), dt)
    A[0] = a0
    rec = ws.get("rec", (2 * n, m), dt)
    one = ws.one(dt)
    rec_h = rec[:n]

    def step(t: int) -> tuple[np.ndarray, ...]:  # the views step t works on
        z = Z[t]
        return A[t], A[t + 1], z[: 2 * n], z[:n], z[n : 2 * n], z[2 * n :], RA[t]

    steps = ws.views("gru.forward", (Z, A, RA), lambda: [step(t) for t in range(T)])
    Wa = ws.get("Wa", (3 * n, n), dt)  # contiguous: np.dot would copy the strided view
    np.copyto(Wa, p.Wa)
    Wzr, Wh = Wa[: 2 * n], Wa[2 * n :]
    add, multiply = np.add, np.multiply  # `out` positional: see fastcall
    with np.errstate(over="ignore"):  # exp(-z) -> inf gives sigmoid 0, as it should
        for a_prev, a, s, zg, r, h, ra in steps:
            dot(Wzr, a_prev, rec)
            add(s, rec, s)  # z, r pre-activations
            np.negative(s, s)  # sigmoid = 1 / (1 + exp(-pre))
            np.exp(s, s)
            add(s, one, s)
            np.reciprocal(s, s)
            multiply(r, a_prev, ra)  # r * a_prev
            dot(Wh, ra, rec_h)
            add(h, rec_h, h)
            np.tanh(h, h)
            np.subtract(h, a_prev, a)  # a = a_prev + z * (h - a_prev)
            multiply(a, zg, a)
            add(a, a_prev, a)
    return Cache(X, A, Z, RA)


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
    consume: write the gate gradients over the cache's gate values (saves a
    (T, 3 n_a, m) buffer; the cache is invalid afterwards).
    record: if given, gets ``record["a"]``: (T, n_a, m), the total gradient on each a_t.
    Returns (dX (T, n_x, m) or None, da0 (n_a, m)), both fresh (dX is a transposed view
    of a new (n_x, T, m) array).
    """
    ws = Workspace() if ws is None else ws
    X, A, Z, RA = cache.X, cache.A, cache.Z, cache.RA
    T, n, m = dA.shape
    dt = dA.dtype
    Zg, R, H = Z[:, :n], Z[:, n : 2 * n], Z[:, 2 * n :]
    A_prev = A[:-1]
    one = ws.one(dt)
    # Step-independent factors, in bulk before the loop:
    K = ws.get("K", (T, 4, n, m), dt)
    Kzh = K[:, :2]  # da_t -> d pre_z, d pre_h
    Kd = K[:, 2:]  # da_t -> da_{t-1} directly, d(r a_prev) -> da_{t-1}
    Kr = ws.get("Kr", (T, n, m), dt)  # d(r a_prev) -> d pre_r
    np.subtract(one, Zg, out=Kd[:, 0])  # a_t = z h + (1 - z) a_{t-1}
    Kd[:, 1] = R  # r a_{t-1}
    np.subtract(H, A_prev, out=Kzh[:, 0])
    Kzh[:, 0] *= Zg
    Kzh[:, 0] *= Kd[:, 0]  # (h - a_prev) z (1 - z)
    np.multiply(H, H, out=Kzh[:, 1])
    np.subtract(one, Kzh[:, 1], out=Kzh[:, 1])
    Kzh[:, 1] *= Zg  # z (1 - h^2)
    np.subtract(one, R, out=Kr)
    Kr *= R
    Kr *= A_prev  # a_prev r (1 - r)
    # pre-activation gradients z, r, h (the loop reads no gate value: all are in the K's)
    dZ = Z if consume else ws.get("dZ", (T, 3 * n, m), dt)
    dZ3 = dZ.reshape(T, 3, n, m)
    U = ws.get("U", (2, n, m), dt)  # U[0]: gradient carried into a_{t-1}; U[1]: d(r a_prev)
    da, dra = U[0], U[1]
    rec = ws.get("rec_b", (n, m), dt)
    da.fill(0)

    def step(t: int) -> tuple[np.ndarray, ...]:  # the views step t works on
        return dA[t], Kzh[t], dZ3[t, ::2], dZ3[t, 2], Kr[t], dZ3[t, 1], Kd[t], dZ[t, : 2 * n]

    steps = ws.views("gru.backward", (dA, K, Kr, dZ), lambda: [step(t) for t in range(T)])
    WzrT = ws.get("WzrT", (n, 2 * n), dt)  # contiguous: BLAS runs these ~30% faster
    WhT = ws.get("WhT", (n, n), dt)  # than the transposed views
    np.copyto(WzrT, p.Wa[: 2 * n].T)
    np.copyto(WhT, p.Wa[2 * n :].T)
    add, multiply = np.add, np.multiply  # `out` positional: see fastcall
    if record is None:
        for dA_t, Kzh_t, dZzh, dZh, Kr_t, dZr, Kd_t, dZzr in reversed(steps):
            add(da, dA_t, da)  # total gradient on a_t
            multiply(da, Kzh_t, dZzh)  # d pre_z, d pre_h
            dot(WhT, dZh, dra)  # d (r * a_prev)
            multiply(dra, Kr_t, dZr)  # d pre_r
            multiply(U, Kd_t, U)  # into a_{t-1}: direct path (1 - z), and through r * a_prev
            add(da, dra, da)
            dot(WzrT, dZzr, rec)  # ... and through the z and r gates
            add(da, rec, da)
    else:  # the same loop, keeping each total (a loop of its own: training never pays)
        kept = record["a"] = np.empty((T, n, m), dt)
        for (dA_t, Kzh_t, dZzh, dZh, Kr_t, dZr, Kd_t, dZzr), kept_t in zip(
            reversed(steps), kept[::-1], strict=True
        ):
            add(da, dA_t, da)
            np.copyto(kept_t, da)
            multiply(da, Kzh_t, dZzh)
            dot(WhT, dZh, dra)
            multiply(dra, Kr_t, dZr)
            multiply(U, Kd_t, U)
            add(da, dra, da)
            dot(WzrT, dZzr, rec)
            add(da, rec, da)
    # Weight gradients as sums over steps and examples: one GEMM each, on dZ laid out
    # (3 n_a, T, m) in K's memory (K is spent).
    dZt = K.reshape(-1)[: 3 * n * T * m].reshape(3 * n, T, m)
    np.copyto(dZt, dZ.transpose(1, 0, 2))
    dZ2 = dZt.reshape(3 * n, T * m)
    if AX is None:
        AX = stacked_inputs(ws, A, X)
    RAt = feature_major(ws, "RAt", RA)
    # z, r rows act on [a_{t-1}; x_t]; h rows on [r a_{t-1}; x_t]
    np.matmul(dZ2[: 2 * n], inputs_matrix(AX).T, grads.W[: 2 * n])
    np.matmul(dZ2[2 * n :], RAt.reshape(n, T * m).T, grads.Wa[2 * n :])
    np.matmul(dZ2[2 * n :], inputs_matrix(AX, slice(n, None)).T, grads.Wx[2 * n :])
    return bias_and_input_grads(p, ws, dZ2, AX, grads, need_dx), da.copy()


def hidden(cache: Cache) -> np.ndarray:
    """a_1..a_T: (T, n_a, m)."""
    return cache.A[1:]


def gate_values(cache: Cache) -> np.ndarray:
    """Every gate's value at every step: Z itself, (T, 3 n_a, m), rows z, r, h."""
    return cache.Z
