"""Numeric against analytic, one `Row` per gradient: the error measures and the noise rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncli.gradcheck.checks import Problem
from rnncli.gradcheck.numeric import (
    Tally,
    directions,
    fast_column,
    fast_param,
    full_column,
    full_param,
)
from rnncli.gradcheck.report import Row

ELEMENT_FLOOR = 1e-3  # entries below this share of a row's largest are measured against it
NOISE_FACTOR = 10.0  # margin on the rounding-noise estimate u·s/ε (measured ratio ≤ 1.7)


def rel_error(g: np.ndarray, g_num: np.ndarray) -> float:
    """‖g − ĝ‖ / max(‖g‖ + ‖ĝ‖, tiny); 0 when both are zero."""
    g, g_num = np.asarray(g, np.float64), np.asarray(g_num, np.float64)
    denom = max(float(np.linalg.norm(g) + np.linalg.norm(g_num)), np.finfo(np.float64).tiny)
    return float(np.linalg.norm(g - g_num)) / denom


def elem_error(g: np.ndarray, g_num: np.ndarray, floor: float = ELEMENT_FLOOR) -> float:
    """max_i |g_i − ĝ_i| / max(|g_i| + |ĝ_i|, floor · max_i(|g_i| + |ĝ_i|)): worst entry."""
    g, g_num = np.asarray(g, np.float64), np.asarray(g_num, np.float64)
    size = np.abs(g) + np.abs(g_num)
    if size.size == 0 or not size.max() > 0:
        return 0.0
    return float(np.max(np.abs(g - g_num) / np.maximum(size, floor * size.max())))


def _resolve_mode(problem: Problem, mode: str, full_limit: int) -> str:
    if mode != "auto":
        return mode
    return "full" if problem.size <= full_limit else "fast"


def _bad_row(problem: Problem, name: str, shape: tuple[int, ...], mode: str, note: str) -> Row:
    """A failing row for a gradient that could not be compared."""
    return Row(problem.cell, problem.level, problem.loss, name, shape, mode, note=note)


def _unusable(got: Any, name: str, expected: tuple[int, ...]) -> str:
    """Why a returned gradient cannot be compared, or "" when it can."""
    if not isinstance(got, Mapping) or name not in got:
        return f"{name} is missing from the returned gradients"
    shape = tuple(np.shape(got[name]))
    if shape != expected:
        return f"{name} has shape {shape}, expected {expected}"
    if not np.all(np.isfinite(got[name])):
        return f"{name} has NaN or inf entries"
    return ""


@dataclass
class Settings:
    """What run_gradcheck resolved from the config."""

    eps: float
    tol: float
    mode: str
    directions: int
    full_limit: int
    seed: int
    dtype: np.dtype


def check_problem(problem: Problem, s: Settings, tally: Tally) -> list[Row]:
    """One row per gradient of the problem, in the problem's resolved mode."""
    mode = _resolve_mode(problem, s.mode, s.full_limit)
    try:
        got = problem.analytic()
    except Exception as exc:  # the code under test crashed: one failing row says how
        note = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return [_bad_row(problem, "(backward)", (), mode, note)]
    rows = []
    for name, array_name in problem.wrt.items():
        shape = problem.array(array_name).shape
        why = _unusable(got, name, shape)
        if why:
            rows.append(_bad_row(problem, name, shape, mode, why))
        else:
            rows.append(_compare(problem, name, array_name, np.asarray(got[name]), mode, s, tally))
    return rows


def _compare(
    problem: Problem,
    name: str,
    array_name: str,
    g: np.ndarray,
    mode: str,
    s: Settings,
    tally: Tally,
) -> Row:
    """Numeric against analytic for one array, entry by entry or along directions."""
    is_param = array_name in problem.params
    g = g.astype(np.float64)
    if mode == "full":
        num = (full_param if is_param else full_column)(problem, array_name, s.eps, tally)
        analytic = g
    else:
        V = directions(problem, name, g.shape, s.directions, s.seed)
        num = (fast_param if is_param else fast_column)(problem, array_name, V, s.eps, tally)
        analytic = np.tensordot(V, g, axes=g.ndim)  # ⟨g, v_k⟩: (k,)
    rel = rel_error(analytic, num.value)
    abs_error = float(np.linalg.norm(analytic - num.value))
    noise = NOISE_FACTOR * float(np.linalg.norm(num.noise))
    passed = rel <= s.tol or abs_error <= noise
    note = "" if rel <= s.tol or not passed else "within rounding noise"
    return Row(
        problem.cell,
        problem.level,
        problem.loss,
        name,
        tuple(g.shape),
        mode,
        checked=int(analytic.size),
        analytic_norm=float(np.linalg.norm(analytic)),
        numeric_norm=float(np.linalg.norm(num.value)),
        rel_error=rel,
        elem_error=elem_error(analytic, num.value),
        abs_error=abs_error,
        noise=noise,
        passed=passed,
        note=note,
    )
