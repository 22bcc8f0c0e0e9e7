"""What `rnncli check` looks for: the notebook's functions, their arguments, returns and caches.

Everything here is the notebook's contract (see `rnncli.notebook`), read from the cells'
table (`rnncli.cells.builtin`): a cell's states, parameters, output layer and the names
its functions return, e.g.

    rnn_cell_forward(xt, a_prev, parameters)          -> a_next, yt_pred, cache
    lstm_cell_forward(xt, a_prev, c_prev, parameters) -> a_next, c_next, yt_pred, cache
    rnn_forward(x, a0, parameters)                    -> a, y_pred, caches
    rnn_cell_backward(da_next, cache)                 -> {dxt, da_prev, dWax, dWaa, dba}
    lstm_cell_backward(da_next, dc_next, cache)       -> {dxt, da_prev, dc_prev, dWf, dbf, ...}
    rnn_backward(da, caches)                          -> {dx, da0, dWax, dWaa, dba}

with a cell's cache a tuple and a sequence's ``(list of cell caches, x)``.
The GRU functions are rnncli's additions, in the same conventions.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from rnncli.cells import BUILTIN, OUTPUT_BIAS, CellSpec

FAMILIES = tuple(BUILTIN)  # rnn, lstm, gru

FUNCTIONS: tuple[str, ...] = tuple(
    f"{family}_{what}"
    for family in FAMILIES
    for what in ("cell_forward", "forward", "cell_backward", "backward")
)
NOTEBOOK_FUNCTIONS = FUNCTIONS[:8]  # the assignment's eight; the GRU is rnncli's

def gate_titles(cell: CellSpec) -> dict[str, str]:
    """A built-in cell's gates by the letter of their parameters (Wf, bf -> "f"), as the
    notebook names them, in the notebook's parameter order."""
    titles = {g.name: g.title for g in cell.gates}
    blocks = sorted(cell.fused, key=lambda b: cell.params.index(b.bias))
    return {b.bias[1:]: titles[b.gate] for b in blocks if b.gate in titles}


def param_shapes(family: str, n_x: int, n_a: int, n_y: int) -> dict[str, tuple[int, ...]]:
    """Every parameter's shape: rnn Wax (n_a, n_x), Waa (n_a, n_a); gates (n_a, n_a + n_x)."""
    return BUILTIN[family].model_shapes(n_x, n_a, n_y)


@dataclass(frozen=True)
class Spec:
    """One notebook function: its family (rnn, lstm, gru), level and direction."""

    name: str
    family: str
    level: str  # "cell" | "sequence"
    direction: str  # "forward" | "backward"

    @property
    def cell(self) -> CellSpec:
        """The cell's facts (`rnncli.cells`)."""
        return BUILTIN[self.family]

    @property
    def is_backward(self) -> bool:
        return self.direction == "backward"

    @property
    def is_sequence(self) -> bool:
        return self.level == "sequence"

    @property
    def forward(self) -> str:
        """The forward whose cache this function consumes (itself for a forward)."""
        return self.name.replace("backward", "forward")

    @property
    def state_inputs(self) -> tuple[str, ...]:
        """The forward's array arguments before `parameters`."""
        if self.is_sequence:
            return ("x", "a0")
        return ("xt", *(f"{s}_prev" for s in self.cell.states))

    @property
    def upstream(self) -> tuple[str, ...]:
        """A backward's upstream gradient arguments, before the cache."""
        if self.is_sequence:
            return ("da",)
        return tuple(f"d{s}_next" for s in self.cell.states)

    @property
    def outputs(self) -> tuple[str, ...]:
        """A forward's return values in order, or a backward's gradient keys in order."""
        cell = self.cell
        if self.direction == "forward":
            if self.is_sequence:
                return (*cell.sequence_outputs, "caches")
            return (*cell.cell_outputs, "cache")
        if self.is_sequence:
            inputs: tuple[str, ...] = ("dx", "da0")
        else:
            inputs = ("dxt", *(f"d{s}_prev" for s in cell.states))
        return (*inputs, *("d" + k for k in cell.params))

    @property
    def output_layer(self) -> tuple[str, str]:
        """The output layer's weight and bias: ``Wya`` (the rnn's) or ``Wy``, and ``by``."""
        return self.cell.output, OUTPUT_BIAS

    def wrt(self) -> dict[str, str]:
        """A backward's gradient key -> the argument or parameter it differentiates."""
        names = (*self.state_inputs, *self.cell.params)
        return dict(zip(self.outputs, names, strict=True))


SPECS: dict[str, Spec] = {}
for _name in FUNCTIONS:
    _family, *_rest = _name.split("_")
    SPECS[_name] = Spec(_name, _family, "cell" if "cell" in _rest else "sequence", _rest[-1])

#: The LSTM's gates by the letter of their parameters, as the notebook names them.
LSTM_GATES = gate_titles(SPECS["lstm_cell_backward"].cell)


def select(given: str | None, what: str) -> tuple[str, ...]:
    """Names from a comma list (``--only``/``--require``), or all of them for None.

    ``notebook`` stands for the notebook's eight functions, ``rnn``, ``lstm``, ``gru`` for a
    family's four. Unknown names raise ValueError.
    """
    if given is None:
        return FUNCTIONS
    names: list[str] = []
    for part in given.split(","):
        name = part.strip()
        if not name:
            continue
        if name == "notebook":
            names += NOTEBOOK_FUNCTIONS
        elif name in FAMILIES:  # rnn, lstm, gru: a family's four
            names += [n for n in FUNCTIONS if n.startswith(name + "_")]
        elif name in SPECS:
            names.append(name)
        else:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{what}: unknown function {name!r}{hint}")
    if not names:
        raise ValueError(f"{what}: no function named")
    return tuple(n for n in FUNCTIONS if n in names)  # in the notebook's order
