"""What is checked at each level: per-column objectives, their arrays, the code under test.

Built-in cells: the notebook's functions at the cell and sequence levels, the engine at
the model level. A user's cell: its ``step_forward`` / ``step_backward`` at the cell level,
the generic time loop over them at the sequence level, the engine at the model level
(numeric side: the engine's forward). ``model.layers``, ``model.bidirectional`` and
``model.dropout`` (with fixed masks) make the model level check a stacked model.

Functions are looked up through their modules at call time (``notebook.<cell>_...``,
``engine.loss_and_grads``), so a monkeypatched one is what gets checked.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncli import cells, engine, notebook
from rnncli.activations import softmax
from rnncli.cells import CellSpec
from rnncli.cells.load import cell_error
from rnncli.config import Config
from rnncli.engine import stack
from rnncli.params import init_params

CELLS = tuple(cells.BUILTIN)
LEVELS = ("cell", "sequence", "model")
MODEL_LOSSES = ("xent", "mse_last", "xent_last")
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


def init_scale(n_x: int, n_a: int) -> float:
    """Weight scale 1/sqrt(fan_in), fan_in = n_a + n_x + 1 (the bias as a unit input).

    With N(0, 1) inputs, |a| < 1 and N(0, scale²) weights every pre-activation has a
    standard deviation below 1 at any size, so tanh and sigmoid stay out of saturation
    (where their derivatives vanish and a wrong term would hide).
    """
    return 1.0 / math.sqrt(n_a + n_x + 1)


def _draw_params(
    cfg: Config,
    spec: CellSpec,
    rng: np.random.Generator,
    dtype: np.dtype,
    stacked: bool = False,
    given: Mapping[str, np.ndarray] | None = None,
) -> Arrays:
    """Parameters drawn for a check, each replaced by the `given` one of its name."""
    d = cfg.dims
    scale = init_scale(d.n_x, d.n_a)
    layers, D = (cfg.model.layers, _directions(cfg)) if stacked else (1, 1)
    params = init_params(spec, d.n_x, d.n_a, d.n_y, rng, "normal", scale, dtype, layers, D)
    for k, v in (given or {}).items():
        if k in params and params[k].shape == v.shape:
            params[k] = np.array(v, dtype=dtype)
    return params


def _directions(cfg: Config) -> int:
    return 2 if cfg.model.bidirectional else 1


def _cell_index(spec: CellSpec) -> int:
    """The built-ins' stream numbers are their positions; a user's cell gets its own."""
    if spec.name in CELLS:
        return CELLS.index(spec.name)
    return 1000 + zlib.crc32(spec.label.encode()) % 1_000_000


def _rng(cfg: Config, spec: CellSpec, level: str, *more: int) -> np.random.Generator:
    """A generator per (seed, cell, level): narrowing --cell/--level keeps the numbers."""
    return np.random.default_rng([cfg.seed, _cell_index(spec), LEVELS.index(level), *more])


def _user(spec: CellSpec, method: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call a user's cell method; an exception names the cell, method and line."""
    try:
        return fn(*args)
    except (Exception, SystemExit) as exc:
        raise cell_error(spec.label, method, exc, spec.source.get("path")) from None


def _cell_problem(
    cfg: Config, spec: CellSpec, dtype: np.dtype, given: Mapping[str, np.ndarray] | None = None
) -> Problem:
    """One step; f = Σ da_next⊙a_next (+ Σ dc_next⊙c_next, every state). Columns
    (n_x or n_a, m)."""
    d = cfg.dims
    rng = _rng(cfg, spec, "cell")
    params = _draw_params(cfg, spec, rng, dtype, given=given)
    states = spec.states
    prev = [f"{s}_prev" for s in states]
    up = [f"d{s}_next" for s in states]
    names = ["xt", prev[0], up[0]] + [
        n for pair in zip(prev[1:], up[1:], strict=True) for n in pair
    ]
    columns = {k: rng.standard_normal((d.n_x if k == "xt" else d.n_a, d.m)) for k in names}
    columns[prev[0]] = np.tanh(columns[prev[0]])  # a hidden state lies in (-1, 1)
    columns = {k: v.astype(dtype) for k, v in columns.items()}

    def step(p: Arrays, c: Arrays) -> tuple[np.ndarray, ...]:
        if not spec.notebook:
            mine = {k: p[k] for k in spec.params}
            state = tuple(c[k] for k in prev)
            return _user(spec, "step_forward", spec.step.step_forward, mine, c["xt"], state)[0]
        out = spec.notebook_function("cell_forward")(c["xt"], *(c[k] for k in prev), p)
        return tuple(out[: len(states)])

    def per_column(p: Arrays, c: Arrays) -> Values:
        parts = [_weighted(c[name], value) for name, value in zip(up, step(p, c), strict=True)]
        return sum(f for f, _ in parts[1:]) + parts[0][0], sum(s for _, s in parts[1:]) + parts[0][
            1
        ]

    def analytic() -> Mapping[str, np.ndarray]:
        p, c = _copy(params), _copy(columns)  # the code under test may write to its inputs
        if not spec.notebook:
            mine = {k: p[k] for k in spec.params}
            state = tuple(c[k] for k in prev)
            _, cache = _user(spec, "step_forward", spec.step.step_forward, mine, c["xt"], state)
            upstream = tuple(c[k] for k in up)
            dprev, dxt, dparams = _user(
                spec, "step_backward", spec.step.step_backward, mine, upstream, cache
            )
            out = {"dxt": dxt, **{"d" + k: v for k, v in zip(prev, dprev, strict=True)}}
            return {**out, **{"d" + k: v for k, v in dparams.items()}}
        cache = spec.notebook_function("cell_forward")(c["xt"], *(c[k] for k in prev), p)[-1]
        return spec.notebook_function("cell_backward")(*(c[k] for k in up), cache)

    wrt = {"dxt": "xt"} | {"d" + k: k for k in prev}
    wrt |= {"d" + k: k for k in spec.params}
    return Problem(spec.label, "cell", None, params, columns, wrt, per_column, analytic, d.m)


def _sequence_columns(cfg: Config, rng: np.random.Generator, dtype: np.dtype) -> Arrays:
    """x (n_x, m, T_x) ~ N(0, 1) and a0 (n_a, m) in (-1, 1)."""
    d = cfg.dims
    x = rng.standard_normal((d.n_x, d.m, d.T_x))
    a0 = np.tanh(rng.standard_normal((d.n_a, d.m)))
    return {"x": x.astype(dtype), "a0": a0.astype(dtype)}


def _forward(spec: CellSpec, c: Arrays, p: Arrays) -> Any:
    """The notebook's forward over the sequence: its whole return tuple (a, y, ..., caches)."""
    return getattr(notebook, f"{spec.name}_forward")(c["x"], c["a0"], p)


def _engine_hidden(
    spec: CellSpec, c: Arrays, p: Arrays, layers: int = 1, D: int = 1,
    masks: list[np.ndarray] | None = None,
) -> np.ndarray:  # fmt: skip
    """The engine's top-layer hidden states a: (D*n_a, M, T_x) (masks: (D*n_a, M, T_x))."""
    x = c["x"]
    packed = engine.pack(spec, p, n_x=x.shape[0], layers=layers, directions=D)
    tm = None if masks is None else [engine.to_time_major(k) for k in masks]
    cache = engine.forward(packed, engine.to_time_major(x), (c["a0"],), None, tm)
    return engine.from_time_major(engine.hidden(packed, cache))


def _sequence_problem(
    cfg: Config, spec: CellSpec, dtype: np.dtype, given: Mapping[str, np.ndarray] | None = None
) -> Problem:
    """The whole sequence; f = Σ da⊙a. Columns x, a0 and da (n_a, m, T_x)."""
    d = cfg.dims
    rng = _rng(cfg, spec, "sequence")
    params = _draw_params(cfg, spec, rng, dtype, given=given)
    columns = _sequence_columns(cfg, rng, dtype)
    columns["da"] = rng.standard_normal((d.n_a, d.m, d.T_x)).astype(dtype)

    def per_column(p: Arrays, c: Arrays) -> Values:
        a = _forward(spec, c, p)[0] if spec.notebook else _engine_hidden(spec, c, p)
        return _weighted(c["da"], a)

    def analytic() -> Mapping[str, np.ndarray]:
        p, c = _copy(params), _copy(columns)
        if spec.notebook:
            return getattr(notebook, f"{spec.name}_backward")(c["da"], _forward(spec, c, p)[-1])
        packed = engine.pack(spec, p, n_x=d.n_x)
        cache = engine.forward(packed, engine.to_time_major(c["x"]), (c["a0"],))
        grads, dX, da0 = engine.backward(packed, cache, engine.to_time_major(c["da"]))
        assert dX is not None
        named = engine.unpack(grads, prefix="d")
        return {"dx": engine.from_time_major(dX), "da0": da0,
                **{"d" + k: named["d" + k] for k in spec.params}}  # fmt: skip

    wrt = {"dx": "x", "da0": "a0"} | {"d" + k: k for k in spec.params}
    return Problem(spec.label, "sequence", None, params, columns, wrt, per_column, analytic, d.m)


def _targets(cfg: Config, loss: str, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """The targets of `loss`: class indices (T_x, m) for xent, (1, m) for xent_last, with
    a share of padding (-1, ignored by the loss); values (n_y, m) for mse_last."""
    d = cfg.dims
    if loss in ("xent", "xent_last"):
        shape = (d.T_x if loss == "xent" else 1, d.m)
        targets = rng.integers(0, d.n_y, size=shape)
        targets[rng.random(shape) < PAD_FRACTION] = -1
        return targets
    return rng.standard_normal((d.n_y, d.m)).astype(dtype)


def _dropout_columns(
    cfg: Config, columns: dict[str, np.ndarray], rng: np.random.Generator, dtype: np.dtype
) -> list[str]:
    """Fixed dropout masks of a stacked model, as columns (D*n_a, m, T_x) per layer below
    the top; their names."""
    d, names = cfg.dims, []
    if cfg.model.dropout > 0:
        keep = 1.0 - cfg.model.dropout
        for layer in range(cfg.model.layers - 1):
            name = f"mask_l{layer}"
            mask = (rng.random((_directions(cfg) * d.n_a, d.m, d.T_x)) < keep) / keep
            columns[name] = mask.astype(dtype)
            names.append(name)
    return names


def _model_problem(
    cfg: Config,
    spec: CellSpec,
    loss: str,
    dtype: np.dtype,
    given: Mapping[str, np.ndarray] | None = None,
) -> Problem:
    """The model under `loss`, as the engine computes it. Columns x, a0 and targets.

    xent targets are stored time-major (T_x, m), so that the batch is axis 1 (the engine
    takes them as (m, T_x)); xent_last targets are (1, m), mse_last targets (n_y, m).
    A stacked model (``model.*``) checks dx and every parameter, with fixed dropout masks
    as columns (D*n_a, m, T_x) per layer below the top.
    """
    d, m = cfg.dims, cfg.dims.m
    layers, D = cfg.model.layers, _directions(cfg)
    stacked = layers * D > 1
    rng = _rng(cfg, spec, "model", MODEL_LOSSES.index(loss))
    params = _draw_params(cfg, spec, rng, dtype, stacked, given)
    columns = _sequence_columns(cfg, rng, dtype)
    columns["targets"] = _targets(cfg, loss, rng, dtype)
    mask_names = _dropout_columns(cfg, columns, rng, dtype) if stacked else []
    out = spec.output

    def per_column(p: Arrays, c: Arrays) -> Values:
        M = c["x"].shape[1]
        y = None
        if spec.notebook and not stacked:
            a, y = _forward(spec, c, p)[:2]  # (n_a, M, T_x) and softmax outputs (n_y, M, T_x)
        else:
            masks = [c[k] for k in mask_names] or None
            a = _engine_hidden(spec, c, p, layers, D, masks)
        if loss == "xent":
            if y is None:
                y = softmax(np.einsum("ya,amt->ymt", p[out], a) + p["by"][:, :, None])
            f = _xent_columns(y, c["targets"], m)
        elif loss == "xent_last":
            last = stack.last(a.transpose(2, 0, 1), D, d.n_a)  # (D*n_a, M)
            f = _xent_columns(softmax(p[out] @ last + p["by"])[:, :, None], c["targets"], m)
        else:
            last = stack.last(a.transpose(2, 0, 1), D, d.n_a)
            y_hat = p[out] @ last + p["by"]  # the linear read-out at the last step
            f = _colsum((y_hat - c["targets"]) ** 2) / (d.n_y * m)
        assert f.shape == (M,)
        return f, np.abs(f)  # every term has the same sign: the scale is |f_j|

    def analytic() -> Mapping[str, np.ndarray]:
        p, c = _copy(params), _copy(columns)
        targets = {"xent": c["targets"].T, "xent_last": c["targets"][0]}.get(loss, c["targets"])
        if not mask_names:
            return engine.loss_and_grads(
                spec, p, c["x"], targets, c["a0"], loss=loss, layers=layers, directions=D
            )[1]
        return _masked_loss_and_grads(spec, p, c, targets, loss, layers, D, mask_names)

    wrt = {"dx": "x", "da0": "a0"} | {"d" + k: k for k in params}
    if stacked:
        wrt.pop("da0")  # a0 only starts the first block; the columns keep it fixed
    return Problem(spec.label, "model", loss, params, columns, wrt, per_column, analytic, m)


def _masked_loss_and_grads(
    spec: CellSpec, p: Arrays, c: Arrays, targets: np.ndarray, loss: str, layers: int,
    D: int, mask_names: list[str],
) -> dict[str, np.ndarray]:  # fmt: skip
    """The engine's training step with fixed dropout masks: every gradient, and dx."""
    x = c["x"]
    packed = engine.pack(spec, p, n_x=x.shape[0], layers=layers, directions=D)
    grads = packed.zeros_like()
    X = engine.to_time_major(x)
    tgt = np.ascontiguousarray(targets.T) if loss == "xent" else targets
    masks = [engine.to_time_major(c[k]) for k in mask_names]
    cache = engine.forward(packed, X, (c["a0"],), None, masks)
    H = engine.hidden(packed, cache)
    dH = np.empty_like(H)
    from rnncli import workspace
    from rnncli.engine import _loss_into

    _loss_into(packed, loss, H, None, tgt, grads, dH, workspace.Workspace())
    _, dX, _ = engine.backward(packed, cache, dH, grads)
    assert dX is not None
    return {**engine.unpack(grads, prefix="d"), "dx": engine.from_time_major(dX)}


def _xent_columns(y: np.ndarray, targets: np.ndarray, m: int) -> np.ndarray:
    """Per column -(1/m) Σ_t log y[target_t]; y: (n_y, M, T), targets (T, M), < 0 ignored."""
    tt, jj = np.nonzero(targets >= 0)
    logp = np.log(y[targets[tt, jj], jj, tt].astype(np.float64))
    return -np.bincount(jj, weights=logp, minlength=y.shape[1]) / m


def _copy(arrays: Mapping[str, np.ndarray]) -> Arrays:
    return {k: v.copy() for k, v in arrays.items()}


def problems(
    cfg: Config, cell: str, level: str, dtype: np.dtype,
    given: Mapping[str, np.ndarray] | None = None,
) -> list[Problem]:  # fmt: skip
    """The checks of one (cell, level): one, or one per loss at the model level."""
    spec = cells.get(cell)
    if level == "cell":
        return [_cell_problem(cfg, spec, dtype, given)]
    if level == "sequence":
        return [_sequence_problem(cfg, spec, dtype, given)]
    return [_model_problem(cfg, spec, loss, dtype, given) for loss in MODEL_LOSSES]
