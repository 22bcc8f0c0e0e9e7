"""The copying memory problem (Arjovsky, Shah & Bengio 2016, "Unitary Evolution
Recurrent Neural Networks", Section 4.1).

Config key ``copy``; parameter ``T`` (``train.T``, the delay, default 100, at least 1).

Definition. Ten categories a0..a9: a0..a7 are data, a8 is the blank, a9 the delimiter.
An input sequence has T + 20 steps: 10 data symbols drawn uniformly and independently
from a0..a7, then T - 1 blanks, one delimiter, then 10 blanks. The required output is
T + 10 blanks followed by the 10 data symbols in the same order. So each data symbol is
recalled T + 10 steps after it was seen; the first recall is the step after the
delimiter. The loss is the cross-entropy of the category prediction at every step,
averaged over the T + 20 steps. This matches the authors' generator
(amarshah/complex_RNN, memory_problem.py: data 1..8, blank 0, delimiter 9, 9 output
classes); we number the categories as the paper does.

Layout. ``x: (10, m, T+20)`` one-hot of a0..a9 and ``targets: (m, T+20)`` int64 class
indices at every step, all valid (no ``-1``). Outputs: 9 classes, a0..a8 (the delimiter
is never a target; as in the authors' code). Loss: ``xent`` at every step. The engine's
``xent`` sums over steps and averages over the batch: divide by T + 20 to compare with
`baseline`.

Baseline. Without memory the best strategy predicts the blank for the first T + 10
steps and a uniform guess over a0..a7 for the last 10, costing
``10 log 8 / (T + 20)`` nats per step (`baseline`). A net that remembers j of the 10
symbols and guesses the rest scores (10 - j)/10 of the baseline.

Success criterion (ours; the paper only compares loss curves to the baseline). `solved`
requires the per-symbol recall accuracy (argmax over the 10 recall steps, over the test
set) to be at least 0.99. Why accuracy rather than a loss margin: the averaged
cross-entropy is dominated by T + 10 easy blank steps and scales with 1/(T + 20), and
"loss < 0.5 x baseline" is met by a net that remembers half the symbols; recall
accuracy reads the same at every T (chance is 1/8) and 0.99 means the net copies. The
paper's own claim, "beats the baseline", is ``xent_ratio < 1`` in `metrics`.

Paper's result: T = 100, 200, 300, 500 with RMSProp (learning rate 0.001, batch 20 in
the authors' code, LSTM gradients clipped to [-1, 1]). The LSTM beats the memoryless
baseline only for T = 100, where it stays on the baseline for a while before improving
slowly; for longer delays LSTM and tanh RNN sit at the baseline, while the uRNN goes
to almost zero cost quickly (Figure 1; the authors' draft source, complex_RNN
paper/uRNN/uRNN.tex: "except in the simplest case both the RNN with tanh and more
surprisingly the LSTMs get almost exactly the same cost as the memoryless strategy").
"""

from __future__ import annotations

import sys

import numpy as np
from numpy.typing import DTypeLike

from rnncli.errors import InputError
from rnncli.tasks import battery

N_INPUTS = 10
N_OUTPUTS = 9
N_DATA = 8  # a0..a7
BLANK = 8
DELIMITER = 9
N_RECALL = 10
DEFAULT_T = 100
SOLVED_RECALL_ACC = 0.99


def baseline(T: int) -> float:
    """Cross-entropy per step of the memoryless strategy: 10 log 8 / (T + 20) nats."""
    check_params(T=T)
    return N_RECALL * float(np.log(N_DATA)) / (T + 20)


def check_params(*, T: int) -> None:
    """Raise InputError unless T is an integer >= 1."""
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise InputError(f"copy: train.T must be an integer >= 1 (the delay), got {T!r}")


def encode(
    data: np.ndarray, T: int, dtype: DTypeLike = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets for the data symbols ``data: (m, 10)`` (ints in 0..7).

    Returns ``x: (10, m, T+20)`` one-hot and ``targets: (m, T+20)`` int64.
    """
    check_params(T=T)
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[0] < 1 or data.shape[1] != N_RECALL:
        raise ValueError(f"copy: data shape {data.shape}, expected (m, {N_RECALL})")
    if data.min() < 0 or data.max() >= N_DATA:
        raise ValueError(f"copy: data symbols must be in 0..{N_DATA - 1}")
    m, steps = data.shape[0], T + 20
    seqs = np.full((m, steps), BLANK, dtype=np.int64)
    seqs[:, :N_RECALL] = data
    seqs[:, T + 9] = DELIMITER  # after the 10 data symbols and T - 1 blanks
    targets = np.full((m, steps), BLANK, dtype=np.int64)
    targets[:, T + 10 :] = data
    x = np.zeros((N_INPUTS, m, steps), dtype=dtype)
    x[seqs, np.arange(m)[:, None], np.arange(steps)[None, :]] = 1
    return x, targets


def generate(
    rng: np.random.Generator, m: int, T: int = DEFAULT_T, dtype: DTypeLike = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """A batch of `m` copy sequences with delay T: ``x: (10, m, T+20)``, ``targets: (m, T+20)``."""
    check_params(T=T)
    if m < 1:
        raise InputError(f"copy: batch size m must be >= 1, got {m}")
    return encode(rng.integers(0, N_DATA, size=(m, N_RECALL)), T, dtype)


def generate_eval(
    rng: np.random.Generator, n: int, T: int = DEFAULT_T, dtype: DTypeLike = np.float64
) -> list[tuple[np.ndarray, np.ndarray]]:
    """A test set of `n` sequences as a one-batch list (every sequence has length T + 20)."""
    if n < 1:
        raise InputError(f"copy: evaluation size n must be >= 1, got {n}")
    return [generate(rng, n, T, dtype)]


def metrics(probs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Score the output distributions of a test batch.

    `probs: (n_y, m, T+20)` are the softmax outputs at every step (n_y >= 9; rows 0..8
    are a0..a8), `targets: (m, T+20)` as from `encode`. Returns

    - ``xent``: mean cross-entropy per step and sequence, in nats;
    - ``baseline``: 10 log 8 / (T + 20); ``xent_ratio``: xent / baseline (< 1 beats it);
    - ``recall_acc``: fraction of the 10 recall steps (over all sequences) whose argmax
      is the right data symbol;
    - ``seq_acc``: fraction of sequences with all 10 recalled right;
    - ``blank_acc``: fraction of the first T + 10 steps whose argmax is the blank.
    """
    probs = np.asarray(probs)
    targets = np.asarray(targets)
    n_y, m, steps = probs.shape
    if n_y < N_OUTPUTS or targets.shape != (m, steps) or steps < 21:
        raise ValueError(f"copy: probs {probs.shape} and targets {targets.shape} do not fit")
    T = steps - 20
    p_true = np.take_along_axis(probs, targets[None], axis=0)[0]  # (m, T+20)
    tiny = np.finfo(np.float64).tiny  # a softmax can underflow to 0
    xent = float(-np.mean(np.log(np.maximum(p_true.astype(np.float64), tiny))))
    pred = probs.argmax(axis=0)
    hit = pred[:, T + 10 :] == targets[:, T + 10 :]
    base = baseline(T)
    return {
        "xent": xent,
        "baseline": base,
        "xent_ratio": xent / base,
        "recall_acc": float(hit.mean()),
        "seq_acc": float(hit.all(axis=1).mean()),
        "blank_acc": float(np.mean(pred[:, : T + 10] == BLANK)),
    }


def solved(metrics: dict[str, float]) -> bool:
    """At least 99% of the recalled symbols right."""
    return metrics["recall_acc"] >= SOLVED_RECALL_ACC


def sizes(*, T: int) -> tuple[int, int]:
    """(n_x, n_y): the same for every T."""
    return N_INPUTS, N_OUTPUTS


DEFAULTS = {
    "train": {
        "hidden": 64,
        "batch": 32,
        "lr": 0.001,
        "steps": 4000,
        "eval_every": 100,
        "eval_size": 128,
        "checkpoint_every": 500,
    },
    "init": {"forget_bias": 1.0},
}

TASK = battery.spec(
    "copy", "ten symbols recalled after a delay of T blanks (train.T; not in the paper)",
    battery.BatteryTask(sys.modules[__name__], "xent", "xent_ratio", ("T",)), DEFAULTS,
    "at least 99% of the recalled symbols right",
)  # fmt: skip
