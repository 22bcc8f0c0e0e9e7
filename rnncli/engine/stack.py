"""Stacked and bidirectional models: layers run one after another on time-major buffers.

Layer l reads H_{l-1}: (T, n_in, m) (H_{-1} = X) and writes H_l: (T, D*n_a, m), D = 1 or
2 directions. The forward direction is the cell on H_{l-1}; the reverse direction is the
same kind of cell, with its own parameters, on the time-reversed view ``H_{l-1}[::-1]``
(no copy), and its hidden states are written back in forward time, so that

    H_l[t] = [a_fwd_t ; a_rev_t]        (PyTorch's ``output`` of a bidirectional layer)

Between layers, inverted dropout: H_l is multiplied by a mask of 0 and 1/(1-rate) drawn
by the caller (`dropout_masks`), so that evaluation needs no rescaling.

Backward walks the layers down: the gradient on H_l splits into its directions, each
direction's backward gives the gradient on its input (reversed back for the reverse
direction), and their sum is the gradient on H_{l-1}.

The readout at the last step (``mse_last``, ``xent_last``) of a bidirectional model is
``[a_fwd_T ; a_rev_1]``: each direction's state after reading the whole sequence (the
``h_n`` of PyTorch's top layer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncli import workspace
from rnncli.engine.layout import Layer, Packed

BlockForward = Callable[[Layer, np.ndarray, tuple[np.ndarray, ...], Any], Any]


@dataclass
class Cache:
    X: np.ndarray  # (T, n_x, m)
    caches: list[Any]  # per block, layer-major
    H: list[np.ndarray]  # per layer: its output (T, D*n_a, m), after dropout below the top
    masks: list[np.ndarray] | None  # per layer below the top: (T, D*n_a, m)
    states: list[tuple[np.ndarray, ...]]  # per block: its final state


def dropout_masks(
    p: Packed, rate: float, rng: np.random.Generator, T: int, m: int
) -> list[np.ndarray] | None:
    """Inverted-dropout masks for the outputs of every layer but the top, or None."""
    if rate <= 0 or p.layers == 1:
        return None
    keep = 1.0 - rate
    shape = (T, p.directions * p.n_a, m)
    return [((rng.random(shape) < keep) / keep).astype(p.dtype) for _ in range(p.layers - 1)]


def forward(
    p: Packed,
    X: np.ndarray,
    state0: list[tuple[np.ndarray, ...]],
    block_forward: BlockForward,
    hidden: Callable[[Layer, Any], np.ndarray],
    final: Callable[[Layer, Any], tuple[np.ndarray, ...]],
    masks: list[np.ndarray] | None = None,
) -> Cache:
    """X: (T, n_x, m); state0: per block, its initial state."""
    T, _, m = X.shape
    n, D = p.n_a, p.directions
    caches, outputs, states = [], [], []
    inp = X
    for layer in range(p.layers):
        out = np.empty((T, D * n, m), dtype=X.dtype)
        for d in range(D):
            k = layer * D + d
            block = p.blocks[k]
            ws = workspace.cached(("stack", p.cell, block.n_x, n, T, m, X.dtype.str, k))
            cache = block_forward(block, inp if d == 0 else inp[::-1], state0[k], ws)
            H = hidden(block, cache)
            out[:, d * n : (d + 1) * n] = H if d == 0 else H[::-1]
            caches.append(cache)
            states.append(final(block, cache))
        if masks is not None and layer < p.layers - 1:
            out *= masks[layer]
        outputs.append(out)
        inp = out
    return Cache(X, caches, outputs, masks, states)


def backward(
    p: Packed,
    cache: Cache,
    dH: np.ndarray,
    grads: Packed,
    need_dx: bool,
    block_backward: Callable[..., tuple[np.ndarray | None, np.ndarray]],
) -> tuple[np.ndarray | None, np.ndarray]:
    """dH: (T, D*n_a, m), the gradient on the top layer's output. Writes every block's
    gradients into `grads`; returns (dX or None, da0 of the first block)."""
    n, D = p.n_a, p.directions
    da0 = np.zeros((n, dH.shape[2]), dtype=dH.dtype)
    for layer in reversed(range(p.layers)):
        below = layer > 0 or need_dx
        dIn: np.ndarray | None = None
        for d in range(D):
            k = layer * D + d
            dA = dH[:, d * n : (d + 1) * n]
            dA = np.ascontiguousarray(dA if d == 0 else dA[::-1])
            dX, da0_k = block_backward(p.blocks[k], cache.caches[k], dA, grads.blocks[k], below)
            if k == 0:
                da0 = da0_k
            if dX is not None:
                step = dX if d == 0 else dX[::-1]
                dIn = np.array(step) if dIn is None else dIn + step
        if layer == 0:
            return dIn, da0
        assert dIn is not None
        if cache.masks is not None:
            dIn *= cache.masks[layer - 1]
        dH = dIn
    return None, da0  # pragma: no cover (layers >= 1)


def last(H: np.ndarray, D: int, n: int) -> np.ndarray:
    """The readout at the last step of a top-layer output H: (T, D*n_a, m): a_T, or
    [a_fwd_T ; a_rev_1] for two directions. (D*n_a, m), a copy for D = 2."""
    if D == 1:
        return H[-1]
    return np.concatenate([H[-1, :n], H[0, n:]])


def scatter_last(dH: np.ndarray, d_last: np.ndarray, D: int, n: int) -> None:
    """Write the gradient of `last` into dH (zero elsewhere)."""
    dH[...] = 0
    if D == 1:
        dH[-1] = d_last
    else:
        dH[-1, :n] = d_last[:n]
        dH[0, n:] = d_last[n:]
