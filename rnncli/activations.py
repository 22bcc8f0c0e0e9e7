"""Numerically safe sigmoid and softmax, shared by notebook.py and the engine.

The notebook's helpers (`rnn_utils`) compute ``1 / (1 + exp(-x))`` and a softmax that
subtracts the *global* max. The first overflows (with a RuntimeWarning) for x below
about -709, the second underflows whole columns to 0/0 = NaN when columns differ a lot.

Here the sigmoid clips its argument to a range where ``exp`` cannot overflow for the
dtype; inside that range it is the notebook's formula, so ordinary inputs give the
notebook's values bit for bit. Outside it the result is already saturated to within
the dtype's resolution (sigmoid(-500) = 7e-218, sigmoid(-80) = 1.8e-35 in float32).
The softmax subtracts each column's max, which is exact in real arithmetic and moves
only the last bits on ordinary inputs.
"""

from __future__ import annotations

import numpy as np

# |x| beyond which exp(-x) would overflow, with margin, per float dtype.
_SIGMOID_LIMIT = {np.dtype(np.float64): 500.0, np.dtype(np.float32): 80.0}


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, elementwise; safe for any finite input. Keeps x's dtype."""
    limit = _SIGMOID_LIMIT.get(np.asarray(x).dtype, 80.0)
    return 1 / (1 + np.exp(-np.clip(x, -limit, limit)))


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over axis 0 (each column sums to 1); safe for any finite input."""
    e_x = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e_x / e_x.sum(axis=0, keepdims=True)
