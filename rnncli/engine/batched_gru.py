"""The GRU of `rnncli.engine.gru` on K stacked members (`rnncli.engine.batched.Stack`):
the same operations in the same order, on the stacks' (rows, K, m) step layout.

    z = sigmoid(Wa_z a_{t-1} + Wx_z x_t + b_z)      r = sigmoid(... r rows ...)
    h = tanh(Wa_h (r * a_{t-1}) + Wx_h x_t + b_h)   a_t = a_{t-1} + z * (h - a_{t-1})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnncli.workspace import Workspace


def _members(a: np.ndarray) -> np.ndarray:
    return a.transpose(1, 0, 2)


def forward(s: Any, X: np.ndarray, ws: Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X: (T, n_x, K, m) -> A (T+1, n_a, K, m), Z (T, 3 n_a, K, m) gate values z, r, h,
    RA (T, n_a, K, m) = r * a_{t-1}."""
    T, _, K, m = X.shape
    n, dt = s.n_a, X.dtype
    Z = ws.get("Z", (T, 3 * n, K, m), dt)
    np.matmul(s.W[:, :, n:], X.transpose(0, 2, 1, 3), out=Z.transpose(0, 2, 1, 3))
    Z += s.b.transpose(1, 0, 2)
    A = ws.get("A", (T + 1, n, K, m), dt)
    RA = ws.get("RA", (T, n, K, m), dt)
    A[0] = 0
    rec = ws.get("rec", (2 * n, K, m), dt)
    one = ws.one(dt)
    Wzr = ws.get("Wzr", (K, 2 * n, n), dt)
    Wh = ws.get("Wh", (K, n, n), dt)
    np.copyto(Wzr, s.W[:, : 2 * n, :n])
    np.copyto(Wh, s.W[:, 2 * n :, :n])
    recm, rec_h = _members(rec), _members(rec[:n])
    matmul, add, multiply = np.matmul, np.add, np.multiply
    with np.errstate(over="ignore"):
        for t in range(T):
            a_prev, a, z, ra = A[t], A[t + 1], Z[t], RA[t]
            sg = z[: 2 * n]
            matmul(Wzr, _members(a_prev), recm)
            add(sg, rec, sg)
            np.negative(sg, sg)
            np.exp(sg, sg)
            add(sg, one, sg)
            np.reciprocal(sg, sg)
            multiply(z[n : 2 * n], a_prev, ra)
            matmul(Wh, _members(ra), rec_h)
            h = z[2 * n :]
            add(h, rec[:n], h)
            np.tanh(h, h)
            np.subtract(h, a_prev, a)
            multiply(a, z[:n], a)
            add(a, a_prev, a)
    return A, Z, RA


def backward(s: Any, A: np.ndarray, Z: np.ndarray, dA: np.ndarray, ws: Workspace) -> np.ndarray:
    """The pre-activation gradients dZ: (T, 3 n_a, K, m), rows z, r, h."""
    T, n, K, m = dA.shape
    dt = dA.dtype
    Zg, R, H = Z[:, :n], Z[:, n : 2 * n], Z[:, 2 * n :]
    A_prev = A[:-1]
    one = ws.one(dt)
    Kb = ws.get("K", (T, 4, n, K, m), dt)
    Kzh, Kd = Kb[:, :2], Kb[:, 2:]
    Kr = ws.get("Kr", (T, n, K, m), dt)
    np.subtract(one, Zg, out=Kd[:, 0])
    Kd[:, 1] = R
    np.subtract(H, A_prev, out=Kzh[:, 0])
    Kzh[:, 0] *= Zg
    Kzh[:, 0] *= Kd[:, 0]
    np.multiply(H, H, out=Kzh[:, 1])
    np.subtract(one, Kzh[:, 1], out=Kzh[:, 1])
    Kzh[:, 1] *= Zg
    np.subtract(one, R, out=Kr)
    Kr *= R
    Kr *= A_prev
    dZ = ws.get("dZ", (T, 3 * n, K, m), dt)
    dZ3 = dZ.reshape(T, 3, n, K, m)
    U = ws.get("U", (2, n, K, m), dt)
    da, dra = U[0], U[1]
    rec = ws.get("rec_b", (n, K, m), dt)
    da.fill(0)
    WzrT = ws.get("WzrT", (K, n, 2 * n), dt)
    WhT = ws.get("WhT", (K, n, n), dt)
    np.copyto(WzrT, s.W[:, : 2 * n, :n].transpose(0, 2, 1))
    np.copyto(WhT, s.W[:, 2 * n :, :n].transpose(0, 2, 1))
    dram, recm = _members(dra), _members(rec)
    matmul, add, multiply = np.matmul, np.add, np.multiply
    for t in range(T - 1, -1, -1):
        add(da, dA[t], da)
        multiply(da, Kzh[t], dZ3[t, ::2])
        matmul(WhT, _members(dZ3[t, 2]), dram)
        multiply(dra, Kr[t], dZ3[t, 1])
        multiply(U, Kd[t], U)
        add(da, dra, da)
        matmul(WzrT, _members(dZ[t, : 2 * n]), recm)
        add(da, rec, da)
    return dZ


def weight_grads(
    g: Any, dZ: np.ndarray, AX: np.ndarray, RA: np.ndarray, lengths: Sequence[int],
    ws: Workspace,
) -> None:  # fmt: skip
    """dW and db of every member over its own steps: z, r rows on [a_{t-1}; x_t], h rows
    on [r a_{t-1}; x_t] (as `gru.backward`)."""
    T, G, K, m = dZ.shape
    n = G // 3
    dZt = ws.get("dZt", (K, G, T, m), dZ.dtype)
    np.copyto(dZt, dZ.transpose(2, 1, 0, 3))
    RAt = ws.get("RAt", (K, n, T, m), dZ.dtype)
    np.copyto(RAt, RA.transpose(2, 1, 0, 3))
    k = AX.shape[1]
    for j, T_j in enumerate(lengths):
        N = T_j * m
        dZ2 = dZt[j, :, :T_j].reshape(G, N)
        W = g.W[j]
        np.matmul(dZ2[: 2 * n], AX[j, :, :T_j].reshape(k, N).T, W[: 2 * n])
        np.matmul(dZ2[2 * n :], RAt[j, :, :T_j].reshape(n, N).T, W[2 * n :, :n])
        np.matmul(dZ2[2 * n :], AX[j, n:, :T_j].reshape(k - n, N).T, W[2 * n :, n:])
        np.dot(dZ2, ws.ones(N, dZ2.dtype), g.b[j, :, 0])


def cell_step(s: Any, a_prev: np.ndarray, X: np.ndarray) -> np.ndarray:
    """One step of every member from a_prev (n_a, K, W) on X (n_x, K, W): the new a."""
    n, (_, K, W), dt = s.n_a, X.shape, s.dtype
    Z = np.empty((3 * n, K, W), dtype=dt)
    np.matmul(s.W[:, :, n:], _members(X), out=_members(Z))
    Z += s.b.transpose(1, 0, 2)
    rec = np.empty((2 * n, K, W), dtype=dt)
    np.matmul(np.ascontiguousarray(s.W[:, : 2 * n, :n]), _members(a_prev), out=_members(rec))
    sg = Z[: 2 * n]
    sg += rec
    with np.errstate(over="ignore"):
        np.negative(sg, sg)
        np.exp(sg, sg)
        np.add(sg, np.ones((), dtype=dt), sg)
        np.reciprocal(sg, sg)
    ra = Z[n : 2 * n] * a_prev
    rec_h = np.empty((n, K, W), dtype=dt)
    np.matmul(np.ascontiguousarray(s.W[:, 2 * n :, :n]), _members(ra), out=_members(rec_h))
    h = Z[2 * n :]
    h += rec_h
    np.tanh(h, h)
    a = h - a_prev
    a *= Z[:n]
    a += a_prev
    return a
