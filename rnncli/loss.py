"""Output layer and sequence losses, on time-major hidden states.

Two losses, both on the notebook's output layer ``Wy (n_y, n_a)``, ``by (n_y, 1)``
(``Wya`` for the basic RNN):

``xent``      ŷ_t = softmax(Wy a_t + by) at every step; integer targets (T, m), and a
              negative target marks padding that is ignored. The loss is the
              cross-entropy summed over time steps and averaged over the batch:
              L = -(1/m) Σ_t Σ_i log ŷ_t[target_ti, i].
``mse_last``  a linear read-out at the last step only, ŷ = Wy a_T + by: (n_y, m),
              against real targets (n_y, m): L = mean((ŷ - y)²) over all n_y·m entries.

Each function returns the loss, dWy, dby and the gradient on the hidden states.
"""

from __future__ import annotations

import numpy as np

LOSSES = ("xent", "mse_last")


def xent(
    Wy: np.ndarray, by: np.ndarray, H: np.ndarray, targets: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Softmax cross-entropy at every step.

    H: (T, n_a, m) hidden states a_1..a_T; targets: (T, m) ints, < 0 = ignore.
    Returns (loss, dWy (n_y, n_a), dby (n_y, 1), dH (T, n_a, m)).
    """
    T, _, m = H.shape
    logits = np.matmul(Wy, H)  # (T, n_y, m)
    logits += by
    logits -= logits.max(axis=1, keepdims=True)  # stable: the largest logit is 0
    P = np.exp(logits)
    total = P.sum(axis=1, keepdims=True)
    P /= total  # softmax over the classes (axis 1 here, axis 0 per step)
    valid = targets >= 0
    tt, ii = np.nonzero(valid)
    cls = targets[tt, ii]
    # log ŷ[target] = shifted logit - log(sum exp): finite even when ŷ underflows
    logp = logits[tt, cls, ii] - np.log(total[tt, 0, ii])
    loss = -float(logp.sum()) / m
    dlogits = P  # dL/dlogits = (ŷ - onehot) / m on valid steps, 0 on padding
    dlogits[tt, cls, ii] -= 1
    if not valid.all():
        dlogits *= valid[:, None, :]
    dlogits /= m
    dWy = np.tensordot(dlogits, H, axes=([0, 2], [0, 2]))  # Σ_t dlogits_t a_t^T
    dby = dlogits.sum(axis=(0, 2))[:, None]
    dH = np.matmul(Wy.T, dlogits)
    return loss, dWy, dby, dH


def mse_last(
    Wy: np.ndarray, by: np.ndarray, H: np.ndarray, targets: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Mean squared error of a linear read-out at the last step.

    H: (T, n_a, m); targets: (n_y, m). Returns (loss, dWy, dby, dH (T, n_a, m)),
    where dH is zero except at the last step.
    """
    a_last = H[-1]
    err = np.matmul(Wy, a_last)
    err += by
    err -= targets  # ŷ - y: (n_y, m)
    loss = float(np.mean(err**2))
    dy = err * (2 / err.size)  # dL/dŷ
    dWy = dy @ a_last.T
    dby = dy.sum(axis=1, keepdims=True)
    dH = np.zeros_like(H)
    dH[-1] = Wy.T @ dy
    return loss, dWy, dby, dH


def logits(Wy: np.ndarray, by: np.ndarray, H: np.ndarray) -> np.ndarray:
    """Output pre-activations Wy a_t + by for every step: (T, n_y, m)."""
    out = np.matmul(Wy, H)
    out += by
    return out


def check_targets(loss: str, targets: np.ndarray, n_y: int, m: int, T_x: int) -> np.ndarray:
    """Validate targets for `loss`; raise ValueError naming the expected shape."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}: expected one of {', '.join(LOSSES)}")
    targets = np.asarray(targets)
    if loss == "xent":
        if targets.shape != (m, T_x):
            raise ValueError(f"targets has shape {targets.shape}, expected (m, T_x) = {(m, T_x)}")
        if not np.issubdtype(targets.dtype, np.integer):
            raise ValueError(f"targets must be integer class indices, got dtype {targets.dtype}")
        if targets.size and targets.max() >= n_y:
            raise ValueError(f"targets has class {targets.max()} but n_y = {n_y}")
    elif targets.shape != (n_y, m):
        raise ValueError(f"targets has shape {targets.shape}, expected (n_y, m) = {(n_y, m)}")
    return targets
