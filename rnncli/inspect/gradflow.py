"""Gradient flow through time: how much of the loss's gradient reaches each step.

For a batch, with the loss L of the task (the notebook's cross-entropy summed over steps
and averaged over the batch, or the last step's MSE):

``norms["last"][s][t]``  ‖∂L_T/∂s_t‖ for the loss at the last step only (each
                         sequence's last target; for tasks whose loss reads a_T only,
                         the task's loss itself)
``norms["sum"][s][t]``   ‖∂L/∂s_t‖ for the whole loss
``connectivity[t]``      ‖∂a_T/∂x_t‖, how much the last state depends on the input t
                         steps back

for every state s (a, and c for the LSTM) and t = 1..T. Norms are Frobenius norms of the
(n_a, m) gradient of the batch loss; connectivity is the Frobenius norm of each example's
(n_a, n_x) Jacobian, averaged over the batch.

The gradients come from the engine's own backward pass (``engine.backward(record=...)``
keeps the total gradient on each state inside the kernels' time loops), so what is shown
is what training computes. Connectivity takes n_a backward passes on one forward pass:
pass i puts a unit upstream on unit i of a_T (every example at once), and dX[t] is then
row i of each example's Jacobian ∂a_T/∂x_t.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnncli import engine
from rnncli import loss as losses
from rnncli.engine import Packed
from rnncli.inspect.run import Sample

LOSS_FUNCTIONS = {"xent": losses.xent, "mse_last": losses.mse_last, "xent_last": losses.xent_last}

#: Ticks of the terminal sparklines, lowest first.
BLOCKS = "▁▂▃▄▅▆▇█"


@dataclass
class GradFlow:
    """Per-step gradient norms of one model on one sample (see the module docstring)."""

    T: int
    loss: str
    norms: dict[str, dict[str, np.ndarray]]  # "last" / "sum" -> state -> (T,)
    connectivity: np.ndarray  # (T,)
    values: dict[str, float] = field(default_factory=dict)  # "last" / "sum" -> the loss

    @property
    def last_only(self) -> bool:
        """The task's loss reads a_T only: "last" and "sum" are the same."""
        return self.loss in losses.LAST_STEP

    def to_json(self) -> dict[str, Any]:
        return {
            "T": self.T,
            "loss": self.loss,
            "loss_values": self.values,
            "norm": "Frobenius over (n_a, m) of the batch loss's gradient",
            "grad_norms": {k: {s: v.tolist() for s, v in d.items()} for k, d in self.norms.items()},
            "connectivity": self.connectivity.tolist(),
            "connectivity_norm": "Frobenius over (n_a, n_x) per example, mean over the batch",
            "decay": decay_rows(self),
        }


def last_targets(loss: str, targets: np.ndarray) -> np.ndarray:
    """The targets of the loss at the last step: for xent each sequence's last target
    only (the others set to -1, ignored); the last-step losses are that already."""
    if loss != "xent":
        return targets
    T = targets.shape[0]
    valid = targets >= 0
    last = T - 1 - np.argmax(valid[::-1], axis=0)  # each column's last valid step
    out = np.full_like(targets, -1)
    cols = np.flatnonzero(valid.any(axis=0))
    out[last[cols], cols] = targets[last[cols], cols]
    return out


def loss_gradient(
    p: Packed, loss: str, H: np.ndarray, targets: np.ndarray
) -> tuple[float, np.ndarray]:
    """The loss on hidden states H: (T, n_a, m) and its gradient dH: (T, n_a, m)."""
    value, _, _, dH = LOSS_FUNCTIONS[loss](p.Wy, p.by, H, targets)
    return value, dH


def step_norms(record: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """‖record[s][t]‖ (Frobenius over (n_a, m)) for every state s and step t: (T,) each."""
    return {s: np.sqrt(np.einsum("tnm,tnm->t", g, g)) for s, g in record.items()}


def recorded_gradients(p: Packed, cache: Any, dH: np.ndarray) -> dict[str, np.ndarray]:
    """The engine's backward pass from dH, keeping the gradient on every state at every
    step: state name -> (T, n_a, m)."""
    record: dict[str, np.ndarray] = {}
    engine.backward(p, cache, dH, need_dx=False, record=record)
    return record


def connectivity(p: Packed, cache: Any, T: int, m: int) -> np.ndarray:
    """‖∂a_T/∂x_t‖ for t = 1..T: each example's Jacobian's Frobenius norm, mean over
    the batch. n_a backward passes of the engine on the forward pass `cache`."""
    sq = np.zeros((T, m))
    dA = np.zeros((T, p.n_a, m), dtype=p.dtype)
    for i in range(p.n_a):
        dA[-1] = 0
        dA[-1, i] = 1
        _, dX, _ = engine.backward(p, cache, dA)
        assert dX is not None
        sq += np.einsum("txm,txm->tm", dX, dX)  # row i of every J_t, squared
    return np.sqrt(sq).mean(axis=1)


def gradient_flow(p: Packed, sample: Sample, cache: Any, H: np.ndarray) -> GradFlow:
    """Per-step gradient norms and connectivity of `p` on `sample` (see the module
    docstring); `cache`, H: the traced forward pass (`run.hidden_states`)."""
    norms: dict[str, dict[str, np.ndarray]] = {}
    values: dict[str, float] = {}
    kinds = ("last",) if sample.loss in losses.LAST_STEP else ("last", "sum")
    for kind in kinds:
        targets = last_targets(sample.loss, sample.targets) if kind == "last" else sample.targets
        values[kind], dH = loss_gradient(p, sample.loss, H, targets)
        norms[kind] = step_norms(recorded_gradients(p, cache, dH))
    if "sum" not in norms:
        norms["sum"], values["sum"] = norms["last"], values["last"]
    conn = connectivity(p, cache, sample.T, sample.m)
    return GradFlow(sample.T, sample.loss, norms, conn, values)


# ----------------------------------------------------------------------------- decay


def stride(T: int, rows: int = 12) -> int:
    """Steps between the decay table's rows: 10, or a multiple of 10 that keeps it to
    about `rows` rows."""
    s = 10
    while T // s > rows:
        s += 10
    return s


def per10(later: float, earlier: float, steps: int) -> float | None:
    """The factor per 10 steps going back from `later` to `earlier`, `steps` apart."""
    if not (later > 0 and earlier > 0 and np.isfinite(later) and np.isfinite(earlier)):
        return None
    return float((earlier / later) ** (10.0 / steps))


def decay_rows(flow: GradFlow) -> list[dict[str, Any]]:
    """The decay table: at t = T, T - s, T - 2s, ... (s = `stride`): the norms, and the
    factor per 10 steps from the previous row (geometric mean over the stride)."""
    T, s = flow.T, stride(flow.T)
    series = {f"last_{k}": v for k, v in flow.norms["last"].items()}
    if not flow.last_only:
        series.update({f"sum_{k}": v for k, v in flow.norms["sum"].items()})
    series["connectivity"] = flow.connectivity
    rows: list[dict[str, Any]] = []
    for t in range(T, 0, -s):
        row: dict[str, Any] = {"t": t}
        for name, v in series.items():
            row[name] = float(v[t - 1])
            if t < T:
                row[name + "_per10"] = per10(float(v[t - 1 + s]), float(v[t - 1]), s)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- sparkline


def log_range(series: list[np.ndarray]) -> tuple[float, float] | None:
    """The positive finite range of several series (for one common log scale)."""
    if not series:
        return None
    vals = np.concatenate([np.asarray(v, float).ravel() for v in series])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    if vals.size == 0:
        return None
    return float(vals.min()), float(vals.max())


def resample(v: np.ndarray, width: int, log: bool) -> np.ndarray:
    """At most `width` columns: the mean of each bin of steps (of the logs, if `log`;
    zeros and non-finite values are left out, a bin of only those is NaN)."""
    v = np.asarray(v, dtype=float)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where((v > 0) & np.isfinite(v), np.log10(np.where(v > 0, v, 1.0)), np.nan)
    if v.size <= width:
        return v
    edges = np.linspace(0, v.size, width + 1).round().astype(int)
    out = np.full(width, np.nan)
    for k in range(width):
        chunk = v[edges[k] : edges[k + 1]]
        chunk = chunk[np.isfinite(chunk)]
        if chunk.size:
            out[k] = chunk.mean()
    return out


def sparkline(v: np.ndarray, width: int, lo: float, hi: float, log: bool = True) -> str:
    """`v` as block characters on a scale from lo (▁) to hi (█), logarithmic by default;
    a step with no value (zero, NaN) is a space."""
    cols = resample(v, width, log)
    if log:
        lo, hi = np.log10(lo), np.log10(hi)
    span = hi - lo
    out = []
    for x in cols:
        if not np.isfinite(x):
            out.append(" ")
            continue
        frac = 0.5 if span <= 0 else (x - lo) / span
        out.append(BLOCKS[int(np.clip(round(frac * (len(BLOCKS) - 1)), 0, len(BLOCKS) - 1))])
    return "".join(out)
