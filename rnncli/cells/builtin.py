"""The built-in cells' facts: the table every other module reads.

Three gate orders per cell, each a fact of its own:

* ``params``: the notebook's order, in which gradients are reported
  (LSTM: f, i, c, o);
* ``fused``: the engine's order of gate blocks in W and b, chosen so that blocks needing
  the same treatment are contiguous (LSTM: o, i, f, g with sigmoid on the first three;
  see `rnncli.engine.lstm`);
* ``draw``: the order `rnncli.params.init_params` draws parameters in, fixed apart from
  the engine's layout so that a seed gives the same model whatever the layout
  (LSTM: o, f, i, c), and ``layout_v1``, the engine order of checkpoints written under
  parameter layout 1 (LSTM: o, f, i, g).

The steps (`NotebookSteps`) wrap the notebook's cell functions in the cell protocol, so
that the generic time loop can run a built-in cell too (tests check it against the
fused engine).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnncli import notebook
from rnncli.cells.spec import Block, CellSpec, Gate, Onnx, Torch

SIGMOID, TANH = "sigmoid", "tanh"

GRU_NOT_TORCH = (
    "a gru model cannot move to nn.GRU: the notebook's GRU applies the reset gate "
    "before the recurrent product and nn.GRU after it (different functions); train "
    "with --cell torch-gru to get nn.GRU's cell, or export with --names notebook"
)


class NotebookSteps:
    """The notebook's ``<cell>_cell_forward`` / ``_cell_backward`` as protocol steps.

    The notebook's cells take and return their states in `states` order
    (``lstm_cell_forward(xt, a_prev, c_prev, parameters) -> a_next, c_next, yt_pred,
    cache``), so one wrapper serves them all."""

    def __init__(self, cell: str, states: tuple[str, ...], output: str) -> None:
        self.cell, self.states, self.output = cell, states, output
        self._forward = getattr(notebook, f"{cell}_cell_forward")
        self._backward = getattr(notebook, f"{cell}_cell_backward")

    def _with_output(self, params: dict[str, np.ndarray], n_a: int, dtype: Any) -> dict:
        # the notebook's cells also compute a softmax output; give them a trivial one
        return {**params, self.output: np.zeros((1, n_a), dtype), "by": np.zeros((1, 1), dtype)}

    def step_forward(
        self, params: dict[str, np.ndarray], xt: np.ndarray, state: tuple[np.ndarray, ...]
    ) -> tuple[tuple[np.ndarray, ...], Any]:
        p = self._with_output(params, state[0].shape[0], state[0].dtype)
        *new, _, cache = self._forward(xt, *state, p)
        return tuple(new), cache

    def step_backward(
        self, params: dict[str, np.ndarray], dstate: tuple[np.ndarray, ...], cache: Any
    ) -> tuple[tuple[np.ndarray, ...], np.ndarray, dict[str, np.ndarray]]:
        g = self._backward(*dstate, cache)
        prev = tuple(g.pop(f"d{s}_prev") for s in self.states)
        dxt = g.pop("dxt")
        return prev, dxt, {k[1:]: v for k, v in g.items()}

    def gate_values(self, cache: Any) -> dict[str, np.ndarray]:
        """The gates' values from a step's cache (the notebook's cache tuples hold them by
        position: ``CACHE_GATES``)."""
        return {g: cache[i] for g, i in CACHE_GATES.get(self.cell, {}).items()}


#: Where the notebook's cell caches hold each gate's values: lstm (a_next, c_next, a_prev,
#: c_prev, ft, it, cct, ot, xt, parameters), gru (a_next, a_prev, zt, rt, aat, xt,
#: parameters); the rnn's (a_next, a_prev, xt, parameters) holds none.
CACHE_GATES: dict[str, dict[str, int]] = {
    "lstm": {"f": 4, "i": 5, "o": 7, "g": 6},
    "gru": {"z": 2, "r": 3, "h": 4},
}


def _spec(
    name: str,
    states: tuple[str, ...],
    params: tuple[str, ...],
    output: str,
    gates: tuple[Gate, ...],
    fused: tuple[Block, ...],
    draw: tuple[str, ...],
    layout_v1: tuple[str, ...],
    torch: Torch,
    onnx: Onnx,
    sequence_outputs: tuple[str, ...],
) -> CellSpec:
    return CellSpec(
        name=name, label=name, states=states, params=params, output=output, gates=gates,
        step=NotebookSteps(name, states, output), source={"kind": "builtin"}, fused=fused,
        draw=draw, layout_v1=layout_v1, notebook=True, kernel=name, torch=torch, onnx=onnx,
        sequence_outputs=sequence_outputs,
    )  # fmt: skip


RNN = _spec(
    "rnn",
    states=("a",),
    params=("Wax", "Waa", "ba"),
    output="Wya",
    gates=(),
    fused=(Block("a", (("Waa", "a"), ("Wax", "x")), "ba"),),  # W = [Waa | Wax]
    draw=("Wax", "Waa", "ba"),
    layout_v1=("a",),
    torch=Torch("nn.RNN", ("a",)),
    onnx=Onnx("RNN", ("a",)),
    sequence_outputs=("a", "y_pred"),
)

LSTM = _spec(
    "lstm",
    states=("a", "c"),
    params=("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo"),
    output="Wy",
    gates=(
        Gate("f", SIGMOID, "forget"),
        Gate("i", SIGMOID, "update"),
        Gate("o", SIGMOID, "output"),
        Gate("g", TANH, "candidate"),
    ),
    fused=(
        Block("o", (("Wo", "ax"),), "bo"),
        Block("i", (("Wi", "ax"),), "bi"),
        Block("f", (("Wf", "ax"),), "bf"),
        Block("g", (("Wc", "ax"),), "bc"),
    ),
    draw=("Wo", "bo", "Wf", "bf", "Wi", "bi", "Wc", "bc"),
    layout_v1=("o", "f", "i", "g"),
    torch=Torch("nn.LSTM", ("i", "f", "g", "o")),
    onnx=Onnx("LSTM", ("i", "o", "f", "g")),
    sequence_outputs=("a", "y", "c"),
)

GRU = _spec(
    "gru",
    states=("a",),
    params=("Wz", "bz", "Wr", "br", "Wh", "bh"),
    output="Wy",
    gates=(
        Gate("z", SIGMOID, "update"),
        Gate("r", SIGMOID, "reset"),
        Gate("h", TANH, "candidate"),
    ),
    fused=(
        Block("z", (("Wz", "ax"),), "bz"),
        Block("r", (("Wr", "ax"),), "br"),
        Block("h", (("Wh", "ax"),), "bh"),  # its a-columns act on r * a_prev
    ),
    draw=("Wz", "bz", "Wr", "br", "Wh", "bh"),
    layout_v1=("z", "r", "h"),
    torch=Torch("nn.GRU", refused=GRU_NOT_TORCH),
    # ONNX's GRU with linear_before_reset=0 resets before the recurrent product, as the
    # notebook does; it keeps (1-z)*h + z*a_prev where the notebook keeps z*h + (1-z)*a_prev
    onnx=Onnx("GRU", ("z", "r", "h"), linear_before_reset=0, flipped=("z",)),
    sequence_outputs=("a", "y"),
)

BUILTIN: dict[str, CellSpec] = {spec.name: spec for spec in (RNN, LSTM, GRU)}
