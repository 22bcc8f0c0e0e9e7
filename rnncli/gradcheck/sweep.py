"""Choosing eps and tol: `eps_sweep` tabulates the correct code's errors per eps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rnncli.config import Config
from rnncli.gradcheck.checks import CELLS, LEVELS
from rnncli.gradcheck.run import run_gradcheck, select

SWEEP_EPS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9)


@dataclass
class EpsSweep:
    """Worst relative error per eps and per (cell, level), over rows, losses and seeds."""

    eps_values: tuple[float, ...]
    columns: tuple[str, ...]  # "rnn cell", "lstm sequence", ...
    worst: dict[float, dict[str, float]] = field(default_factory=dict)
    seeds: tuple[int, ...] = ()
    dims: dict[str, int] = field(default_factory=dict)

    def to_markdown(self) -> str:
        """One row per (cell, level) and a last row with the worst; one column per eps."""
        head = "| check | " + " | ".join(f"{e:.0e}" for e in self.eps_values) + " |"
        lines = [head, "|---|" + "---:|" * len(self.eps_values)]
        for check in (*self.columns, "worst"):
            errs = [
                max(self.worst[e].values()) if check == "worst" else self.worst[e][check]
                for e in self.eps_values
            ]
            lines.append(f"| {check} | " + " | ".join(f"{x:.1e}" for x in errs) + " |")
        return "\n".join(lines)


def eps_sweep(
    cfg: Config,
    eps_values: Iterable[float] = SWEEP_EPS,
    seeds: Iterable[int] | None = None,
    cells: Sequence[str] | None = None,
    levels: Sequence[str] | None = None,
) -> EpsSweep:
    """Full-mode float64 gradchecks of the correct code for each eps, errors tabulated.

    Each entry is the worst relative error over the (cell, level)'s rows (both losses at
    the model level) and over `seeds` (default: cfg.seed), on cfg.dims.
    """
    eps_values = tuple(eps_values)
    seeds_ = tuple(seeds) if seeds is not None else (cfg.seed,)
    cells_, levels_ = select(cells, CELLS, "cell"), select(levels, LEVELS, "level")
    columns = tuple(f"{c} {lv}" for c in cells_ for lv in levels_)
    sweep = EpsSweep(eps_values, columns, seeds=seeds_, dims=cfg.dims.model_dump())
    for e in eps_values:
        sweep.worst[e] = dict.fromkeys(columns, 0.0)
        for seed in seeds_:
            settings = cfg.gradcheck.model_copy(update={"eps": e, "mode": "full", "tol": 1.0})
            run = cfg.model_copy(update={"seed": seed, "dtype": "float64", "gradcheck": settings})
            for r in run_gradcheck(run, cells_, levels_).rows:
                key = f"{r.cell} {r.level}"
                sweep.worst[e][key] = max(sweep.worst[e][key], r.rel_error)
    return sweep
