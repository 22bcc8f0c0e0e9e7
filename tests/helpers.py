"""Helpers shared by test modules (pytest puts tests/ on sys.path)."""

from __future__ import annotations

import numpy as np


def layout_v1(cell: str, params: dict[str, np.ndarray]) -> np.ndarray:
    """The first engine's flat vector, written out by hand: blocks [Wa, Wx, b, Wy, by],
    gate order (o, f, i, g) for the LSTM."""
    order = {"rnn": ["Waa"], "lstm": ["Wo", "Wf", "Wi", "Wc"], "gru": ["Wz", "Wr", "Wh"]}
    if cell == "rnn":
        Wa, Wx, b = params["Waa"], params["Wax"], params["ba"]
    else:
        n_a = params[order[cell][0]].shape[0]
        Wa = np.concatenate([params[w][:, :n_a] for w in order[cell]])
        Wx = np.concatenate([params[w][:, n_a:] for w in order[cell]])
        b = np.concatenate([params["b" + w[1:]] for w in order[cell]])
    Wy = params["Wya" if cell == "rnn" else "Wy"]
    return np.concatenate([a.ravel() for a in (Wa, Wx, b, Wy, params["by"])])
