"""The fast engine: fused-gate NumPy kernels for rnn, lstm and gru, a generic time loop
for users' cells, and stacked / bidirectional models on top of either.

Everything that runs a model (``loss_and_grads``, the CLI's sequence-level forward and
backward, gradcheck, train, sweep, bench) goes through here. The literal notebook code
in `rnncli.notebook` is the reference the fused kernels are tested against.

Why it is fast (see benchmarks/RESULTS.md): one fused gate GEMM per step on contiguous
time-major buffers ``(T, G*n_a, m)``; the input projection (the LSTM folds it into its
step GEMM on ``[a_{t-1}; x_t; 1]``), the output layer, the weight
gradients and ``dx`` hoisted out of the time loop as one GEMM each (on a feature-major
``(n, T, m)`` copy, where time and batch merge into one axis); in-place ufuncs with
``out=`` and memoised per-step views in the loop; backward coefficients computed in bulk
before the loop; every temporary of the hot path (`loss_and_grads_packed`) drawn from a
per-shape `Workspace`, so that no call pays page faults for fresh memory.

A model's state is a tuple of arrays (n_a, m): each block's states (`CellSpec.states`:
``a``, or ``a`` and ``c``) one after another, layer-major (`initial_state`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from rnncli import loss as losses
from rnncli import workspace
from rnncli.cells import CellSpec
from rnncli.engine import generic, gru, lstm, rnn, stack
from rnncli.engine.backend import Backend, choose_backend, decide
from rnncli.engine.epilogue import stacked_inputs
from rnncli.engine.layout import (
    Layer,
    Packed,
    n_gates,
    pack,
    param_names,
    size,
    spec_of,
    unpack,
)
from rnncli.workspace import Workspace

__all__ = [
    "Backend",
    "Layer",
    "Packed",
    "State",
    "Workspace",
    "backward",
    "choose_backend",
    "decide",
    "final_state",
    "forward",
    "from_time_major",
    "hidden",
    "initial_state",
    "loss_and_grads",
    "loss_and_grads_packed",
    "n_gates",
    "pack",
    "param_names",
    "size",
    "to_time_major",
    "train_step",
    "unpack",
]

State = tuple[np.ndarray, ...]

#: The fused kernels by module name, which is what a built-in's `CellSpec.kernel` says.
KERNELS: dict[str, Any] = {m.__name__.rpartition(".")[2]: m for m in (rnn, lstm, gru)}


def kernel(spec: CellSpec) -> Any:
    """The module that runs one block of this cell: a fused kernel, or the generic loop."""
    return KERNELS[spec.kernel] if spec.fused else generic


def to_time_major(x: np.ndarray) -> np.ndarray:
    """(n, m, T) notebook layout -> contiguous (T, n, m)."""
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def from_time_major(X: np.ndarray) -> np.ndarray:
    """(T, n, m) -> contiguous (n, m, T) notebook layout."""
    return np.ascontiguousarray(X.transpose(1, 2, 0))


def dense(X: np.ndarray, n_x: int, dtype: Any) -> np.ndarray:
    """One-hot inputs (T, n_x, m) from symbol indices X: (T, m) (< 0: no input); dense
    inputs as they are. The NumPy engine multiplies one-hot inputs densely: gathering
    columns of Wx and scatter-adding into dWx measured 5-25% slower in its feature-major
    layout (n_x = 7 to 100); the compiled kernels take the indices as they are."""
    if X.ndim == 3:
        return X
    T, m = X.shape
    out = np.zeros((T, n_x, m), dtype=dtype)
    t, i = np.nonzero(X >= 0)
    out[t, X[t, i], i] = 1
    return out


def initial_state(p: Packed, m: int, a0: np.ndarray | None = None) -> State:
    """The zero state of a batch of m (the first block's a starts at `a0` if given)."""
    out = [np.zeros((p.n_a, m), dtype=p.dtype) for _ in range(len(p.blocks) * len(p.spec.states))]
    if a0 is not None:
        out[0] = np.asarray(a0, dtype=p.dtype)
    return tuple(out)


def _per_block(p: Packed, state: State) -> list[State]:
    k = len(p.spec.states)
    return [tuple(state[i * k : (i + 1) * k]) for i in range(len(p.blocks))]


def _block_forward(block: Layer, X: np.ndarray, state: State, ws: Workspace | None) -> Any:
    spec = block.spec
    if not spec.fused:
        return generic.forward(block, X, state, ws)
    if spec.has_c:
        return kernel(spec).forward(block, X, state[0], state[1], ws)
    return kernel(spec).forward(block, X, state[0], ws)


def _block_hidden(block: Layer, cache: Any) -> np.ndarray:
    return cache.A[1:]


def _block_final(block: Layer, cache: Any) -> State:
    if not block.spec.fused:
        return tuple(np.array(s, copy=True) for s in cache.final)
    if block.spec.has_c:
        return cache.A[-1].copy(), cache.C[-1].copy()
    return (cache.A[-1].copy(),)


def _block_backward(
    block: Layer, cache: Any, dA: np.ndarray, grads: Layer, need_dx: bool
) -> tuple[np.ndarray | None, np.ndarray]:
    return kernel(block.spec).backward(block, cache, dA, grads, need_dx)


def forward(
    p: Packed,
    X: np.ndarray,
    state0: State | None = None,
    ws: Workspace | None = None,
    masks: list[np.ndarray] | None = None,
    trace: bool = False,
) -> Any:
    """Run the sequence. X: (T, n_x, m) time-major, or (T, m) symbol indices for one-hot
    inputs (< 0: no input); state0: the model's initial state
    (`initial_state`; zeros if None; a shorter tuple is completed with zeros).
    masks: a stacked model's dropout masks (`stack.dropout_masks`), training only.
    trace: run a user's cell step by step, keeping every state and step cache (for
    gate values and ``backward(record=...)``; the fused kernels keep them anyway).

    Returns the model's cache. With a `Workspace` (one-block models) its buffers are
    reused by the next call on that workspace; without one they are fresh.
    """
    X = dense(X, p.n_x, p.dtype)
    if not p.stacked and p.spec.fused:  # the hot path: no state tuple to complete
        block = p.blocks[0]
        a0 = state0[0] if state0 else np.zeros((p.n_a, X.shape[-1]), dtype=p.dtype)
        if p.spec.has_c:
            c0 = state0[1] if state0 is not None and len(state0) > 1 else None
            return kernel(p.spec).forward(block, X, a0, c0, ws)
        return kernel(p.spec).forward(block, X, a0, ws)
    full = initial_state(p, X.shape[2])
    if state0:
        full = (*state0, *full[len(state0) :])
    if not p.stacked:
        return generic.forward(p.blocks[0], X, full, ws, trace)
    return stack.forward(
        p, X, _per_block(p, full), _block_forward, _block_hidden, _block_final, masks
    )


def hidden(p: Packed, cache: Any) -> np.ndarray:
    """The top layer's hidden states at every step: (T, directions*n_a, m)."""
    if p.stacked:
        return cache.H[-1]
    return cache.A[1:]


def last_hidden(p: Packed, cache: Any) -> np.ndarray:
    """What a readout at the last step sees: (directions*n_a, m) (see `stack.last`)."""
    return stack.last(hidden(p, cache), p.directions, p.n_a)


def final_state(p: Packed, cache: Any) -> State:
    """Copies of the model's last state (every block's), to carry into the next chunk."""
    if p.stacked:
        return tuple(s for block in cache.states for s in block)
    return _block_final(p.blocks[0], cache)


def backward(
    p: Packed,
    cache: Any,
    dA: np.ndarray,
    grads: Packed | None = None,
    need_dx: bool = True,
    ws: Workspace | None = None,
    record: dict[str, np.ndarray] | None = None,
) -> tuple[Packed, np.ndarray | None, np.ndarray]:
    """Back-propagate dA: (T, directions*n_a, m) (the gradient on the top layer's hidden
    states) through time. Returns (grads, dX, da0 of the first block).

    Writes the cells' blocks of `grads`; its output layer is left as is.
    record (one-layer models): filled with the gradient on every state at every step,
    ``record[s]``: (T, n_a, m) per state name, from the same loop (see the kernels'
    ``record``); the results are the same with or without it.
    """
    if grads is None:
        grads = p.zeros_like()
    if record is not None and p.stacked:
        raise ValueError("recording per-step gradients needs a one-layer model")
    if p.stacked:
        dX, da0 = stack.backward(p, cache, dA, grads, need_dx, _block_backward)
        return grads, dX, da0
    block = p.blocks[0]
    dX, da0 = kernel(p.spec).backward(block, cache, dA, grads.blocks[0], need_dx, ws,
                                      record=record)  # fmt: skip
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

    X: (T, n_x, m), or (T, m) symbol indices for one-hot inputs (< 0: no input); targets:
    (T, m) ints for ``xent``, (m,) ints for ``xent_last``, or
    (n_y, m) for ``mse_last``. Returns (loss, grads, dX or None, da0). This is the hot
    path: every temporary lives in a per-shape `Workspace`, and the returned arrays are
    fresh (or the caller's `grads`).
    """
    if grads is None:
        grads = p.like(np.empty_like(p.flat))  # all overwritten
    state0 = (a0,)
    value, dX, da0, _ = _loss_and_grads(p, X, targets, state0, loss, grads, need_dx, False)
    return value, grads, dX, da0


#: BLAS threads pay from this hidden size up: on 2 idle cores, an LSTM step with n_a = 128
#: and m = 32 runs 1.35x faster on two threads, at n_a <= 32 it is 1.0-1.07x.
THREADS_FROM = 128


def spare_cores() -> int:
    """The cores no other process is using now: the core count less the 1-minute load
    average, rounded (at least 1)."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - no load average on this platform
        return cores
    return max(1, min(cores, round(cores - load)))


def threads_for(requested: int | None, n_a: int) -> int:
    """The BLAS threads a run uses: `requested`, else one below `THREADS_FROM` hidden
    units and from there every core that no other process is using (`spare_cores`).
    A BLAS thread waits for the others at every product: when another process holds
    a core, the step waits for the scheduler. On 2 cores under a load of 7, LSTM training
    steps ran 1.5-11x slower on two threads than on one (n_a = 128 to 512)."""
    if requested is not None:
        return requested
    return 1 if n_a < THREADS_FROM else spare_cores()


@contextlib.contextmanager
def limit_threads(n: int) -> Iterator[None]:
    """BLAS (and OpenMP) runs on at most `n` threads inside the block."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n):
        yield


def train_step(
    p: Packed,
    X: np.ndarray,
    targets: np.ndarray,
    state0: State | None,
    loss: str,
    grads: Packed,
    masks: list[np.ndarray] | None = None,
    backend: str = "numpy",
) -> tuple[float, State]:
    """`loss_and_grads_packed` for training: starts from the model state `state0` (zeros
    if None), writes every gradient into `grads`, no dX. Returns (loss, final state):
    copies of every block's last state, which truncated BPTT carries into the next chunk.
    `masks`: a stacked model's dropout masks; `backend`: ``numpy`` or ``compiled``, the
    step's backend in the run's decision (`Backend.at`)."""
    if backend == "compiled":
        from rnncli.engine import compiled

        idx = X if X.ndim == 2 else None
        value, _, _, out = compiled.loss_and_grads(p, X, targets, state0, loss, grads, False, idx)
        assert out is not None
        return value, out
    value, _, _, final = _loss_and_grads(p, X, targets, state0, loss, grads, False, True, masks)
    assert final is not None
    return value, final


def _loss_into(
    p: Packed,
    loss: str,
    H: np.ndarray,
    Hf: np.ndarray | None,
    targets: np.ndarray,
    grads: Packed,
    dH: np.ndarray,
    ws: Workspace,
) -> float:
    """The output layer and the loss on the top layer's states H: (T, D*n_a, m) (Hf: the
    same laid out (D*n_a, T, m), if the caller has it); writes dWy, dby and dH."""
    if loss == "xent":
        if Hf is None:
            Hf = H.transpose(1, 0, 2)
        return losses.xent_into(p.Wy, p.by, Hf, targets, grads.Wy, grads.by, dH, ws)
    D, n = p.directions, p.n_a
    a_last = stack.last(H, D, n)
    d_last = ws.get("d_last", a_last.shape, a_last.dtype)
    if loss == "mse_last":
        value = losses.mse_last_into(p.Wy, p.by, a_last, targets, grads.Wy, grads.by, d_last)
    else:
        value = losses.xent_last_into(p.Wy, p.by, a_last, targets, grads.Wy, grads.by, d_last)
    stack.scatter_last(dH, d_last, D, n)
    return value


def _loss_and_grads(
    p: Packed,
    X: np.ndarray,
    targets: np.ndarray,
    state0: State | None,
    loss: str,
    grads: Packed,
    need_dx: bool,
    keep_final: bool,
    masks: list[np.ndarray] | None = None,
) -> tuple[float, np.ndarray | None, np.ndarray, State | None]:
    """Forward, loss, backward (consuming the cache): (loss, dX, da0, final state or None)."""
    X = dense(X, p.n_x, p.dtype)
    T, _, m = X.shape
    n = p.n_a
    ws = workspace.cached((p.spec, p.n_x, n, p.n_y, p.layers, p.directions, T, m, X.dtype.str))
    dt = p.dtype
    cache = forward(p, X, state0, ws, masks)
    final = final_state(p, cache) if keep_final else None  # before the cache is consumed
    if p.stacked or not p.spec.fused:
        H = hidden(p, cache)
        dH = ws.get("dH", H.shape, dt)
        value = _loss_into(p, loss, H, None, targets, grads, dH, ws)
        _, dX, da0 = backward(p, cache, dH, grads, need_dx)
        return value, dX, da0, final
    dH = ws.get("dH", (T, n, m), dt)
    AX = stacked_inputs(ws, cache.A, X)  # (n + n_x, T+1, m): [a_0..a_T; x_1..x_T]
    value = _loss_into(p, loss, cache.A[1:], AX[:n, 1:], targets, grads, dH, ws)
    block = p.blocks[0]
    dX, da0 = kernel(p.spec).backward(block, cache, dH, grads.blocks[0], need_dx, ws, AX, True)
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
    cell: str | CellSpec,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    targets: np.ndarray,
    a0: np.ndarray | None = None,
    loss: str = "xent",
    layers: int = 1,
    directions: int = 1,
) -> tuple[float, dict[str, np.ndarray]]:
    """Loss and every gradient of the model: recurrent cells, output layer and loss.

    cell: a built-in (rnn, lstm, gru) or a user's cell (see `rnncli.cells`); params: notebook
    names (``Wax, Waa, ba, Wya, by`` or ``Wf, bf, ..., Wy, by`` or ``Wz, bz, ..., Wy,
    by``; a stacked model's end in ``_l0``, ``_l0_reverse``, ...); x: (n_x, m, T_x); a0:
    (n_a, m), the first block's initial hidden state, zeros by default; targets:
    (m, T_x) class indices for ``loss="xent"`` (negative = ignored), (m,) class indices
    for ``xent_last`` (a softmax at the last step), or (n_y, m) reals for ``mse_last``
    (see `rnncli.loss`).

    Returns (loss, grads) where grads holds ``d`` + every parameter name (``dWf``,
    ``dWy``, ``dby``, ...), ``dx`` (n_x, m, T_x) and ``da0`` (n_a, m).
    """
    spec = spec_of(cell)
    x = np.asarray(x)
    n_x = x.shape[0] if x.ndim == 3 else None
    p = pack(spec, params, n_x=n_x, layers=layers, directions=directions)
    x, a0 = check_inputs(p, x, a0)
    _, m, T_x = x.shape
    targets = losses.check_targets(loss, targets, p.n_y, m, T_x)
    if loss == "xent":
        targets = np.ascontiguousarray(targets.T)  # time-major (T, m)
    elif loss == "mse_last":
        targets = targets.astype(p.dtype, copy=False)
    value, g, dX, da0 = loss_and_grads_packed(p, to_time_major(x), targets, a0, loss, need_dx=True)
    grads = unpack(g, prefix="d", copy=False)  # g is ours: views of it are enough
    assert dX is not None
    grads["dx"] = from_time_major(dX)
    grads["da0"] = da0
    return value, grads
