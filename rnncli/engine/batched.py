"""Many small models of one shape at once: K members' parameters stacked on a leading
axis, one time loop for all of them.

A `Stack` holds K one-layer, one-direction rnn, lstm or gru models with the same sizes as
one array ``theta: (K, P)``, whose row k is member k's flat vector in the engine's
layout (`rnncli.engine.layout`), so ``members[k]`` is an ordinary `Packed` view and
everything that reads a model (evaluation, checkpoints, sampling) works on it as it is.

Per step the kernels do what the fused ones do (`rnncli.engine.lstm`, `rnncli.engine.rnn`)
on stacks: ``np.matmul`` of ``(K, G n_a, k)`` by ``(K, k, m)``, and the same
element-wise calls on ``(K, ., m)`` arrays; the time loop pays NumPy's call overhead
once for K members.

Members' batches may differ in length (reber strings, temporal-order): each member's
inputs are padded with zeros to the longest, T. A member's states up to its own length
are those of its own sequence (the loop is causal); its loss reads only them, so the
gradients on later states are exactly zero, the backward pass carries exact zeros
through the padded steps, and the weight gradients are summed over the member's own
steps only (one GEMM per member). Each member's numbers therefore depend on its own
batch only, never on the others in the stack: a member computes what it computes alone
or in any other group, bit for bit. Against a solo run (`engine.train_step`) the
difference is the matrix products' path (``np.matmul`` per stack item against
``np.dot``): BLAS may sum in another order, a last-bit difference that training then
carries along (see docs in `rnncli.training.batched`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncli import loss as losses
from rnncli.cells import CellSpec
from rnncli.engine import batched_gru
from rnncli.engine.layout import Packed, spec_of
from rnncli.workspace import Workspace

#: The cells the stacked kernels run (fused kernel modules by name).
KERNELS = ("rnn", "lstm", "gru")

#: Workspaces kept for stacked calls: members' batches and evaluation groups come in
#: many lengths, more than the engine's per-thread cache (`workspace.cached`) keeps.
MAX_WORKSPACES = 96
_workspaces: OrderedDict[Hashable, Workspace] = OrderedDict()


def _workspace(key: Hashable) -> Workspace:
    """The workspace for `key` (shapes and dtype), least recently used dropped first."""
    ws = _workspaces.get(key)
    if ws is None:
        if len(_workspaces) >= MAX_WORKSPACES:
            _workspaces.popitem(last=False)
        ws = _workspaces[key] = Workspace()
    else:
        _workspaces.move_to_end(key)
    return ws


def supports(cell: str | CellSpec) -> bool:
    """Whether `cell` has stacked kernels (a built-in rnn, lstm or gru)."""
    spec = spec_of(cell)
    return bool(spec.fused) and spec.kernel in KERNELS


class Stack:
    """K members' parameters (or gradients) of one model shape: ``theta (K, P)``.

    ``W (K, G n_a, n_a + n_x)``, ``b (K, G n_a, 1)``, ``Wy (K, n_y, n_a)``,
    ``by (K, n_y, 1)``: views of theta; ``members[k]``: member k's `Packed`."""

    def __init__(self, cell: str | CellSpec, n_x: int, n_a: int, n_y: int, theta: np.ndarray):
        spec = spec_of(cell)
        if not supports(spec):
            raise ValueError(f"no stacked kernels for cell {spec.name!r}")
        if theta.ndim != 2 or not theta.flags.c_contiguous:
            raise ValueError("theta must be a C-contiguous (K, P) array")
        self.spec, self.n_x, self.n_a, self.n_y, self.theta = spec, n_x, n_a, n_y, theta
        K = self.K = theta.shape[0]
        self.members = [Packed(spec, n_x, n_a, n_y, theta[k]) for k in range(K)]
        rows = spec.n_gates * n_a
        cut = rows * (n_a + n_x)
        wy = cut + rows
        self.W = theta[:, :cut].reshape(K, rows, n_a + n_x)
        self.b = theta[:, cut:wy].reshape(K, rows, 1)
        self.Wy = theta[:, wy : wy + n_y * n_a].reshape(K, n_y, n_a)
        self.by = theta[:, wy + n_y * n_a :].reshape(K, n_y, 1)

    @property
    def dtype(self) -> np.dtype:
        return self.theta.dtype

    def like(self, theta: np.ndarray) -> Stack:
        return Stack(self.spec, self.n_x, self.n_a, self.n_y, theta)


@dataclass
class Cache:
    X: np.ndarray  # (T, n_x, K, m)
    A: np.ndarray  # (T+1, n_a, K, m)
    Z: np.ndarray  # lstm, gru: (T, G n_a, K, m) gates; rnn: unused (A holds everything)
    Y: np.ndarray  # lstm: (T+1, 3 n_a, K, m): [tanh(c_t), g_t, c_{t-1}]; gru: r * a_{t-1}


# Layout: a step's rows come first and the members' columns after them, (rows, K, m),
# so that a gate block, ``Z[t][:3 n_a]``, is one contiguous array for all members (NumPy
# runs a ufunc on a block strided by member two to three times slower); a member's
# matrix is then a (rows, m) view with leading dimension K*m, which ``np.matmul`` hands
# to BLAS as it is: ``_members(Z[t])`` is (K, rows, m).


def _members(a: np.ndarray) -> np.ndarray:
    """(rows, K, m) -> the (K, rows, m) view of the same memory."""
    return a.transpose(1, 0, 2)


def stacked_dense(batches: Sequence[np.ndarray], n_x: int, dtype: np.dtype) -> np.ndarray:
    """Members' inputs, each (T_k, n_x, m) or (T_k, m) symbol indices (< 0: none), as one
    zero-padded (T, n_x, K, m) array, T = max T_k."""
    T = max(x.shape[0] for x in batches)
    m = batches[0].shape[-1]
    out = np.zeros((T, n_x, len(batches), m), dtype=dtype)
    for k, x in enumerate(batches):
        if x.ndim == 3:
            out[: x.shape[0], :, k] = x
        else:
            t, i = np.nonzero(x >= 0)
            out[t, x[t, i], k, i] = 1
    return out


def _lstm_forward(s: Stack, X: np.ndarray, ws: Workspace) -> Cache:
    T, n_x, K, m = X.shape
    n, dt = s.n_a, X.dtype
    k = n + n_x
    B = ws.get("B", (T + 1, k + 1, K, m), dt)  # step t's [a_{t-1}; x_t; 1]
    A = B[:, :n]
    np.copyto(B[:T, n:k], X)
    B[:T, k] = 1
    A[0] = 0
    Wb = ws.get("Wb", (K, 4 * n, k + 1), dt)
    np.copyto(Wb[:, :, :k], s.W)
    np.copyto(Wb[:, :, k:], s.b)
    Z = ws.get("Z", (T, 4 * n, K, m), dt)
    Y = ws.get("Y", (T + 1, 3 * n, K, m), dt)
    C = Y[:, 2 * n :]
    C[0] = 0
    prod = ws.get("prod", (2 * n, K, m), dt)
    ig, fc = prod[:n], prod[n:]
    one = ws.one(dt)

    def step(t: int) -> tuple[np.ndarray, ...]:
        z, y = Z[t], Y[t]
        return (_members(B[t]), _members(z), z[: 3 * n], z[3 * n :], y[n : 2 * n], z[n : 3 * n],
                y[n:], C[t + 1], y[:n], z[:n], A[t + 1])  # fmt: skip

    steps = ws.views("batched.lstm.forward", (Z, Y, B), lambda: [step(t) for t in range(T)])
    matmul, add, multiply, tanh = np.matmul, np.add, np.multiply, np.tanh
    with np.errstate(over="ignore"):
        for b_t, zm, s3, zg, g, i_f, g_c, c, tc, o, a in steps:
            matmul(Wb, b_t, zm)  # every member's Z_t = Wa a_{t-1} + Wx x_t + b
            np.negative(s3, s3)
            np.exp(s3, s3)
            add(s3, one, s3)
            np.reciprocal(s3, s3)
            tanh(zg, g)
            multiply(i_f, g_c, prod)
            add(ig, fc, c)
            tanh(c, tc)
            multiply(o, tc, a)
    return Cache(X, A, Z, Y)


#: The backward coefficients are computed this many bytes of Z, Y and K at a time, just
#: before the loop needs them (as `lstm.CHUNK_BYTES`: they stay in cache for the loop).
CHUNK_BYTES = 3 << 19


def _lstm_coefficients(c: Cache, ws: Workspace) -> tuple[np.ndarray, np.ndarray, Any]:
    """K: (T+1, 5, n_a, K, m) [Ko, Ki, Kf, Kg, f] per step and Kc (T, n_a, K, m), and
    ``fill(t0, t1)``, which computes them for steps t0..t1-1."""
    T, G, Km, m = c.Z.shape
    n = G // 4
    dt = c.Z.dtype
    one = ws.one(dt)
    Z4 = c.Z.reshape(T, 4, n, Km, m)
    Y4 = c.Y[:T].reshape(T, 3, n, Km, m)
    Kb = ws.get("K", (T + 1, 5, n, Km, m), dt)
    KcKg = ws.get("KcKg", (T, 2, n, Km, m), dt)
    Kb[T, 4] = 0

    def fill(t0: int, t1: int) -> None:
        Kt, S, TG, kckg = Kb[t0:t1], Z4[t0:t1, :3], Y4[t0:t1, :2], KcKg[t0:t1]
        np.subtract(one, S, Kt[:, :3])
        Kt[:, :3] *= S
        Kt[:, :3] *= Y4[t0:t1]
        np.multiply(TG, TG, kckg)
        np.subtract(one, kckg, kckg)
        kckg *= Z4[t0:t1, :2]
        np.copyto(Kt[:, 3], kckg[:, 1])
        np.copyto(Kt[:, 4], Z4[t0:t1, 2])

    return Kb, KcKg[:, 0], fill


def _lstm_backward(s: Stack, c: Cache, dA: np.ndarray, ws: Workspace) -> np.ndarray:
    """The pre-activation gradients, feature-major per member: (K, 4 n_a, T, m)."""
    T, n, K, m = dA.shape
    dt = dA.dtype
    Kb, Kc, fill = _lstm_coefficients(c, ws)
    per_chunk = max(1, CHUNK_BYTES // (12 * n * K * m * dt.itemsize))
    da = ws.get("da", (n, K, m), dt)
    dct = ws.get("dct", (1, n, K, m), dt)
    dc = dct[0]
    da.fill(0)
    WaT = ws.get("WaT", (K, n, 4 * n), dt)
    np.copyto(WaT, s.W[:, :, :n].transpose(0, 2, 1))

    def step(t: int) -> tuple[np.ndarray, ...]:
        kt = Kb[t]
        return dA[t], Kc[t], Kb[t + 1, 4], kt[0], kt[1:], _members(kt[:4].reshape(4 * n, K, m))

    steps = ws.views("batched.lstm.backward", (dA, Kb, Kc), lambda: [step(t) for t in range(T)])
    dam = _members(da)
    matmul, add, multiply = np.matmul, np.add, np.multiply
    for t1 in range(T, 0, -per_chunk):
        t0 = max(0, t1 - per_chunk)
        fill(t0, t1)
        for dA_t, kc, dc_next, k_o, k_ifgc, dz in reversed(steps[t0:t1]):
            add(da, dA_t, da)
            multiply(da, kc, dc)
            add(dc, dc_next, dc)
            multiply(da, k_o, k_o)
            multiply(k_ifgc, dct, k_ifgc)
            matmul(WaT, dz, dam)
    dZt = ws.get("dZt", (K, 4 * n, T, m), dt)
    np.copyto(dZt, Kb[:T, :4].reshape(T, 4 * n, K, m).transpose(2, 1, 0, 3))
    return dZt


def _rnn_forward(s: Stack, X: np.ndarray, ws: Workspace) -> Cache:
    T, _, K, m = X.shape
    n, dt = s.n_a, X.dtype
    A = ws.get("A", (T + 1, n, K, m), dt)
    A[0] = 0
    Z = A[1:]
    np.matmul(s.W[:, :, n:], X.transpose(0, 2, 1, 3), out=Z.transpose(0, 2, 1, 3))  # Wx x_t
    Z += s.b.transpose(1, 0, 2)
    rec = ws.get("rec", (n, K, m), dt)
    Wa = ws.get("Wa", (K, n, n), dt)
    np.copyto(Wa, s.W[:, :, :n])
    recm = _members(rec)
    matmul, add, tanh = np.matmul, np.add, np.tanh
    for t in range(T):
        matmul(Wa, _members(A[t]), recm)
        add(A[t + 1], rec, A[t + 1])
        tanh(A[t + 1], A[t + 1])
    return Cache(X, A, A, A)


def _rnn_backward(s: Stack, c: Cache, dA: np.ndarray, ws: Workspace) -> np.ndarray:
    T, n, K, m = dA.shape
    dt = dA.dtype
    dZ = ws.get("dZ", (T, n, K, m), dt)
    np.multiply(c.A[1:], c.A[1:], out=dZ)
    np.subtract(ws.one(dt), dZ, out=dZ)
    da = ws.get("da", (n, K, m), dt)
    da.fill(0)
    WaT = ws.get("WaT", (K, n, n), dt)
    np.copyto(WaT, s.W[:, :, :n].transpose(0, 2, 1))
    dam = _members(da)
    matmul, add, multiply = np.matmul, np.add, np.multiply
    for t in range(T - 1, -1, -1):
        add(da, dA[t], da)
        multiply(dZ[t], da, dZ[t])
        matmul(WaT, _members(dZ[t]), dam)
    dZt = ws.get("dZt", (K, n, T, m), dt)
    np.copyto(dZt, dZ.transpose(2, 1, 0, 3))
    return dZt


def forward(s: Stack, X: np.ndarray, ws: Workspace | None = None) -> Cache:
    """Run every member on its inputs X: (T, n_x, K, m) (dense, zero-padded), from zero
    states."""
    ws = Workspace() if ws is None else ws
    if s.spec.kernel == "gru":
        A, Z, RA = batched_gru.forward(s, X, ws)
        return Cache(X, A, Z, RA)
    return (_lstm_forward if s.spec.has_c else _rnn_forward)(s, X, ws)


def cell_step(s: Stack, state: Sequence[np.ndarray], X: np.ndarray) -> list[np.ndarray]:
    """One step of every member from its own states: `state` is [a] or [a, c], each
    (n_a, K, W), X: (n_x, K, W); the new [a] or [a, c], fresh. The operations of the
    kernels' time loop, in their order (a prefix tree's level at a time: the
    evaluation of `rnncli.training.batched_eval`)."""
    n, (n_x, K, W), dt = s.n_a, X.shape, s.dtype
    if s.spec.kernel == "gru":
        return [batched_gru.cell_step(s, state[0], X)]
    if not s.spec.has_c:
        Z = np.empty((n, K, W), dtype=dt)
        np.matmul(s.W[:, :, n:], _members(X), out=_members(Z))
        Z += s.b.transpose(1, 0, 2)
        rec = np.empty_like(Z)
        np.matmul(np.ascontiguousarray(s.W[:, :, :n]), _members(state[0]), out=_members(rec))
        Z += rec
        return [np.tanh(Z, out=Z)]
    k = n + n_x
    Bt = np.empty((k + 1, K, W), dtype=dt)
    Bt[:n], Bt[n:k], Bt[k] = state[0], X, 1
    Wb = np.concatenate([s.W, s.b], axis=2)
    Z = np.empty((4 * n, K, W), dtype=dt)
    np.matmul(Wb, _members(Bt), out=_members(Z))
    s3 = Z[: 3 * n]
    with np.errstate(over="ignore"):
        np.negative(s3, s3)
        np.exp(s3, s3)
        np.add(s3, np.ones((), dtype=dt), s3)
        np.reciprocal(s3, s3)
    g = np.tanh(Z[3 * n :])
    c = Z[n : 2 * n] * g
    c += Z[2 * n : 3 * n] * state[1]
    a = np.tanh(c)
    a *= Z[:n]
    return [a, c]


def logits(s: Stack, X: np.ndarray) -> np.ndarray:
    """Every member's output pre-activations at every step: (T, K, n_y, m)."""
    T, n_x, K, m = X.shape
    ws = _workspace(("eval", s.spec, n_x, s.n_a, K, T, m, s.dtype.str))
    A = forward(s, X, ws).A[1:]
    out: np.ndarray = np.matmul(s.Wy, A.transpose(0, 2, 1, 3))
    out += s.by
    return out


def _member_loss(
    p: Packed, g: Packed, loss: str, Hf: np.ndarray, a_last: np.ndarray, targets: np.ndarray,
    dH: np.ndarray,
) -> float:  # fmt: skip
    """One member's output layer and loss on its own steps (Hf: (n_a, T_k, m)); writes
    its dWy, dby and dH: (T_k, n_a, m) as the solo engine does. `a_last` is contiguous,
    as the solo engine's: NumPy picks its BLAS routine for a product by the operands'
    strides, and another routine may round differently."""
    if loss == "xent":
        n, T, m = Hf.shape
        ws = _workspace(("loss", n, p.n_y, T, m, Hf.dtype.str))
        return losses.xent_into(p.Wy, p.by, Hf, targets, g.Wy, g.by, dH, ws)
    d_last = np.empty_like(a_last)
    if loss == "mse_last":
        value = losses.mse_last_into(p.Wy, p.by, a_last, targets, g.Wy, g.by, d_last)
    else:
        value = losses.xent_last_into(p.Wy, p.by, a_last, targets, g.Wy, g.by, d_last)
    dH[...] = 0
    dH[-1] = d_last
    return value


def _weight_grads(s: Stack, g: Stack, dZt: np.ndarray, AX: np.ndarray, lengths: Sequence[int],
                  ws: Workspace) -> None:  # fmt: skip
    """dW and db of every member, summed over its own steps only (one GEMM each)."""
    K, G, _, m = dZt.shape
    k = AX.shape[1]
    for j, T_j in enumerate(lengths):
        dZ2 = dZt[j, :, :T_j].reshape(G, T_j * m)
        np.matmul(dZ2, AX[j, :, :T_j].reshape(k, T_j * m).T, g.W[j])
        np.dot(dZ2, ws.ones(T_j * m, dZ2.dtype), g.b[j, :, 0])


def train_step(
    s: Stack, X: np.ndarray, lengths: Sequence[int], targets: Sequence[np.ndarray], loss: str,
    g: Stack,
) -> list[float]:  # fmt: skip
    """Forward, every member's loss on its own steps, backward: the members' losses,
    with their gradients written into `g`. X: (T, n_x, K, m) from `stacked_dense`;
    `lengths[k]`: member k's own steps; `targets[k]` as the solo engine takes them."""
    T, n_x, K, m = X.shape
    n, dt = s.n_a, s.dtype
    ws = _workspace(("train", s.spec, n_x, n, s.n_y, K, T, m, dt.str))
    c = forward(s, X, ws)
    AX = ws.get("AX", (K, n + n_x, T + 1, m), dt)  # per member [a_0..a_T; x_1..x_T]
    np.copyto(AX[:, :n], c.A.transpose(2, 1, 0, 3))
    np.copyto(AX[:, n:, :T], X.transpose(2, 1, 0, 3))
    dH = ws.get("dH", (T, n, K, m), dt)
    values = []
    for j, T_j in enumerate(lengths):
        Hf = AX[j, :n, 1 : T_j + 1]
        values.append(
            _member_loss(s.members[j], g.members[j], loss, Hf, c.A[T_j, :, j].copy(),
                         targets[j], dH[:T_j, :, j])  # fmt: skip
        )
        dH[T_j:, :, j] = 0
    if s.spec.kernel == "gru":
        dZ = batched_gru.backward(s, c.A, c.Z, dH, ws)
        batched_gru.weight_grads(g, dZ, AX, c.Y, lengths, ws)
        return values
    dZt = (_lstm_backward if s.spec.has_c else _rnn_backward)(s, c, dH, ws)
    _weight_grads(s, g, dZt, AX, lengths, ws)
    return values
