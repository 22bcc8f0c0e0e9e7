"""`loss_and_grads` written literally on top of the notebook's functions.

This is the slow, readable twin of `rnncli.engine.loss_and_grads`: the notebook's
``*_forward`` already computes ``softmax(Wy a_t + by)`` at every step, so the
cross-entropy only has to read it; its gradient goes back through the output layer
step by step and then through the notebook's ``*_backward``. Tests check the engine
against it, and ``rnncli bench`` times the engine against it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rnncli import notebook as nb


def reference_loss_and_grads(
    cell: str,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    targets: np.ndarray,
    a0: np.ndarray | None = None,
    loss: str = "xent",
) -> tuple[float, dict[str, np.ndarray]]:
    """Same contract as `rnncli.loss_and_grads`, computed the notebook's way."""
    parameters = dict(params)
    n_x, m, T_x = x.shape
    Wy = parameters["Wya" if cell == "rnn" else "Wy"]
    n_y, n_a = Wy.shape
    if a0 is None:
        a0 = np.zeros((n_a, m), dtype=x.dtype)

    if cell == "rnn":
        a, y, caches = nb.rnn_forward(x, a0, parameters)
    elif cell == "lstm":
        a, y, c, caches = nb.lstm_forward(x, a0, parameters)
    else:
        a, y, caches = nb.gru_forward(x, a0, parameters)

    da = np.zeros_like(a)
    dWy = np.zeros_like(Wy)
    dby = np.zeros_like(parameters["by"])
    if loss == "xent":
        total = 0.0
        for t in range(T_x):
            dyt = y[:, :, t].copy()  # dL/dz_t = (ŷ_t - onehot_t) / m
            for i in range(m):
                k = targets[i, t]
                if k < 0:  # padding: no loss, no gradient
                    dyt[:, i] = 0
                    continue
                total -= np.log(y[k, i, t])
                dyt[k, i] -= 1
            dyt /= m
            dWy += np.dot(dyt, a[:, :, t].T)
            dby += np.sum(dyt, axis=1, keepdims=True)
            da[:, :, t] = np.dot(Wy.T, dyt)
        value = total / m
    elif loss == "xent_last":
        y_last = y[:, :, -1]  # the softmax at the last step only
        dy = y_last.copy()
        total = 0.0
        for i in range(m):
            k = targets[i]
            if k < 0:  # no target: no loss, no gradient
                dy[:, i] = 0
                continue
            total -= np.log(y_last[k, i])
            dy[k, i] -= 1
        dy /= m
        value = total / m
        dWy = np.dot(dy, a[:, :, -1].T)
        dby = np.sum(dy, axis=1, keepdims=True)
        da[:, :, -1] = np.dot(Wy.T, dy)
    else:
        y_last = np.dot(Wy, a[:, :, -1]) + parameters["by"]  # linear read-out at T_x
        err = y_last - targets
        value = float(np.mean(err**2))
        dy = 2 * err / err.size
        dWy = np.dot(dy, a[:, :, -1].T)
        dby = np.sum(dy, axis=1, keepdims=True)
        da[:, :, -1] = np.dot(Wy.T, dy)

    backward = {"rnn": nb.rnn_backward, "lstm": nb.lstm_backward, "gru": nb.gru_backward}[cell]
    grads = dict(backward(da, caches))
    grads["dWya" if cell == "rnn" else "dWy"] = dWy
    grads["dby"] = dby
    return float(value), grads
