"""Parameter initialisation under notebook names.

Schemes (``init.scheme``), each multiplied by ``init.scale``:

``normal``      every weight and bias ~ N(0, 1), as the notebook's test cells draw them.
``xavier``      weights ~ N(0, 2 / (fan_in + fan_out)) per gate block, biases 0.
``orthogonal``  recurrent blocks orthogonal (QR of a Gaussian), input and output
                blocks as ``xavier``, biases 0.
``notebook``    a notebook test cell's exact legacy draws (see `rnncli.seed_cells`).

For ``xavier`` and ``orthogonal`` the LSTM forget-gate bias starts at 1, the usual
choice that lets gradients flow through the cell state from the first step.
"""

from __future__ import annotations

import numpy as np

from rnncli.engine.layout import OUTPUT_NAMES, check_cell

#: The order gate blocks are drawn in. Fixed here, apart from the engine's internal
#: gate order, so that a seed gives the same parameters whatever the engine's layout.
DRAW_ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "lstm": (("Wo", "bo"), ("Wf", "bf"), ("Wi", "bi"), ("Wc", "bc")),
    "gru": (("Wz", "bz"), ("Wr", "br"), ("Wh", "bh")),
}


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


def init_params(
    cell: str,
    n_x: int,
    n_a: int,
    n_y: int,
    rng: np.random.Generator,
    scheme: str = "xavier",
    scale: float = 1.0,
    dtype: np.dtype | type = np.float64,
) -> dict[str, np.ndarray]:
    """Fresh parameters for `cell` under notebook names, drawn from `rng`."""
    check_cell(cell)
    if scheme not in ("normal", "xavier", "orthogonal"):
        raise ValueError(f"init scheme {scheme!r} cannot draw fresh parameters")
    params: dict[str, np.ndarray] = {}

    def bias(n: int) -> np.ndarray:
        return rng.standard_normal((n, 1)) if scheme == "normal" else np.zeros((n, 1))

    if cell == "rnn":
        params["Wax"] = _block(rng, scheme, n_a, n_x, recurrent=False)
        params["Waa"] = _block(rng, scheme, n_a, n_a, recurrent=True)
        params["ba"] = bias(n_a)
    else:
        for w, b in DRAW_ORDER[cell]:
            # [a_prev; xt] columns: the recurrent part first, as the notebook stacks them
            Wa = _block(rng, scheme, n_a, n_a, recurrent=True)
            Wx = _block(rng, scheme, n_a, n_x, recurrent=False)
            params[w] = np.concatenate([Wa, Wx], axis=1)
            params[b] = bias(n_a)
    params[OUTPUT_NAMES[cell]] = _block(rng, scheme, n_y, n_a, recurrent=False)
    params["by"] = bias(n_y)
    out = {k: (v * scale).astype(dtype) for k, v in params.items()}
    if cell == "lstm" and scheme != "normal":
        out["bf"][...] = 1.0
    return out
