"""What `rnncli check` looks for: the notebook's functions, their arguments, returns and caches.

Everything here is the notebook's contract (see `rnncli.notebook`), written as data:

    rnn_cell_forward(xt, a_prev, parameters)          -> a_next, yt_pred, cache
    lstm_cell_forward(xt, a_prev, c_prev, parameters) -> a_next, c_next, yt_pred, cache
    rnn_forward(x, a0, parameters)                    -> a, y_pred, caches
    rnn_cell_backward(da_next, cache)                 -> {dxt, da_prev, dWax, dWaa, dba}
    lstm_cell_backward(da_next, dc_next, cache)       -> {dxt, da_prev, dc_prev, dWf, dbf, ...}
    rnn_backward(da, caches)                          -> {dx, da0, dWax, dWaa, dba}

with a cell's cache a tuple (``CACHE_ITEMS``) and a sequence's ``(list of cell caches, x)``.
The GRU functions are rnncli's additions, in the same conventions.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

FAMILIES = ("rnn", "lstm", "gru")

FUNCTIONS: tuple[str, ...] = (
    "rnn_cell_forward",
    "rnn_forward",
    "rnn_cell_backward",
    "rnn_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "lstm_cell_backward",
    "lstm_backward",
    "gru_cell_forward",
    "gru_forward",
    "gru_cell_backward",
    "gru_backward",
)
NOTEBOOK_FUNCTIONS = FUNCTIONS[:8]  # the assignment's eight; the GRU is rnncli's

# the cell cache's items, in the notebook's order
CACHE_ITEMS: dict[str, tuple[str, ...]] = {
    "rnn": ("a_next", "a_prev", "xt", "parameters"),
    "lstm": ("a_next", "c_next", "a_prev", "c_prev", "ft", "it", "cct", "ot", "xt", "parameters"),
    "gru": ("a_next", "a_prev", "zt", "rt", "aat", "xt", "parameters"),
}

# parameters whose gradients a cell's own backward returns (not the output layer), in order
RECURRENT: dict[str, tuple[str, ...]] = {
    "rnn": ("Wax", "Waa", "ba"),
    "lstm": ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo"),
    "gru": ("Wz", "bz", "Wr", "br", "Wh", "bh"),
}
OUTPUT_LAYER: dict[str, tuple[str, str]] = {
    "rnn": ("Wya", "by"),
    "lstm": ("Wy", "by"),
    "gru": ("Wy", "by"),
}

# the LSTM's gates by the letter of their parameters, as the notebook names them
LSTM_GATES: dict[str, str] = {"f": "forget", "i": "update", "c": "candidate", "o": "output"}


def param_shapes(family: str, n_x: int, n_a: int, n_y: int) -> dict[str, tuple[int, int]]:
    """Every parameter's shape: rnn Wax (n_a, n_x), Waa (n_a, n_a); gates (n_a, n_a + n_x)."""
    if family == "rnn":
        shapes = {"Wax": (n_a, n_x), "Waa": (n_a, n_a), "ba": (n_a, 1)}
    else:
        shapes = {k: (n_a, 1) if k.startswith("b") else (n_a, n_a + n_x) for k in RECURRENT[family]}
    W_out, b_out = OUTPUT_LAYER[family]
    return {**shapes, W_out: (n_y, n_a), b_out: (n_y, 1)}


@dataclass(frozen=True)
class Spec:
    """One notebook function: its family (rnn, lstm, gru), level and direction."""

    name: str
    family: str
    level: str  # "cell" | "sequence"
    direction: str  # "forward" | "backward"

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
        return ("xt", "a_prev", "c_prev") if self.family == "lstm" else ("xt", "a_prev")

    @property
    def upstream(self) -> tuple[str, ...]:
        """A backward's upstream gradient arguments, before the cache."""
        if self.is_sequence:
            return ("da",)
        return ("da_next", "dc_next") if self.family == "lstm" else ("da_next",)

    @property
    def outputs(self) -> tuple[str, ...]:
        """A forward's return values in order, or a backward's gradient keys in order."""
        if self.direction == "forward":
            if self.is_sequence:
                ys = {"rnn": ("a", "y_pred"), "lstm": ("a", "y", "c"), "gru": ("a", "y")}
                return (*ys[self.family], "caches")
            ys = {"rnn": ("a_next", "yt_pred"), "lstm": ("a_next", "c_next", "yt_pred")}
            return (*ys.get(self.family, ("a_next", "yt_pred")), "cache")
        inputs = ("dx", "da0") if self.is_sequence else ("dxt", "da_prev")
        carried = ("dc_prev",) if self.family == "lstm" and not self.is_sequence else ()
        return (*inputs, *carried, *("d" + k for k in RECURRENT[self.family]))

    def wrt(self) -> dict[str, str]:
        """A backward's gradient key -> the argument or parameter it differentiates."""
        names = (*self.state_inputs, *RECURRENT[self.family])
        return dict(zip(self.outputs, names, strict=True))


SPECS: dict[str, Spec] = {}
for _name in FUNCTIONS:
    _family, *_rest = _name.split("_")
    SPECS[_name] = Spec(_name, _family, "cell" if "cell" in _rest else "sequence", _rest[-1])


def select(given: str | None, what: str) -> tuple[str, ...]:
    """Names from a comma list (``--only``/``--require``), or all of them for None.

    ``notebook`` stands for the notebook's eight functions. Unknown names raise ValueError.
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
        elif name in SPECS:
            names.append(name)
        else:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{what}: unknown function {name!r}{hint}")
    if not names:
        raise ValueError(f"{what}: no function named")
    return tuple(n for n in FUNCTIONS if n in names)  # in the notebook's order
