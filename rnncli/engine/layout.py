"""Fused parameter layout: notebook names at the boundary, one flat vector inside.

A model is ``layers`` layers of ``directions`` (1, or 2 when bidirectional) cells and an
output layer. All its parameters live in one flat vector, block after block (layer-major,
forward direction first), then the output layer ``Wy (n_y, directions*n_a)``,
``by (n_y, 1)``; each block and the output layer are views into it, so an optimiser
updates the whole model with a few vectorised calls and training never re-packs. Layer
0 reads x_t (n_x inputs); layer l > 0 reads the previous layer's hidden states
(directions*n_a inputs).

A built-in cell's block is fused (see `rnncli.cells.spec`): G gate blocks of n_a rows,

    Z_t = W @ [a_{t-1}; x_t] + b = Wa @ a_{t-1} + Wx @ x_t + b        Z_t: (G*n_a, m)

with ``W (G*n_a, n_a+n_in)`` stacking the notebook's per-gate matrices in the engine's
gate order, and ``Wa = W[:, :n_a]``, ``Wx = W[:, n_a:]`` its recurrent and input columns
(views). The block is ``[W, b]``. For the LSTM and GRU a one-layer model's ``flat`` is
the notebook's arrays one after another, so packing is one concatenation and unpacking
hands out views; the weight gradient ``dW`` is one GEMM (three for the GRU, whose h rows
act on ``[r*a_prev; x_t]``).

A user's cell's block is its parameters one after another, in the cell's order.

Checkpoints store ``flat``, so they record `LAYOUT_VERSION`; `upgrade_flat` converts a
vector written under an older layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from rnncli import cells
from rnncli.cells import OUTPUT_BIAS, CellSpec


def spec_of(cell: str | CellSpec) -> CellSpec:
    return cell if isinstance(cell, CellSpec) else cells.get(cell)


class Layer:
    """One layer and direction's cell parameters (or their gradients): views into the
    model's flat vector. Fused (built-in) cells: W: (G*n_a, n_a+n_x) = [Wa | Wx] and
    b: (G*n_a, 1); Wa = W[:, :n_a] and Wx = W[:, n_a:] are strided views (copy Wa before
    using it in a per-step product: ``np.dot`` copies strided matrices itself, every
    call). Every cell: ``params``, the notebook-named arrays (views)."""

    __slots__ = ("spec", "n_x", "n_a", "flat", "W", "b", "Wa", "Wx", "_params")

    def __init__(self, spec: CellSpec, n_x: int, n_a: int, flat: np.ndarray) -> None:
        self.spec, self.n_x, self.n_a, self.flat = spec, n_x, n_a, flat
        self._params: dict[str, np.ndarray] | None = None
        if spec.fused:
            rows = spec.n_gates * n_a
            cut = rows * (n_a + n_x)
            self.W = flat[:cut].reshape(rows, n_a + n_x)
            self.b = flat[cut:].reshape(rows, 1)
            self.Wa = self.W[:, :n_a]
            self.Wx = self.W[:, n_a:]

    @property
    def cell(self) -> str:
        return self.spec.name

    @property
    def dtype(self) -> np.dtype:
        return self.flat.dtype

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The cell's notebook-named arrays, views into the flat vector."""
        if self._params is None:
            self._params = _views(self.spec, self.n_x, self.n_a, self.flat)
        return self._params


def _views(spec: CellSpec, n_x: int, n_a: int, flat: np.ndarray) -> dict[str, np.ndarray]:
    """The cell's notebook-named arrays as views of one block of the flat vector."""
    if spec.fused:
        rows, cols = spec.n_gates * n_a, n_a + n_x
        W = flat[: rows * cols].reshape(rows, cols)
        b = flat[rows * cols :].reshape(rows, 1)
        return {name: (W if w else b)[r, c] for name, w, r, c in _slices(spec, n_x, n_a)}
    start = 0
    out: dict[str, np.ndarray] = {}
    for name, shape in spec.shapes(n_x, n_a).items():
        n = int(np.prod(shape))
        out[name] = flat[start : start + n].reshape(shape)
        start += n
    return out


@lru_cache(maxsize=256)
def _slices(spec: CellSpec, n_x: int, n_a: int) -> tuple[tuple[str, bool, slice, slice], ...]:
    """Fused cells: (name, in W (else b), rows, columns) of every notebook array, in the
    cell's report order."""
    found: dict[str, tuple[str, bool, slice, slice]] = {}
    cols = {"a": slice(0, n_a), "x": slice(n_a, n_a + n_x), "ax": slice(0, n_a + n_x)}
    for k, block in enumerate(spec.fused):
        r = slice(k * n_a, (k + 1) * n_a)
        for name, kind in block.weights:
            found[name] = (name, True, r, cols[kind])
        found[block.bias] = (block.bias, False, r, slice(0, 1))
    return tuple(found[k] for k in spec.params)


@lru_cache(maxsize=256)
def _first_kind(spec: CellSpec) -> str:
    """Which columns a fused cell's first parameter acts on ("a", "x", "ax")."""
    return spec.weight_kind(spec.params[0])


Plan = tuple[tuple[tuple[int, int, int], ...], tuple[int, int, int], int]


@lru_cache(maxsize=256)
def _plan(spec: CellSpec, n_x: int, n_a: int, n_y: int, layers: int, directions: int) -> Plan:
    """Where each block sits in the flat vector: ((start, stop, n_in) per block,
    (start of Wy, start of by, stop of by), total size)."""
    blocks = []
    start = 0
    for layer in range(layers):
        n_in = n_x if layer == 0 else directions * n_a
        for _ in range(directions):
            stop = (
                start + spec.size(n_in, n_a)
                if not spec.fused
                else start + (spec.n_gates * n_a * (n_a + n_in + 1))
            )
            blocks.append((start, stop, n_in))
            start = stop
    wy = start
    by = wy + n_y * directions * n_a
    return tuple(blocks), (wy, by, by + n_y), by + n_y


class Packed:
    """A model's parameters (or their gradients) as one flat vector plus named views.

    ``blocks``: a `Layer` per layer and direction (layer-major). ``Wy: (n_y, directions*n_a)``
    and ``by: (n_y, 1)``: the output layer. A one-layer, one-direction model also has its
    layer's ``W``, ``b``, ``Wa``, ``Wx`` (fused cells) as attributes.
    """

    __slots__ = ("spec", "n_x", "n_a", "n_y", "flat", "layers", "directions", "blocks", "Wy",
                 "by", "W", "b", "Wa", "Wx")  # fmt: skip

    def __init__(
        self,
        cell: str | CellSpec,
        n_x: int,
        n_a: int,
        n_y: int,
        flat: np.ndarray,
        layers: int = 1,
        directions: int = 1,
    ) -> None:
        spec = cell if isinstance(cell, CellSpec) else cells.get(cell)
        self.spec, self.n_x, self.n_a, self.n_y, self.flat = spec, n_x, n_a, n_y, flat
        self.layers, self.directions = layers, directions
        blocks, (wy, by, end), total = _plan(spec, n_x, n_a, n_y, layers, directions)
        if total != flat.size:
            raise ValueError(f"flat vector has {flat.size} entries, layout needs {total}")
        if len(blocks) == 1:
            first = Layer(spec, n_x, n_a, flat[:wy])
            self.blocks = [first]
            if spec.fused:
                self.W, self.b, self.Wa, self.Wx = first.W, first.b, first.Wa, first.Wx
        else:
            self.blocks = [Layer(spec, n_in, n_a, flat[s:e]) for s, e, n_in in blocks]
        self.Wy = flat[wy:by].reshape(n_y, directions * n_a)
        self.by = flat[by:end].reshape(n_y, 1)

    @property
    def cell(self) -> str:
        return self.spec.name

    @property
    def dtype(self) -> np.dtype:
        return self.flat.dtype

    @property
    def stacked(self) -> bool:
        """More than one layer or direction."""
        return len(self.blocks) > 1

    def block(self, layer: int, direction: int = 0) -> Layer:
        return self.blocks[layer * self.directions + direction]

    def like(self, flat: np.ndarray) -> Packed:
        """The same model's layout over another vector (e.g. gradients)."""
        return Packed(self.spec, self.n_x, self.n_a, self.n_y, flat, self.layers, self.directions)

    @classmethod
    def zeros(
        cls, cell: str | CellSpec, n_x: int, n_a: int, n_y: int, dtype: Any,
        layers: int = 1, directions: int = 1,
    ) -> Packed:  # fmt: skip
        spec = spec_of(cell)
        total = _plan(spec, n_x, n_a, n_y, layers, directions)[2]
        return cls(spec, n_x, n_a, n_y, np.zeros(total, dtype=dtype), layers, directions)

    def zeros_like(self) -> Packed:
        return self.like(np.zeros_like(self.flat))

    def copy(self) -> Packed:
        return self.like(self.flat.copy())


def n_gates(cell: str) -> int:
    return spec_of(cell).n_gates


def size(
    cell: str | CellSpec, n_x: int, n_a: int, n_y: int, layers: int = 1, directions: int = 1
) -> int:
    """Number of scalar parameters of a model."""
    return _plan(spec_of(cell), n_x, n_a, n_y, layers, directions)[2]


def suffix(layer: int, direction: int, stacked: bool) -> str:
    """How a stacked model's parameter names say their block: ``_l1``, ``_l0_reverse``."""
    if not stacked:
        return ""
    return f"_l{layer}" + ("_reverse" if direction else "")


def param_names(p: Packed) -> list[str]:
    """Every parameter's notebook name, in report order (output layer last)."""
    names = []
    for k in range(len(p.blocks)):
        end = suffix(k // p.directions, k % p.directions, p.stacked)
        names += [n + end for n in p.spec.params]
    return [*names, p.spec.output, OUTPUT_BIAS]


def expected_shapes(
    cell: str | CellSpec, n_x: int, n_a: int, n_y: int, layers: int = 1, directions: int = 1
) -> dict[str, tuple[int, ...]]:
    """Every notebook parameter's shape (do not modify the returned dict)."""
    return _expected(spec_of(cell), n_x, n_a, n_y, layers, directions)


@lru_cache(maxsize=256)
def _expected(
    spec: CellSpec, n_x: int, n_a: int, n_y: int, layers: int, directions: int
) -> dict[str, tuple[int, ...]]:
    stacked = layers * directions > 1
    out: dict[str, tuple[int, ...]] = {}
    for layer in range(layers):
        n_in = n_x if layer == 0 else directions * n_a
        for d in range(directions):
            end = suffix(layer, d, stacked)
            out.update({k + end: v for k, v in spec.shapes(n_in, n_a).items()})
    out[spec.output] = (n_y, directions * n_a)
    out[OUTPUT_BIAS] = (n_y, 1)
    return out


@lru_cache(maxsize=256)
def _names(spec: CellSpec, layers: int, directions: int) -> tuple[str, ...]:
    return tuple(_expected(spec, 1, 1, 1, layers, directions))


@lru_cache(maxsize=256)
def _shape_tuple(
    spec: CellSpec, n_x: int, n_a: int, n_y: int, layers: int, directions: int
) -> tuple[tuple[int, ...], ...]:
    return tuple(_expected(spec, n_x, n_a, n_y, layers, directions).values())


def _dims_if_valid(
    spec: CellSpec, params: Mapping[str, np.ndarray], n_x: int | None, layers: int, D: int
) -> tuple[int, int, int] | None:
    """(n_x, n_a, n_y) if every parameter is an array of the right shape, else None: the
    common case, cheaply."""
    names = _names(spec, layers, D)
    try:
        shapes = tuple(params[k].shape for k in names)
    except (KeyError, AttributeError):
        return None
    out = shapes[-2]
    if len(out) != 2 or not shapes[0]:
        return None
    n_y, n_a = out[0], out[1] // D
    if spec.fused:
        kind = _first_kind(spec)
        if kind == "x":
            n_x = shapes[0][-1]
        elif kind == "ax" and len(shapes[0]) == 2:
            n_x = shapes[0][1] - n_a
    if n_x is None or n_x < 1 or shapes != _shape_tuple(spec, n_x, n_a, n_y, layers, D):
        return None
    return n_x, n_a, n_y


def _mode(values: list[int]) -> int:
    """The most common value (the first seen among equally common ones)."""
    return max(values, key=values.count)


def infer_dims(
    cell: str | CellSpec,
    params: Mapping[str, np.ndarray],
    n_x: int | None = None,
    layers: int = 1,
    directions: int = 1,
) -> tuple[int, int, int]:
    """(n_x, n_a, n_y) from a notebook-named parameter dict, checking every shape.

    A user's cell cannot say n_x from its shapes alone: give `n_x` (the input's size).
    """
    spec = spec_of(cell)
    dims = _dims_if_valid(spec, params, n_x, layers, directions)
    if dims is not None:
        return dims
    names = _names(spec, layers, directions)
    missing = [k for k in names if k not in params]
    if missing:
        raise ValueError(f"{spec.label} parameters are missing {', '.join(missing)}")
    shapes = {}
    for name in names:
        value = params[name]
        shape = value.shape if isinstance(value, np.ndarray) else np.shape(value)
        if len(shape) != 2 and spec.fused:
            raise ValueError(f"{name} has shape {shape}: expected a matrix")
        shapes[name] = tuple(shape)
    out_shape = shapes[spec.output]
    if len(out_shape) != 2:
        raise ValueError(f"{spec.output} has shape {out_shape}: expected a matrix")
    n_y = out_shape[0]
    n_a = out_shape[1] // directions
    first = names[0]  # the first parameter of layer 0
    if spec.fused:
        kind = spec.weight_kind(spec.params[0])
        if kind == "x":
            n_x = shapes[first][1]
        elif kind == "ax":
            n_a = shapes[first][0]
            n_x = shapes[first][1] - n_a
    if n_x is None:
        raise ValueError(f"cell {spec.label}: give the input size n_x to read its parameters")
    want = expected_shapes(spec, n_x, n_a, n_y, layers, directions)
    if shapes == want and n_x >= 1:
        return n_x, n_a, n_y
    if spec.fused and layers == 1 and directions == 1:
        # Read each size from every array that carries it and take the most common value,
        # so that the error names the array that is off.
        n_a = _mode([shapes[b.bias][0] for b in spec.fused] + [
            shapes[w][0] for b in spec.fused for w, _ in b.weights
        ])  # fmt: skip
        xs = [shapes[w][1] - (n_a if kind == "ax" else 0)
              for b in spec.fused for w, kind in b.weights if kind != "a"]  # fmt: skip
        n_x = _mode(xs)
        want = expected_shapes(spec, n_x, n_a, n_y)
    for name, shape in want.items():
        if shapes[name] != shape:
            raise ValueError(
                f"{name} has shape {shapes[name]}, expected {shape} "
                f"(n_x={n_x}, n_a={n_a}, n_y={n_y})"
            )
    raise ValueError(f"{first} must have more than n_a={n_a} columns")


def pack(
    cell: str | CellSpec,
    params: Mapping[str, np.ndarray],
    dtype: Any = None,
    n_x: int | None = None,
    layers: int = 1,
    directions: int = 1,
) -> Packed:
    """Copy notebook-named parameters into a `Packed` model."""
    spec = spec_of(cell)
    n_x, n_a, n_y = infer_dims(spec, params, n_x, layers, directions)
    names = _names(spec, layers, directions)
    if dtype is None:
        dtypes = {np.asarray(params[k]).dtype for k in names}
        dtype = dtypes.pop() if len(dtypes) == 1 else np.result_type(*dtypes)
    total = _plan(spec, n_x, n_a, n_y, layers, directions)[2]
    p = Packed(spec, n_x, n_a, n_y, np.empty(total, dtype=dtype), layers, directions)
    order = _flat_order(spec)
    if order is not None and not p.stacked:  # the flat vector is these arrays in order
        pieces = [np.asarray(params[k]).reshape(-1) for k in order]
        np.concatenate(pieces, out=p.flat, casting="unsafe")
        return p
    for k, block in enumerate(p.blocks):
        end = suffix(k // directions, k % directions, p.stacked)
        for name, view in block.params.items():
            view[...] = params[name + end]
    p.Wy[...] = params[spec.output]
    p.by[...] = params[OUTPUT_BIAS]
    return p


@lru_cache(maxsize=64)
def _flat_order(spec: CellSpec) -> tuple[str, ...] | None:
    """The notebook arrays in the order they sit in a one-layer model's flat vector, when
    that is all of them one after another (LSTM, GRU, user cells); None for the rnn,
    whose W interleaves Waa and Wax."""
    if not spec.fused:
        return (*spec.params, spec.output, OUTPUT_BIAS)
    if any(len(b.weights) != 1 for b in spec.fused):
        return None
    weights = tuple(b.weights[0][0] for b in spec.fused)
    return (*weights, *(b.bias for b in spec.fused), spec.output, OUTPUT_BIAS)


def unpack(p: Packed, prefix: str = "", copy: bool = True) -> dict[str, np.ndarray]:
    """Notebook-named arrays of a `Packed` model; ``prefix="d"`` names gradients.

    With ``copy=False`` the arrays are views into `p` (for a `Packed` the caller owns
    and drops); the basic RNN's Wax and Waa are then strided views. A stacked model's
    names end in their block's `suffix`.
    """
    out: dict[str, np.ndarray] = {}
    for k, block in enumerate(p.blocks):
        end = suffix(k // p.directions, k % p.directions, p.stacked)
        if p.spec.fused:
            W, b = block.W, block.b
            if copy:
                W, b = W.copy(), b.copy()  # one copy each; the arrays are views of these
            for name, in_w, r, c in _slices(p.spec, block.n_x, block.n_a):
                out[prefix + name + end] = (W if in_w else b)[r, c]
        else:
            for name, v in _views(p.spec, block.n_x, block.n_a, block.flat).items():
                out[prefix + name + end] = v.copy() if copy else v
    out[prefix + p.spec.output] = p.Wy.copy() if copy else p.Wy
    out[prefix + OUTPUT_BIAS] = p.by.copy() if copy else p.by
    return out


# --------------------------------------------------------------------------------------
# Layout versions (for checkpoints)
# --------------------------------------------------------------------------------------

#: The layout of `Packed.flat`, stored with checkpoints. 1: blocks [Wa, Wx, b, Wy, by],
#: gates in `CellSpec.layout_v1` order (rnncli up to the first engine); 2: blocks
#: [W, b, Wy, by], gates in the engine's order (and stacked models, user cells).
LAYOUT_VERSION = 2


def upgrade_flat(
    cell: str | CellSpec, n_x: int, n_a: int, n_y: int, flat: np.ndarray, version: int,
    layers: int = 1, directions: int = 1,
) -> np.ndarray:  # fmt: skip
    """`flat` (parameters, or anything laid out like them, such as optimiser state)
    rearranged from layout `version` into the current one. Moves numbers, exactly."""
    spec = spec_of(cell)
    expected = size(spec, n_x, n_a, n_y, layers, directions)
    if flat.shape != (expected,):
        raise ValueError(f"flat vector has shape {flat.shape}, the model needs ({expected},)")
    if version == LAYOUT_VERSION:
        return flat
    if version != 1 or not spec.fused or layers * directions > 1:
        raise ValueError(f"unknown parameter layout version {version}")
    G = spec.n_gates
    sizes = [G * n_a * n_a, G * n_a * n_x, G * n_a, n_y * n_a, n_y]
    Wa, Wx, b, Wy, by = np.split(flat, np.cumsum(sizes)[:-1])
    Wa, Wx, b = Wa.reshape(G, n_a, n_a), Wx.reshape(G, n_a, n_x), b.reshape(G, n_a, 1)
    out = Packed.zeros(spec, n_x, n_a, n_y, flat.dtype)
    W3 = out.W.reshape(G, n_a, n_a + n_x)
    b3 = out.b.reshape(G, n_a, 1)
    position = {block.gate: k for k, block in enumerate(spec.fused)}
    for old, gate in enumerate(spec.layout_v1):  # a permutation of gate blocks
        new = position[gate]
        W3[new, :, :n_a], W3[new, :, n_a:], b3[new] = Wa[old], Wx[old], b[old]
    out.Wy[...] = Wy.reshape(n_y, n_a)
    out.by[...] = by.reshape(n_y, 1)
    return out.flat
