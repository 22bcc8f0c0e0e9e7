"""Whole-array comparisons against rnncli's results, and the notebook's return contract.

An entry matches when |got - expected| <= RTOL * max|expected| + ATOL: the tolerance is
relative to the array's largest entry, so rounding differences of a correct but
differently ordered computation (~1e-15) pass and a wrong term (>= 1e-3 in practice)
does not. Nested returns (a cache, a sequence's caches) are compared leaf by leaf and
reported as one array: the worst leaf and where it first differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rnncli.check.results import ArrayDiff

RTOL = 1e-6
ATOL = 1e-12
DTYPE = np.dtype(np.float64)  # the notebook's inputs are float64, so are its results


def _index(name: str, idx: tuple[int, ...]) -> str:
    return f"{name}[{','.join(map(str, idx))}]" if idx else name


def array_diff(name: str, got: Any, expected: np.ndarray) -> ArrayDiff:
    """Compare one array; a wrong type or shape is a mismatch with a note."""
    want = list(expected.shape)
    if not isinstance(got, np.ndarray):
        try:
            got = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            note = f"{type(got).__name__}, expected an array"
            return ArrayDiff(name, False, note=note, expected_shape=want)
    if got.shape != expected.shape:
        note = f"shape {_shape(got.shape)}, expected {_shape(expected.shape)}"
        return ArrayDiff(name, False, note=note, shape=list(got.shape), expected_shape=want)
    if not np.issubdtype(got.dtype, np.number):
        note = f"dtype {got.dtype}, expected {expected.dtype}"
        return ArrayDiff(name, False, note=note, expected_shape=want)
    g = got.astype(np.float64)
    e = np.asarray(expected, dtype=np.float64)
    err = np.abs(g - e)
    scale = float(np.max(np.abs(e))) if e.size else 0.0
    bad = ~(err <= RTOL * scale + ATOL)  # NaN counts as bad
    if not bad.any():
        max_abs = float(err.max()) if err.size else 0.0
        return ArrayDiff(
            name, True, max_abs, max_abs / scale if scale else 0.0, expected_shape=want
        )
    max_abs = float(np.max(np.where(np.isnan(err), np.inf, err)))
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    rel = max_abs / scale if scale else np.inf
    d = ArrayDiff(name, False, max_abs, rel, _index(name, first), expected_shape=want)
    if np.all(np.isfinite(g)):
        if scale > ATOL and float(np.max(np.abs(g))) <= ATOL:
            d.zero = True
        elif scale > ATOL:
            r = float(np.vdot(g, e) / np.vdot(e, e))  # least-squares got ≈ r * expected
            if float(np.max(np.abs(g - r * e))) <= RTOL * scale:
                d.multiple = r
    else:
        d.note = "NaN or inf entries"
    return d


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _leaves(name: str, got: Any, expected: Any, out: list[ArrayDiff]) -> None:
    """Diff every array leaf of `expected` (tuples, lists, dicts) against `got`."""
    if isinstance(expected, np.ndarray):
        out.append(array_diff(name, got, expected))
    elif isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            out.append(ArrayDiff(name, False, note=f"{type(got).__name__}, expected a dict"))
            return
        for key, value in expected.items():
            if key not in got:
                out.append(ArrayDiff(name, False, note=f"{name} has no {key!r}"))
            else:
                _leaves(f'{name}["{key}"]', got[key], value, out)
    elif isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            what = f"{len(got)} items" if isinstance(got, (tuple, list)) else type(got).__name__
            out.append(ArrayDiff(name, False, note=f"{what}, expected {len(expected)} items"))
            return
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            _leaves(f"{name}[{i}]", g, e, out)


def tree_diff(name: str, got: Any, expected: Any) -> ArrayDiff:
    """One ArrayDiff for a whole (possibly nested) value: its worst leaf."""
    if isinstance(expected, np.ndarray):
        return array_diff(name, got, expected)
    leaves: list[ArrayDiff] = []
    _leaves(name, got, expected, leaves)
    broken = [d for d in leaves if d.note]
    if broken:
        return ArrayDiff(name, False, np.inf, np.inf, broken[0].name, broken[0].note)
    worst = max(leaves, key=lambda d: (not d.ok, d.max_rel if np.isfinite(d.max_rel) else np.inf))
    return ArrayDiff(name, worst.ok, worst.max_abs, worst.max_rel, worst.where)


def diff_outputs(names: Sequence[str], got: Any, expected: Any, backward: bool) -> list[ArrayDiff]:
    """Per returned value (a forward's tuple) or gradient key (a backward's dict)."""
    if backward:
        if not isinstance(got, Mapping):
            return [
                ArrayDiff(n, False, note=f"returned a {type(got).__name__}, expected a dict")
                for n in names
            ]
        return [
            tree_diff(n, got[n], expected[n]) if n in got else ArrayDiff(n, False, note="missing")
            for n in names
        ]
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        what = f"{len(got)} values" if isinstance(got, (tuple, list)) else f"a {type(got).__name__}"
        note = f"returned {what}, expected {len(names)}"
        return [ArrayDiff(n, False, note=note) for n in names]
    return [tree_diff(n, g, e) for n, g, e in zip(names, got, expected, strict=True)]


def contract(names: Sequence[str], got: Any, expected: Any, backward: bool) -> list[str]:
    """What breaks the notebook's contract: structure, array types, shapes and dtypes."""
    problems: list[str] = []
    if backward:
        if not isinstance(got, Mapping):
            return [f"returns a {type(got).__name__}, expected a dict of gradients"]
        pairs = [(n, got.get(n, _MISSING), expected[n]) for n in names]
    else:
        if not isinstance(got, (tuple, list)) or len(got) != len(names):
            what = (
                f"{len(got)} values"
                if isinstance(got, (tuple, list))
                else f"a {type(got).__name__}"
            )
            return [f"returns {what}, expected {len(names)} ({', '.join(names)})"]
        pairs = list(zip(names, got, expected, strict=True))
    for name, g, e in pairs:
        _contract(name, g, e, problems)
    return problems


_MISSING = object()


def _contract(name: str, got: Any, expected: Any, problems: list[str]) -> None:
    if got is _MISSING:
        problems.append(f"no {name!r} in the returned dict")
    elif isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray):
            problems.append(f"{name} is a {type(got).__name__}, expected a NumPy array")
        elif got.shape != expected.shape:
            problems.append(
                f"{name} has shape {_shape(got.shape)}, expected {_shape(expected.shape)}"
            )
        elif got.dtype != DTYPE:
            problems.append(f"{name} is {got.dtype}, expected {DTYPE}")
    elif isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            problems.append(f"{name} is a {type(got).__name__}, expected a dict")
            return
        for key, value in expected.items():
            _contract(f'{name}["{key}"]', got.get(key, _MISSING), value, problems)
    elif isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            problems.append(f"{name} is a {type(got).__name__}, expected {len(expected)} items")
        elif len(got) != len(expected):
            problems.append(f"{name} has {len(got)} items, expected {len(expected)}")
        else:
            for i, (g, e) in enumerate(zip(got, expected, strict=True)):
                _contract(f"{name}[{i}]", g, e, problems)


def time_profile(got: Any, expected: np.ndarray) -> list[float] | None:
    """Per time step t, max |got - expected| at t over max |expected| (all t): (T_x,)."""
    if not isinstance(got, np.ndarray) or got.shape != expected.shape or expected.ndim != 3:
        return None
    scale = float(np.max(np.abs(expected))) or 1.0
    err = np.abs(got.astype(np.float64) - expected)
    return [float(np.max(err[:, :, t])) / scale for t in range(expected.shape[2])]


def zero_diff(name: str, got: np.ndarray | None, base: np.ndarray) -> ArrayDiff:
    """Zero upstream: every entry must vanish; errors relative to the real gradient's size."""
    if got is None or got.shape != base.shape:
        return array_diff(name, got, np.zeros_like(base))
    err = np.abs(got.astype(np.float64))
    bad = ~(err <= ATOL)
    if not bad.any():
        return ArrayDiff(name, True, float(err.max(initial=0.0)), 0.0)
    scale = float(np.max(np.abs(base))) or 1.0
    max_abs = float(np.max(np.where(np.isnan(err), np.inf, err)))
    first = ",".join(map(str, np.argwhere(bad)[0]))
    return ArrayDiff(name, False, max_abs, max_abs / scale, f"{name}[{first}]")


def colsum(a: np.ndarray) -> np.ndarray:
    """Sum over every axis but the batch axis 1, in float64: (M,)."""
    return np.asarray(
        np.sum(a, axis=tuple(ax for ax in range(a.ndim) if ax != 1), dtype=np.float64)
    )


def same(a: Any, b: Any) -> bool:
    """Exactly equal, recursively (arrays, dicts, tuples, lists)."""
    if isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, True)
    if isinstance(b, Mapping):
        return isinstance(a, Mapping) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in b)
    if isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return True
