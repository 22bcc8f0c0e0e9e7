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

from rnncli import cells


def reference_loss_and_grads(
    cell: str,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    targets: np.ndarray,
    a0: np.ndarray | None = None,
    loss: str = "xent",
) -> tuple[float, dict[str, np.ndarray]]:
    """Same contract as `rnncli.loss_and_grads`, computed the notebook's way."""
    spec = cells.get(cell)
    parameters = dict(params)
    Wy = parameters[spec.output]
    if a0 is None:
        a0 = np.zeros((Wy.shape[1], x.shape[1]), dtype=x.dtype)

    a, y, *_, caches = spec.notebook_function("forward")(x, a0, parameters)
    value, dWy, dby, da = _output_layer(loss, a, y, Wy, parameters["by"], targets)
    grads = dict(spec.notebook_function("backward")(da, caches))
    grads["d" + spec.output] = dWy
    grads["dby"] = dby
    return value, grads


def _output_layer(
    loss: str, a: np.ndarray, y: np.ndarray, Wy: np.ndarray, by: np.ndarray,
    targets: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The loss on the notebook forward's a and y, step by step: (loss, dWy, dby, da)."""
    m, T_x = a.shape[1:]
    da = np.zeros_like(a)
    dWy = np.zeros_like(Wy)
    dby = np.zeros_like(by)
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
        y_last = np.dot(Wy, a[:, :, -1]) + by  # linear read-out at T_x
        err = y_last - targets
        value = float(np.mean(err**2))
        dy = 2 * err / err.size
        dWy = np.dot(dy, a[:, :, -1].T)
        dby = np.sum(dy, axis=1, keepdims=True)
        da[:, :, -1] = np.dot(Wy.T, dy)

    return float(value), dWy, dby, da
