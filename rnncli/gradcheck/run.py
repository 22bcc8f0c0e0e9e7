"""``run_gradcheck``: validate the selection and settings, then check every problem."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from rnncli import cells as registry
from rnncli.config import Config
from rnncli.errors import InputError
from rnncli.gradcheck.checks import CELLS, LEVELS, init_scale, problems
from rnncli.gradcheck.compare import Settings, check_problem
from rnncli.gradcheck.numeric import Tally
from rnncli.gradcheck.report import Report, Row

MODES = ("auto", "full", "fast")
DEFAULT_EPS = 1e-5  # the sweep's optimum (config's gradcheck.eps default should match)
DEFAULT_TOL = 1e-6  # float64, when gradcheck.tol is None; see the sweep


def select(given: Sequence[str] | None, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    """Validate a --cell/--level narrowing ("lstm", "rnn,gru", ...); None means all."""
    if given is None:
        return allowed
    if isinstance(given, str):
        given = [given]
    names = [s.strip() for part in given for s in str(part).split(",") if s.strip()]
    if not names:
        raise InputError(f"no {what} selected: expected one or more of {', '.join(allowed)}")
    for name in names:
        if name not in allowed:
            raise InputError(f"unknown {what} {name!r}: expected one of {', '.join(allowed)}")
    return tuple(dict.fromkeys(names))  # in the order given, without repeats


def select_cells(given: Sequence[str] | None) -> tuple[str, ...]:
    """The cells to check: the built-ins by default, or the named ones (built-in or a
    user's, e.g. ``my_cells.py:Peephole``), each loaded and checked against the protocol."""
    if given is None:
        return CELLS
    if isinstance(given, str):
        given = [given]
    names = [s.strip() for part in given for s in str(part).split(",") if s.strip()]
    if not names:
        raise InputError(f"no cell selected: expected one or more of {', '.join(CELLS)}")
    out = []
    for name in names:
        name = registry.canonical(name)
        registry.get(name)  # unknown names and broken cells are refused here
        out.append(name)
    return tuple(dict.fromkeys(out))


def _positive(key: str, value: Any) -> float:
    """A finite float > 0, or InputError naming the key."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (ok and math.isfinite(value) and value > 0):
        raise InputError(f"{key}={value!r} is invalid: must be a finite number > 0")
    return float(value)


def resolve_settings(cfg: Config) -> Settings:
    """The run's settings from the config, or InputError naming the key at fault."""
    g = cfg.gradcheck
    eps = _positive("gradcheck.eps", g.eps)
    tol = DEFAULT_TOL if g.tol is None else _positive("gradcheck.tol", g.tol)
    if g.mode not in MODES:
        expected = ", ".join(MODES)
        raise InputError(f"gradcheck.mode={g.mode!r} is invalid: expected one of {expected}")
    for key, value in (("directions", g.directions), ("full_limit", g.full_limit)):
        if value < 1:
            raise InputError(f"gradcheck.{key}={value!r} is invalid: must be >= 1")
    if cfg.dtype not in ("float64", "float32"):
        raise InputError(f"dtype={cfg.dtype!r} is invalid: expected float64 or float32")
    if cfg.dtype == "float32" and g.tol is None:
        raise InputError(
            f"gradcheck in float32 needs an explicit gradcheck.tol (the default {DEFAULT_TOL:g} "
            "is for float64): add e.g. gradcheck.tol=1e-2 gradcheck.eps=1e-3, or use float64"
        )
    return Settings(eps, tol, g.mode, g.directions, g.full_limit, cfg.seed, np.dtype(cfg.dtype))


def run_gradcheck(
    cfg: Config,
    cells: Sequence[str] | None = None,
    levels: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    given: Mapping[str, np.ndarray] | None = None,
) -> Report:
    """Check every gradient of `cells` (default all) at `levels` (default all); at the
    `given` parameters (notebook names) where their names fit, else at drawn ones.

    Runs in cfg.dtype on cfg.dims, seeded by cfg.seed; `progress` gets each check's label
    ("lstm model/xent") before it runs. Raises InputError for bad settings or names; a
    wrong gradient is a failing row, not an exception.
    """
    cells_, levels_ = select_cells(cells), select(levels, LEVELS, "level")
    s = resolve_settings(cfg)
    for name in cells_:
        registry.check_dtype(registry.get(name), cfg.dtype)
    tally = Tally()
    rows: list[Row] = []
    start = time.perf_counter()
    for cell in cells_:
        for level in levels_:
            for problem in problems(cfg, cell, level, s.dtype, given):
                if progress is not None:
                    progress(problem.label)
                rows += check_problem(problem, s, tally)
    d = cfg.dims
    return Report(
        rows=rows,
        eps=s.eps,
        tol=s.tol,
        mode=s.mode,
        dtype=str(s.dtype),
        seed=cfg.seed,
        dims=d.model_dump(),
        scale=init_scale(d.n_x, d.n_a),
        evals=tally.evals,
        calls=tally.calls,
        seconds=time.perf_counter() - start,
        cells=tuple(registry.get(c).label for c in cells_),
        levels=levels_,
    )
