"""The compiled time loops: forward, loss and backward of one sequence in one call.

Each ``<cell>_loss_and_grads`` runs a whole training step of a one-layer model in
machine code (numba): the gates of every step, the output layer and the loss, then back
through time, writing every gradient. At the small sizes rnncli lives at, the NumPy
engine spends its time calling NumPy (~0.5 µs a call, ~200 calls a step), not computing;
here there are no calls. The arithmetic is the NumPy engine's, term for term; only the
order of additions inside dot products may differ (``reassoc``), so results agree with
it to ~1e-15 relative, not bit for bit.

Inside, each step's arrays are batch-major, (m, n): example i's units are contiguous, so
every dot product runs over contiguous memory. Inputs come dense, ``X: (T, m, n_x)``, or
as symbol indices, ``idx: (T, m)`` (one-hot inputs: the input projection is a column of
Wx, its gradient a scatter-add), chosen by `onehot`.

Losses (`kind`): 0 ``xent`` (softmax cross-entropy at every step, targets ``ti: (T, m)``,
< 0 ignored), 1 ``mse_last`` (linear read-out at the last step, ``tr: (n_y, m)``),
2 ``xent_last`` (softmax at the last step, ``ti: (1, m)``). Every loss averages over the
batch as `rnncli.loss` says.

Shapes: W: (G*n, n + n_x) = [Wa | Wx] in the engine's gate order, b: (G*n,), Wy: (n_y, n),
by: (n_y,); gradients likewise. a0, c0: (m, n). dX: (T, m, n_x).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

FAST = {"reassoc", "contract"}  # no nnan/ninf: a NaN loss must stay a NaN (divergence)
XENT, MSE_LAST, XENT_LAST = 0, 1, 2


@njit(cache=True, fastmath=FAST, inline="always")
def _project(W, b, X, idx, onehot, t, n, Z, WxT):
    """Z[i, r] = b[r] + Wx[r] x_t[i] for every example i and gate row r (WxT: Wx
    transposed, (n_x, G), so that the innermost loop runs along contiguous rows)."""
    m, G = Z.shape
    n_x = W.shape[1] - n
    for i in range(m):
        z = Z[i]
        if onehot:
            col = n + idx[t, i]
            if idx[t, i] < 0:  # padding: no input
                for r in range(G):
                    z[r] = b[r]
            else:
                for r in range(G):
                    z[r] = b[r] + W[r, col]
        else:
            for r in range(G):
                z[r] = b[r]
            for k in range(n_x):
                v = X[t, i, k]
                w = WxT[k]
                for r in range(G):
                    z[r] += v * w[r]


@njit(cache=True, fastmath=FAST, inline="always")
def _recur(WaT, a_prev, Z, rows):
    """Z[i, r] += Wa[r] a_prev[i] for r < rows (WaT: Wa transposed, (n, G))."""
    m = Z.shape[0]
    n = a_prev.shape[1]
    for i in range(m):
        z = Z[i]
        for k in range(n):
            v = a_prev[i, k]
            w = WaT[k]
            for r in range(rows):
                z[r] += v * w[r]


@njit(cache=True, fastmath=FAST, inline="always")
def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))  # exp(-z) -> inf gives 0, as it should


@njit(cache=True, fastmath=FAST)
def _loss_at(Wy, by, a, kind, ti, tr, t, T, m, dWy, dby, da, logits):
    """The loss at step t (0 where the loss does not look at step t); writes its gradient
    on a_t into da (m, n) and adds to dWy, dby."""
    n_y, n = Wy.shape
    for i in range(m):
        for k in range(n):
            da[i, k] = 0.0
    if kind != XENT and t != T - 1:
        return 0.0
    total = 0.0
    for i in range(m):
        for y in range(n_y):
            s = by[y]
            for k in range(n):
                s += Wy[y, k] * a[i, k]
            logits[y] = s
        if kind == MSE_LAST:
            for y in range(n_y):
                err = logits[y] - tr[y, i]
                total += err * err
                g = 2.0 * err / (n_y * m)
                dby[y] += g
                for k in range(n):
                    dWy[y, k] += g * a[i, k]
                    da[i, k] += Wy[y, k] * g
            continue
        target = ti[t, i] if kind == XENT else ti[0, i]
        if target < 0:
            continue  # padding: no loss, no gradient
        top = logits[0]
        for y in range(1, n_y):
            top = max(top, logits[y])
        shifted = logits[target] - top  # log p = shifted logit - log(sum exp): finite
        norm = 0.0
        for y in range(n_y):
            logits[y] = math.exp(logits[y] - top)
            norm += logits[y]
        total -= shifted - math.log(norm)
        for y in range(n_y):
            g = logits[y] / norm
            if y == target:
                g -= 1.0
            g /= m
            dby[y] += g
            for k in range(n):
                dWy[y, k] += g * a[i, k]
                da[i, k] += Wy[y, k] * g
    if kind == MSE_LAST:
        return total / (n_y * m)
    return total / m


@njit(cache=True, fastmath=FAST, inline="always")
def _input_grads(W, dz, X, idx, onehot, t, n, dW, dX, need_dx):
    """dWx += dz x_t^T and, if asked, dX[t] = Wx^T dz (dense inputs)."""
    m, G = dz.shape
    n_x = W.shape[1] - n
    for i in range(m):
        if onehot:
            if idx[t, i] < 0:
                continue
            col = n + idx[t, i]
            for r in range(G):
                dW[r, col] += dz[i, r]
        else:
            for r in range(G):
                g = dz[i, r]
                row = dW[r]
                for k in range(n_x):
                    row[n + k] += g * X[t, i, k]
            if need_dx:
                for k in range(n_x):
                    dX[t, i, k] = 0.0
                for r in range(G):
                    g = dz[i, r]
                    w = W[r]
                    for k in range(n_x):
                        dX[t, i, k] += g * w[n + k]


@njit(cache=True, fastmath=FAST, inline="always")
def _recur_grads(W, dz, a_prev, dW, db, da_prev, rows):
    """dWa += dz a_prev^T, db += dz, da_prev = Wa^T dz (over gate rows < rows)."""
    m, G = dz.shape
    n = a_prev.shape[1]
    for i in range(m):
        for r in range(G):
            db[r] += dz[i, r]
        a = a_prev[i]
        d = da_prev[i]
        for k in range(n):
            d[k] = 0.0
        for r in range(rows):
            g = dz[i, r]
            w = W[r]
            row = dW[r]
            for k in range(n):
                row[k] += g * a[k]
                d[k] += g * w[k]


# ----------------------------------------------------------------------------- LSTM


@njit(cache=True, fastmath=FAST)
def lstm_loss_and_grads(
    W, b, Wy, by, X, idx, onehot, kind, ti, tr, a0, c0, need_dx,
    dW, db, dWy, dby, dX, a_last, c_last,
):  # fmt: skip
    """One LSTM training step; gate rows (o, i, f, g) as the NumPy engine's. Returns the
    loss; a_last, c_last: the final state (for the next chunk)."""
    T = idx.shape[0] if onehot else X.shape[0]
    m, n = a0.shape
    G = 4 * n
    WaT = np.ascontiguousarray(W[:, :n].T)
    WxT = np.ascontiguousarray(W[:, n:].T)
    A = np.empty((T + 1, m, n), W.dtype)
    C = np.empty((T + 1, m, n), W.dtype)
    S = np.empty((T, m, G), W.dtype)  # o, i, f, g (after their activations)
    TC = np.empty((T, m, n), W.dtype)  # tanh(c_t)
    A[0] = a0
    C[0] = c0
    for t in range(T):
        z = S[t]
        _project(W, b, X, idx, onehot, t, n, z, WxT)
        _recur(WaT, A[t], z, G)
        for i in range(m):
            for k in range(n):
                o = _sigmoid(z[i, k])
                ig = _sigmoid(z[i, n + k])
                f = _sigmoid(z[i, 2 * n + k])
                g = math.tanh(z[i, 3 * n + k])
                c = f * C[t, i, k] + ig * g
                tc = math.tanh(c)
                z[i, k], z[i, n + k], z[i, 2 * n + k], z[i, 3 * n + k] = o, ig, f, g
                C[t + 1, i, k] = c
                TC[t, i, k] = tc
                A[t + 1, i, k] = o * tc
    a_last[:] = A[T]
    c_last[:] = C[T]
    dW[:] = 0.0
    db[:] = 0.0
    dWy[:] = 0.0
    dby[:] = 0.0
    logits = np.empty(Wy.shape[0], W.dtype)
    da_loss = np.empty((m, n), W.dtype)
    da = np.zeros((m, n), W.dtype)  # carried into a_{t-1}
    dc = np.zeros((m, n), W.dtype)  # carried into c_{t-1}
    da_prev = np.empty((m, n), W.dtype)
    dz = np.empty((m, G), W.dtype)
    loss = 0.0
    for t in range(T - 1, -1, -1):
        loss += _loss_at(Wy, by, A[t + 1], kind, ti, tr, t, T, m, dWy, dby, da_loss, logits)
        s = S[t]
        for i in range(m):
            for k in range(n):
                o, ig, f, g = s[i, k], s[i, n + k], s[i, 2 * n + k], s[i, 3 * n + k]
                tc = TC[t, i, k]
                d_a = da[i, k] + da_loss[i, k]  # from the loss at t and from step t+1
                d_c = d_a * o * (1.0 - tc * tc) + dc[i, k]  # through a_t, and from c_{t+1}
                dz[i, k] = d_a * tc * o * (1.0 - o)
                dz[i, n + k] = d_c * g * ig * (1.0 - ig)
                dz[i, 2 * n + k] = d_c * C[t, i, k] * f * (1.0 - f)
                dz[i, 3 * n + k] = d_c * ig * (1.0 - g * g)
                dc[i, k] = d_c * f
        _input_grads(W, dz, X, idx, onehot, t, n, dW, dX, need_dx)
        _recur_grads(W, dz, A[t], dW, db, da_prev, G)
        da, da_prev = da_prev, da
    return loss, da


# ----------------------------------------------------------------------------- RNN


@njit(cache=True, fastmath=FAST)
def rnn_loss_and_grads(
    W, b, Wy, by, X, idx, onehot, kind, ti, tr, a0, c0, need_dx,
    dW, db, dWy, dby, dX, a_last, c_last,
):  # fmt: skip
    """One basic-RNN training step: a_t = tanh(Waa a_{t-1} + Wax x_t + ba)."""
    T = idx.shape[0] if onehot else X.shape[0]
    m, n = a0.shape
    WaT = np.ascontiguousarray(W[:, :n].T)
    WxT = np.ascontiguousarray(W[:, n:].T)
    A = np.empty((T + 1, m, n), W.dtype)
    A[0] = a0
    for t in range(T):
        z = A[t + 1]
        _project(W, b, X, idx, onehot, t, n, z, WxT)
        _recur(WaT, A[t], z, n)
        for i in range(m):
            for k in range(n):
                z[i, k] = math.tanh(z[i, k])
    a_last[:] = A[T]
    dW[:] = 0.0
    db[:] = 0.0
    dWy[:] = 0.0
    dby[:] = 0.0
    logits = np.empty(Wy.shape[0], W.dtype)
    da_loss = np.empty((m, n), W.dtype)
    da = np.zeros((m, n), W.dtype)
    da_prev = np.empty((m, n), W.dtype)
    dz = np.empty((m, n), W.dtype)
    loss = 0.0
    for t in range(T - 1, -1, -1):
        loss += _loss_at(Wy, by, A[t + 1], kind, ti, tr, t, T, m, dWy, dby, da_loss, logits)
        for i in range(m):
            for k in range(n):
                a = A[t + 1, i, k]
                dz[i, k] = (da[i, k] + da_loss[i, k]) * (1.0 - a * a)  # through tanh
        _input_grads(W, dz, X, idx, onehot, t, n, dW, dX, need_dx)
        _recur_grads(W, dz, A[t], dW, db, da_prev, n)
        da, da_prev = da_prev, da
    return loss, da


# ----------------------------------------------------------------------------- GRU


@njit(cache=True, fastmath=FAST)
def gru_loss_and_grads(
    W, b, Wy, by, X, idx, onehot, kind, ti, tr, a0, c0, need_dx,
    dW, db, dWy, dby, dX, a_last, c_last,
):  # fmt: skip
    """One GRU training step (the notebook's: gate rows z, r, h; h's recurrent columns
    act on r * a_{t-1}; a_t = z h + (1 - z) a_{t-1})."""
    T = idx.shape[0] if onehot else X.shape[0]
    m, n = a0.shape
    G = 3 * n
    WaT = np.ascontiguousarray(W[:, :n].T)
    WxT = np.ascontiguousarray(W[:, n:].T)
    A = np.empty((T + 1, m, n), W.dtype)
    S = np.empty((T, m, G), W.dtype)  # z, r, h (after their activations)
    RA = np.empty((T, m, n), W.dtype)  # r * a_{t-1}
    A[0] = a0
    for t in range(T):
        z = S[t]
        _project(W, b, X, idx, onehot, t, n, z, WxT)
        _recur(WaT, A[t], z, 2 * n)  # z and r rows act on a_{t-1}
        for i in range(m):
            for k in range(n):
                z[i, k] = _sigmoid(z[i, k])
                z[i, n + k] = _sigmoid(z[i, n + k])
                RA[t, i, k] = z[i, n + k] * A[t, i, k]
        for i in range(m):  # h rows act on r * a_{t-1}
            zi = z[i]
            for k in range(n):
                v = RA[t, i, k]
                w = WaT[k]
                for r in range(n):
                    zi[2 * n + r] += v * w[2 * n + r]
            for r in range(n):
                h = math.tanh(zi[2 * n + r])
                zi[2 * n + r] = h
                ap = A[t, i, r]
                A[t + 1, i, r] = ap + zi[r] * (h - ap)
    a_last[:] = A[T]
    dW[:] = 0.0
    db[:] = 0.0
    dWy[:] = 0.0
    dby[:] = 0.0
    logits = np.empty(Wy.shape[0], W.dtype)
    da_loss = np.empty((m, n), W.dtype)
    da = np.zeros((m, n), W.dtype)
    da_prev = np.empty((m, n), W.dtype)
    dz = np.empty((m, G), W.dtype)
    dra = np.empty((m, n), W.dtype)
    loss = 0.0
    for t in range(T - 1, -1, -1):
        loss += _loss_at(Wy, by, A[t + 1], kind, ti, tr, t, T, m, dWy, dby, da_loss, logits)
        s = S[t]
        for i in range(m):
            for k in range(n):
                zg, h, ap = s[i, k], s[i, 2 * n + k], A[t, i, k]
                d_a = da[i, k] + da_loss[i, k]
                dz[i, k] = d_a * (h - ap) * zg * (1.0 - zg)  # d pre_z
                dz[i, 2 * n + k] = d_a * zg * (1.0 - h * h)  # d pre_h
                da_prev[i, k] = d_a * (1.0 - zg)  # the direct path
        for i in range(m):  # through r * a_{t-1}: d(ra) = Wa_h^T d pre_h
            d = dra[i]
            for k in range(n):
                d[k] = 0.0
            for r in range(n):
                g = dz[i, 2 * n + r]
                w = W[2 * n + r]
                for k in range(n):
                    d[k] += g * w[k]
            for k in range(n):
                rg = s[i, n + k]
                dz[i, n + k] = d[k] * A[t, i, k] * rg * (1.0 - rg)  # d pre_r
                da_prev[i, k] += d[k] * rg
        for i in range(m):
            for r in range(G):
                db[r] += dz[i, r]
            a, ra, dp = A[t, i], RA[t, i], da_prev[i]
            for r in range(2 * n):  # z, r rows: [a_{t-1}; x_t], and into a_{t-1}
                g = dz[i, r]
                w = W[r]
                row = dW[r]
                for k in range(n):
                    row[k] += g * a[k]
                    dp[k] += g * w[k]
            for r in range(n):  # h rows: [r * a_{t-1}; x_t]
                g = dz[i, 2 * n + r]
                row = dW[2 * n + r]
                for k in range(n):
                    row[k] += g * ra[k]
        _input_grads(W, dz, X, idx, onehot, t, n, dW, dX, need_dx)
        da, da_prev = da_prev, da
    return loss, da
