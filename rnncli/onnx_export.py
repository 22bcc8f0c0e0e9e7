"""A trained model as an ONNX graph built from ONNX's own RNN, LSTM and GRU operators.

One operator node per layer (``direction="bidirectional"`` for two directions), the
layers joined as rnncli joins them (layer l+1 reads ``[a_fwd_t ; a_rev_t]``), then the
output layer as the task reads it (`Readout`):

    every step   x (T, batch, n_x) -> logits (T, batch, n_y) = Y_top Wy^T + by, and
                 probs = softmax(logits) for a softmax task
    last step    x (T, batch, n_x) -> logits (batch, n_y) = [h_fwd_T ; h_rev_1] Wy^T + by
                 (the top layer's Y_h), and probs for a softmax task; a regression task
                 (mse_last) reads the logits as its prediction

The cell's facts come from its spec (`rnncli.cells.CellSpec.onnx`): the operator, its
gate order, ``linear_before_reset`` and the gates ONNX computes as one minus ours.
The graph is float32: ONNX Runtime's CPU RNN operators take no float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnncli import engine
from rnncli.cells import CellSpec, Onnx
from rnncli.errors import InputError

#: The opset the graph is written for (ONNX Runtime has run it since 1.12).
OPSET = 17
#: The IR version written with it (readers older than the onnx package accept it).
IR_VERSION = 8
FLOAT64_NOTE = (
    "the run is float64; the ONNX graph is float32 (ONNX Runtime's CPU LSTM refuses float64)"
)
HINT = "--format onnx needs the extra: pip install 'rnncli[onnx]'"


@dataclass(frozen=True)
class Readout:
    """What the output layer is read at and how: ``every`` step or the ``last``;
    ``softmax`` for a classifying loss (xent, xent_last), else the logits as they are."""

    at: str
    softmax: bool

    @property
    def outputs(self) -> tuple[str, ...]:
        return ("logits", "probs") if self.softmax else ("logits",)

    def describe(self) -> str:
        shape = "(T, batch, n_y)" if self.at == "every" else "(batch, n_y)"
        what = "logits and probs (softmax over n_y)" if self.softmax else "logits (the prediction)"
        step = "every step" if self.at == "every" else "the last step (h_n of the top layer)"
        return f"{what} {shape} at {step}"


def onnx_of(spec: CellSpec) -> Onnx:
    """The cell's ONNX operator, or InputError naming the cell."""
    if spec.onnx is None:
        raise InputError(f"cell {spec.label}: no ONNX operator computes it; export safetensors")
    return spec.onnx


def _gate_rows(spec: CellSpec, op: Onnx, n: int) -> list[tuple[slice, float]]:
    """Per operator gate: its rows in the block's W/b (or own tensors), and its sign."""
    if op.own:
        assert spec.torch is not None
        order = list(spec.torch.gates)
    else:
        order = [b.gate for b in spec.fused]
    out = []
    for gate in op.gates:
        k = order.index(gate)
        out.append((slice(k * n, (k + 1) * n), -1.0 if gate in op.flipped else 1.0))
    return out


def block_arrays(block: engine.Layer, n: int) -> tuple[np.ndarray, ...]:
    """One direction's W (G*n, n_in), R (G*n, n) and B (2*G*n,) in the operator's order."""
    spec = block.spec
    op = onnx_of(spec)
    rows = _gate_rows(spec, op, n)
    if op.own:
        prm = block.params
        w_ih, w_hh, b_ih, b_hh = prm["W_ih"], prm["W_hh"], prm["b_ih"][:, 0], prm["b_hh"][:, 0]
    else:
        w_ih, w_hh, b_ih = block.W[:, n:], block.W[:, :n], block.b[:, 0]
        b_hh = np.zeros_like(b_ih)
    W = np.concatenate([s * w_ih[r] for r, s in rows])
    R = np.concatenate([s * w_hh[r] for r, s in rows])
    B = np.concatenate([*(s * b_ih[r] for r, s in rows), *(s * b_hh[r] for r, s in rows)])
    return W, R, B


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _layer(p: engine.Packed, layer: int, inp: str, nodes: list, inits: list) -> tuple[str, str]:
    """The operator node of one layer; its (Y, Y_h) names."""
    from onnx import helper, numpy_helper

    D, n = p.directions, p.n_a
    parts = [block_arrays(p.block(layer, d), n) for d in range(D)]
    names = []
    for i, what in enumerate(("W", "R", "B")):
        name = f"{what}_l{layer}"
        inits.append(numpy_helper.from_array(_f32(np.stack([a[i] for a in parts])), name))
        names.append(name)
    op = onnx_of(p.spec)
    attrs: dict[str, Any] = {"hidden_size": n,
                             "direction": "bidirectional" if D == 2 else "forward"}  # fmt: skip
    if op.op == "GRU":
        attrs["linear_before_reset"] = op.linear_before_reset
    y, y_h = f"Y_l{layer}", f"Y_h_l{layer}"
    nodes.append(helper.make_node(op.op, [inp, *names], [y, y_h], name=f"{op.op}_l{layer}",
                                  **attrs))  # fmt: skip
    return y, y_h


def _merge(y: str, perm: list[int], shape: str, nodes: list) -> str:
    """(…, D, batch, n) -> directions side by side on the last axis."""
    from onnx import helper

    t = f"{y}_t"
    nodes.append(helper.make_node("Transpose", [y], [t], perm=perm))
    nodes.append(helper.make_node("Reshape", [t, shape], [f"{y}_cat"]))
    return f"{y}_cat"


def _output_layer(p: engine.Packed, top: str, read: Readout, nodes: list, inits: list) -> None:
    from onnx import helper, numpy_helper

    inits.append(numpy_helper.from_array(_f32(p.Wy.T), "Wy_T"))
    inits.append(numpy_helper.from_array(_f32(p.by[:, 0]), "by"))
    if read.at == "every":
        nodes.append(helper.make_node("MatMul", [top, "Wy_T"], ["logits_mm"]))
        nodes.append(helper.make_node("Add", ["logits_mm", "by"], ["logits"]))
    else:
        nodes.append(helper.make_node("Gemm", [top, "Wy_T", "by"], ["logits"]))
    if read.softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=-1))


def build(
    p: engine.Packed, read: Readout, doc: str = "", meta: dict[str, str] | None = None
) -> Any:
    """The model as an ``onnx.ModelProto`` (float32, checked by ``onnx.checker``)."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise InputError(HINT) from None
    nodes: list = []
    inits = [numpy_helper.from_array(np.array(s, np.int64), f"shape{len(s)}")
             for s in ([0, 0, -1], [0, -1])]  # fmt: skip
    inp = "x"
    y_h = ""
    for layer in range(p.layers):
        y, y_h = _layer(p, layer, inp, nodes, inits)
        inp = _merge(y, [0, 2, 1, 3], "shape3", nodes)  # (T, D, b, n) -> (T, b, D*n)
    top = inp if read.at == "every" else _merge(y_h, [1, 0, 2], "shape2", nodes)
    _output_layer(p, top, read, nodes, inits)
    dims: list[str | int] = ["T", "batch", p.n_y] if read.at == "every" else ["batch", p.n_y]
    graph = helper.make_graph(
        nodes, "rnncli", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                        ["T", "batch", p.n_x])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, dims) for o in read.outputs],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="rnncli", doc_string=doc)  # fmt: skip
    model.ir_version = IR_VERSION
    helper.set_model_props(model, meta or {})
    onnx.checker.check_model(model)
    return model


def write(path: Path, model: Any) -> Path:
    """The model's bytes to `path`, atomically."""
    from rnncli.runs import write_bytes_atomic

    return write_bytes_atomic(path, model.SerializeToString())


def readout_for(cfg: Any, task: dict[str, Any]) -> Readout:
    """How the run's task reads the output layer: its spec's readout, and for a task
    read at the last step, its problem's loss (a problem of one sequence is built)."""
    from rnncli.tasks import registry
    from rnncli.training.problems import make_problem

    spec = registry.find(task.get("task"))
    if spec is None:
        raise InputError(f"task {task.get('task')!r} is not registered: cannot tell its readout")
    if spec.readout == "every":
        return Readout("every", True)
    t = cfg.train.model_copy(update={"batch": 1, "eval_size": 1})
    loss = make_problem(cfg.model_copy(update={"train": t}), np.random.default_rng(0)).loss
    if loss == "xent":  # a target at every step (lag): the output layer reads every step
        return Readout("every", True)
    return Readout("last", loss == "xent_last")
