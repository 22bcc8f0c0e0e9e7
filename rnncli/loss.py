"""Output layer and sequence losses, on time-major hidden states.

Three losses, all on the notebook's output layer ``Wy (n_y, n_a)``, ``by (n_y, 1)``
(``Wya`` for the basic RNN):

``xent``      ŷ_t = softmax(Wy a_t + by) at every step; integer targets (T, m), and a
              negative target marks padding that is ignored. The loss is the
              cross-entropy summed over time steps and averaged over the batch:
              L = -(1/m) Σ_t Σ_i log ŷ_t[target_ti, i].
``mse_last``  a linear read-out at the last step only, ŷ = Wy a_T + by: (n_y, m),
              against real targets (n_y, m): L = mean((ŷ - y)²) over all n_y·m entries.
``xent_last`` a softmax classifier at the last step only, ŷ = softmax(Wy a_T + by), on
              integer targets (m,) (negative = ignored): L = -(1/m) Σ_i log ŷ[target_i, i].

Each function returns the loss, dWy, dby and the gradient on the hidden states (the
``*_into`` forms of the last-step losses: on a_T only).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnncli.engine import blas
from rnncli.workspace import Workspace

LOSSES = ("xent", "mse_last", "xent_last")
LAST_STEP = ("mse_last", "xent_last")  # losses that read only a_T


def xent(
    Wy: np.ndarray, by: np.ndarray, H: np.ndarray, targets: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Softmax cross-entropy at every step.

    H: (T, n_a, m) hidden states a_1..a_T; targets: (T, m) ints, < 0 = ignore.
    Returns (loss, dWy (n_y, n_a), dby (n_y, 1), dH (T, n_a, m)).
    """
    T, n_a, m = H.shape
    dWy = np.empty_like(Wy, dtype=H.dtype)
    dby = np.empty((Wy.shape[0], 1), dtype=H.dtype)
    dH = np.empty_like(H)
    value = xent_into(Wy, by, H.transpose(1, 0, 2), targets, dWy, dby, dH)
    return value, dWy, dby, dH


def xent_into(
    Wy: np.ndarray,
    by: np.ndarray,
    Hf: np.ndarray,
    targets: np.ndarray,
    dWy: np.ndarray,
    dby: np.ndarray,
    dH: np.ndarray,
    ws: Workspace | None = None,
) -> float:
    """`xent` writing its gradients into dWy (n_y, n_a), dby (n_y, 1), dH (T, n_a, m).

    Hf: the hidden states feature-major, (n_a, T, m); the engine passes a view that
    reshapes to an (n_a, T*m) matrix without a copy, so the output layer and its
    gradients are one GEMM each. Temporaries come from `ws`. Returns the loss.
    """
    ws = Workspace() if ws is None else ws
    n_a, T, m = Hf.shape
    n_y, N = Wy.shape[0], T * m
    dt = dH.dtype
    H2 = Hf.reshape(n_a, N)  # column t*m + i is example i at step t
    tgt = targets.reshape(N)
    L = ws.get("logits", (n_y, N), dt)
    gemm = blas.gemm_for(dt)
    gemm(Wy, H2, L)
    L += by
    top = ws.get("colmax", (N,), dt)
    np.maximum.reduce(L, axis=0, out=top)  # (the ufunc methods skip np.max's wrapper)
    L -= top  # stable: the largest logit of each column is 0
    # The targets' entries of the (n_y, N) matrix as flat indices target * N + column:
    # take / subtract.at on them cost half of 2-d fancy indexing at small sizes.
    if np.minimum.reduce(tgt) >= 0:
        valid = None
        idx = ws.get("target_idx", (N,), np.dtype(np.intp))
        np.multiply(tgt, N, idx, dtype=np.intp)  # (in intp: int8 targets would wrap)
        idx += ws.constant(("arange", N), lambda: np.arange(N))
    else:
        valid = tgt >= 0
        cols = np.flatnonzero(valid)
        idx = tgt[cols].astype(np.intp) * N + cols
    logp = L.reshape(-1).take(idx)  # the targets' shifted logits
    P = np.exp(L, out=L)  # the logits are spent: the probabilities take their place
    total = np.dot(ws.ones(n_y, dt), P, out=top)  # sum over the classes
    # log ŷ[target] = shifted logit - log(sum exp): finite even when ŷ underflows
    logp -= np.log(total if valid is None else total[cols])
    value = 0.0 - float(np.add.reduce(logp)) / m  # (0.0 - : no -0.0 when all is padding)
    P /= total  # softmax
    dL = P  # dL/dlogits = (ŷ - onehot) / m on valid steps, 0 on padding
    np.subtract.at(dL.reshape(-1), idx, ws.one(dt))  # (the indices are distinct)
    if valid is not None:
        dL *= valid
    dL /= m
    gemm(dL, H2.T, dWy)  # sum_t dlogits_t a_t^T
    np.dot(dL, ws.ones(N, dt), out=dby[:, 0])  # sum_t dlogits_t over examples
    np.matmul(Wy.T, dL.reshape(n_y, T, m).transpose(1, 0, 2), out=dH)  # Wy^T dlogits_t
    return value


def mse_last(
    Wy: np.ndarray, by: np.ndarray, H: np.ndarray, targets: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Mean squared error of a linear read-out at the last step.

    H: (T, n_a, m); targets: (n_y, m). Returns (loss, dWy, dby, dH (T, n_a, m)),
    where dH is zero except at the last step.
    """
    return _last_step(mse_last_into, Wy, by, H, targets)


def xent_last(
    Wy: np.ndarray, by: np.ndarray, H: np.ndarray, targets: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Softmax cross-entropy at the last step. H: (T, n_a, m); targets: (m,) ints, < 0 =
    ignore. Returns (loss, dWy, dby, dH (T, n_a, m)), dH zero except at the last step."""
    return _last_step(xent_last_into, Wy, by, H, targets)


def _last_step(
    into: Any, Wy: np.ndarray, by: np.ndarray, H: np.ndarray, targets: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    dWy = np.empty_like(Wy, dtype=H.dtype)
    dby = np.empty((Wy.shape[0], 1), dtype=H.dtype)
    dH = np.zeros_like(H)
    value = into(Wy, by, H[-1], targets, dWy, dby, dH[-1])
    return value, dWy, dby, dH


def mse_last_into(
    Wy: np.ndarray,
    by: np.ndarray,
    a_last: np.ndarray,
    targets: np.ndarray,
    dWy: np.ndarray,
    dby: np.ndarray,
    da_last: np.ndarray,
) -> float:
    """`mse_last` on a_last = a_T: (n_a, m), writing dWy, dby and da_last (n_a, m)."""
    err = np.matmul(Wy, a_last)
    err += by
    err -= targets  # ŷ - y: (n_y, m)
    value = float(np.mean(err**2))
    err *= 2 / err.size  # dL/dŷ
    np.matmul(err, a_last.T, out=dWy)
    np.sum(err, axis=1, out=dby[:, 0])
    np.matmul(Wy.T, err, out=da_last)
    return value


def xent_last_into(
    Wy: np.ndarray,
    by: np.ndarray,
    a_last: np.ndarray,
    targets: np.ndarray,
    dWy: np.ndarray,
    dby: np.ndarray,
    da_last: np.ndarray,
) -> float:
    """`xent_last` on a_last = a_T: (n_a, m), writing dWy, dby and da_last (n_a, m)."""
    m = a_last.shape[1]
    L = np.matmul(Wy, a_last)
    L += by
    L -= L.max(axis=0)  # stable: the largest logit of each column is 0
    tgt = np.asarray(targets).reshape(m).astype(np.intp)
    cols = np.flatnonzero(tgt >= 0)
    logp = L[tgt[cols], cols]  # shifted logits of the targets
    P = np.exp(L)
    total = P.sum(axis=0)
    value = 0.0 - float(np.sum(logp - np.log(total[cols]))) / m
    P /= total  # softmax
    P[tgt[cols], cols] -= 1  # dL/dlogits = (ŷ - onehot) / m on valid columns, 0 elsewhere
    P[:, tgt < 0] = 0
    P /= m
    np.matmul(P, a_last.T, out=dWy)
    np.sum(P, axis=1, out=dby[:, 0])
    np.matmul(Wy.T, P, out=da_last)
    return value


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
    if loss in ("xent", "xent_last"):
        want = (m, T_x) if loss == "xent" else (m,)
        name = "(m, T_x)" if loss == "xent" else "(m,)"
        if targets.shape != want:
            raise ValueError(f"targets has shape {targets.shape}, expected {name} = {want}")
        if targets.dtype.kind not in "iu":
            raise ValueError(f"targets must be integer class indices, got dtype {targets.dtype}")
        top = np.maximum.reduce(targets, axis=None) if targets.size else -1
        if top >= n_y:
            raise ValueError(f"targets has class {top} but n_y = {n_y}")
    elif targets.shape != (n_y, m):
        raise ValueError(f"targets has shape {targets.shape}, expected (n_y, m) = {(n_y, m)}")
    return targets
