"""Parameter initialisation under notebook names.

Schemes (``init.scheme``), each multiplied by ``init.scale``:

``normal``      every weight and bias ~ N(0, 1), as the notebook's test cells draw them.
``xavier``      weights ~ N(0, 2 / (fan_in + fan_out)) per gate block, biases 0.
``orthogonal``  recurrent blocks orthogonal (QR of a Gaussian), input and output
                blocks as ``xavier``, biases 0.
``notebook``    a notebook test cell's exact legacy draws (see `rnncli.seed_cells`).

For ``xavier`` and ``orthogonal`` the LSTM forget-gate bias starts at 1, the usual
choice that lets gradients flow through the cell state from the first step. A user's
cell draws ``xavier`` and ``orthogonal`` parameters with its own ``init`` (or the
protocol's default, see `rnncli.cells.protocol`).

A stacked model draws its blocks one after another (layer-major, forward direction
first), then the output layer; a one-layer model draws exactly what it always did.
"""

from __future__ import annotations

import numpy as np

from rnncli.cells import OUTPUT_BIAS, CellSpec
from rnncli.cells.load import init_params as user_init
from rnncli.engine.layout import spec_of, suffix

SCHEMES = ("normal", "xavier", "orthogonal")


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign fix makes q uniformly distributed


def _block(
    rng: np.random.Generator, scheme: str, n_a: int, n_in: int, recurrent: bool
) -> np.ndarray:
    """One weight block (n_a, n_in); `recurrent` blocks may be orthogonal."""
    if scheme == "normal":
        return rng.standard_normal((n_a, n_in))
    if scheme == "orthogonal" and recurrent:
        return _orthogonal(rng, n_a)
    return rng.standard_normal((n_a, n_in)) * np.sqrt(2.0 / (n_a + n_in))


def _cell(
    spec: CellSpec, n_x: int, n_a: int, rng: np.random.Generator, scheme: str
) -> dict[str, np.ndarray]:
    """One block's parameters in float64, in the cell's report order."""
    if not spec.fused:
        if scheme == "normal":
            return {k: rng.standard_normal(s) for k, s in spec.shapes(n_x, n_a).items()}
        return user_init(spec.label, spec.step, n_x, n_a, rng, spec.source.get("path"))
    params: dict[str, np.ndarray] = {}
    for name in spec.draw:
        kind = spec.weight_kind(name)
        if kind == "bias":
            params[name] = (
                rng.standard_normal((n_a, 1)) if scheme == "normal" else np.zeros((n_a, 1))
            )
        elif kind == "ax":  # [a_prev; xt] columns: the recurrent part first, as the notebook
            Wa = _block(rng, scheme, n_a, n_a, recurrent=True)
            Wx = _block(rng, scheme, n_a, n_x, recurrent=False)
            params[name] = np.concatenate([Wa, Wx], axis=1)
        else:
            params[name] = _block(rng, scheme, n_a, n_a if kind == "a" else n_x, kind == "a")
    if spec.forget_bias and scheme != "normal":
        params[spec.forget_bias][...] = 1.0
    return {k: params[k] for k in spec.params}


def init_params(
    cell: str | CellSpec,
    n_x: int,
    n_a: int,
    n_y: int,
    rng: np.random.Generator,
    scheme: str = "xavier",
    scale: float = 1.0,
    dtype: np.dtype | type = np.float64,
    layers: int = 1,
    directions: int = 1,
    forget_bias: float | None = None,
) -> dict[str, np.ndarray]:
    """Fresh parameters for a model of `cell` under notebook names, drawn from `rng`.
    `forget_bias`: where given, every forget-gate bias (``bf``) starts at this value
    (cells without a forget gate, rnn and gru, have nothing to set)."""
    spec = spec_of(cell)
    if scheme not in SCHEMES:
        raise ValueError(f"init scheme {scheme!r} cannot draw fresh parameters")
    stacked = layers * directions > 1
    params: dict[str, np.ndarray] = {}
    for layer in range(layers):
        n_in = n_x if layer == 0 else directions * n_a
        for d in range(directions):
            end = suffix(layer, d, stacked)
            block = _cell(spec, n_in, n_a, rng, scheme)
            params.update({k + end: v for k, v in block.items()})
    params[spec.output] = _block(rng, scheme, n_y, directions * n_a, recurrent=False)
    params[OUTPUT_BIAS] = (
        rng.standard_normal((n_y, 1)) if scheme == "normal" else np.zeros((n_y, 1))
    )
    out = {}
    for k, v in params.items():
        scaled = v * scale
        if spec.forget_bias and k.startswith(spec.forget_bias) and scheme != "normal":
            scaled = v  # the forget bias stays 1 whatever the scale
        out[k] = scaled.astype(dtype)
    if forget_bias is not None:
        for k in out:
            if k == "bf" or k.startswith("bf_"):
                out[k][...] = forget_bias
    return out
