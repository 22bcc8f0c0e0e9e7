"""What rnncli knows about a cell: one `CellSpec` per cell, built-in or a user's.

Everything outside `rnncli.cells` asks a spec for a cell's facts (its parameters and
their shapes, its states, its gates, the output layer's name) instead of writing them
out. The built-in cells fill in the table in `rnncli.cells.builtin`; a user's cell is
read from a class that follows `rnncli.cells.protocol`.

Built-in cells also say how the fused engine lays them out (`Block`): the engine writes
every cell as G gate blocks of n_a rows,

    Z_t = W @ [a_{t-1}; x_t] + b          W: (G*n_a, n_a + n_x), b: (G*n_a, 1)

and a block names the notebook arrays that fill its rows of W (side by side, each over
the columns of a_{t-1} ("a"), of x_t ("x") or of both ("ax")) and of b.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: The output layer's bias; its weight is `CellSpec.output`.
OUTPUT_BIAS = "by"
#: What the notebook calls a cell step's output (``softmax(Wy a_next + by)``).
STEP_OUTPUT = "yt_pred"


@dataclass(frozen=True)
class Gate:
    """A gate whose values a step exposes: its name and its activation."""

    name: str  # "f", "i", "o", "g" (the notebook's cct), "z", "r", "h"
    activation: str  # "sigmoid" | "tanh"
    title: str = ""  # what the notebook calls it: "forget", "update", "candidate", ...


@dataclass(frozen=True)
class Block:
    """One gate's rows of the fused W and b: the notebook arrays that fill them."""

    gate: str
    weights: tuple[tuple[str, str], ...]  # (name, columns "a" | "x" | "ax"), left to right
    bias: str


@dataclass(frozen=True)
class Torch:
    """The PyTorch layer of a cell's kind, and how the cell's parameters map to it."""

    layer: str  # "nn.RNN" | "nn.LSTM" | "nn.GRU"
    gates: tuple[str, ...] = ()  # the layer's stacked gate blocks, by our gate names
    own: bool = False  # the cell's parameters are the layer's tensors (W_ih, W_hh, b_ih, b_hh)
    refused: str = ""  # why a model cannot move to the layer (it computes another function)

    @property
    def n_gates(self) -> int:
        return len(self.gates)


@dataclass(frozen=True)
class Onnx:
    """The ONNX operator that computes a cell's kind, and how the cell's parameters map to
    its W, R and B (each the gate blocks in `gates`, by our gate names)."""

    op: str  # "RNN" | "LSTM" | "GRU"
    gates: tuple[str, ...]  # the operator's gate order: LSTM i, o, f, c; GRU z, r, h
    #: GRU: 1 when the reset gate scales the recurrent product (PyTorch's GRU), 0 when it
    #: scales the state before it (the notebook's GRU)
    linear_before_reset: int = 0
    #: gates the operator computes as one minus ours: their weights and bias are negated
    #: (1 - sigmoid(z) = sigmoid(-z)); the notebook's GRU keeps z*h + (1-z)*a_prev, ONNX
    #: keeps (1-z)*h + z*a_prev
    flipped: tuple[str, ...] = ()
    #: the cell's parameters are PyTorch's tensors (W_ih, W_hh, b_ih, b_hh), gate rows
    #: stacked as its `Torch.gates` say
    own: bool = False


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one spec per cell
class CellSpec:
    """A cell's facts. `step` implements `rnncli.cells.protocol.Cell`."""

    name: str  # as configs give it: "lstm", "/abs/my_cells.py:Peephole", "pkg.cells:MGU"
    label: str  # short, for tables and folder names: "lstm", "Peephole"
    states: tuple[str, ...]  # ("a",) or ("a", "c"): states[0] is what the output reads
    params: tuple[str, ...]  # the cell's parameters, in report order
    output: str  # the output layer's weight: "Wya" (the notebook's rnn) or "Wy"
    gates: tuple[Gate, ...]
    step: Any  # step_forward / step_backward (see rnncli.cells.protocol)
    source: Mapping[str, Any] = field(default_factory=dict)  # where it comes from (run.json)
    fused: tuple[Block, ...] = ()  # built-ins: the engine's gate blocks, in engine order
    draw: tuple[str, ...] = ()  # built-ins: the order `init_params` draws parameters in
    layout_v1: tuple[str, ...] = ()  # built-ins: gate order of parameter layout 1
    notebook: bool = False  # rnncli.notebook has <name>_cell_forward, <name>_forward, ...
    kernel: str = ""  # built-ins: the engine's fused kernel, and the compiled one
    torch: Torch | None = None  # the PyTorch layer of its kind, if any
    onnx: Onnx | None = None  # the ONNX operator of its kind, if any
    sequence_outputs: tuple[str, ...] = ("a", "y")  # the notebook's <name>_forward returns

    @property
    def has_c(self) -> bool:
        """Whether the cell carries a memory cell c besides a (the LSTM)."""
        return "c" in self.states

    @property
    def forget_bias(self) -> str:
        """Built-ins: the forget gate's bias, which fresh draws start at 1 ("" if none)."""
        return next((b.bias for b in self.fused if b.gate == "f"), "")

    @property
    def cell_outputs(self) -> tuple[str, ...]:
        """What a step returns before its cache, as the notebook names them: every
        state's ``<s>_next``, then the output layer's ``yt_pred``."""
        return (*(f"{s}_next" for s in self.states), STEP_OUTPUT)

    def notebook_function(self, what: str) -> Any:
        """The notebook's ``<name>_<what>`` (what: ``cell_forward``, ``forward``,
        ``cell_backward``, ``backward``); `notebook` cells only. Called with the states
        in `states` order: ``cell_forward(xt, a_prev[, c_prev], parameters)`` returns
        (*states, yt_pred, cache), ``cell_backward(da_next[, dc_next], cache)`` a dict."""
        from rnncli import notebook as nb

        if not self.notebook:
            raise ValueError(f"cell {self.label} has no notebook functions")
        return getattr(nb, f"{self.name}_{what}")

    @property
    def builtin(self) -> bool:
        return bool(self.fused)

    @property
    def n_gates(self) -> int:
        """Gate blocks of the fused layout (built-ins only)."""
        return len(self.fused)

    @property
    def all_params(self) -> tuple[str, ...]:
        """The cell's parameters, then the output layer's: the report order of a model."""
        return (*self.params, self.output, OUTPUT_BIAS)

    def shapes(self, n_x: int, n_a: int) -> dict[str, tuple[int, ...]]:
        """The cell's parameter shapes for input size n_x and hidden size n_a (a new dict)."""
        if not self.fused:
            return _user_shapes(self, n_x, n_a)
        out: dict[str, tuple[int, ...]] = {}
        cols = {"a": n_a, "x": n_x, "ax": n_a + n_x}
        for block in self.fused:
            for name, kind in block.weights:
                out[name] = (n_a, cols[kind])
            out[block.bias] = (n_a, 1)
        return {k: out[k] for k in self.params}

    def model_shapes(self, n_x: int, n_a: int, n_y: int) -> dict[str, tuple[int, ...]]:
        """Every parameter of a one-layer model, output layer included, in report order."""
        return {**self.shapes(n_x, n_a), self.output: (n_y, n_a), OUTPUT_BIAS: (n_y, 1)}

    def size(self, n_x: int, n_a: int) -> int:
        """Scalars in the cell's parameters."""
        total = 0
        for shape in self.shapes(n_x, n_a).values():
            n = 1
            for s in shape:
                n *= s
            total += n
        return total

    def weight_kind(self, name: str) -> str:
        """Built-ins: which columns a weight acts on ("a", "x", "ax"), or "bias"."""
        for block in self.fused:
            for w, kind in block.weights:
                if w == name:
                    return kind
            if block.bias == name:
                return "bias"
        raise KeyError(name)


def _user_shapes(spec: CellSpec, n_x: int, n_a: int) -> dict[str, tuple[int, ...]]:
    shapes = spec.step.shapes(n_x, n_a)
    return {k: tuple(int(s) for s in shapes[k]) for k in spec.params}
