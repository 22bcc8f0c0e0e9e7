"""The optimisers of `rnncli.training.optim` on K members' stacked parameter vectors.

State arrays are (K, P), one row per member; a member's learning rate, momentum, ε and
update count are its own (columns of per-member scalars in the parameters' dtype, as
NumPy converts a Python float for one member's update). Row k is updated with the same
element-wise calls, in the same order, as `Optimizer.step` updates member k alone: the
results are bit for bit the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from rnncli.training.optim import state_names


class StackOptimizer:
    def __init__(self, kind: str, shape: tuple[int, int], dtype: np.dtype) -> None:
        self.kind = kind
        self.state = {name: np.zeros(shape, dtype=dtype) for name in state_names(kind)}
        self._tmp = np.zeros(shape, dtype=dtype)

    def take(self, keep: Sequence[int]) -> None:
        """Keep the rows `keep` only (members that leave the stack)."""
        self.state = {k: np.ascontiguousarray(v[list(keep)]) for k, v in self.state.items()}
        self._tmp = np.zeros_like(self._tmp[list(keep)])

    def step(
        self, theta: np.ndarray, g: np.ndarray, lr: Sequence[float], momentum: Sequence[float],
        eps: Sequence[float], t: Sequence[int],
    ) -> None:  # fmt: skip
        """Update `theta` (K, P) in place from `g`; `t[k]`: member k's updates so far,
        this one included."""
        dt = theta.dtype

        def col(values: Sequence[float]) -> np.ndarray:
            return np.array(values, dtype=dt)[:, None]

        tmp = self._tmp
        if self.kind == "sgd":
            v = self.state["velocity"]
            v *= col(momentum)
            v -= col(lr) * g
            theta += v
        elif self.kind == "adagrad":
            s = self.state["sum_sq"]
            s += g * g
            np.sqrt(s, out=tmp)
            tmp += col(eps)
            np.divide(g, tmp, out=tmp)
            theta -= col(lr) * tmp
        else:
            b1, b2 = 0.9, 0.999
            m, v = self.state["m"], self.state["v"]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            steps = [a * math.sqrt(1 - b2**n) / (1 - b1**n) for a, n in zip(lr, t, strict=True)]
            np.sqrt(v, out=tmp)
            tmp += col([e * math.sqrt(1 - b2**n) for e, n in zip(eps, t, strict=True)])
            np.divide(m, tmp, out=tmp)
            theta -= col(steps) * tmp
