"""The adding problem (Hochreiter & Schmidhuber 1997, experiment 4), modern form.

Each sequence has T steps with two input channels: a value drawn from U(-1, 1) and a
marker that is 1 at exactly one step in the first half ``[0, T//2)`` and at one step
in the second half ``[T//2, T)``, 0 elsewhere. The target, read after the last step,
is the sum of the two marked values. This is the form used since Le et al. (2015) and
Arjovsky et al. (2016); the original paper marked values differently and scaled the
target to ``0.5 + (X1 + X2) / 4``.

Baseline: each value has variance 1/3, so the sum has variance 2/3 and predicting the
constant 0 (its mean) gives MSE = 2/3 ~ 0.667. The task counts as solved well below
that, at MSE < 0.04 (`SOLVED_MSE`; the original paper called a sequence correct when
its absolute error was below 0.04). Reaching it requires carrying the first marked
value across at least T//2 steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import DTypeLike

from rnncli import engine
from rnncli.engine import Packed
from rnncli.errors import InputError
from rnncli.tasks.problem import Batch, Problem, last_logits
from rnncli.tasks.spec import TaskSpec

if TYPE_CHECKING:
    from rnncli.config import Config

BASELINE_MSE = 2.0 / 3.0
"""MSE of always predicting 0 (= Var of the target)."""

SOLVED_MSE = 0.04
"""MSE below which the problem is considered solved."""


def generate(
    rng: np.random.Generator, m: int, T: int, dtype: DTypeLike = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """A batch of `m` adding-problem sequences of length `T`.

    Returns ``x: (2, m, T)`` (channel 0: values ~ U(-1, 1); channel 1: the two 0/1
    markers) and ``y: (1, m)``, the sum of the two marked values computed in `dtype`.
    Raises InputError unless ``m >= 1`` and ``T >= 2``.
    """
    if T < 2:
        raise InputError(f"adding: sequence length T must be >= 2, got {T}")
    if m < 1:
        raise InputError(f"adding: batch size m must be >= 1, got {m}")
    values = rng.uniform(-1.0, 1.0, size=(m, T)).astype(dtype)
    half = T // 2
    first = rng.integers(0, half, size=m)
    second = rng.integers(half, T, size=m)

    rows = np.arange(m)
    markers = np.zeros((m, T), dtype=dtype)
    markers[rows, first] = 1
    markers[rows, second] = 1

    x = np.stack([values, markers])  # (2, m, T)
    y = (values[rows, first] + values[rows, second])[None, :]  # (1, m)
    return x, y


class AddingProblem(Problem):
    """The sum of the two marked values, read out at T; metric test_mse."""

    def __init__(self, cfg: Config, eval_rng: np.random.Generator, progress: Any = None):
        T, dtype = cfg.train.T, np.dtype(cfg.dtype)
        super().__init__("adding", 2, 1, "mse_last", "test_mse", {"T": T})
        self.batch_size, self.T, self.dtype = cfg.train.batch, T, dtype
        x, self.eval_y = generate(eval_rng, cfg.train.eval_size, T, dtype=dtype)
        self.eval_X = engine.to_time_major(x)

    def batch(self, rng: np.random.Generator) -> Batch:
        x, y = generate(rng, self.batch_size, self.T, dtype=self.dtype)
        return Batch(engine.to_time_major(x), y)

    def evaluate(self, p: Packed) -> dict[str, float]:
        y_hat = last_logits(p, self.eval_X)  # linear read-out at the last step
        return {"test_mse": float(np.mean((y_hat - self.eval_y) ** 2))}

    def solved(self, metrics: dict[str, float]) -> bool:
        return metrics["test_mse"] < SOLVED_MSE


# T=100: lstm solves (MSE < 0.04) within ~600 steps; rnn stays at the 0.667 baseline
DEFAULTS = {
    "train": {
        "hidden": 32,
        "batch": 32,
        "lr": 0.01,
        "clip": 1.0,
        "steps": 2500,
        "eval_every": 50,
        "eval_size": 512,
        "checkpoint_every": 250,
    }
}

TASK = TaskSpec(
    "adding", "the sum of the two marked values among T, read out at the end (train.T)",
    AddingProblem, DEFAULTS, criterion="test MSE below 0.04", steps_key="T",
)  # fmt: skip
