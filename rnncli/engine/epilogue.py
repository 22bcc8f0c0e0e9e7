"""The part of every cell's backward pass after the time loop.

With the pre-activation gradients laid out feature-major, ``dZ2: (G*n_a, T*m)``
(column ``t*m + i`` is example i at step t), each sum over steps and examples is one
GEMM: dWa, dWx, db, and dx for all steps at once.
"""

from __future__ import annotations

import numpy as np

from rnncli.engine.layout import Packed
from rnncli.engine.workspace import Workspace, feature_major


def input_grads(
    p: Packed, ws: Workspace, dZ2: np.ndarray, X: np.ndarray, grads: Packed, need_dx: bool
) -> np.ndarray | None:
    """Write dWx and db into `grads`; return dX: (T, n_x, m) (a transposed view of a fresh
    (n_x, T, m) array) or None. X: (T, n_x, m) time-major inputs."""
    T, n_x, m = X.shape
    Xt = feature_major(ws, "Xt", X)
    np.matmul(dZ2, Xt.reshape(n_x, T * m).T, out=grads.Wx)  # sum_t dz_t x_t^T
    np.dot(dZ2, ws.ones(T * m, dZ2.dtype), out=grads.b[:, 0])  # sum_t dz_t over examples
    if not need_dx:
        return None
    return np.dot(p.Wx.T, dZ2).reshape(n_x, T, m).transpose(1, 0, 2)  # dx_t = Wx^T dz_t


def recurrent_grad(dZ2: np.ndarray, At: np.ndarray, out: np.ndarray) -> None:
    """out = sum_t dz_t a_{t-1}^T, with At: (n_a, T+1, m) feature-major a_0..a_T."""
    n, T1, m = At.shape
    np.matmul(dZ2, At[:, : T1 - 1].reshape(n, (T1 - 1) * m).T, out=out)
