"""What is checked at each level: per-column objectives, their arrays, the code under test.

Functions are looked up through their modules at call time (``notebook.<cell>_...``,
``engine.loss_and_grads``), so a monkeypatched one is what gets checked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncli import engine, notebook
from rnncli.config import Config
from rnncli.engine.layout import OUTPUT_NAMES, PARAM_NAMES
from rnncli.params import init_params

CELLS = ("rnn", "lstm", "gru")
LEVELS = ("cell", "sequence", "model")
MODEL_LOSSES = ("xent", "mse_last")
PAD_FRACTION = 0.1  # share of xent targets marked as padding (< 0), to check the mask

Arrays = dict[str, np.ndarray]
Values = tuple[np.ndarray, np.ndarray]  # per column: f_j (M,) and its rounding scale s_j (M,)
PerColumn = Callable[[Arrays, Arrays], Values]


@dataclass
class Problem:
    """One check: f = Σ_j f_j over batch columns, and the analytic gradient to test.

    params:  weights and biases, shared by every column (notebook names).
    columns: per-column arrays, batch axis 1: inputs (xt, a_prev, x, a0, ...) and data
             (upstream da, targets) that are selected with their column, never perturbed.
    wrt:     gradient key -> the array it is the gradient of, in report order.
    per_column(params, columns) -> (f_j, s_j), each (M,) float64 for M columns.
    analytic() -> the gradient dict returned by the code under test.
    m:       the batch size of `columns`.
    """

    cell: str
    level: str
    loss: str | None
    params: Arrays
    columns: Arrays
    wrt: dict[str, str]
    per_column: PerColumn
    analytic: Callable[[], Mapping[str, np.ndarray]]
    m: int

    @property
    def label(self) -> str:
        return f"{self.cell} {self.level}" + (f"/{self.loss}" if self.loss else "")

    @property
    def size(self) -> int:
        """Entries a full check perturbs (all wrt arrays)."""
        return sum(self.array(a).size for a in self.wrt.values())

    def array(self, name: str) -> np.ndarray:
        return self.params[name] if name in self.params else self.columns[name]


def _colsum(A: np.ndarray) -> np.ndarray:
    """Sum over every axis but the batch axis 1, in float64: (M,)."""
    axes = tuple(ax for ax in range(A.ndim) if ax != 1)
    return np.asarray(np.sum(A, axis=axes, dtype=np.float64))


def _weighted(w: np.ndarray, a: np.ndarray) -> Values:
    """Σ w⊙a per column, and Σ |w⊙a| (the scale its rounding error is relative to)."""
    terms = w * a
    return _colsum(terms), _colsum(np.abs(terms))


def _recurrent(cell: str) -> tuple[str, ...]:
    """The parameters a cell's own backward returns (not the output layer)."""
    return tuple(k for k in PARAM_NAMES[cell] if k not in (OUTPUT_NAMES[cell], "by"))


def init_scale(n_x: int, n_a: int) -> float:
    """Weight scale 1/sqrt(fan_in), fan_in = n_a + n_x + 1 (the bias as a unit input).

    With N(0, 1) inputs, |a| < 1 and N(0, scale²) weights every pre-activation has a
    standard deviation below 1 at any size, so tanh and sigmoid stay out of saturation
    (where their derivatives vanish and a wrong term would hide).
    """
    return 1.0 / math.sqrt(n_a + n_x + 1)


def _draw_params(cfg: Config, cell: str, rng: np.random.Generator, dtype: np.dtype) -> Arrays:
    d = cfg.dims
    scale = init_scale(d.n_x, d.n_a)
    return init_params(cell, d.n_x, d.n_a, d.n_y, rng, "normal", scale, dtype)


def _rng(cfg: Config, cell: str, level: str, *more: int) -> np.random.Generator:
    """A generator per (seed, cell, level): narrowing --cell/--level keeps the numbers."""
    return np.random.default_rng([cfg.seed, CELLS.index(cell), LEVELS.index(level), *more])


def _cell_problem(cfg: Config, cell: str, dtype: np.dtype) -> Problem:
    """One step; f = Σ da_next⊙a_next (+ Σ dc_next⊙c_next). Columns (n_x or n_a, m)."""
    d = cfg.dims
    rng = _rng(cfg, cell, "cell")
    params = _draw_params(cfg, cell, rng, dtype)
    names = ["xt", "a_prev", "da_next"] + (["c_prev", "dc_next"] if cell == "lstm" else [])
    columns = {k: rng.standard_normal((d.n_x if k == "xt" else d.n_a, d.m)) for k in names}
    columns["a_prev"] = np.tanh(columns["a_prev"])  # a hidden state lies in (-1, 1)
    columns = {k: v.astype(dtype) for k, v in columns.items()}

    def per_column(p: Arrays, c: Arrays) -> Values:
        if cell == "lstm":
            a, c_next, _, _ = notebook.lstm_cell_forward(c["xt"], c["a_prev"], c["c_prev"], p)
            (fa, sa), (fc, sc) = _weighted(c["da_next"], a), _weighted(c["dc_next"], c_next)
            return fa + fc, sa + sc
        a, _, _ = getattr(notebook, f"{cell}_cell_forward")(c["xt"], c["a_prev"], p)
        return _weighted(c["da_next"], a)

    def analytic() -> Mapping[str, np.ndarray]:
        p, c = _copy(params), _copy(columns)  # the code under test may write to its inputs
        if cell == "lstm":
            cache = notebook.lstm_cell_forward(c["xt"], c["a_prev"], c["c_prev"], p)[-1]
            return notebook.lstm_cell_backward(c["da_next"], c["dc_next"], cache)
        cache = getattr(notebook, f"{cell}_cell_forward")(c["xt"], c["a_prev"], p)[-1]
        return getattr(notebook, f"{cell}_cell_backward")(c["da_next"], cache)

    wrt = {"dxt": "xt", "da_prev": "a_prev"} | ({"dc_prev": "c_prev"} if cell == "lstm" else {})
    wrt |= {"d" + k: k for k in _recurrent(cell)}
    return Problem(cell, "cell", None, params, columns, wrt, per_column, analytic, d.m)


def _sequence_columns(cfg: Config, rng: np.random.Generator, dtype: np.dtype) -> Arrays:
    """x (n_x, m, T_x) ~ N(0, 1) and a0 (n_a, m) in (-1, 1)."""
    d = cfg.dims
    x = rng.standard_normal((d.n_x, d.m, d.T_x))
    a0 = np.tanh(rng.standard_normal((d.n_a, d.m)))
    return {"x": x.astype(dtype), "a0": a0.astype(dtype)}


def _forward(cell: str, c: Arrays, p: Arrays) -> Any:
    """The notebook's forward over the sequence: its whole return tuple (a, y, ..., caches)."""
    return getattr(notebook, f"{cell}_forward")(c["x"], c["a0"], p)


def _sequence_problem(cfg: Config, cell: str, dtype: np.dtype) -> Problem:
    """The whole sequence; f = Σ da⊙a. Columns x, a0 and da (n_a, m, T_x)."""
    d = cfg.dims
    rng = _rng(cfg, cell, "sequence")
    params = _draw_params(cfg, cell, rng, dtype)
    columns = _sequence_columns(cfg, rng, dtype)
    columns["da"] = rng.standard_normal((d.n_a, d.m, d.T_x)).astype(dtype)

    def per_column(p: Arrays, c: Arrays) -> Values:
        return _weighted(c["da"], _forward(cell, c, p)[0])

    def analytic() -> Mapping[str, np.ndarray]:
        p, c = _copy(params), _copy(columns)
        return getattr(notebook, f"{cell}_backward")(c["da"], _forward(cell, c, p)[-1])

    wrt = {"dx": "x", "da0": "a0"} | {"d" + k: k for k in _recurrent(cell)}
    return Problem(cell, "sequence", None, params, columns, wrt, per_column, analytic, d.m)


def _model_problem(cfg: Config, cell: str, loss: str, dtype: np.dtype) -> Problem:
    """The model under `loss`, as the engine computes it. Columns x, a0 and targets.

    xent targets are stored time-major (T_x, m), so that the batch is axis 1 (the engine
    takes them as (m, T_x)); mse_last targets are (n_y, m).
    """
    d, m = cfg.dims, cfg.dims.m
    rng = _rng(cfg, cell, "model", MODEL_LOSSES.index(loss))
    params = _draw_params(cfg, cell, rng, dtype)
    columns = _sequence_columns(cfg, rng, dtype)
    if loss == "xent":
        targets = rng.integers(0, d.n_y, size=(d.T_x, m))
        targets[rng.random((d.T_x, m)) < PAD_FRACTION] = -1  # padding, ignored by the loss
        columns["targets"] = targets
    else:
        columns["targets"] = rng.standard_normal((d.n_y, m)).astype(dtype)
    out = OUTPUT_NAMES[cell]

    def per_column(p: Arrays, c: Arrays) -> Values:
        a, y = _forward(cell, c, p)[:2]  # (n_a, M, T_x) and softmax outputs (n_y, M, T_x)
        if loss == "xent":
            f = _xent_columns(y, c["targets"], m)
        else:
            y_hat = p[out] @ a[:, :, -1] + p["by"]  # the linear read-out at the last step
            f = _colsum((y_hat - c["targets"]) ** 2) / (d.n_y * m)
        return f, np.abs(f)  # every term has the same sign: the scale is |f_j|

    def analytic() -> Mapping[str, np.ndarray]:
        p, c = _copy(params), _copy(columns)
        targets = c["targets"].T if loss == "xent" else c["targets"]
        return engine.loss_and_grads(cell, p, c["x"], targets, c["a0"], loss=loss)[1]

    wrt = {"dx": "x", "da0": "a0"} | {"d" + k: k for k in PARAM_NAMES[cell]}
    return Problem(cell, "model", loss, params, columns, wrt, per_column, analytic, m)


def _xent_columns(y: np.ndarray, targets: np.ndarray, m: int) -> np.ndarray:
    """Per column -(1/m) Σ_t log y[target_t]; y: (n_y, M, T), targets (T, M), < 0 ignored."""
    tt, jj = np.nonzero(targets >= 0)
    logp = np.log(y[targets[tt, jj], jj, tt].astype(np.float64))
    return -np.bincount(jj, weights=logp, minlength=y.shape[1]) / m


def _copy(arrays: Mapping[str, np.ndarray]) -> Arrays:
    return {k: v.copy() for k, v in arrays.items()}


def problems(cfg: Config, cell: str, level: str, dtype: np.dtype) -> list[Problem]:
    """The checks of one (cell, level): one, or one per loss at the model level."""
    if level == "cell":
        return [_cell_problem(cfg, cell, dtype)]
    if level == "sequence":
        return [_sequence_problem(cfg, cell, dtype)]
    return [_model_problem(cfg, cell, loss, dtype) for loss in MODEL_LOSSES]
