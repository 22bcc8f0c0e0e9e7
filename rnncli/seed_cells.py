"""The random arrays of the notebook's test cells, drawn in each cell's exact order.

Every test cell of "Building a Recurrent Neural Network - Step by Step" starts with
`np.random.seed(1)` and then calls `np.random.randn` in a fixed order. `draw(cell)`
replays that with its own `np.random.RandomState(1)` (the global RNG is not touched),
so the notebook's printed numbers can be reproduced (see tests/test_notebook_values.py).

Quirks of the notebook kept here on purpose:

* The forward cells draw `Waa` before `Wax`; the backward cells draw `Wax` first.
* The `rnn_cell_backward` cell draws a bias into `b` but passes the stale `ba` left
  over from the `rnn_forward` cell. `draw("rnn_cell_backward")` returns the drawn `b`
  *and* that stale `ba` (its printed numbers need the stale one).
* `lstm_backward` (the course's later version; the notebook has no such cell) draws no
  `Wy`, `by`: they are stale from the `lstm_cell_backward` cell, and returned as such.
  Its `x` is (3, 10, 7) but its `da` has 4 steps: the course back-propagates through the
  first 4 steps only. Run `lstm_forward(x[:, :, :4], a0, parameters)` (the forward is
  causal, so this equals the first 4 steps of the 7-step run) and then
  `lstm_backward(da, caches)`.

`STALE` lists the arrays a cell uses but does not draw; they come after the drawn
arrays in `draw`'s result. `parameters(cell)` builds the dict the cell passes as
`parameters`.
"""

from __future__ import annotations

import numpy as np

_RNN_FORWARD = (("Waa", (5, 5)), ("Wax", (5, 3)), ("Wya", (2, 5)), ("ba", (5, 1)), ("by", (2, 1)))
_RNN_BACKWARD = (("Wax", (5, 3)), ("Waa", (5, 5)), ("Wya", (2, 5)), ("ba", (5, 1)), ("by", (2, 1)))
_LSTM_GATES = (
    ("Wf", (5, 8)),
    ("bf", (5, 1)),
    ("Wi", (5, 8)),
    ("bi", (5, 1)),
    ("Wo", (5, 8)),
    ("bo", (5, 1)),
    ("Wc", (5, 8)),
    ("bc", (5, 1)),
)
_LSTM_OUTPUT = (("Wy", (2, 5)), ("by", (2, 1)))

# (name, shape) of every randn call of each cell, in order.
DRAWS: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {
    "rnn_cell_forward": (("xt", (3, 10)), ("a_prev", (5, 10)), *_RNN_FORWARD),
    "rnn_forward": (("x", (3, 10, 4)), ("a0", (5, 10)), *_RNN_FORWARD),
    "lstm_cell_forward": (
        ("xt", (3, 10)),
        ("a_prev", (5, 10)),
        ("c_prev", (5, 10)),
        *_LSTM_GATES,
        *_LSTM_OUTPUT,
    ),
    "lstm_forward": (("x", (3, 10, 7)), ("a0", (5, 10)), *_LSTM_GATES, *_LSTM_OUTPUT),
    # draws the bias into `b`, then uses the stale `ba` (see STALE)
    "rnn_cell_backward": (
        ("xt", (3, 10)),
        ("a_prev", (5, 10)),
        ("Wax", (5, 3)),
        ("Waa", (5, 5)),
        ("Wya", (2, 5)),
        ("b", (5, 1)),
        ("by", (2, 1)),
        ("da_next", (5, 10)),
    ),
    "rnn_backward": (("x", (3, 10, 4)), ("a0", (5, 10)), *_RNN_BACKWARD, ("da", (5, 10, 4))),
    "lstm_cell_backward": (
        ("xt", (3, 10)),
        ("a_prev", (5, 10)),
        ("c_prev", (5, 10)),
        *_LSTM_GATES,
        *_LSTM_OUTPUT,
        ("da_next", (5, 10)),
        ("dc_next", (5, 10)),
    ),
    "lstm_backward": (("x", (3, 10, 7)), ("a0", (5, 10)), *_LSTM_GATES, ("da", (5, 10, 4))),
}

CELLS: tuple[str, ...] = tuple(DRAWS)

# Arrays a cell uses but does not draw: {cell: {name: cell whose draw it is}}.
#: Names a test cell gives a function's results where they differ from the function's
#: own: the lstm_cell_forward cell unpacks the returned yt_pred as ``yt``.
RENAMED: dict[str, dict[str, str]] = {"lstm_cell_forward": {"yt": "yt_pred"}}

STALE: dict[str, dict[str, str]] = {
    "rnn_cell_backward": {"ba": "rnn_forward"},
    "lstm_backward": {"Wy": "lstm_cell_backward", "by": "lstm_cell_backward"},
}

RNN_PARAMETERS = ("Wax", "Waa", "Wya", "ba", "by")
LSTM_PARAMETERS = ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo", "Wy", "by")


def draw(cell_name: str) -> dict[str, np.ndarray]:
    """Every array the named cell draws, in draw order, then the stale ones it uses.

    Each call uses a fresh `np.random.RandomState(1)`, like the cell's `np.random.seed(1)`.
    """
    if cell_name not in DRAWS:
        raise ValueError(f"unknown notebook cell {cell_name!r}: expected one of {CELLS}")
    rng = np.random.RandomState(1)
    arrays = {name: rng.randn(*shape) for name, shape in DRAWS[cell_name]}
    for name, source in STALE.get(cell_name, {}).items():
        arrays[name] = draw(source)[name]
    return arrays


def parameters(cell_name: str) -> dict[str, np.ndarray]:
    """The `parameters` dict the named cell passes (stale arrays included, `b` left out)."""
    arrays = draw(cell_name)
    names = RNN_PARAMETERS if cell_name.startswith("rnn") else LSTM_PARAMETERS
    return {name: arrays[name] for name in names}
