"""The sizes the benchmark times, the models at each, their GEMM FLOPs, and the problems
(parameters, inputs and targets) every variant is timed on."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnncli import cells as registry

#: name -> (n_x, n_a, n_y, m, T_x), the sizes the benchmark times.
SIZES: dict[str, tuple[int, int, int, int, int]] = {
    "tiny": (3, 5, 2, 10, 7),
    "small": (27, 50, 27, 16, 25),
    "medium": (64, 128, 64, 32, 50),
    "large": (256, 512, 256, 64, 100),
}
CELLS = tuple(registry.BUILTIN)
DTYPES = ("float64", "float32")
#: Model shapes beside one layer, (label, layers, directions): timed for the LSTM at every
#: size but large, against PyTorch's nn.LSTM(num_layers=2) / (bidirectional=True).
MODELS = (("2-layer", 2, 1), ("bidir", 1, 2))
#: The cell the deeper models (`MODELS`) and the speed targets are measured on.
TARGET_CELL = "lstm"


def models(cells: Sequence[str], size: str) -> list[tuple[str, str, int, int]]:
    """(cell, row label, layers, directions) of every model timed at `size`: one layer
    of each cell, and the LSTM's `MODELS` below large."""
    out = [(cell, registry.get(cell).label, 1, 1) for cell in cells]
    if TARGET_CELL in cells and size != "large":
        out += [(TARGET_CELL, f"{TARGET_CELL} {label}", layers, d) for label, layers, d in MODELS]
    return out


def gemm_flops(
    cell: str, n_x: int, n_a: int, n_y: int, m: int, T: int, layers: int = 1, directions: int = 1
) -> int | None:
    """Matrix-product FLOPs of one forward + backward with dx (2 per multiply-add), for a
    built-in cell (None for a user's cell, whose arithmetic rnncli does not know).

    Over N = T*m columns, per block with n_in inputs: forward input projection
    2GnN n_in, recurrence 2GnNn; backward the recurrence and the recurrent columns of dW
    (2GnnN each), its input columns and dx (2Gn n_in N each); the output layer on the
    top layer's D*n units, forward, dWy and dH (2 n_y D n N each). In all
    6 N (sum over blocks of G n (n + n_in) + n_y D n), G = gates per cell.
    """
    spec = registry.get(cell)
    if not spec.fused:
        return None
    N = T * m
    blocks = sum(
        directions * spec.n_gates * n_a * (n_a + (n_x if layer == 0 else directions * n_a))
        for layer in range(layers)
    )
    return 6 * N * (blocks + n_y * directions * n_a)


def make_problem(
    cell: str, size: str, dtype: str, seed: int = 0, layers: int = 1, directions: int = 1
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Notebook-named parameters (a stacked model's with ``_l0``, ``_l0_reverse``, ...),
    x: (n_x, m, T_x) and int targets: (m, T_x)."""
    from rnncli.engine.layout import suffix

    n_x, n_a, n_y, m, T = SIZES[size]
    rng = np.random.default_rng(seed)
    scale = 1 / np.sqrt(n_a + n_x)
    spec = registry.get(cell)
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(layers):
        n_in = n_x if layer == 0 else directions * n_a
        for d in range(directions):
            end = suffix(layer, d, layers * directions > 1)
            shapes.update({k + end: v for k, v in spec.shapes(n_in, n_a).items()})
    shapes.update({spec.output: (n_y, directions * n_a), registry.OUTPUT_BIAS: (n_y, 1)})
    params = {k: (scale * rng.standard_normal(s)).astype(dtype) for k, s in shapes.items()}
    x = rng.standard_normal((n_x, m, T)).astype(dtype)
    targets = rng.integers(0, n_y, (m, T))
    return params, x, targets
