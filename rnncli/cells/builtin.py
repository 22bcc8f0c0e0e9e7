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
from rnncli.cells.spec import Block, CellSpec, Gate

SIGMOID, TANH = "sigmoid", "tanh"


class NotebookSteps:
    """The notebook's ``<cell>_cell_forward`` / ``_cell_backward`` as protocol steps."""

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
        if self.cell == "lstm":
            a, c, _, cache = self._forward(xt, state[0], state[1], p)
            return (a, c), cache
        a, _, cache = self._forward(xt, state[0], p)
        return (a,), cache

    def step_backward(
        self, params: dict[str, np.ndarray], dstate: tuple[np.ndarray, ...], cache: Any
    ) -> tuple[tuple[np.ndarray, ...], np.ndarray, dict[str, np.ndarray]]:
        if self.cell == "lstm":
            g = self._backward(dstate[0], dstate[1], cache)
            prev: tuple[np.ndarray, ...] = (g.pop("da_prev"), g.pop("dc_prev"))
        else:
            g = self._backward(dstate[0], cache)
            prev = (g.pop("da_prev"),)
        dxt = g.pop("dxt")
        return prev, dxt, {k[1:]: v for k, v in g.items()}

    def gate_values(self, cache: Any) -> dict[str, np.ndarray]:
        if self.cell == "lstm":
            _, _, _, _, ft, it, cct, ot, _, _ = cache
            return {"f": ft, "i": it, "o": ot, "g": cct}
        if self.cell == "gru":
            _, _, zt, rt, aat, _, _ = cache
            return {"z": zt, "r": rt, "h": aat}
        return {}


def _spec(
    name: str,
    states: tuple[str, ...],
    params: tuple[str, ...],
    output: str,
    gates: tuple[Gate, ...],
    fused: tuple[Block, ...],
    draw: tuple[str, ...],
    layout_v1: tuple[str, ...],
) -> CellSpec:
    return CellSpec(
        name=name, label=name, states=states, params=params, output=output, gates=gates,
        step=NotebookSteps(name, states, output), source={"kind": "builtin"}, fused=fused,
        draw=draw, layout_v1=layout_v1, notebook=True,
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
)

LSTM = _spec(
    "lstm",
    states=("a", "c"),
    params=("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo"),
    output="Wy",
    gates=(Gate("f", SIGMOID), Gate("i", SIGMOID), Gate("o", SIGMOID), Gate("g", TANH)),
    fused=(
        Block("o", (("Wo", "ax"),), "bo"),
        Block("i", (("Wi", "ax"),), "bi"),
        Block("f", (("Wf", "ax"),), "bf"),
        Block("g", (("Wc", "ax"),), "bc"),
    ),
    draw=("Wo", "bo", "Wf", "bf", "Wi", "bi", "Wc", "bc"),
    layout_v1=("o", "f", "i", "g"),
)

GRU = _spec(
    "gru",
    states=("a",),
    params=("Wz", "bz", "Wr", "br", "Wh", "bh"),
    output="Wy",
    gates=(Gate("z", SIGMOID), Gate("r", SIGMOID), Gate("h", TANH)),
    fused=(
        Block("z", (("Wz", "ax"),), "bz"),
        Block("r", (("Wr", "ax"),), "br"),
        Block("h", (("Wh", "ax"),), "bh"),  # its a-columns act on r * a_prev
    ),
    draw=("Wz", "bz", "Wr", "br", "Wh", "bh"),
    layout_v1=("z", "r", "h"),
)

BUILTIN: dict[str, CellSpec] = {spec.name: spec for spec in (RNN, LSTM, GRU)}
