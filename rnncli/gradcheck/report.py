"""The results: `Row`, `Report` and its JSON form, the summary line and the rich table."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console

from rnncli.gradcheck.checks import CELLS, LEVELS


@dataclass
class Row:
    """One checked gradient array of one (cell, level[, loss])."""

    cell: str
    level: str
    loss: str | None  # "xent" | "mse_last" at the model level, else None
    name: str  # the gradient's key, e.g. "dWf", "dxt", "da0"
    shape: tuple[int, ...]
    mode: str  # "full" | "fast"
    checked: int = 0  # entries (full) or directions (fast) compared
    analytic_norm: float = math.nan  # ‖g‖ (full) or ‖(⟨g, v_k⟩)_k‖ (fast)
    numeric_norm: float = math.nan  # ‖ĝ‖, the same way
    rel_error: float = math.nan
    elem_error: float = math.nan  # worst elementwise error, floored
    abs_error: float = math.nan  # ‖g − ĝ‖
    noise: float = math.nan  # rounding-noise bound on ‖g − ĝ‖ for a correct g
    passed: bool = False
    note: str = ""  # e.g. why a row could not be compared

    @property
    def check(self) -> str:
        """``lstm cell`` or ``gru model/xent``."""
        return f"{self.cell} {self.level}" + (f"/{self.loss}" if self.loss else "")


@dataclass
class Report:
    """Everything one gradcheck run found; `to_json` for ``--json`` and ``gradcheck.json``."""

    rows: list[Row]
    eps: float
    tol: float
    mode: str  # the requested mode: "auto" | "full" | "fast"; each row has the one it ran
    dtype: str
    seed: int
    dims: dict[str, int]
    scale: float  # the parameter init scale used
    evals: int  # perturbed copies evaluated
    calls: int  # forward calls made
    seconds: float
    cells: tuple[str, ...] = CELLS
    levels: tuple[str, ...] = LEVELS

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.rows)

    @property
    def failed(self) -> int:
        return len(self.rows) - self.passed

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def failures(self) -> list[Row]:
        return [r for r in self.rows if not r.passed]

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict: NaN and inf become None, tuples become lists."""
        rows = []
        for r in self.rows:
            d = asdict(r)
            d["shape"] = list(r.shape)
            rows.append({k: _json_float(v) for k, v in d.items()})
        return {
            "ok": self.ok,
            "passed": self.passed,
            "failed": self.failed,
            "checks": len(self.rows),
            "eps": self.eps,
            "tol": self.tol,
            "mode": self.mode,
            "modes": sorted({r.mode for r in self.rows}),
            "dtype": self.dtype,
            "seed": self.seed,
            "dims": dict(self.dims),
            "scale": self.scale,
            "cells": list(self.cells),
            "levels": list(self.levels),
            "evals": self.evals,
            "calls": self.calls,
            "seconds": round(self.seconds, 4),
            "rows": rows,
        }


def _json_float(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def summary(report: Report) -> str:
    """``PASS: 105 checks, 0 failed, 8,284 forward evaluations (3,049 calls) in 0.74 s ...``."""
    verdict = "PASS" if report.ok else "FAIL"
    return (
        f"{verdict}: {len(report.rows)} checks, {report.failed} failed, "
        f"{report.evals:,} forward evaluations ({report.calls:,} calls) in "
        f"{report.seconds:.2f} s (eps {report.eps:g}, tol {report.tol:g}, "
        f"mode {report.mode}, {report.dtype})"
    )


def _num(x: float, fmt: str = ".2e") -> str:
    return format(x, fmt) if math.isfinite(x) else "-"


def render(report: Report, console: Console) -> None:
    """Print the rows as a table that fits the console (narrow ones lose the mode, shape,
    norms and entry counts before any number is cut), then the summary line."""
    from rnncli.report import Col, fit_table

    notes = any(r.note for r in report.rows)
    cols = [
        Col("cell"), Col("level"), Col("gradient"), Col("shape", priority=5),
        Col("mode", priority=6), Col("checked", "right", priority=4),
        Col("‖analytic‖", "right", priority=3), Col("‖numeric‖", "right", priority=3),
        Col("rel. error", "right"), Col("worst elem.", "right", priority=2), Col("result"),
        *([Col("note", priority=1, wrap=True, min_width=16)] if notes else []),
    ]  # fmt: skip
    rows = [
        [
            r.cell,
            r.level + (f"/{r.loss}" if r.loss else ""),
            r.name,
            "(" + ", ".join(map(str, r.shape)) + ")",
            r.mode,
            f"{r.checked} dirs" if r.mode == "fast" else str(r.checked),
            _num(r.analytic_norm),
            _num(r.numeric_norm),
            _num(r.rel_error, ".1e"),
            _num(r.elem_error, ".1e"),
            "PASS" if r.passed else "FAIL",
            *([r.note] if notes else []),
        ]  # fmt: skip
        for r in report.rows
    ]
    console.print(fit_table("gradcheck", cols, rows, console.width))
    console.print(summary(report), style="bold green" if report.ok else "bold red", highlight=False)
