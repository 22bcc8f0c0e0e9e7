"""Gate saturation, as in Karpathy, Johnson & Fei-Fei (2015), "Visualizing and
Understanding Recurrent Networks", section 4.2: for each sigmoid gate and each unit, the
fraction of steps at which the gate is left-saturated (value < 0.1, nearly shut) and
right-saturated (> 0.9, nearly open). A forget gate right-saturated most of the time is
a unit that remembers; one left-saturated most of the time forgets at once.

Gate values come from the forward pass: the fused kernels' gate buffers (in the cell
table's block order) or, for a user's cell, its ``gate_values(cache)`` at every step.
A cell without gates (the plain RNN, a user's cell that names none) has no gate values.
Only sigmoid gates are counted: the LSTM's g and the GRU's h are candidate values in
(-1, 1), not gates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncli import engine
from rnncli.cells.load import cell_error
from rnncli.engine import Packed

LOW, HIGH = 0.1, 0.9
MOSTLY = 0.5  # "mostly saturated": more than half of the steps


def gate_values(p: Packed, cache: Any) -> dict[str, np.ndarray]:
    """Every gate's values at every step: name -> (T, n_a, m), in the cell's gate order
    (`CellSpec.gates`). `cache`: a traced forward pass (``engine.forward(trace=True)``)."""
    spec = p.spec
    if not spec.gates:
        return {}
    if spec.fused:
        Z = engine.kernel(spec).gate_values(cache)  # the LSTM's g: values, not pre-activations
        T, _, m = Z.shape
        blocks = Z.reshape(T, spec.n_gates, p.n_a, m)
        by_name = {b.gate: blocks[:, k] for k, b in enumerate(spec.fused)}
        return {g.name: np.array(by_name[g.name]) for g in spec.gates}
    impl = spec.step
    try:
        steps = [impl.gate_values(c) for c in cache.steps]
    except (Exception, SystemExit) as exc:
        raise cell_error(spec.label, "gate_values", exc, spec.source.get("path")) from None
    return {g.name: np.stack([s[g.name] for s in steps]) for g in spec.gates}


def saturation(
    values: np.ndarray, mask: np.ndarray | None = None, low: float = LOW, high: float = HIGH
) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, the fraction of (step, example) pairs with a value < low and > high.

    values: (T, n_a, m); mask: (T, m), the steps to count (None: all). Returns (left,
    right), each (n_a,); a unit with no step to count gets NaN."""
    T, n_a, m = values.shape
    w = np.ones((T, m), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    w3 = np.broadcast_to(w[:, None, :], values.shape)
    count = w.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        left = ((values < low) & w3).sum(axis=(0, 2)) / count
        right = ((values > high) & w3).sum(axis=(0, 2)) / count
    if count == 0:
        left, right = np.full(n_a, np.nan), np.full(n_a, np.nan)
    return left.astype(float), right.astype(float)


@dataclass
class GateSaturation:
    """One gate's saturation fractions per unit."""

    gate: str
    left: np.ndarray  # (n_a,)
    right: np.ndarray  # (n_a,)

    def summary(self) -> dict[str, Any]:
        """Means over units, and how many units are mostly shut, mostly open, or
        saturated less than a tenth of the time either way."""
        return {
            "gate": self.gate,
            "units": int(self.left.size),
            "mean_left": float(np.nanmean(self.left)) if self.left.size else None,
            "mean_right": float(np.nanmean(self.right)) if self.right.size else None,
            "mostly_left": int((self.left > MOSTLY).sum()),
            "mostly_right": int((self.right > MOSTLY).sum()),
            "rarely": int(((self.left + self.right) < 0.1).sum()),
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "left": self.left.tolist(), "right": self.right.tolist()}


def gate_saturation(
    p: Packed, values: dict[str, np.ndarray], mask: np.ndarray | None
) -> list[GateSaturation]:
    """Saturation of every sigmoid gate of `p` (`gate_values`)."""
    out = []
    for g in p.spec.gates:
        if g.activation == "sigmoid" and g.name in values:
            left, right = saturation(values[g.name], mask)
            out.append(GateSaturation(g.name, left, right))
    return out
