"""Fused parameter layout: notebook names at the boundary, one flat vector inside.

Every cell is written internally as G gate blocks of n_a rows each::

    Z_t = W @ [a_{t-1}; x_t] + b = Wa @ a_{t-1} + Wx @ x_t + b        Z_t: (G*n_a, m)

where ``W (G*n_a, n_a+n_x)`` stacks the notebook's per-gate matrices (each acting on
``[a_prev; xt]``) gate by gate, and ``Wa = W[:, :n_a]``, ``Wx = W[:, n_a:]`` are its
recurrent and input columns (views). The gate order is chosen so that blocks needing
the same treatment are contiguous:

    rnn   G=1  (a)            W = [Waa | Wax], b = ba
    lstm  G=4  (o, i, f, g)   sigmoid on rows [0, 3n_a), tanh on [3n_a, 4n_a);
                              i, f are paired with g, c_{t-1} (see engine/lstm.py)
    gru   G=3  (z, r, h)      Wa's h rows act on r*a_prev, not on a_prev

All parameters live in one flat vector ``flat = [W, b, Wy, by]`` (row-major), and the
blocks above and the output layer ``Wy (n_y, n_a)``, ``by (n_y, 1)`` are views into it,
so an optimiser updates the whole model with a few vectorised calls and training never
re-packs. For the LSTM and GRU, ``flat`` is the notebook's arrays one after another
(``Wo, Wi, Wf, Wc, bo, bi, bf, bc, Wy, by``), so packing is one concatenation and
unpacking hands out views; the weight gradient ``dW`` is one GEMM (three for the GRU,
whose h rows act on ``[r*a_prev; x_t]``).

Checkpoints store ``flat``, so they record `LAYOUT_VERSION`; `upgrade_flat` converts a
vector written under an older layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

CELLS = ("rnn", "lstm", "gru")

#: Notebook parameter names per cell, in the order gradients are reported.
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "rnn": ("Wax", "Waa", "ba", "Wya", "by"),
    "lstm": ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo", "Wy", "by"),
    "gru": ("Wz", "bz", "Wr", "br", "Wh", "bh", "Wy", "by"),
}

#: Internal gate order: (weight name, bias name) of the notebook per fused block.
GATES: dict[str, tuple[tuple[str, str], ...]] = {
    "rnn": (("Waa", "ba"),),  # W = [Waa | Wax]: pack/unpack handle the rnn's two names
    "lstm": (("Wo", "bo"), ("Wi", "bi"), ("Wf", "bf"), ("Wc", "bc")),
    "gru": (("Wz", "bz"), ("Wr", "br"), ("Wh", "bh")),
}

OUTPUT_NAMES = {"rnn": "Wya", "lstm": "Wy", "gru": "Wy"}


def check_cell(cell: str) -> None:
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}: expected one of {', '.join(CELLS)}")


@dataclass
class Packed:
    """A model's parameters (or their gradients) as one flat vector plus named views.

    W: (G*n_a, n_a+n_x) = [Wa | Wx]   b: (G*n_a, 1)   Wy: (n_y, n_a)   by: (n_y, 1)
    Wa = W[:, :n_a] and Wx = W[:, n_a:] are strided views (copy Wa before using it in
    a per-step product: ``np.dot`` copies strided matrices itself, every call).
    """

    cell: str
    n_x: int
    n_a: int
    n_y: int
    flat: np.ndarray

    def __post_init__(self) -> None:
        blocks, total = _blocks(self.cell, self.n_x, self.n_a, self.n_y)
        if total != self.flat.size:
            raise ValueError(f"flat vector has {self.flat.size} entries, layout needs {total}")
        flat = self.flat
        self.W, self.b, self.Wy, self.by = [
            flat[start:stop].reshape(shape) for start, stop, shape in blocks
        ]
        self.Wa = self.W[:, : self.n_a]
        self.Wx = self.W[:, self.n_a :]

    @classmethod
    def zeros(cls, cell: str, n_x: int, n_a: int, n_y: int, dtype: np.dtype) -> Packed:
        return cls(cell, n_x, n_a, n_y, np.zeros(size(cell, n_x, n_a, n_y), dtype=dtype))

    def zeros_like(self) -> Packed:
        return Packed(self.cell, self.n_x, self.n_a, self.n_y, np.zeros_like(self.flat))

    def copy(self) -> Packed:
        return Packed(self.cell, self.n_x, self.n_a, self.n_y, self.flat.copy())

    @property
    def dtype(self) -> np.dtype:
        return self.flat.dtype


_GATE_COUNT = {"rnn": 1, "lstm": 4, "gru": 3}


def n_gates(cell: str) -> int:
    check_cell(cell)
    return _GATE_COUNT[cell]


@lru_cache(maxsize=64)
def _blocks(
    cell: str, n_x: int, n_a: int, n_y: int
) -> tuple[list[tuple[int, int, tuple[int, int]]], int]:
    """Where W, b, Wy, by sit in the flat vector: [(start, stop, shape)], size."""
    g = n_gates(cell)
    blocks = []
    start = 0
    for shape in [(g * n_a, n_a + n_x), (g * n_a, 1), (n_y, n_a), (n_y, 1)]:
        blocks.append((start, start + shape[0] * shape[1], shape))
        start += shape[0] * shape[1]
    return blocks, start


def size(cell: str, n_x: int, n_a: int, n_y: int) -> int:
    """Number of scalar parameters of a model."""
    g = n_gates(cell)
    return g * n_a * (n_a + n_x + 1) + n_y * (n_a + 1)


def _mode(values: list[int]) -> int:
    """The most common value (the first seen among equally common ones)."""
    return max(values, key=values.count)


@lru_cache(maxsize=64)
def expected_shapes(cell: str, n_x: int, n_a: int, n_y: int) -> dict[str, tuple[int, int]]:
    """Every notebook parameter's shape (do not modify the returned dict)."""
    if cell == "rnn":
        shapes = {"Wax": (n_a, n_x), "Waa": (n_a, n_a), "ba": (n_a, 1)}
    else:
        shapes = {}
        for w, b in GATES[cell]:
            shapes[w] = (n_a, n_a + n_x)
            shapes[b] = (n_a, 1)
    shapes[OUTPUT_NAMES[cell]] = (n_y, n_a)
    shapes["by"] = (n_y, 1)
    return shapes


@lru_cache(maxsize=64)
def _expected_tuple(cell: str, n_x: int, n_a: int, n_y: int) -> tuple[tuple[int, int], ...]:
    shapes = expected_shapes(cell, n_x, n_a, n_y)
    return tuple(shapes[k] for k in PARAM_NAMES[cell])


def _dims_if_valid(cell: str, params: Mapping[str, np.ndarray]) -> tuple[int, int, int] | None:
    """(n_x, n_a, n_y) if every parameter is an array of the right shape, else None."""
    try:
        shapes = tuple(params[k].shape for k in PARAM_NAMES[cell])
    except (KeyError, AttributeError):
        return None
    if len(shapes[0]) != 2 or len(shapes[-2]) != 2:
        return None
    n_a, cols = shapes[0]  # Wax (n_a, n_x) for rnn, else the first gate (n_a, n_a + n_x)
    n_x = cols if cell == "rnn" else cols - n_a
    n_y = shapes[-2][0]
    if n_x >= 1 and shapes == _expected_tuple(cell, n_x, n_a, n_y):
        return n_x, n_a, n_y
    return None


def infer_dims(cell: str, params: Mapping[str, np.ndarray]) -> tuple[int, int, int]:
    """(n_x, n_a, n_y) from a notebook-named parameter dict, checking every shape."""
    check_cell(cell)
    dims = _dims_if_valid(cell, params)  # the common case, cheaply
    if dims is not None:
        return dims
    missing = [k for k in PARAM_NAMES[cell] if k not in params]
    if missing:
        raise ValueError(f"{cell} parameters are missing {', '.join(missing)}")
    shapes = {}
    for name in PARAM_NAMES[cell]:
        value = params[name]
        shape = value.shape if isinstance(value, np.ndarray) else np.shape(value)
        if len(shape) != 2:
            raise ValueError(f"{name} has shape {shape}: expected a matrix")
        shapes[name] = shape
    out = OUTPUT_NAMES[cell]
    n_y = shapes[out][0]
    if cell == "rnn":
        n_a, n_x = shapes["Wax"]
    else:
        n_a, n_cols = shapes[GATES[cell][0][0]]
        n_x = n_cols - n_a
    if shapes == expected_shapes(cell, n_x, n_a, n_y) and n_x >= 1:
        return n_x, n_a, n_y
    # Something is off. Read each size from every array that carries it and take the
    # most common value, so that the error names the array that is off.
    if cell == "rnn":
        n_a = _mode([shapes["Waa"][0], shapes["Waa"][1], shapes["Wax"][0], shapes["ba"][0]])
    else:
        gates = GATES[cell]
        n_a = _mode([shapes[w][0] for w, _ in gates] + [shapes[b][0] for _, b in gates])
        n_x = _mode([shapes[w][1] - n_a for w, _ in gates])
    for name, shape in expected_shapes(cell, n_x, n_a, n_y).items():
        if shapes[name] != shape:
            raise ValueError(
                f"{name} has shape {shapes[name]}, expected {shape} "
                f"(n_x={n_x}, n_a={n_a}, n_y={n_y})"
            )
    raise ValueError(f"{GATES[cell][0][0]} must have more than n_a={n_a} columns")


def pack(cell: str, params: Mapping[str, np.ndarray], dtype: np.dtype | None = None) -> Packed:
    """Copy notebook-named parameters into a fused `Packed` model."""
    n_x, n_a, n_y = infer_dims(cell, params)
    if dtype is None:
        dtypes = {np.asarray(params[k]).dtype for k in PARAM_NAMES[cell]}
        dtype = dtypes.pop() if len(dtypes) == 1 else np.result_type(*dtypes)
    p = Packed(cell, n_x, n_a, n_y, np.empty(size(cell, n_x, n_a, n_y), dtype=dtype))
    if cell == "rnn":
        p.Wa[...] = params["Waa"]
        p.Wx[...] = params["Wax"]
        p.b[...] = params["ba"]
        p.Wy[...] = params["Wya"]
        p.by[...] = params["by"]
    else:  # the flat vector is the arrays in _FLAT_ORDER one after another
        pieces = [np.asarray(params[k]).reshape(-1) for k in _FLAT_ORDER[cell]]
        np.concatenate(pieces, out=p.flat, casting="unsafe")
    return p


#: LSTM and GRU: the notebook arrays in the order they sit in the flat vector.
_FLAT_ORDER = {
    cell: tuple(w for w, _ in GATES[cell]) + tuple(b for _, b in GATES[cell]) + ("Wy", "by")
    for cell in ("lstm", "gru")
}


def unpack(p: Packed, prefix: str = "", copy: bool = True) -> dict[str, np.ndarray]:
    """Notebook-named arrays of a `Packed` model; ``prefix="d"`` names gradients.

    With ``copy=False`` the arrays are views into `p` (for a `Packed` the caller owns
    and drops); the basic RNN's Wax and Waa are then strided views.
    """
    n_a = p.n_a
    keep = np.copy if copy else np.asarray
    out: dict[str, np.ndarray] = {}
    if p.cell == "rnn":
        out["Wax"] = keep(p.Wx)
        out["Waa"] = keep(p.Wa)
        out["ba"] = keep(p.b)
    else:  # gate k's [recurrent | input] matrix and bias are rows of W and b
        W, b = keep(p.W), keep(p.b)
        for k, (w, bias) in enumerate(GATES[p.cell]):
            out[w] = W[k * n_a : (k + 1) * n_a]
            out[bias] = b[k * n_a : (k + 1) * n_a]
    out[OUTPUT_NAMES[p.cell]] = keep(p.Wy)
    out["by"] = keep(p.by)
    return {prefix + k: out[k] for k in PARAM_NAMES[p.cell]}


# --------------------------------------------------------------------------------------
# Layout versions (for checkpoints)
# --------------------------------------------------------------------------------------

#: The layout of `Packed.flat`, stored with checkpoints. 1: blocks [Wa, Wx, b, Wy, by],
#: LSTM gates (o, f, i, g) (rnncli up to the first engine); 2: blocks [W, b, Wy, by],
#: LSTM gates (o, i, f, g).
LAYOUT_VERSION = 2

_V1_GATES = {
    "rnn": (("Waa", "ba"),),
    "lstm": (("Wo", "bo"), ("Wf", "bf"), ("Wi", "bi"), ("Wc", "bc")),
    "gru": (("Wz", "bz"), ("Wr", "br"), ("Wh", "bh")),
}


def _unpack_v1(cell: str, n_x: int, n_a: int, n_y: int, flat: np.ndarray) -> dict[str, np.ndarray]:
    """Notebook-named arrays of a flat vector in layout 1."""
    G = n_gates(cell)
    sizes = [G * n_a * n_a, G * n_a * n_x, G * n_a, n_y * n_a, n_y]
    Wa, Wx, b, Wy, by = np.split(flat, np.cumsum(sizes)[:-1])
    Wa, Wx, b = Wa.reshape(G * n_a, n_a), Wx.reshape(G * n_a, n_x), b.reshape(G * n_a, 1)
    out = {OUTPUT_NAMES[cell]: Wy.reshape(n_y, n_a), "by": by.reshape(n_y, 1)}
    if cell == "rnn":
        out.update(Waa=Wa, Wax=Wx, ba=b)
        return out
    for k, (w, bias) in enumerate(_V1_GATES[cell]):
        rows = slice(k * n_a, (k + 1) * n_a)
        out[w] = np.concatenate([Wa[rows], Wx[rows]], axis=1)
        out[bias] = b[rows]
    return out


def upgrade_flat(
    cell: str, n_x: int, n_a: int, n_y: int, flat: np.ndarray, version: int
) -> np.ndarray:
    """`flat` (parameters, or anything laid out like them, such as optimiser state)
    rearranged from layout `version` into the current one. Moves numbers, exactly."""
    expected = size(cell, n_x, n_a, n_y)
    if flat.shape != (expected,):
        raise ValueError(f"flat vector has shape {flat.shape}, the model needs ({expected},)")
    if version == LAYOUT_VERSION:
        return flat
    if version != 1:
        raise ValueError(f"unknown parameter layout version {version}")
    return pack(cell, _unpack_v1(cell, n_x, n_a, n_y, flat), dtype=flat.dtype).flat
