"""Very long time lags without local regularities (Hochreiter & Schmidhuber 1997, task 2c).

Config key ``lag-noise``; parameters ``q`` (``train.q``, >= 0) and ``p`` (``train.p``,
>= 1). The paper ran (q, p) = (50, 50), (100, 100), (200, 200), (500, 500),
(1000, 1000) and q = 1000 with p = 500, 200, 100, 50.

Definition (Section 5.2, "Task 2c"). There are p + 4 one-hot input symbols: the p
"distractor symbols" ``a1..ap`` and ``e`` (trigger), ``b`` (begin), ``x``, ``y``. A
sequence is::

    b, x|y, a_i1, ..., a_i(q+k), e, x|y      (length q + k + 4)

built as the paper describes: (1) a prefix of length q + 2: ``b``, then ``x`` or ``y``
with probability 1/2, then q random distractors; (2) then, repeatedly, another random
distractor with probability 9/10 or else ``e`` with probability 1/10; (3) after ``e``
the second symbol again. So k, the number of extra distractors, is geometric:
P(k) = 0.1 * 0.9^k, k >= 0. Distractors are uniform over ``a1..ap``. The net must
keep the second symbol for at least q + 1 steps (until it sees ``e``); the error signal
comes only at the end.

Choices and discrepancies, stated plainly:

- The paper's set notation draws the distractor indices from 1..q ("1 <= i1..i(q+k)
  <= q"); its text calls a1..ap the distractor symbols, its Table 3 calls p "the number
  of available distractor symbols" and runs q = 1000 with p = 50, so 1..q is a typo for
  1..p. We draw from a1..ap. There is no constraint between q and p: the paper's runs
  have q >= p (q/p from 1 to 20), and any q >= 0, p >= 1 is well defined.
- The paper gives the expected length as q + 14 and the expected count of one
  distractor as (q + 10)/p, but its own formula 4 + sum_k 0.1 * 0.9^k (q + k) evaluates
  to q + 13 (E[k] = 9). We implement the procedure, so the mean length is q + 13
  (minimum q + 4, as the paper says) and a distractor occurs (q + 9)/p times on average.
- One k per batch: all m sequences of a batch share their length (so the last step is
  the same for the whole batch); the second symbol and the distractors are drawn per
  sequence. Across batches the lengths follow the paper's distribution. `generate_eval`
  draws one k per sequence and groups the test set by length.

Layout. Symbol indices: ``a1..ap`` = 0..p-1, ``e`` = p, ``b`` = p+1, ``x`` = p+2,
``y`` = p+3 (`symbols`). The net reads every symbol but the last: ``x: (p+4, m, T)``
with T = q + k + 3, whose last step is the trigger ``e``. The target is the class of
the final symbol, ``y: (m,)`` int64 with 0 = x, 1 = y (`CLASSES`). Loss: ``xent_last``
(the paper has 2 output units and an error signal only at sequence end).

Success criterion (paper): "prediction error (for final sequence element) of both
output units always below 0.2, for 10,000 successive, randomly chosen input sequences"
(ABS(0.2)). `metrics` takes the final-step output activations (softmax or sigmoid) of
the whole test set and `solved` requires max |y_hat_k - onehot_k| < 0.2 for every test
sequence; for a 2-way softmax that is p(correct) > 0.8. The paper's test was 10,000
sequences.

Paper's result (Table 3, LSTM, mean of 20 trials, training sequences until success):
q = p = 50: 30,000; 100: 31,000; 200: 33,000; 500: 38,000; 1000: 49,000; q = 1000 with
p = 500: 49,000, p = 200: 75,000, p = 100: 135,000, p = 50: 203,000 (more frequent
distractors slow learning). Online learning, learning rate 0.01, two memory cells.

Memory: the input is dense one-hot, (p + 4) * m * T entries; at q = p = 1000 and
m = 32 that is about 33 million (260 MB in float64, half that in float32).
"""

from __future__ import annotations

import sys

import numpy as np
from numpy.typing import DTypeLike

from rnncli.errors import InputError
from rnncli.tasks import battery

CLASSES = ("x", "y")
N_OUTPUTS = 2
P_TRIGGER = 0.1
"""Probability that the next suffix element is the trigger e (else a distractor)."""

MAX_ERR = 0.2
"""ABS(0.2): both output units within 0.2 of the one-hot target at sequence end."""

PAPER_SEQUENCES = {
    (50, 50): 30_000,
    (100, 100): 31_000,
    (200, 200): 33_000,
    (500, 500): 38_000,
    (1000, 1000): 49_000,
    (1000, 500): 49_000,
    (1000, 200): 75_000,
    (1000, 100): 135_000,
    (1000, 50): 203_000,
}
"""(q, p) -> mean training sequences until success for LSTM in the paper (Table 3)."""


def N_INPUTS(p: int) -> int:
    return p + 4


def symbols(p: int) -> list[str]:
    """Symbol names by index: ``['a1', ..., 'ap', 'e', 'b', 'x', 'y']``."""
    check_params(q=0, p=p)
    return [f"a{i}" for i in range(1, p + 1)] + ["e", "b", "x", "y"]


def _check_int(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"lag-noise: {name} must be an integer >= {minimum}, got {value!r}")


def check_params(*, q: int, p: int) -> None:
    """Raise InputError unless q >= 0 and p >= 1 (integers); see the module docstring."""
    _check_int("train.q", q, 0)
    _check_int("train.p", p, 1)


def _one_hot(seqs: np.ndarray, n: int, dtype: DTypeLike) -> np.ndarray:
    """(m, T) symbol indices -> (n, m, T) one-hot."""
    m, T = seqs.shape
    x = np.zeros((n, m, T), dtype=dtype)
    x[seqs, np.arange(m)[:, None], np.arange(T)[None, :]] = 1
    return x


def encode(
    seqs: np.ndarray, p: int, dtype: DTypeLike = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and target for full sequences ``seqs: (m, L)`` of symbol indices.

    Returns ``x: (p+4, m, L-1)``, the one-hot of all symbols but the last, and
    ``y: (m,)`` int64, the class of the last symbol (0 = x, 1 = y). ValueError if a
    last symbol is not x or y.
    """
    check_params(q=0, p=p)
    seqs = np.asarray(seqs)
    if seqs.ndim != 2 or seqs.shape[0] < 1 or seqs.shape[1] < 2:
        raise ValueError(f"lag-noise: seqs shape {seqs.shape}, expected (m, L), m >= 1, L >= 2")
    if seqs.min() < 0 or seqs.max() > p + 3:
        raise ValueError(f"lag-noise: symbol indices must be in 0..{p + 3}")
    last = seqs[:, -1] - (p + 2)
    if np.any((last < 0) | (last > 1)):
        raise ValueError("lag-noise: every sequence must end with x or y")
    return _one_hot(seqs[:, :-1], p + 4, dtype), last.astype(np.int64)


def _draw(rng: np.random.Generator, m: int, q: int, p: int, k: int) -> np.ndarray:
    """`m` sequences with k extra distractors: (m, q + k + 4) symbol indices."""
    e, b, x = p, p + 1, p + 2
    L = q + k + 4
    seqs = np.empty((m, L), dtype=np.int64)
    key = x + rng.integers(0, 2, size=m)  # x or y
    seqs[:, 0] = b
    seqs[:, 1] = key
    seqs[:, 2 : L - 2] = rng.integers(0, p, size=(m, q + k))
    seqs[:, L - 2] = e
    seqs[:, L - 1] = key
    return seqs


def _draw_k(rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """Extra distractors before e: P(k) = 0.1 * 0.9^k, k >= 0."""
    return rng.geometric(P_TRIGGER, size=size) - 1  # numpy counts the trials, >= 1


def generate(
    rng: np.random.Generator, m: int, q: int, p: int, dtype: DTypeLike = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """A batch of `m` sequences sharing one length q + k + 4 (k drawn per batch).

    Returns ``x: (p+4, m, q+k+3)`` in `dtype` and ``y: (m,)`` int64 (0 = x, 1 = y).
    """
    check_params(q=q, p=p)
    if m < 1:
        raise InputError(f"lag-noise: batch size m must be >= 1, got {m}")
    k = int(_draw_k(rng))
    return encode(_draw(rng, m, q, p, k), p, dtype)


def generate_eval(
    rng: np.random.Generator, n: int, q: int, p: int, dtype: DTypeLike = np.float64
) -> list[tuple[np.ndarray, np.ndarray]]:
    """A test set of `n` sequences, k drawn per sequence, as batches grouped by length.

    Returns ``[(x, y), ...]`` in order of increasing length; the batch sizes add up to
    `n`. Run the net on each batch, concatenate the final-step outputs along the batch
    axis (and the y's) and pass them to `metrics`.
    """
    check_params(q=q, p=p)
    if n < 1:
        raise InputError(f"lag-noise: evaluation size n must be >= 1, got {n}")
    ks = _draw_k(rng, size=n)
    values, counts = np.unique(ks, return_counts=True)
    return [
        encode(_draw(rng, int(c), q, p, int(k)), p, dtype)
        for k, c in zip(values, counts, strict=True)
    ]


def metrics(probs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Score the final-step outputs of a test set.

    `probs: (2, n)` are the output activations in [0, 1] after the last input (softmax
    or sigmoid), `y: (n,)` the classes. Returns

    - ``max_err``: max |probs - onehot(y)| over both units and all sequences;
    - ``n_wrong``: sequences with an error >= 0.2 on either unit;
    - ``acc``: fraction of sequences whose argmax is right.
    """
    probs = np.asarray(probs)
    y = np.asarray(y)
    if probs.ndim != 2 or probs.shape[0] != N_OUTPUTS or y.shape != (probs.shape[1],):
        raise ValueError(f"lag-noise: probs {probs.shape} and y {y.shape} do not fit")
    onehot = np.zeros(probs.shape)
    onehot[y, np.arange(len(y))] = 1
    err = np.abs(probs - onehot).max(axis=0)
    return {
        "max_err": float(err.max()),
        "n_wrong": float(np.count_nonzero(err >= MAX_ERR)),
        "acc": float(np.mean(probs.argmax(axis=0) == y)),
    }


def solved(metrics: dict[str, float]) -> bool:
    """ABS(0.2) on every test sequence."""
    return metrics["max_err"] < MAX_ERR


def sizes(*, q: int, p: int) -> tuple[int, int]:
    """(n_x, n_y) of the task with `q` distractors before the end and `p` symbols."""
    return N_INPUTS(p), N_OUTPUTS


# Settings measured to solve the task with Adam (the paper used online SGD); a larger
# forget-gate bias keeps the cell's memory open at the start.
DEFAULTS = {
    "train": {
        "hidden": 16,
        "batch": 16,
        "lr": 0.001,
        "steps": 4000,
        "eval_every": 50,
        "eval_size": 256,
        "checkpoint_every": 500,
    },
    "init": {"forget_bias": 3.0},
}

TASK = battery.spec(
    "lag-noise", "2c: the class of the first symbol after q + k distractors (train.q, train.p)",
    battery.BatteryTask(sys.modules[__name__], "xent_last", "max_err", ("q", "p")), DEFAULTS,
    "ABS(0.2) on every test sequence",
)  # fmt: skip
