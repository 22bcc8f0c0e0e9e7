"""Central differences: per entry (full) or along random directions (fast), with noise.

Parameters are perturbed one whole parameter set per forward call; inputs are perturbed
in batches of copies evaluated in one forward call (each f_j only depends on column j).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from rnncli.gradcheck.checks import Arrays, Problem, Values

MAX_BATCH = 4096  # columns per forward call when input perturbations are batched


@dataclass
class Tally:
    """Forward work done: perturbed copies evaluated and forward calls."""

    evals: int = 0
    calls: int = 0

    def run(self, problem: Problem, params: Arrays, columns: Arrays, copies: int) -> Values:
        """(f_j, s_j) of every column of one forward call holding `copies` perturbed copies."""
        self.calls += 1
        self.evals += copies
        return problem.per_column(params, columns)


@dataclass
class Numeric:
    """Central differences and their rounding noise u·(s₊ + s₋)/step, entry by entry."""

    value: np.ndarray
    noise: np.ndarray


def full_param(problem: Problem, name: str, eps: float, tally: Tally) -> Numeric:
    """∂f/∂θ_i for every entry of parameter `name`: two forward calls per entry."""
    work = problem.params[name].copy()
    params = {**problem.params, name: work}
    grad, scale = np.zeros(work.shape), np.zeros(work.shape)
    for i in np.ndindex(work.shape):
        old = work[i]
        work[i] = old + eps
        up, (f_up, s_up) = float(work[i]), tally.run(problem, params, problem.columns, 1)
        work[i] = old - eps
        down, (f_down, s_down) = float(work[i]), tally.run(problem, params, problem.columns, 1)
        work[i] = old
        step = up - down  # the step actually taken, after rounding θ ± ε
        grad[i] = (f_up.sum() - f_down.sum()) / step
        scale[i] = (s_up.sum() + s_down.sum()) / step
    return Numeric(grad, scale * np.finfo(work.dtype).eps)


def full_column(problem: Problem, name: str, eps: float, tally: Tally) -> Numeric:
    """∂f/∂x_i for every entry of input `name`, batched: two single columns per entry.

    Entry i = (r, j, ...) only moves f_j, so its two copies are column j of every column
    array, with x_i moved by +eps (even batch slots) or -eps (odd slots).
    """
    shape = problem.columns[name].shape
    size = int(np.prod(shape))
    grad, scale = np.empty(size), np.empty(size)
    per_call = max(1, MAX_BATCH // 2)  # entries per forward call
    for start in range(0, size, per_call):
        flat = np.arange(start, min(size, start + per_call))
        index = np.unravel_index(flat, shape)  # (rows, batch columns j, [time steps])
        source = np.repeat(index[1], 2)  # slots 2k and 2k+1 hold entry k's column
        batch = {k: np.take(v, source, axis=1) for k, v in problem.columns.items()}
        at = (np.repeat(index[0], 2), np.arange(source.size), *(np.repeat(i, 2) for i in index[2:]))
        target = batch[name]
        target[at] += np.tile(np.array([eps, -eps], dtype=target.dtype), flat.size)
        moved = target[at].astype(np.float64)
        step = moved[0::2] - moved[1::2]  # the steps actually taken
        f, s = tally.run(problem, problem.params, batch, source.size)
        grad[flat] = (f[0::2] - f[1::2]) / step
        scale[flat] = (s[0::2] + s[1::2]) / step
    u = np.finfo(problem.columns[name].dtype).eps
    return Numeric(grad.reshape(shape), u * scale.reshape(shape))


def directions(
    problem: Problem, name: str, shape: tuple[int, ...], k: int, seed: int
) -> np.ndarray:
    """k random unit vectors shaped like the array: (k, *shape), float64."""
    key = zlib.crc32(f"{problem.label}/{name}".encode())  # a stable stream per row
    V = np.random.default_rng([seed, key]).standard_normal((k, *shape))
    return V / np.sqrt(np.sum(V**2, axis=tuple(range(1, V.ndim)), keepdims=True))


def fast_param(problem: Problem, name: str, V: np.ndarray, eps: float, tally: Tally) -> Numeric:
    """(f(θ+εv) − f(θ−εv)) / 2ε for each direction v in V (k, *shape): (k,)."""
    theta = problem.params[name]
    grad, scale = np.empty(len(V)), np.empty(len(V))
    for k, v in enumerate(V):
        runs = []
        for sign in (1.0, -1.0):
            moved = {**problem.params, name: (theta + sign * eps * v).astype(theta.dtype)}
            runs.append(tally.run(problem, moved, problem.columns, 1))
        (f_up, s_up), (f_down, s_down) = runs
        grad[k] = (f_up.sum() - f_down.sum()) / (2 * eps)
        scale[k] = (s_up.sum() + s_down.sum()) / (2 * eps)
    return Numeric(grad, scale * np.finfo(theta.dtype).eps)


def fast_column(problem: Problem, name: str, V: np.ndarray, eps: float, tally: Tally) -> Numeric:
    """Directional derivatives of input `name` along V (k, *shape), batched: (k,).

    Copy 2k (+εv_k) and copy 2k+1 (−εv_k) each hold all m columns, side by side on axis 1.
    """
    m = problem.m
    signs = np.tile([1.0, -1.0], len(V))  # copy c moves along signs[c] * V[c // 2]
    f_copy, s_copy = np.empty(signs.size), np.empty(signs.size)
    per_call = max(1, MAX_BATCH // m)  # whole copies per forward call
    for start in range(0, signs.size, per_call):
        copies = range(start, min(signs.size, start + per_call))
        batch = {k: np.concatenate([v] * len(copies), axis=1) for k, v in problem.columns.items()}
        target = batch[name]
        for slot, c in enumerate(copies):
            step = (signs[c] * eps * V[c // 2]).astype(target.dtype)
            target[:, slot * m : (slot + 1) * m] += step
        f, s = tally.run(problem, problem.params, batch, len(copies))
        f_copy[copies.start : copies.stop] = f.reshape(len(copies), m).sum(axis=1)
        s_copy[copies.start : copies.stop] = s.reshape(len(copies), m).sum(axis=1)
    u = np.finfo(problem.columns[name].dtype).eps
    grad = (f_copy[0::2] - f_copy[1::2]) / (2 * eps)
    return Numeric(grad, u * (s_copy[0::2] + s_copy[1::2]) / (2 * eps))
