"""Inputs in, weight gradients out: the parts of every cell's passes outside the time loop.

`project` is the input projection Wx x_t of every step at once. With the pre-activation
gradients laid out feature-major, ``dZ2: (G*n_a, T*m)`` (column ``t*m + i`` is example i
at step t), each sum over steps and examples is one GEMM: ``dW = sum_t dz_t [a_{t-1};
x_t]^T`` on the stacked inputs from `stacked_inputs` (the GRU splits it, see
`rnncli.engine.gru`), ``db``, and dx for all steps at once.

Inputs come dense, ``X: (T, n_x, m)``, or as symbol indices, ``X: (T, m)`` ints, for
one-hot inputs (reber, text, the symbol tasks): then Wx x_t is a column of Wx (a gather)
and the input columns of dW are sums of dz over the steps that read each symbol (a
scatter-add), as ``nn.Embedding`` does; an index < 0 is no input at all (padding).
"""

from __future__ import annotations

import numpy as np

from rnncli.engine.fastcall import dot
from rnncli.engine.layout import Layer
from rnncli.engine.workspace import Workspace


def is_index(X: np.ndarray) -> bool:
    """Symbol indices (T, m) rather than dense inputs (T, n_x, m)."""
    return X.ndim == 2


def project(p: Layer, X: np.ndarray, Z: np.ndarray) -> None:
    """Z[t] = Wx x_t for every step; Z: (T, G*n_a, m)."""
    if not is_index(X):
        np.matmul(p.Wx, X, Z)
        return
    np.copyto(Z, p.Wx.take(np.maximum(X, 0), axis=1).transpose(1, 0, 2))
    if np.minimum.reduce(X, axis=None) < 0:  # padding: no input at all
        Z *= (X >= 0)[:, None, :]


def stacked_inputs(ws: Workspace, A: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The GEMM inputs of every step, feature-major: AX: (n_a + n_x, T+1, m) with
    ``AX[:n_a] = a_0..a_T`` and ``AX[n_a:, :T] = x_1..x_T`` (time-major A: (T+1, n_a, m),
    X: (T, n_x, m)). Column block t of ``AX[:, :T]`` is step t's ``[a_{t-1}; x_t]``, and
    ``AX[:n_a, 1:]`` the hidden states a_1..a_T for the output layer. With index inputs
    AX holds only the hidden states: (n_a, T+1, m).
    """
    T1, n, m = A.shape
    n_x = 0 if is_index(X) else X.shape[1]
    AX = ws.get("AX", (n + n_x, T1, m), A.dtype)
    np.copyto(AX[:n], A.transpose(1, 0, 2))
    if n_x:
        np.copyto(AX[n:, : T1 - 1], X.transpose(1, 0, 2))
    return AX


def scatter_columns(dZ2: np.ndarray, X: np.ndarray, out: np.ndarray) -> None:
    """out[:, v] = sum of the columns of dZ2 whose step read symbol v (the input columns
    of dW for index inputs); out: (G*n_a, n_x), X: (T, m) indices, < 0 skipped."""
    flat = X.reshape(-1)
    order = np.argsort(flat, kind="stable")
    symbols = flat[order]
    keep = symbols >= 0
    order, symbols = order[keep], symbols[keep]
    out[...] = 0
    if symbols.size:
        starts = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1]])
        out[:, symbols[starts]] = np.add.reduceat(dZ2[:, order], starts, axis=1)


def inputs_matrix(AX: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
    """AX[rows, :T] as a (k, T*m) matrix view: column t*m + i is example i at step t."""
    k, T1, m = AX[rows].shape
    return AX[rows, : T1 - 1].reshape(k, (T1 - 1) * m)


def weight_grads(
    p: Layer, ws: Workspace, dZ2: np.ndarray, AX: np.ndarray, grads: Layer, need_dx: bool,
    X: np.ndarray | None = None,
) -> np.ndarray | None:  # fmt: skip
    """Write dW and db into `grads`; return dX: (T, n_x, m) (a transposed view of a fresh
    (n_x, T, m) array) or None. `X`: the inputs when they are indices (else in AX)."""
    if X is not None and is_index(X):
        np.matmul(dZ2, inputs_matrix(AX).T, grads.Wa)  # sum_t dz_t a_{t-1}^T
        scatter_columns(dZ2, X, grads.Wx)
    else:
        np.matmul(dZ2, inputs_matrix(AX).T, grads.W)  # sum_t dz_t [a_{t-1}; x_t]^T
    return bias_and_input_grads(p, ws, dZ2, AX, grads, need_dx)


def bias_and_input_grads(
    p: Layer, ws: Workspace, dZ2: np.ndarray, AX: np.ndarray, grads: Layer, need_dx: bool
) -> np.ndarray | None:
    """Write db into `grads`; return dX as `weight_grads` does."""
    _, T1, m = AX.shape
    dot(dZ2, ws.ones(dZ2.shape[1], dZ2.dtype), grads.b[:, 0])  # sum_t dz_t over examples
    if not need_dx:
        return None
    if AX.shape[0] == p.n_a and p.n_x:  # index inputs: there is no dx to give
        raise ValueError("dx of index inputs is not defined: pass dense inputs for dx")
    dx = np.matmul(p.Wx.T, dZ2)  # dx_t = Wx^T dz_t (matmul: Wx is a strided view)
    return dx.reshape(p.n_x, T1 - 1, m).transpose(1, 0, 2)
