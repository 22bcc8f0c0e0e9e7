"""States over time: every state array (a, and c for the LSTM or whatever states a
user's cell has) at every step of a traced forward pass, and the units worth a look.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnncli.engine import Packed


def state_values(p: Packed, cache: Any) -> dict[str, np.ndarray]:
    """name -> (T, n_a, m): each state after steps 1..T (`CellSpec.states` order).
    `cache`: a traced forward pass (``engine.forward(trace=True)``)."""
    if not p.spec.fused:
        return {s: cache.S[s][1:] for s in p.spec.states}
    out = {"a": cache.A[1:]}
    if p.spec.has_c:
        out["c"] = cache.C[1:]
    return out


def busiest(values: np.ndarray, k: int) -> np.ndarray:
    """The k units whose value varies most over time: values (T, n_a) -> indices, most
    varied first."""
    order = np.argsort(-values.std(axis=0), kind="stable")
    return order[:k]


def summary(values: np.ndarray) -> dict[str, float]:
    """Mean |value| and the fraction of |value| > 0.9 (saturated, for a tanh state)."""
    return {
        "mean_abs": float(np.abs(values).mean()),
        "max_abs": float(np.abs(values).max()) if values.size else 0.0,
        "saturated": float((np.abs(values) > 0.9).mean()),
    }
