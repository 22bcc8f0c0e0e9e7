"""Helpers shared by test modules (pytest puts tests/ on sys.path)."""

from __future__ import annotations

from typing import Any

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


def bug_corpus() -> Any:  # noqa: ANN401 - a module loaded from a path
    """tests/fixtures/bugs/corpus.py, the frozen corpus of learner bugs, as a module."""
    import importlib.util
    import sys
    from pathlib import Path

    if "bug_corpus" in sys.modules:
        return sys.modules["bug_corpus"]
    path = Path(__file__).resolve().parent / "fixtures" / "bugs" / "corpus.py"
    spec = importlib.util.spec_from_file_location("bug_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bug_corpus"] = module
    spec.loader.exec_module(module)
    return module
