"""Noise-free sequences with long time lags (Hochreiter & Schmidhuber 1997, task 2a).

Config key ``lag``; parameter ``p`` (``train.p``, default 100, at least 1).

Definition (Section 5.2, "Task 2a"). The alphabet has p + 1 symbols
``a1, ..., a(p-1), x, y``, each one-hot. There are exactly two sequences of length
p + 1, each drawn with probability 1/2::

    y, a1, a2, ..., a(p-1), y
    x, a1, a2, ..., a(p-1), x

The net reads one symbol per step and predicts the next one at every step ("error
signals occur at every single time step"). Every prediction is deterministic given the
first symbol; the last one needs the first symbol stored for p steps.

Layout. Symbol index i < p - 1 is ``a(i+1)``, index p - 1 is ``x``, index p is ``y``
(`symbols`). A batch has T = p steps: ``x: (p+1, m, p)`` is the one-hot of symbols
0..p-1 of each sequence and ``targets: (m, p)`` (int64) holds the indices of symbols
1..p, i.e. the next symbol at every step. Loss: ``xent`` at every step, as in the paper
(no ``-1`` entries). The long-lag target is the last column, ``targets[:, -1]``, which
equals the first input symbol.

Success criterion. The paper: "after training, during 10,000 successive, randomly
chosen input sequences, the maximal absolute error of all output units is always below
0.25" (Table 11 calls it ABS(0.25)). As there are only two sequences, the evaluation
set here is both of them (`generate_eval`). `metrics` takes the output activations
(softmax or sigmoid) and `solved` requires max |y_hat_k - onehot_k| < 0.25 over every
output unit, step and sequence. For a softmax this is the same as "the probability of
the correct next symbol exceeds 0.75 at every step" (the largest error of a softmax is
1 - p(correct), since the wrong classes share the rest). Choice made here: the paper's
text applies the bound at every step; Table 11 says "at sequence end". We use every
step, which implies the end-only version; the two differ only for a net that gets the
long-lag step right but a local transition wrong. `metrics` reports both
(``max_err`` and ``max_err_last``) and ``solved(m, last_only=True)`` applies the
end-only reading.

Paper's result (Table 2): LSTM, p = 100, 100% of 18 trials successful, after 5,040
training sequences on average (online, learning rate 1.0, 5 million sequences budget;
RTRL and BPTT: 0%). A public NumPy reproduction with Adam (npow/schmidhuber-problems,
noise-free-long-lag/README.md) reports that plain per-step cross-entropy let Adam settle
on the easy transitions and miss the last step; it up-weighted the last-step loss
(x100) to solve p = 50 in a few hundred sequences. Only the last step carries the lag.
We saw the same with this repository's LSTM and Adam (hidden 16, batch 16, lr 0.01,
forget-gate bias +1, one seed each): p <= 10 solved within 3,200 sequences, p = 20 kept
the last step at chance for 48,000 sequences with targets at every step, but learned it
with the other targets set to -1 (``targets[:, :-1] = -1``; then judge it with
``last_only=True``); p = 100 learned neither way within 48,000 sequences.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from rnncli.errors import InputError
from rnncli.tasks import battery
from rnncli.tasks.battery import BatteryProblem, BatteryTask

DEFAULT_P = 100
MAX_ERR = 0.25
"""ABS(0.25): every output unit must be within 0.25 of its one-hot target."""

PAPER_SEQUENCES = {100: 5_040}
"""p -> mean training sequences until success for LSTM in the paper (Table 2)."""


def N_INPUTS(p: int) -> int:
    return p + 1


def N_OUTPUTS(p: int) -> int:
    return p + 1


def symbols(p: int) -> list[str]:
    """Symbol names by index: ``['a1', ..., 'a(p-1)', 'x', 'y']``."""
    check_params(p=p)
    return [f"a{i}" for i in range(1, p)] + ["x", "y"]


def check_params(*, p: int) -> None:
    """Raise InputError unless p is an integer >= 1."""
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
        raise InputError(f"lag: train.p must be an integer >= 1, got {p!r}")


def _one_hot(seqs: np.ndarray, n: int, dtype: DTypeLike) -> np.ndarray:
    """(m, T) symbol indices -> (n, m, T) one-hot."""
    m, T = seqs.shape
    x = np.zeros((n, m, T), dtype=dtype)
    x[seqs, np.arange(m)[:, None], np.arange(T)[None, :]] = 1
    return x


def encode(
    seqs: np.ndarray, p: int, dtype: DTypeLike = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-symbol targets for full sequences ``seqs: (m, p+1)`` of indices.

    Returns ``x: (p+1, m, p)`` (one-hot of ``seqs[:, :-1]``) and ``targets: (m, p)``
    int64 (``seqs[:, 1:]``).
    """
    check_params(p=p)
    seqs = np.asarray(seqs)
    if seqs.ndim != 2 or seqs.shape[0] < 1 or seqs.shape[1] != p + 1:
        raise ValueError(f"lag: seqs shape {seqs.shape}, expected (m, {p + 1})")
    if seqs.min() < 0 or seqs.max() > p:
        raise ValueError(f"lag: symbol indices must be in 0..{p}")
    return _one_hot(seqs[:, :-1], p + 1, dtype), seqs[:, 1:].astype(np.int64)


def _sequences(first: np.ndarray, p: int) -> np.ndarray:
    """The sequences starting with ``first`` (0 = x, 1 = y): (m, p+1) indices."""
    key = (p - 1) + first.astype(np.int64)  # index of x or y
    seqs = np.empty((len(first), p + 1), dtype=np.int64)
    seqs[:, 0] = key
    seqs[:, 1:p] = np.arange(p - 1)  # a1 .. a(p-1)
    seqs[:, p] = key
    return seqs


def generate(
    rng: np.random.Generator, m: int, p: int = DEFAULT_P, dtype: DTypeLike = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """A batch of `m` sequences, each the x- or the y-sequence with probability 1/2.

    Returns ``x: (p+1, m, p)`` in `dtype` and ``targets: (m, p)`` int64 (see `encode`).
    """
    check_params(p=p)
    if m < 1:
        raise InputError(f"lag: batch size m must be >= 1, got {m}")
    return encode(_sequences(rng.integers(0, 2, size=m), p), p, dtype)


def generate_eval(
    rng: np.random.Generator, n: int, p: int = DEFAULT_P, dtype: DTypeLike = np.float64
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The evaluation set: one batch of `n` sequences alternating x, y, x, ... .

    With n >= 2 it contains both possible sequences, so it is exhaustive; `rng` is
    not used (kept for the signature the other tasks share).
    """
    check_params(p=p)
    if n < 1:
        raise InputError(f"lag: evaluation size n must be >= 1, got {n}")
    return [encode(_sequences(np.arange(n) % 2, p), p, dtype)]


def metrics(probs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Score output activations on a test batch.

    `probs: (p+1, m, p)` holds the output activations in [0, 1] at every step (softmax
    or sigmoid); `targets: (m, p)` as from `encode`. Returns

    - ``max_err``: max |probs - onehot(targets)| over units, steps and sequences;
    - ``max_err_last``: the same at the last step only (the long-lag prediction);
    - ``n_wrong``: sequences with an error >= 0.25 at some step and unit;
    - ``last_acc``: fraction of sequences whose last-step argmax is right;
    - ``step_acc``: fraction of all steps whose argmax is right.
    """
    probs = np.asarray(probs)
    targets = np.asarray(targets)
    n_y, m, T = probs.shape
    if targets.shape != (m, T) or n_y != T + 1:
        raise ValueError(f"lag: probs {probs.shape} and targets {targets.shape} do not fit")
    onehot = _one_hot(targets, n_y, probs.dtype)
    err = np.abs(probs - onehot).max(axis=0)  # (m, T)
    pred = probs.argmax(axis=0)
    return {
        "max_err": float(err.max()),
        "max_err_last": float(err[:, -1].max()),
        "n_wrong": float(np.count_nonzero(err.max(axis=1) >= MAX_ERR)),
        "last_acc": float(np.mean(pred[:, -1] == targets[:, -1])),
        "step_acc": float(np.mean(pred == targets)),
    }


def solved(metrics: dict[str, float], last_only: bool = False) -> bool:
    """ABS(0.25) at every step of every evaluation sequence (`last_only`: at the last
    step only, Table 11's reading; for nets trained on the last target alone)."""
    return metrics["max_err_last" if last_only else "max_err"] < MAX_ERR


def sizes(*, p: int) -> tuple[int, int]:
    """(n_x, n_y) of the task with alphabet size `p`."""
    return N_INPUTS(p), N_OUTPUTS(p)


class LagProblem(BatteryProblem):
    """The battery's problem with ``train.targets``: a target at every step (all), or at
    the last step only (last), scored by the error at the last step."""

    def headline(self, task: BatteryTask, t: Any) -> str:
        self.last_only = t.targets == "last"
        return "max_err_last" if self.last_only else task.metric

    def extra_meta(self, t: Any) -> dict[str, Any]:
        return {"targets": t.targets}

    def solved(self, metrics: dict[str, float]) -> bool:
        return solved(metrics, last_only=self.last_only)


# Settings measured to solve the task with Adam (the paper used online SGD); a larger
# forget-gate bias keeps the cell's memory open at the start.
DEFAULTS = {
    "train": {
        "hidden": 16,
        "batch": 16,
        "lr": 0.01,
        "targets": "last",
        "steps": 8000,
        "eval_every": 100,
        "eval_size": 16,
        "checkpoint_every": 500,
    },
    "init": {"forget_bias": 5.0},
}

TASK = battery.spec(
    "lag", "2a: two sequences, the first symbol recalled p steps later (train.p)",
    BatteryTask(sys.modules[__name__], "xent", "max_err", ("p",)), DEFAULTS,
    "ABS(0.25): every output within 0.25 of its target", LagProblem,
    next_symbol=True, targets=True,
)  # fmt: skip
