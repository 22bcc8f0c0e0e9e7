"""The part of every cell's backward pass after the time loop.

With the pre-activation gradients laid out feature-major, ``dZ2: (G*n_a, T*m)``
(column ``t*m + i`` is example i at step t), each sum over steps and examples is one
GEMM: ``dW = sum_t dz_t [a_{t-1}; x_t]^T`` on the stacked inputs from `stacked_inputs`
(the GRU splits it, see `rnncli.engine.gru`), ``db``, and dx for all steps at once.
"""

from __future__ import annotations

import numpy as np

from rnncli.engine import blas
from rnncli.engine.fastcall import dot
from rnncli.engine.layout import Layer
from rnncli.workspace import Workspace


def stacked_inputs(ws: Workspace, A: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The GEMM inputs of every step, feature-major: AX: (n_a + n_x, T+1, m) with
    ``AX[:n_a] = a_0..a_T`` and ``AX[n_a:, :T] = x_1..x_T`` (time-major A: (T+1, n_a, m),
    X: (T, n_x, m)). Column block t of ``AX[:, :T]`` is step t's ``[a_{t-1}; x_t]``, and
    ``AX[:n_a, 1:]`` the hidden states a_1..a_T for the output layer.
    """
    T1, n, m = A.shape
    n_x = X.shape[1]
    AX = ws.get("AX", (n + n_x, T1, m), A.dtype)
    np.copyto(AX[:n], A.transpose(1, 0, 2))
    np.copyto(AX[n:, : T1 - 1], X.transpose(1, 0, 2))
    return AX


def inputs_matrix(AX: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
    """AX[rows, :T] as a (k, T*m) matrix view: column t*m + i is example i at step t."""
    k, T1, m = AX[rows].shape
    return AX[rows, : T1 - 1].reshape(k, (T1 - 1) * m)


def weight_grads(
    p: Layer, ws: Workspace, dZ2: np.ndarray, AX: np.ndarray, grads: Layer, need_dx: bool
) -> np.ndarray | None:
    """Write dW and db into `grads`; return dX: (T, n_x, m) (a transposed view of a fresh
    (n_x, T, m) array) or None."""
    blas.gemm_for(dZ2.dtype)(dZ2, inputs_matrix(AX).T, grads.W)  # sum_t dz_t [a_{t-1}; x_t]^T
    return bias_and_input_grads(p, ws, dZ2, AX, grads, need_dx)


def bias_and_input_grads(
    p: Layer, ws: Workspace, dZ2: np.ndarray, AX: np.ndarray, grads: Layer, need_dx: bool
) -> np.ndarray | None:
    """Write db into `grads`; return dX as `weight_grads` does."""
    _, T1, m = AX.shape
    dot(dZ2, ws.ones(dZ2.shape[1], dZ2.dtype), grads.b[:, 0])  # sum_t dz_t over examples
    if not need_dx:
        return None
    dx = np.empty((p.n_x, dZ2.shape[1]), dZ2.dtype)
    blas.gemm_for(dZ2.dtype)(p.Wx.T, dZ2, dx)  # dx_t = Wx^T dz_t (Wx: a strided view)
    return dx.reshape(p.n_x, T1 - 1, m).transpose(1, 0, 2)
