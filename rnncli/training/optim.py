"""Optimisers on the engine's flat parameter vector, with state that checkpoints.

Each optimiser keeps its state as named float arrays of the parameter vector's size
(``state``), so a checkpoint is a plain ``.npz`` and resuming is exact. The update of
the whole model is a handful of vectorised calls.

    sgd      v = μ v - lr g;                 θ += v                  (momentum μ)
    adagrad  s += g²;                        θ -= lr g / (√s + ε)     (as min-char-rnn,
                                                                       which adds ε inside)
    adam     m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²
             θ -= lr m̂ / (√v̂ + ε),  m̂ = m / (1-β1^t),  v̂ = v / (1-β2^t)
             (β1 = 0.9, β2 = 0.999; ε = ``train.eps``, default 1e-8, as PyTorch)

Clipping (``train.clip_mode``) before the update: ``norm`` scales the whole gradient so
that its 2-norm is at most ``train.clip`` (PyTorch's ``clip_grad_norm_``); ``value``
clips every entry to [-clip, clip] (min-char-rnn's ``np.clip(g, -5, 5)``). clip = 0: off.
"""

from __future__ import annotations

import math

import numpy as np

OPTIMIZERS = ("sgd", "adagrad", "adam")
_STATE = {"sgd": ("velocity",), "adagrad": ("sum_sq",), "adam": ("m", "v")}


class Optimizer:
    def __init__(
        self, kind: str, size: int, dtype: np.dtype, momentum: float = 0.9, eps: float = 1e-8
    ) -> None:
        if kind not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {kind!r}: expected one of {OPTIMIZERS}")
        self.kind = kind
        self.momentum = momentum
        self.eps = eps
        self.t = 0  # updates taken
        self.state = {name: np.zeros(size, dtype=dtype) for name in _STATE[kind]}
        self._tmp = np.zeros(size, dtype=dtype)

    def step(self, theta: np.ndarray, g: np.ndarray, lr: float) -> None:
        """Update `theta` in place from the gradient `g`."""
        self.t += 1
        tmp = self._tmp
        if self.kind == "sgd":
            v = self.state["velocity"]
            v *= self.momentum
            v -= lr * g
            theta += v
        elif self.kind == "adagrad":
            s = self.state["sum_sq"]
            s += g * g
            np.sqrt(s, out=tmp)
            tmp += self.eps
            np.divide(g, tmp, out=tmp)
            theta -= lr * tmp
        else:
            b1, b2, eps = 0.9, 0.999, self.eps
            m, v = self.state["m"], self.state["v"]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            step = lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)  # bias corrections
            np.sqrt(v, out=tmp)
            tmp += eps * math.sqrt(1 - b2**self.t)
            np.divide(m, tmp, out=tmp)
            theta -= step * tmp


def state_names(kind: str) -> tuple[str, ...]:
    """The named arrays an optimiser keeps (what a checkpoint must hold)."""
    return _STATE[kind]


def clip_global_norm(g: np.ndarray, max_norm: float) -> float:
    """Scale `g` in place so its 2-norm is at most `max_norm` (0 = off). Returns the norm."""
    norm = float(np.sqrt(np.dot(g, g)))
    if max_norm > 0 and norm > max_norm:
        g *= max_norm / norm
    return norm


def clip(g: np.ndarray, limit: float, mode: str) -> None:
    """Clip the gradient in place: ``norm`` (global 2-norm) or ``value`` (each entry)."""
    if limit <= 0:
        return
    if mode == "value":
        np.clip(g, -limit, limit, out=g)
    else:
        clip_global_norm(g, limit)


def learning_rate(base: float, step: int, schedule: str, decay: float, every: int) -> float:
    """lr at update `step` (0-based): constant, or step decay by `decay` every `every` steps."""
    if schedule == "constant":
        return base
    return base * decay ** (step // every)
