"""Finite-difference gradient checks of every cell at every level: ``rnncli gradcheck``.

Three levels, each a scalar objective f of some arrays whose gradient the code under test
claims to compute:

``cell``      one step of ``notebook.<cell>_cell_forward``; f = Σ da_next⊙a_next
              (+ Σ dc_next⊙c_next for the LSTM) with random upstream da_next, dc_next.
              Checks ``notebook.<cell>_cell_backward``: dxt, da_prev (dc_prev), dW*, db*.
``sequence``  ``notebook.<cell>_forward`` over T_x steps; f = Σ da⊙a with a random da.
              Checks ``notebook.<cell>_backward``: dx, da0, dW*, db*.
``model``     the whole model under the ``xent`` and the ``mse_last`` loss. Checks
              ``engine.loss_and_grads`` (the fused engine): dx, da0 and every parameter
              including the output layer. The numeric side runs the notebook's forward.

Functions are looked up through their modules at call time, so a monkeypatched
``notebook.lstm_cell_backward`` or ``loss.xent`` is what gets checked.

Method: central differences (f(θ+εe) − f(θ−εe)) / 2ε, in float64 on random problems of
size ``cfg.dims`` drawn from ``cfg.seed``. Per gradient array ("row"):

    rel  = ‖g − ĝ‖ / max(‖g‖ + ‖ĝ‖, tiny)                          compared with tol
    elem = max_i |g_i − ĝ_i| / max(|g_i| + |ĝ_i|, floor)            reported
           floor = ELEMENT_FLOOR · max_i (|g_i| + |ĝ_i|)

A row passes when rel ≤ tol, or when ‖g − ĝ‖ is below the rounding noise of the numeric
gradient, NOISE_FACTOR · u · s / ε (u the dtype's epsilon, s = Σ|terms| of the objective
at the perturbed points). The second case only matters for gradients that have all but
vanished (a0 under ``mse_last`` over many steps): there rel measures rounding, not code.

Modes: ``full`` perturbs every entry. ``fast`` compares directional derivatives ⟨g, v⟩
with (f(θ+εv) − f(θ−εv)) / 2ε for ``directions`` random unit vectors v per array, at a
cost independent of the array's size (as HIPS/autograd ``check_grads`` and PyTorch's
``gradcheck(fast_mode=True)``). ``auto`` runs a check in full mode while its entry count
(every checked array of that cell and level, inputs included) is ≤ ``full_limit``.

Every objective is a sum over batch columns, f = Σ_j f_j, and a perturbation of an input
(xt, a_prev, c_prev, x, a0) only moves its own column's f_j. So all perturbations of an
input are evaluated in one forward call on a batch of perturbed single columns, two per
entry. ``evals`` counts perturbed copies evaluated (a single column or a whole parameter
set each); ``calls`` counts forward calls.

Defaults (eps, tol) come from the measured sweep in ``tests/test_gradcheck.py``,
reproducible with `eps_sweep`.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from rnncli import engine, notebook
from rnncli.config import Config
from rnncli.engine.layout import OUTPUT_NAMES, PARAM_NAMES
from rnncli.errors import InputError
from rnncli.params import init_params

CELLS = ("rnn", "lstm", "gru")
LEVELS = ("cell", "sequence", "model")
MODES = ("auto", "full", "fast")
MODEL_LOSSES = ("xent", "mse_last")

DEFAULT_EPS = 1e-5  # the sweep's optimum (config's gradcheck.eps default should match)
DEFAULT_TOL = 1e-6  # float64, when gradcheck.tol is None; see the sweep
ELEMENT_FLOOR = 1e-3  # entries below this share of a row's largest are measured against it
NOISE_FACTOR = 10.0  # margin on the rounding-noise estimate u·s/ε (measured ratio ≤ 1.7)
MAX_BATCH = 4096  # columns per forward call when input perturbations are batched
SWEEP_EPS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9)
PAD_FRACTION = 0.1  # share of xent targets marked as padding (< 0), to check the mask

Arrays = dict[str, np.ndarray]
Values = tuple[np.ndarray, np.ndarray]  # per column: f_j (M,) and its rounding scale s_j (M,)
PerColumn = Callable[[Arrays, Arrays], Values]


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    """One checked gradient array of one (cell, level[, loss])."""

    cell: str
    level: str
    loss: str | None  # "xent" | "mse_last" at the model level, else None
    name: str  # the gradient's key, e.g. "dWf", "dxt", "da0"
    shape: tuple[int, ...]
    mode: str  # "full" | "fast"
    checked: int = 0  # entries (full) or directions (fast) compared
    analytic_norm: float = math.nan  # ‖g‖ (full) or ‖(⟨g, v_k⟩)_k‖ (fast)
    numeric_norm: float = math.nan  # ‖ĝ‖, the same way
    rel_error: float = math.nan
    elem_error: float = math.nan  # worst elementwise error, floored
    abs_error: float = math.nan  # ‖g − ĝ‖
    noise: float = math.nan  # rounding-noise bound on ‖g − ĝ‖ for a correct g
    passed: bool = False
    note: str = ""  # e.g. why a row could not be compared

    @property
    def check(self) -> str:
        """``lstm cell`` or ``gru model/xent``."""
        return f"{self.cell} {self.level}" + (f"/{self.loss}" if self.loss else "")


@dataclass
class Report:
    """Everything one gradcheck run found; `to_json` for ``--json`` and ``gradcheck.json``."""

    rows: list[Row]
    eps: float
    tol: float
    mode: str  # the requested mode: "auto" | "full" | "fast"; each row has the one it ran
    dtype: str
    seed: int
    dims: dict[str, int]
    scale: float  # the parameter init scale used
    evals: int  # perturbed copies evaluated
    calls: int  # forward calls made
    seconds: float
    cells: tuple[str, ...] = CELLS
    levels: tuple[str, ...] = LEVELS

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.rows)

    @property
    def failed(self) -> int:
        return len(self.rows) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def failures(self) -> list[Row]:
        return [r for r in self.rows if not r.passed]

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict: NaN and inf become None, tuples become lists."""
        rows = []
        for r in self.rows:
            d = asdict(r)
            d["shape"] = list(r.shape)
            rows.append({k: _json_float(v) for k, v in d.items()})
        return {
            "ok": self.ok,
            "passed": self.passed,
            "failed": self.failed,
            "checks": len(self.rows),
            "eps": self.eps,
            "tol": self.tol,
            "mode": self.mode,
            "modes": sorted({r.mode for r in self.rows}),
            "dtype": self.dtype,
            "seed": self.seed,
            "dims": dict(self.dims),
            "scale": self.scale,
            "cells": list(self.cells),
            "levels": list(self.levels),
            "evals": self.evals,
            "calls": self.calls,
            "seconds": round(self.seconds, 4),
            "rows": rows,
        }


def _json_float(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


# --------------------------------------------------------------------------------------
# Problems: a per-column objective, its arrays and the code under test
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Numeric gradients
# --------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Forward work done: perturbed copies evaluated and forward calls."""

    evals: int = 0
    calls: int = 0

    def run(self, problem: Problem, params: Arrays, columns: Arrays, copies: int) -> Values:
        """(f_j, s_j) of every column of one forward call holding `copies` perturbed copies."""
        self.calls += 1
        self.evals += copies
        return problem.per_column(params, columns)


@dataclass
class Numeric:
    """Central differences and their rounding noise u·(s₊ + s₋)/step, entry by entry."""

    value: np.ndarray
    noise: np.ndarray


def _full_param(problem: Problem, name: str, eps: float, tally: Tally) -> Numeric:
    """∂f/∂θ_i for every entry of parameter `name`: two forward calls per entry."""
    work = problem.params[name].copy()
    params = {**problem.params, name: work}
    grad, scale = np.zeros(work.shape), np.zeros(work.shape)
    for i in np.ndindex(work.shape):
        old = work[i]
        work[i] = old + eps
        up, (f_up, s_up) = float(work[i]), tally.run(problem, params, problem.columns, 1)
        work[i] = old - eps
        down, (f_down, s_down) = float(work[i]), tally.run(problem, params, problem.columns, 1)
        work[i] = old
        step = up - down  # the step actually taken, after rounding θ ± ε
        grad[i] = (f_up.sum() - f_down.sum()) / step
        scale[i] = (s_up.sum() + s_down.sum()) / step
    return Numeric(grad, scale * np.finfo(work.dtype).eps)


def _full_column(problem: Problem, name: str, eps: float, tally: Tally) -> Numeric:
    """∂f/∂x_i for every entry of input `name`, batched: two single columns per entry.

    Entry i = (r, j, ...) only moves f_j, so its two copies are column j of every column
    array, with x_i moved by +eps (even batch slots) or -eps (odd slots).
    """
    shape = problem.columns[name].shape
    size = int(np.prod(shape))
    grad, scale = np.empty(size), np.empty(size)
    per_call = max(1, MAX_BATCH // 2)  # entries per forward call
    for start in range(0, size, per_call):
        flat = np.arange(start, min(size, start + per_call))
        index = np.unravel_index(flat, shape)  # (rows, batch columns j, [time steps])
        source = np.repeat(index[1], 2)  # slots 2k and 2k+1 hold entry k's column
        batch = {k: np.take(v, source, axis=1) for k, v in problem.columns.items()}
        at = (np.repeat(index[0], 2), np.arange(source.size), *(np.repeat(i, 2) for i in index[2:]))
        target = batch[name]
        target[at] += np.tile(np.array([eps, -eps], dtype=target.dtype), flat.size)
        moved = target[at].astype(np.float64)
        step = moved[0::2] - moved[1::2]  # the steps actually taken
        f, s = tally.run(problem, problem.params, batch, source.size)
        grad[flat] = (f[0::2] - f[1::2]) / step
        scale[flat] = (s[0::2] + s[1::2]) / step
    u = np.finfo(problem.columns[name].dtype).eps
    return Numeric(grad.reshape(shape), u * scale.reshape(shape))


def _directions(
    problem: Problem, name: str, shape: tuple[int, ...], k: int, seed: int
) -> np.ndarray:
    """k random unit vectors shaped like the array: (k, *shape), float64."""
    key = zlib.crc32(f"{problem.label}/{name}".encode())  # a stable stream per row
    V = np.random.default_rng([seed, key]).standard_normal((k, *shape))
    return V / np.sqrt(np.sum(V**2, axis=tuple(range(1, V.ndim)), keepdims=True))


def _fast_param(problem: Problem, name: str, V: np.ndarray, eps: float, tally: Tally) -> Numeric:
    """(f(θ+εv) − f(θ−εv)) / 2ε for each direction v in V (k, *shape): (k,)."""
    theta = problem.params[name]
    grad, scale = np.empty(len(V)), np.empty(len(V))
    for k, v in enumerate(V):
        runs = []
        for sign in (1.0, -1.0):
            moved = {**problem.params, name: (theta + sign * eps * v).astype(theta.dtype)}
            runs.append(tally.run(problem, moved, problem.columns, 1))
        (f_up, s_up), (f_down, s_down) = runs
        grad[k] = (f_up.sum() - f_down.sum()) / (2 * eps)
        scale[k] = (s_up.sum() + s_down.sum()) / (2 * eps)
    return Numeric(grad, scale * np.finfo(theta.dtype).eps)


def _fast_column(problem: Problem, name: str, V: np.ndarray, eps: float, tally: Tally) -> Numeric:
    """Directional derivatives of input `name` along V (k, *shape), batched: (k,).

    Copy 2k (+εv_k) and copy 2k+1 (−εv_k) each hold all m columns, side by side on axis 1.
    """
    m = problem.m
    signs = np.tile([1.0, -1.0], len(V))  # copy c moves along signs[c] * V[c // 2]
    f_copy, s_copy = np.empty(signs.size), np.empty(signs.size)
    per_call = max(1, MAX_BATCH // m)  # whole copies per forward call
    for start in range(0, signs.size, per_call):
        copies = range(start, min(signs.size, start + per_call))
        batch = {k: np.concatenate([v] * len(copies), axis=1) for k, v in problem.columns.items()}
        target = batch[name]
        for slot, c in enumerate(copies):
            step = (signs[c] * eps * V[c // 2]).astype(target.dtype)
            target[:, slot * m : (slot + 1) * m] += step
        f, s = tally.run(problem, problem.params, batch, len(copies))
        f_copy[copies.start : copies.stop] = f.reshape(len(copies), m).sum(axis=1)
        s_copy[copies.start : copies.stop] = s.reshape(len(copies), m).sum(axis=1)
    u = np.finfo(problem.columns[name].dtype).eps
    grad = (f_copy[0::2] - f_copy[1::2]) / (2 * eps)
    return Numeric(grad, u * (s_copy[0::2] + s_copy[1::2]) / (2 * eps))


# --------------------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------------------


def rel_error(g: np.ndarray, g_num: np.ndarray) -> float:
    """‖g − ĝ‖ / max(‖g‖ + ‖ĝ‖, tiny); 0 when both are zero."""
    g, g_num = np.asarray(g, np.float64), np.asarray(g_num, np.float64)
    denom = max(float(np.linalg.norm(g) + np.linalg.norm(g_num)), np.finfo(np.float64).tiny)
    return float(np.linalg.norm(g - g_num)) / denom


def elem_error(g: np.ndarray, g_num: np.ndarray, floor: float = ELEMENT_FLOOR) -> float:
    """max_i |g_i − ĝ_i| / max(|g_i| + |ĝ_i|, floor · max_i(|g_i| + |ĝ_i|)): worst entry."""
    g, g_num = np.asarray(g, np.float64), np.asarray(g_num, np.float64)
    size = np.abs(g) + np.abs(g_num)
    if size.size == 0 or not size.max() > 0:
        return 0.0
    return float(np.max(np.abs(g - g_num) / np.maximum(size, floor * size.max())))


def _resolve_mode(problem: Problem, mode: str, full_limit: int) -> str:
    if mode != "auto":
        return mode
    return "full" if problem.size <= full_limit else "fast"


def _bad_row(problem: Problem, name: str, shape: tuple[int, ...], mode: str, note: str) -> Row:
    """A failing row for a gradient that could not be compared."""
    return Row(problem.cell, problem.level, problem.loss, name, shape, mode, note=note)


def _unusable(got: Any, name: str, expected: tuple[int, ...]) -> str:
    """Why a returned gradient cannot be compared, or "" when it can."""
    if not isinstance(got, Mapping) or name not in got:
        return f"{name} is missing from the returned gradients"
    shape = tuple(np.shape(got[name]))
    if shape != expected:
        return f"{name} has shape {shape}, expected {expected}"
    if not np.all(np.isfinite(got[name])):
        return f"{name} has NaN or inf entries"
    return ""


@dataclass
class Settings:
    """What run_gradcheck resolved from the config."""

    eps: float
    tol: float
    mode: str
    directions: int
    full_limit: int
    seed: int
    dtype: np.dtype


def check_problem(problem: Problem, s: Settings, tally: Tally) -> list[Row]:
    """One row per gradient of the problem, in the problem's resolved mode."""
    mode = _resolve_mode(problem, s.mode, s.full_limit)
    try:
        got = problem.analytic()
    except Exception as exc:  # the code under test crashed: one failing row says how
        note = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return [_bad_row(problem, "(backward)", (), mode, note)]
    rows = []
    for name, array_name in problem.wrt.items():
        shape = problem.array(array_name).shape
        why = _unusable(got, name, shape)
        if why:
            rows.append(_bad_row(problem, name, shape, mode, why))
        else:
            rows.append(_compare(problem, name, array_name, np.asarray(got[name]), mode, s, tally))
    return rows


def _compare(
    problem: Problem,
    name: str,
    array_name: str,
    g: np.ndarray,
    mode: str,
    s: Settings,
    tally: Tally,
) -> Row:
    """Numeric against analytic for one array, entry by entry or along directions."""
    is_param = array_name in problem.params
    g = g.astype(np.float64)
    if mode == "full":
        num = (_full_param if is_param else _full_column)(problem, array_name, s.eps, tally)
        analytic = g
    else:
        V = _directions(problem, name, g.shape, s.directions, s.seed)
        num = (_fast_param if is_param else _fast_column)(problem, array_name, V, s.eps, tally)
        analytic = np.tensordot(V, g, axes=g.ndim)  # ⟨g, v_k⟩: (k,)
    rel = rel_error(analytic, num.value)
    abs_error = float(np.linalg.norm(analytic - num.value))
    noise = NOISE_FACTOR * float(np.linalg.norm(num.noise))
    passed = rel <= s.tol or abs_error <= noise
    note = "" if rel <= s.tol or not passed else "within rounding noise"
    return Row(
        problem.cell,
        problem.level,
        problem.loss,
        name,
        tuple(g.shape),
        mode,
        checked=int(analytic.size),
        analytic_norm=float(np.linalg.norm(analytic)),
        numeric_norm=float(np.linalg.norm(num.value)),
        rel_error=rel,
        elem_error=elem_error(analytic, num.value),
        abs_error=abs_error,
        noise=noise,
        passed=passed,
        note=note,
    )


# --------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------


def _select(given: Sequence[str] | None, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    """Validate a --cell/--level narrowing ("lstm", "rnn,gru", ...); None means all."""
    if given is None:
        return allowed
    if isinstance(given, str):
        given = [given]
    names = [s.strip() for part in given for s in str(part).split(",") if s.strip()]
    if not names:
        raise InputError(f"no {what} selected: expected one or more of {', '.join(allowed)}")
    for name in names:
        if name not in allowed:
            raise InputError(f"unknown {what} {name!r}: expected one of {', '.join(allowed)}")
    return tuple(dict.fromkeys(names))  # in the order given, without repeats


def _positive(key: str, value: Any) -> float:
    """A finite float > 0, or InputError naming the key."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (ok and math.isfinite(value) and value > 0):
        raise InputError(f"{key}={value!r} is invalid: must be a finite number > 0")
    return float(value)


def resolve_settings(cfg: Config) -> Settings:
    """The run's settings from the config, or InputError naming the key at fault."""
    g = cfg.gradcheck
    eps = _positive("gradcheck.eps", g.eps)
    tol = DEFAULT_TOL if g.tol is None else _positive("gradcheck.tol", g.tol)
    if g.mode not in MODES:
        expected = ", ".join(MODES)
        raise InputError(f"gradcheck.mode={g.mode!r} is invalid: expected one of {expected}")
    for key, value in (("directions", g.directions), ("full_limit", g.full_limit)):
        if value < 1:
            raise InputError(f"gradcheck.{key}={value!r} is invalid: must be >= 1")
    if cfg.dtype not in ("float64", "float32"):
        raise InputError(f"dtype={cfg.dtype!r} is invalid: expected float64 or float32")
    if cfg.dtype == "float32" and g.tol is None:
        raise InputError(
            f"gradcheck in float32 needs an explicit gradcheck.tol (the default {DEFAULT_TOL:g} "
            "is for float64): add e.g. gradcheck.tol=1e-2 gradcheck.eps=1e-3, or use float64"
        )
    return Settings(eps, tol, g.mode, g.directions, g.full_limit, cfg.seed, np.dtype(cfg.dtype))


def run_gradcheck(
    cfg: Config,
    cells: Sequence[str] | None = None,
    levels: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Check every gradient of `cells` (default all) at `levels` (default all).

    Runs in cfg.dtype on cfg.dims, seeded by cfg.seed; `progress` gets each check's label
    ("lstm model/xent") before it runs. Raises InputError for bad settings or names; a
    wrong gradient is a failing row, not an exception.
    """
    cells_, levels_ = _select(cells, CELLS, "cell"), _select(levels, LEVELS, "level")
    s = resolve_settings(cfg)
    tally = Tally()
    rows: list[Row] = []
    start = time.perf_counter()
    for cell in cells_:
        for level in levels_:
            for problem in problems(cfg, cell, level, s.dtype):
                if progress is not None:
                    progress(problem.label)
                rows += check_problem(problem, s, tally)
    d = cfg.dims
    return Report(
        rows=rows,
        eps=s.eps,
        tol=s.tol,
        mode=s.mode,
        dtype=str(s.dtype),
        seed=cfg.seed,
        dims=d.model_dump(),
        scale=init_scale(d.n_x, d.n_a),
        evals=tally.evals,
        calls=tally.calls,
        seconds=time.perf_counter() - start,
        cells=cells_,
        levels=levels_,
    )


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def summary(report: Report) -> str:
    """``PASS: 105 checks, 0 failed, 8,284 forward evaluations (3,049 calls) in 0.74 s ...``."""
    verdict = "PASS" if report.ok else "FAIL"
    return (
        f"{verdict}: {len(report.rows)} checks, {report.failed} failed, "
        f"{report.evals:,} forward evaluations ({report.calls:,} calls) in "
        f"{report.seconds:.2f} s (eps {report.eps:g}, tol {report.tol:g}, "
        f"mode {report.mode}, {report.dtype})"
    )


def _num(x: float, fmt: str = ".2e") -> str:
    return format(x, fmt) if math.isfinite(x) else "-"


def render(report: Report, console: Console) -> None:
    """Print the rows as a rich table, then the summary line, on `console`."""
    table = Table(title="gradcheck", title_justify="left")
    for header in ("cell", "level", "gradient", "shape", "mode"):
        table.add_column(header)
    for header in ("checked", "‖analytic‖", "‖numeric‖", "rel. error", "worst elem."):
        table.add_column(header, justify="right")
    table.add_column("result")
    notes = any(r.note for r in report.rows)
    if notes:
        table.add_column("note")
    for r in report.rows:
        table.add_row(
            r.cell,
            r.level + (f"/{r.loss}" if r.loss else ""),
            r.name,
            "(" + ", ".join(map(str, r.shape)) + ")",
            r.mode,
            f"{r.checked} dirs" if r.mode == "fast" else str(r.checked),
            _num(r.analytic_norm),
            _num(r.numeric_norm),
            _num(r.rel_error, ".1e"),
            _num(r.elem_error, ".1e"),
            "[bold green]PASS[/]" if r.passed else "[bold red]FAIL[/]",
            *([r.note] if notes else []),
        )
    console.print(table)
    console.print(summary(report), style="bold green" if report.ok else "bold red", highlight=False)


# --------------------------------------------------------------------------------------
# Choosing eps and tol: the sweep
# --------------------------------------------------------------------------------------


@dataclass
class EpsSweep:
    """Worst relative error per eps and per (cell, level), over rows, losses and seeds."""

    eps_values: tuple[float, ...]
    columns: tuple[str, ...]  # "rnn cell", "lstm sequence", ...
    worst: dict[float, dict[str, float]] = field(default_factory=dict)
    seeds: tuple[int, ...] = ()
    dims: dict[str, int] = field(default_factory=dict)

    def to_markdown(self) -> str:
        """One row per (cell, level) and a last row with the worst; one column per eps."""
        head = "| check | " + " | ".join(f"{e:.0e}" for e in self.eps_values) + " |"
        lines = [head, "|---|" + "---:|" * len(self.eps_values)]
        for check in (*self.columns, "worst"):
            errs = [
                max(self.worst[e].values()) if check == "worst" else self.worst[e][check]
                for e in self.eps_values
            ]
            lines.append(f"| {check} | " + " | ".join(f"{x:.1e}" for x in errs) + " |")
        return "\n".join(lines)


def eps_sweep(
    cfg: Config,
    eps_values: Iterable[float] = SWEEP_EPS,
    seeds: Iterable[int] | None = None,
    cells: Sequence[str] | None = None,
    levels: Sequence[str] | None = None,
) -> EpsSweep:
    """Full-mode float64 gradchecks of the correct code for each eps, errors tabulated.

    Each entry is the worst relative error over the (cell, level)'s rows (both losses at
    the model level) and over `seeds` (default: cfg.seed), on cfg.dims.
    """
    eps_values = tuple(eps_values)
    seeds_ = tuple(seeds) if seeds is not None else (cfg.seed,)
    cells_, levels_ = _select(cells, CELLS, "cell"), _select(levels, LEVELS, "level")
    columns = tuple(f"{c} {lv}" for c in cells_ for lv in levels_)
    sweep = EpsSweep(eps_values, columns, seeds=seeds_, dims=cfg.dims.model_dump())
    for e in eps_values:
        sweep.worst[e] = dict.fromkeys(columns, 0.0)
        for seed in seeds_:
            settings = cfg.gradcheck.model_copy(update={"eps": e, "mode": "full", "tol": 1.0})
            run = cfg.model_copy(update={"seed": seed, "dtype": "float64", "gradcheck": settings})
            for r in run_gradcheck(run, cells_, levels_).rows:
                key = f"{r.cell} {r.level}"
                sweep.worst[e][key] = max(sweep.worst[e][key], r.rel_error)
    return sweep
