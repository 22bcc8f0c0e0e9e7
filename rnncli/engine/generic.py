"""The time loop for any cell that follows `rnncli.cells.protocol`.

Forward calls the cell's ``step_forward`` for t = 1..T and keeps each step's cache;
backward walks t = T..1, adding the loss gradient on a_t to the gradient carried back
from step t+1, calls ``step_backward`` and sums the parameter gradients over time::

    d state_t = (dA[t] + carried da, carried dc, ...)
    (carried, dx_t, dparams_t) = step_backward(params, d state_t, cache_t)
    dparams += dparams_t

A cell with ``sequence_forward`` / ``sequence_backward`` runs those instead, unless the
forward is traced (``trace=True``: step by step, keeping every state, for gate values
and ``backward(record=...)``). Shapes as in the fused kernels: X: (T, n_x, m),
A: (T+1, n_a, m) with A[0] = a_0, dA: (T, n_a, m). An exception in the cell's code
becomes a `CellError` naming the method and the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncli.cells.load import cell_error
from rnncli.engine.layout import Layer
from rnncli.workspace import Workspace


@dataclass
class Cache:
    X: np.ndarray  # (T, n_x, m)
    A: np.ndarray  # (T+1, n_a, m), A[0] = a0
    final: tuple[np.ndarray, ...]  # the last state, every array of it
    steps: list[Any]  # step caches (or one sequence cache)
    sequence: bool  # made by sequence_forward
    S: dict[str, np.ndarray] | None = None  # traced: every state, (T+1, n_a, m) per name


def _fail(p: Layer, method: str, exc: BaseException) -> Exception:
    return cell_error(p.spec.label, method, exc, p.spec.source.get("path"))


def _has_sequence(impl: Any) -> bool:
    return callable(getattr(impl, "sequence_forward", None))


def forward(
    p: Layer,
    X: np.ndarray,
    state0: tuple[np.ndarray, ...],
    ws: Workspace | None = None,
    trace: bool = False,
) -> Cache:
    """X: (T, n_x, m); state0: the initial state, a tuple of (n_a, m) arrays.
    trace: step by step even if the cell has sequence methods, keeping every state."""
    impl, params = p.spec.step, p.params
    T, _, m = X.shape
    A = np.empty((T + 1, p.n_a, m), dtype=X.dtype)
    A[0] = state0[0]
    S = {name: np.empty_like(A) for name in p.spec.states} if trace else {}
    for name, s0 in zip(S, state0, strict=False):
        S[name][0] = s0
    if _has_sequence(impl) and not trace:
        try:
            H, final, seq_cache = impl.sequence_forward(params, X, state0)
        except (Exception, SystemExit) as exc:
            raise _fail(p, "sequence_forward", exc) from None
        A[1:] = H
        return Cache(X, A, tuple(final), [seq_cache], True)
    state = state0
    steps = []
    step = impl.step_forward
    try:
        for t in range(T):
            state, cache = step(params, X[t], state)
            A[t + 1] = state[0]
            steps.append(cache)
            for name, s in zip(S, state, strict=False):  # (no S: nothing to keep)
                S[name][t + 1] = s
    except (Exception, SystemExit) as exc:
        raise _fail(p, "step_forward", exc) from None
    return Cache(X, A, tuple(state), steps, False, S or None)


def backward(
    p: Layer,
    cache: Cache,
    dA: np.ndarray,
    grads: Layer,
    need_dx: bool = True,
    ws: Workspace | None = None,
    AX: np.ndarray | None = None,
    consume: bool = False,
    record: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray | None, np.ndarray]:
    """Back-propagate dA: (T, n_a, m); write the cell's gradients into `grads`.

    AX, consume: accepted for the fused kernels' signature. record: if given, gets for
    every state s ``record[s]``: (T, n_a, m), the gradient on s_t as step t returns it
    (for a: through the output at t and the later steps; for the others: through the
    later steps, since only the cell's own code sees how a_t depends on them); needs
    the step loop (a traced forward for a cell with sequence methods).
    Returns (dX (T, n_x, m) or None, da0 (n_a, m))."""
    impl, params = p.spec.step, p.params
    T, n, m = dA.shape
    dparams = grads.params
    if cache.sequence and record is not None:
        raise ValueError("recording per-step gradients needs a traced forward (trace=True)")
    if cache.sequence:
        try:
            dX, d0, dp = impl.sequence_backward(params, dA, cache.steps[0])
        except (Exception, SystemExit) as exc:
            raise _fail(p, "sequence_backward", exc) from None
        for name, view in dparams.items():
            view[...] = dp[name]
        return (dX if need_dx else None), np.array(d0[0], copy=True)
    for view in dparams.values():
        view.fill(0)
    dX = np.empty((T, p.n_x, m), dtype=dA.dtype) if need_dx else None
    carried = tuple(np.zeros((n, m), dtype=dA.dtype) for _ in cache.final)
    step = impl.step_backward
    try:
        kept = None
        if record is not None:
            kept = [np.empty((T, n, m), dA.dtype) for _ in cache.final]
            record.update(zip(p.spec.states, kept, strict=True))
        for t in reversed(range(T)):
            dstate = (carried[0] + dA[t], *carried[1:])  # a_t feeds the loss and step t+1
            if kept is not None:
                for buf, d in zip(kept, dstate, strict=True):
                    buf[t] = d
            carried, dxt, dp = step(params, dstate, cache.steps[t])
            if dX is not None:
                dX[t] = dxt
            for name, view in dparams.items():
                view += dp[name]  # the same parameters at every step
    except (Exception, SystemExit) as exc:
        raise _fail(p, "step_backward", exc) from None
    return dX, np.array(carried[0], copy=True)


def hidden(cache: Cache) -> np.ndarray:
    """a_1..a_T: (T, n_a, m)."""
    return cache.A[1:]
