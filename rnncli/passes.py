"""What `rnncli forward` and `rnncli backward` compute, as plain library calls.

`build` makes the parameters and inputs a config describes (fresh seeded draws, or a
notebook test cell's exact legacy draws with ``init.scheme: notebook``); `forward` and
`backward` run them and return every array under the notebook's names.

``level: sequence`` runs on the fast engine; ``level: cell`` runs one step with the
notebook's cell functions, from a random ``a_prev`` (and ``c_prev``), as the notebook's
cell tests do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnncli import engine, notebook, seed_cells
from rnncli import loss as losses
from rnncli.activations import softmax
from rnncli.engine import lstm as lstm_kernel
from rnncli.errors import InputError
from rnncli.params import init_params

#: What the notebook calls each output, per (cell, level).
OUTPUT_NAMES = {
    ("rnn", "cell"): ("a_next", "yt_pred"),
    ("lstm", "cell"): ("a_next", "c_next", "yt"),
    ("gru", "cell"): ("a_next", "yt_pred"),
    ("rnn", "sequence"): ("a", "y_pred"),
    ("lstm", "sequence"): ("a", "y", "c"),
    ("gru", "sequence"): ("a", "y"),
}


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

    def arrays(self) -> dict[str, np.ndarray]:
        """Inputs, parameters, outputs and gradients in one mapping (for arrays.npz)."""
        out = {**self.inputs, **self.params, **self.outputs, **self.grads}
        if self.loss is not None:
            out["loss"] = np.array(self.loss)
        return out

    def lookup(self) -> dict[str, Any]:
        """What sample expressions may name: every array, plus `cache` / `caches`."""
        names: dict[str, Any] = {**self.inputs, **self.params, **self.outputs, **self.grads}
        if self.cache is not None:
            names["cache" if "xt" in self.inputs else "caches"] = self.cache
        return names


def _streams(seed: int) -> list[np.random.Generator]:
    """Independent generators for parameters, inputs and the upstream gradient."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]


def _notebook_draws(cfg: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A notebook test cell's exact draws, checked against the config's cell, level and dims."""
    name = cfg.init.cell
    drawn = seed_cells.draw(name)
    cell = name.split("_")[0]
    level = "cell" if "_cell_" in name else "sequence"
    x = drawn.get("x", drawn.get("xt"))
    assert x is not None
    if "da" in drawn:  # lstm_backward: the course back-propagates through len(da) steps
        x = x[:, :, : drawn["da"].shape[2]]
    n_a = drawn["a0" if "a0" in drawn else "a_prev"].shape[0]
    n_y = drawn["Wya" if cell == "rnn" else "Wy"].shape[0]
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
    names = engine.PARAM_NAMES[cell]
    params = {k: drawn[k] for k in names}
    inputs = {k: v for k, v in drawn.items() if k not in names and k != "b"}
    if "x" in inputs:
        inputs["x"] = x
    return params, inputs


def build(cfg: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Parameters and inputs (x or xt, a0 or a_prev, c_prev, and the upstream da) for `cfg`."""
    if cfg.init.scheme == "notebook":
        return _notebook_draws(cfg)
    d, dtype = cfg.dims, np.dtype(cfg.dtype)
    g_params, g_inputs, g_upstream = _streams(cfg.seed)
    params = init_params(
        cfg.cell, d.n_x, d.n_a, d.n_y, g_params, cfg.init.scheme, cfg.init.scale, dtype
    )

    def randn(rng: np.random.Generator, *shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(dtype)

    inputs: dict[str, np.ndarray] = {}
    if cfg.level == "cell":
        inputs["xt"] = randn(g_inputs, d.n_x, d.m)
        inputs["a_prev"] = randn(g_inputs, d.n_a, d.m)
        if cfg.cell == "lstm":
            inputs["c_prev"] = randn(g_inputs, d.n_a, d.m)
        inputs["da_next"] = randn(g_upstream, d.n_a, d.m)
        if cfg.cell == "lstm":
            inputs["dc_next"] = randn(g_upstream, d.n_a, d.m)
    else:
        inputs["x"] = randn(g_inputs, d.n_x, d.m, d.T_x)
        inputs["a0"] = randn(g_inputs, d.n_a, d.m)
        inputs["da"] = randn(g_upstream, d.n_a, d.m, d.T_x)
    # targets for backward.upstream=loss, from the upstream stream too
    steps = 1 if cfg.level == "cell" else d.T_x
    inputs["targets"] = g_upstream.integers(0, d.n_y, size=(d.m, steps))
    return params, inputs


def _cell_forward(cfg: Any, params: dict[str, np.ndarray], inputs: dict[str, np.ndarray]) -> Pass:
    fn = getattr(notebook, f"{cfg.cell}_cell_forward")
    if cfg.cell == "lstm":
        a_next, c_next, yt, cache = fn(inputs["xt"], inputs["a_prev"], inputs["c_prev"], params)
        outputs = {"a_next": a_next, "c_next": c_next, "yt": yt}
    else:
        a_next, yt, cache = fn(inputs["xt"], inputs["a_prev"], params)
        outputs = {"a_next": a_next, "yt_pred": yt}
    return Pass(inputs, params, outputs, cache=cache)


def _sequence_forward(
    cfg: Any, params: dict[str, np.ndarray], inputs: dict[str, np.ndarray]
) -> Pass:
    p = engine.pack(cfg.cell, params)
    x, a0 = engine.check_inputs(p, inputs["x"], inputs["a0"])
    cache = engine.forward(p, engine.to_time_major(x), a0)
    H = engine.hidden(p, cache)
    y = softmax(losses.logits(p.Wy, p.by, H).transpose(1, 0, 2))  # (n_y, T, m) per column
    names = OUTPUT_NAMES[(cfg.cell, "sequence")]
    outputs = {
        names[0]: engine.from_time_major(H),
        names[1]: np.ascontiguousarray(y.transpose(0, 2, 1)),
    }
    if cfg.cell == "lstm":
        outputs["c"] = engine.from_time_major(cache.C[1:])
    buffers = {
        f"cache.{k}": v
        for k, v in vars(cache).items()
        if isinstance(v, np.ndarray) and not k.startswith("_")
    }
    if cfg.cell == "lstm":  # show g's value, not the pre-activation its rows keep
        buffers["cache.Z"] = lstm_kernel.gate_values(cache)
    return Pass(inputs, params, outputs, caches=buffers, cache=((), x), engine_state=(p, cache))


def forward(cfg: Any) -> Pass:
    """Build the config's arrays and run the forward pass."""
    params, inputs = build(cfg)
    if cfg.level == "cell":
        return _cell_forward(cfg, params, inputs)
    return _sequence_forward(cfg, params, inputs)


def _cell_upstream_from_loss(cfg: Any, run: Pass) -> tuple[np.ndarray, np.ndarray | None]:
    """da_next (and dc_next = 0) from the cross-entropy of this step's output."""
    out_name = engine.OUTPUT_NAMES[cfg.cell]
    Wy, by = run.params[out_name], run.params["by"]
    a_next = run.outputs["a_next"]
    targets = run.inputs["targets"][:, 0]
    loss, dWy, dby, dH = losses.xent(Wy, by, a_next[None], targets[None])
    run.loss = loss
    run.grads["d" + out_name] = dWy
    run.grads["dby"] = dby
    dc = np.zeros_like(a_next) if cfg.cell == "lstm" else None
    return dH[0], dc


def backward(cfg: Any) -> Pass:
    """Forward, then backward from a random upstream ``da`` or from the loss."""
    run = forward(cfg)
    from_loss = cfg.backward.upstream == "loss"
    if cfg.level == "cell":
        if from_loss:
            da_next, dc_next = _cell_upstream_from_loss(cfg, run)
        else:
            da_next, dc_next = run.inputs["da_next"], run.inputs.get("dc_next")
        fn = getattr(notebook, f"{cfg.cell}_cell_backward")
        args = (da_next, dc_next, run.cache) if cfg.cell == "lstm" else (da_next, run.cache)
        run.grads = {**fn(*args), **run.grads}
    elif from_loss:
        loss, grads = engine.loss_and_grads(
            cfg.cell, run.params, run.inputs["x"], run.inputs["targets"], run.inputs["a0"]
        )
        run.loss, run.grads = loss, grads
    else:
        p, cache = run.engine_state
        packed, dX, da0 = engine.backward(p, cache, engine.to_time_major(run.inputs["da"]))
        named = engine.unpack(packed, prefix="d")
        for k in ("d" + engine.OUTPUT_NAMES[cfg.cell], "dby"):  # no output layer in this pass
            named.pop(k)
        assert dX is not None
        run.grads = {"dx": engine.from_time_major(dX), "da0": da0, **named}
    if not from_loss:
        run.inputs.pop("targets", None)
    else:
        for k in ("da", "da_next", "dc_next"):
            run.inputs.pop(k, None)
    return run


def forward_only(run: Pass) -> Pass:
    """Drop the upstream gradient and targets, which a forward pass does not use."""
    for k in ("da", "da_next", "dc_next", "targets"):
        run.inputs.pop(k, None)
    return run
