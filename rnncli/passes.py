"""What `rnncli forward` and `rnncli backward` compute, as plain library calls.

`build` makes the parameters and inputs a config describes (fresh seeded draws, or a
notebook test cell's exact legacy draws with ``init.scheme: notebook``); `forward` and
`backward` run them and return every array under the notebook's names.

``level: sequence`` runs on the fast engine (``model.layers`` and ``model.bidirectional``
stack cells there); ``level: cell`` runs one step with the notebook's cell functions (a
user's cell: its ``step_forward`` / ``step_backward``), from a random ``a_prev`` (and
``c_prev``, or whatever states the cell has), as the notebook's cell tests do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rnncli import cells, engine, seed_cells
from rnncli import loss as losses
from rnncli.activations import softmax
from rnncli.cells import CellSpec
from rnncli.cells.load import cell_error
from rnncli.errors import InputError
from rnncli.params import init_params

if TYPE_CHECKING:
    from rnncli.config import Config


@dataclass
class Pass:
    """Every array of one forward (and backward) pass, under notebook names."""

    inputs: dict[str, np.ndarray]
    params: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    caches: dict[str, np.ndarray] = field(default_factory=dict)  # engine buffers, for sizes
    cache: Any = None  # what the notebook's code would call `cache` / `caches`
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    loss: float | None = None
    engine_state: Any = None  # (Packed, engine cache) of a sequence-level pass
    step_norms: np.ndarray | None = None  # backward, sequence level: ‖da_t‖ for t = 1..T_x
    aliases: dict[str, str] = field(default_factory=dict)  # a test cell's names -> outputs

    def arrays(self) -> dict[str, np.ndarray]:
        """Inputs, parameters, outputs and gradients in one mapping (for arrays.npz)."""
        out = {**self.inputs, **self.params, **self.outputs, **self.grads}
        if self.loss is not None:
            out["loss"] = np.array(self.loss)
        return out

    def lookup(self) -> dict[str, Any]:
        """What sample expressions may name: every array, plus `cache` / `caches`, and the
        names a replayed notebook test cell gives outputs (`seed_cells.RENAMED`)."""
        names: dict[str, Any] = {**self.inputs, **self.params, **self.outputs, **self.grads}
        names |= {alias: self.outputs[name] for alias, name in self.aliases.items()}
        if self.cache is not None:
            names["cache" if "xt" in self.inputs else "caches"] = self.cache
        return names


def _streams(seed: int) -> list[np.random.Generator]:
    """Independent generators for parameters, inputs and the upstream gradient."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]


def _notebook_draws(cfg: Config) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A notebook test cell's exact draws, checked against the config's cell, level and dims."""
    name = cfg.init.cell
    assert name is not None  # the schema requires init.cell with init.scheme=notebook
    drawn = seed_cells.draw(name)
    cell = name.split("_")[0]
    spec = cells.get(cell)
    level = "cell" if "_cell_" in name else "sequence"
    x = drawn.get("x", drawn.get("xt"))
    assert x is not None
    if "da" in drawn:  # lstm_backward: the course back-propagates through len(da) steps
        x = x[:, :, : drawn["da"].shape[2]]
    n_a = drawn["a0" if "a0" in drawn else "a_prev"].shape[0]
    n_y = drawn[spec.output].shape[0]
    want = {"cell": cell, "level": level, "dims.n_x": x.shape[0], "dims.n_a": n_a,
            "dims.n_y": n_y, "dims.m": x.shape[1]}  # fmt: skip
    if level == "sequence":
        want["dims.T_x"] = x.shape[2]
    have = {
        "cell": cfg.cell,
        "level": cfg.level,
        **{f"dims.{k}": v for k, v in dict(cfg.dims).items()},
    }
    for key, value in want.items():
        if have[key] != value:
            raise InputError(
                f"init.cell={name} replays the notebook's {name} cell, which needs "
                f"{key}={value} (the config has {have[key]})"
            )
    names = spec.all_params
    params = {k: drawn[k] for k in names}
    inputs = {k: v for k, v in drawn.items() if k not in names and k != "b"}
    if "x" in inputs:
        inputs["x"] = x
    return params, inputs


def directions(cfg: Config) -> int:
    return 2 if cfg.model.bidirectional else 1


def _check_model(cfg: Config, spec: CellSpec) -> None:
    cells.check_dtype(spec, cfg.dtype)
    stacked = cfg.model.layers > 1 or cfg.model.bidirectional
    if stacked and cfg.level == "cell":
        raise InputError(
            "model.layers and model.bidirectional stack whole sequences: use level=sequence"
        )
    if cfg.init.scheme == "notebook" and stacked:
        raise InputError("init.scheme=notebook replays one-layer notebook cells: unset model.*")


def build(
    cfg: Config, given: dict[str, np.ndarray] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Parameters and inputs (x or xt, a0 or a_prev, c_prev, and the upstream da) for `cfg`;
    `given`: parameters to run at instead of drawing them (notebook names, the model's
    shapes; the inputs are drawn as without them)."""
    spec = cells.get(cfg.cell)
    _check_model(cfg, spec)
    if cfg.init.scheme == "notebook" and given is None:
        return _notebook_draws(cfg)
    d, dtype = cfg.dims, np.dtype(cfg.dtype)
    g_params, g_inputs, g_upstream = _streams(cfg.seed)
    D = directions(cfg)
    if given is not None:
        params = {k: np.array(v, dtype=dtype) for k, v in given.items()}
    else:
        params = init_params(
            spec, d.n_x, d.n_a, d.n_y, g_params, cfg.init.scheme, cfg.init.scale, dtype,
            cfg.model.layers, D, cfg.init.forget_bias,
        )  # fmt: skip

    def randn(rng: np.random.Generator, *shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(dtype)

    inputs: dict[str, np.ndarray] = {}
    if cfg.level == "cell":
        inputs["xt"] = randn(g_inputs, d.n_x, d.m)
        for s in spec.states:
            inputs[f"{s}_prev"] = randn(g_inputs, d.n_a, d.m)
        for s in spec.states:
            inputs[f"d{s}_next"] = randn(g_upstream, d.n_a, d.m)
    else:
        inputs["x"] = randn(g_inputs, d.n_x, d.m, d.T_x)
        inputs["a0"] = randn(g_inputs, d.n_a, d.m)
        inputs["da"] = randn(g_upstream, D * d.n_a, d.m, d.T_x)
    # targets for backward.upstream=loss, from the upstream stream too
    steps = 1 if cfg.level == "cell" else d.T_x
    inputs["targets"] = g_upstream.integers(0, d.n_y, size=(d.m, steps))
    return params, inputs


def _cell_forward(
    cfg: Config, params: dict[str, np.ndarray], inputs: dict[str, np.ndarray]
) -> Pass:
    spec = cells.get(cfg.cell)
    if not spec.notebook:
        return _user_cell_forward(spec, params, inputs)
    fn = spec.notebook_function("cell_forward")
    *returned, cache = fn(inputs["xt"], *(inputs[f"{s}_prev"] for s in spec.states), params)
    outputs = dict(zip(spec.cell_outputs, returned, strict=True))
    return Pass(inputs, params, outputs, cache=cache)


def _user_cell_forward(
    spec: CellSpec, params: dict[str, np.ndarray], inputs: dict[str, np.ndarray]
) -> Pass:
    """One step of a user's cell; the output layer's softmax on its new a."""
    state = tuple(inputs[f"{s}_prev"] for s in spec.states)
    mine = {k: params[k] for k in spec.params}
    try:
        new, cache = spec.step.step_forward(mine, inputs["xt"], state)
    except (Exception, SystemExit) as exc:
        raise cell_error(spec.label, "step_forward", exc, spec.source.get("path")) from None
    outputs = {f"{s}_next": v for s, v in zip(spec.states, new, strict=True)}
    outputs[cells.STEP_OUTPUT] = softmax(params[spec.output] @ new[0] + params["by"])
    return Pass(inputs, params, outputs, cache=cache)


def _sequence_forward(
    cfg: Config, params: dict[str, np.ndarray], inputs: dict[str, np.ndarray]
) -> Pass:
    spec = cells.get(cfg.cell)
    D = directions(cfg)
    p = engine.pack(spec, params, n_x=cfg.dims.n_x, layers=cfg.model.layers, directions=D)
    x, a0 = engine.check_inputs(p, inputs["x"], inputs["a0"])
    cache = engine.forward(p, engine.to_time_major(x), (a0,))
    H = engine.hidden(p, cache)
    y = softmax(losses.logits(p.Wy, p.by, H).transpose(1, 0, 2))  # (n_y, T, m) per column
    names = spec.sequence_outputs
    outputs = {
        names[0]: engine.from_time_major(H),
        names[1]: np.ascontiguousarray(y.transpose(0, 2, 1)),
    }
    if "c" in names and not p.stacked:  # the notebook's lstm_forward returns c too
        outputs["c"] = engine.from_time_major(cache.C[1:])
    buffers = {
        f"cache.{k}": v
        for k, v in vars(cache).items()
        if isinstance(v, np.ndarray) and not k.startswith("_")
    }
    if spec.fused and spec.gates and not p.stacked:  # the LSTM's g: its value, not z
        buffers["cache.Z"] = engine.kernel(spec).gate_values(cache)
    return Pass(inputs, params, outputs, caches=buffers, cache=((), x), engine_state=(p, cache))


def forward(cfg: Config, given: dict[str, np.ndarray] | None = None) -> Pass:
    """Build the config's arrays (at the `given` parameters, if any) and run the forward
    pass."""
    params, inputs = build(cfg, given)
    if cfg.level == "cell":
        run = _cell_forward(cfg, params, inputs)
    else:
        run = _sequence_forward(cfg, params, inputs)
    if cfg.init.scheme == "notebook":
        run.aliases = dict(seed_cells.RENAMED.get(cfg.init.cell or "", {}))
    return run


def _cell_upstream_from_loss(cfg: Config, run: Pass) -> tuple[np.ndarray, ...]:
    """The upstream (da_next, and dc_next = 0 for every other state) from the
    cross-entropy of this step's output."""
    spec = cells.get(cfg.cell)
    Wy, by = run.params[spec.output], run.params["by"]
    a_next = run.outputs["a_next"]
    targets = run.inputs["targets"][:, 0]
    loss, dWy, dby, dH = losses.xent(Wy, by, a_next[None], targets[None])
    run.loss = loss
    run.grads["d" + spec.output] = dWy
    run.grads["dby"] = dby
    return (dH[0], *(np.zeros_like(a_next) for _ in spec.states[1:]))


def backward(cfg: Config, given: dict[str, np.ndarray] | None = None) -> Pass:
    """Forward, then backward from a random upstream ``da`` or from the loss."""
    run = forward(cfg, given)
    spec = cells.get(cfg.cell)
    from_loss = cfg.backward.upstream == "loss"
    if cfg.level == "cell":
        if from_loss:
            upstream = _cell_upstream_from_loss(cfg, run)
        else:
            upstream = tuple(run.inputs[f"d{s}_next"] for s in spec.states)
        run.grads = {**_cell_backward(spec, run, upstream), **run.grads}
    elif from_loss:
        p = run.engine_state[0]
        loss, grads = engine.loss_and_grads(
            spec, run.params, run.inputs["x"], run.inputs["targets"], run.inputs["a0"],
            layers=p.layers, directions=p.directions,
        )  # fmt: skip
        run.loss, run.grads = loss, grads
    else:
        p, cache = run.engine_state
        packed, dX, da0 = engine.backward(p, cache, engine.to_time_major(run.inputs["da"]))
        named = engine.unpack(packed, prefix="d")
        for k in ("d" + spec.output, "dby"):  # no output layer in this pass
            named.pop(k)
        assert dX is not None
        run.grads = {"dx": engine.from_time_major(dX), "da0": da0, **named}
    if cfg.level == "sequence":
        run.step_norms = step_norms(run, from_loss)
    if not from_loss:
        run.inputs.pop("targets", None)
    else:
        for k in ("da", *(f"d{s}_next" for s in spec.states)):
            run.inputs.pop(k, None)
    return run


def step_norms(run: Pass, from_loss: bool) -> np.ndarray | None:
    """‖da_t‖ (Frobenius over (n_a, m)) for t = 1..T_x: the total gradient on each a_t
    (the upstream at t plus what comes back from step t+1), recorded by the engine's
    backward pass; None for a stacked model."""
    p = run.engine_state[0]
    if p.stacked:
        return None
    X = engine.to_time_major(run.inputs["x"])
    cache = engine.forward(p, X, (run.inputs["a0"],), trace=True)
    if from_loss:
        targets = np.ascontiguousarray(run.inputs["targets"].T)
        dA = losses.xent(p.Wy, p.by, engine.hidden(p, cache), targets)[3]
    else:
        dA = engine.to_time_major(run.inputs["da"])
    record: dict[str, np.ndarray] = {}
    engine.backward(p, cache, dA, need_dx=False, record=record)
    da = record["a"]
    return np.sqrt(np.einsum("tnm,tnm->t", da, da))


def _cell_backward(spec: CellSpec, run: Pass, upstream: tuple[np.ndarray, ...]) -> dict:
    """One step back: the notebook's *_cell_backward, or a user's step_backward."""
    if spec.notebook:
        fn = spec.notebook_function("cell_backward")
        return dict(fn(*upstream, run.cache))
    mine = {k: run.params[k] for k in spec.params}
    try:
        dprev, dxt, dparams = spec.step.step_backward(mine, upstream, run.cache)
    except (Exception, SystemExit) as exc:
        raise cell_error(spec.label, "step_backward", exc, spec.source.get("path")) from None
    out = {"dxt": dxt, **{f"d{s}_prev": v for s, v in zip(spec.states, dprev, strict=True)}}
    return {**out, **{"d" + k: dparams[k] for k in spec.params}}


def forward_only(run: Pass) -> Pass:
    """Drop the upstream gradient and targets, which a forward pass does not use."""
    for k in [k for k in run.inputs if k == "da" or k == "targets" or k.endswith("_next")]:
        run.inputs.pop(k, None)
    return run
