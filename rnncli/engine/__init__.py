"""The fast engine: fused-gate NumPy kernels for rnn, lstm and gru.

Everything that runs a model (``loss_and_grads``, the CLI's sequence-level forward and
backward, gradcheck, train, sweep, bench) goes through here. The literal notebook code
in `rnncli.notebook` is the reference it is tested against.

Why it is fast (see the performance issue and benchmarks/RESULTS.md): one fused gate
GEMM per step on contiguous time-major buffers ``(T, G*n_a, m)``; the input projection,
the output layer, the weight gradients and ``dx`` hoisted out of the time loop as one
GEMM each (on a feature-major ``(n, T, m)`` copy, where time and batch merge into one
axis); in-place ufuncs with ``out=`` and memoised per-step views in the loop; backward
coefficients computed in bulk before the loop; every temporary of the hot path
(`loss_and_grads_packed`) drawn from a per-shape `Workspace`, so that no call pays page
faults for fresh memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from rnncli import loss as losses
from rnncli.engine import gru, lstm, rnn, workspace
from rnncli.engine.epilogue import stacked_inputs
from rnncli.engine.layout import (
    CELLS,
    OUTPUT_NAMES,
    PARAM_NAMES,
    Packed,
    check_cell,
    n_gates,
    pack,
    size,
    unpack,
)
from rnncli.engine.workspace import Workspace

__all__ = [
    "CELLS",
    "Workspace",
    "OUTPUT_NAMES",
    "PARAM_NAMES",
    "Packed",
    "backward",
    "final_state",
    "forward",
    "from_time_major",
    "hidden",
    "loss_and_grads",
    "loss_and_grads_packed",
    "train_step",
    "n_gates",
    "pack",
    "size",
    "to_time_major",
    "unpack",
]

KERNELS: dict[str, ModuleType] = {"rnn": rnn, "lstm": lstm, "gru": gru}


def to_time_major(x: np.ndarray) -> np.ndarray:
    """(n, m, T) notebook layout -> contiguous (T, n, m)."""
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def from_time_major(X: np.ndarray) -> np.ndarray:
    """(T, n, m) -> contiguous (n, m, T) notebook layout."""
    return np.ascontiguousarray(X.transpose(1, 2, 0))


def forward(
    p: Packed,
    X: np.ndarray,
    a0: np.ndarray,
    c0: np.ndarray | None = None,
    ws: Workspace | None = None,
) -> Any:
    """Run the sequence. X: (T, n_x, m) time-major, a0: (n_a, m); c0: (n_a, m), the
    LSTM's initial cell state (zeros if None; ignored by rnn and gru).

    Returns the cell's cache. With a `Workspace` its buffers are reused by the next
    call on that workspace; without one they are fresh.
    """
    if p.cell == "lstm":
        return lstm.forward(p, X, a0, c0, ws)
    return KERNELS[p.cell].forward(p, X, a0, ws)


def hidden(p: Packed, cache: Any) -> np.ndarray:
    """The hidden states a_1..a_T of a forward cache: (T, n_a, m)."""
    return KERNELS[p.cell].hidden(cache)


def final_state(p: Packed, cache: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Copies of the last hidden state a_T and (LSTM only, else None) cell state c_T."""
    c = cache.C[-1].copy() if p.cell == "lstm" else None
    return cache.A[-1].copy(), c


def backward(
    p: Packed,
    cache: Any,
    dA: np.ndarray,
    grads: Packed | None = None,
    need_dx: bool = True,
    ws: Workspace | None = None,
) -> tuple[Packed, np.ndarray | None, np.ndarray]:
    """Back-propagate dA: (T, n_a, m) through time. Returns (grads, dX, da0).

    Writes the recurrent blocks of `grads` (W, b); its output layer is left as is.
    """
    if grads is None:
        grads = p.zeros_like()
    dX, da0 = KERNELS[p.cell].backward(p, cache, dA, grads, need_dx, ws)
    return grads, dX, da0


def loss_and_grads_packed(
    p: Packed,
    X: np.ndarray,
    targets: np.ndarray,
    a0: np.ndarray,
    loss: str = "xent",
    grads: Packed | None = None,
    need_dx: bool = False,
) -> tuple[float, Packed, np.ndarray | None, np.ndarray]:
    """Loss and gradients on fused parameters and time-major data, without checks.

    X: (T, n_x, m); targets: (T, m) ints for ``xent`` or (n_y, m) for ``mse_last``.
    Returns (loss, grads, dX or None, da0). This is the hot path: every temporary lives
    in a per-shape `Workspace`, and the returned arrays are fresh (or the caller's `grads`).
    """
    if grads is None:
        grads = Packed(p.cell, p.n_x, p.n_a, p.n_y, np.empty_like(p.flat))  # all overwritten
    value, dX, da0, _ = _loss_and_grads(p, X, targets, a0, None, loss, grads, need_dx, False)
    return value, grads, dX, da0


def train_step(
    p: Packed,
    X: np.ndarray,
    targets: np.ndarray,
    a0: np.ndarray,
    c0: np.ndarray | None,
    loss: str,
    grads: Packed,
) -> tuple[float, tuple[np.ndarray, np.ndarray | None]]:
    """`loss_and_grads_packed` for training: starts from the state (a0, c0) (c0: the
    LSTM's cell state, zeros if None), writes every gradient into `grads`, no dX.
    Returns (loss, final state): copies of a_T and (LSTM, else None) c_T, which truncated
    BPTT carries into the next chunk."""
    value, _, _, final = _loss_and_grads(p, X, targets, a0, c0, loss, grads, False, True)
    assert final is not None
    return value, final


def _loss_and_grads(
    p: Packed,
    X: np.ndarray,
    targets: np.ndarray,
    a0: np.ndarray,
    c0: np.ndarray | None,
    loss: str,
    grads: Packed,
    need_dx: bool,
    keep_final: bool,
) -> tuple[float, np.ndarray | None, np.ndarray, tuple[np.ndarray, np.ndarray | None] | None]:
    """Forward, loss, backward (consuming the cache): (loss, dX, da0, final state or None)."""
    T, _, m = X.shape
    n = p.n_a
    ws = workspace.cached((p.cell, p.n_x, n, p.n_y, T, m, X.dtype.str))
    kernel = KERNELS[p.cell]
    cache = forward(p, X, a0, c0, ws)
    final = final_state(p, cache) if keep_final else None  # before the cache is consumed
    dH = ws.get("dH", (T, n, m), X.dtype)
    AX = stacked_inputs(ws, cache.A, X)  # (n + n_x, T+1, m): [a_0..a_T; x_1..x_T]
    if loss == "xent":
        value = losses.xent_into(p.Wy, p.by, AX[:n, 1:], targets, grads.Wy, grads.by, dH, ws)
    else:
        value = losses.mse_last_into(p.Wy, p.by, cache.A[-1], targets, grads.Wy, grads.by, dH)
    dX, da0 = kernel.backward(p, cache, dH, grads, need_dx, ws, AX, consume=True)
    return value, dX, da0, final


def check_inputs(p: Packed, x: np.ndarray, a0: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Validate x: (n_x, m, T_x) and a0: (n_a, m) against the parameters."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[0] != p.n_x:
        raise ValueError(f"x has shape {x.shape}, expected (n_x={p.n_x}, m, T_x)")
    if x.dtype != p.dtype:
        raise ValueError(f"x has dtype {x.dtype} but the parameters are {p.dtype}")
    if min(x.shape) < 1:
        raise ValueError(f"x has shape {x.shape}: m and T_x must be at least 1")
    m = x.shape[1]
    if a0 is None:
        a0 = np.zeros((p.n_a, m), dtype=p.dtype)
    a0 = np.asarray(a0)
    if a0.shape != (p.n_a, m):
        raise ValueError(f"a0 has shape {a0.shape}, expected (n_a, m) = {(p.n_a, m)}")
    return x, a0.astype(p.dtype, copy=False)


def loss_and_grads(
    cell: str,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    targets: np.ndarray,
    a0: np.ndarray | None = None,
    loss: str = "xent",
) -> tuple[float, dict[str, np.ndarray]]:
    """Loss and every gradient of the model: recurrent cell, output layer and loss.

    cell: "rnn" | "lstm" | "gru"; params: notebook names (``Wax, Waa, ba, Wya, by`` or
    ``Wf, bf, ..., Wy, by`` or ``Wz, bz, ..., Wy, by``); x: (n_x, m, T_x); a0: (n_a, m),
    zeros by default; targets: (m, T_x) class indices for ``loss="xent"`` (negative =
    ignored) or (n_y, m) reals for ``loss="mse_last"`` (see `rnncli.loss`).

    Returns (loss, grads) where grads holds ``d`` + every parameter name (``dWf``,
    ``dWy``, ``dby``, ...), ``dx`` (n_x, m, T_x) and ``da0`` (n_a, m).
    """
    check_cell(cell)
    p = pack(cell, params)
    x, a0 = check_inputs(p, x, a0)
    _, m, T_x = x.shape
    targets = losses.check_targets(loss, targets, p.n_y, m, T_x)
    if loss == "xent":
        targets = np.ascontiguousarray(targets.T)  # time-major (T, m)
    else:
        targets = targets.astype(p.dtype, copy=False)
    value, g, dX, da0 = loss_and_grads_packed(p, to_time_major(x), targets, a0, loss, need_dx=True)
    grads = unpack(g, prefix="d", copy=False)  # g is ours: views of it are enough
    assert dX is not None
    grads["dx"] = from_time_major(dX)
    grads["da0"] = da0
    return value, grads
