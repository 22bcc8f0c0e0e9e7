"""A sweep's results: rows per grid point over seeds, ``summary.csv``, :class:`SweepResult`.

:func:`summarize` aggregates each grid point's replicates (runs, completed, failed, solved,
the task metric's mean, sample standard deviation and median over completed runs, mean
sequences to solve over solved runs, mean wall time); :func:`summary_csv` writes them;
:class:`SweepResult` is what a sweep did (``--json``, exit code) and :func:`render` shows it.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from rnncli.sweep.plan import DONE, FAILED, Job, SweepPlan, value_text


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def number_text(value: Any) -> str:
    """A number as the tables show it (``0.9531``, ``1.2e+04``); ``-`` for anything else."""
    return f"{value:.4g}" if _is_real(value) else "-"


def count_text(value: Any) -> str:
    """A mean count as the tables show it (``15,680``); ``-`` for anything else."""
    return f"{value:,.0f}" if _is_real(value) else "-"


def compact_summary(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The facts of a train summary that the sweep aggregates."""
    if not summary:
        return None
    metric = summary.get("metric")
    final = summary.get("final") or {}
    solved = summary.get("solved")
    return {
        "metric": metric,
        "value": final.get(metric) if metric else None,
        "solved": None if solved is None else bool(solved),  # None: the task has no goal
        "sequences_to_solve": summary.get("sequences_to_solve"),
        "steps": summary.get("steps"),
        "sequences": summary.get("sequences"),
        "wall_s": summary.get("wall_s"),
    }


def _is_num(v: Any) -> bool:
    return _is_real(v) and np.isfinite(v)


def summarize(plan: SweepPlan, jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """One row per grid point, aggregated over its replicates (see :mod:`rnncli.sweep`)."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(json.dumps(job.point, sort_keys=True), []).append(job)
    rows = []
    for members in groups.values():
        done = [j for j in members if j.status in DONE and j.result]
        results = [j.result for j in done if j.result]
        values = [r["value"] for r in results if _is_num(r.get("value"))]
        solved = [r for r in results if r.get("solved")]
        to_solve = [r["sequences_to_solve"] for r in solved if _is_num(r.get("sequences_to_solve"))]
        walls = [r["wall_s"] for r in results if _is_num(r.get("wall_s"))]
        metrics = {r.get("metric") for r in results if r.get("metric")}
        row: dict[str, Any] = {k: members[0].point[k] for k in plan.grid}
        goal = any(r.get("solved") is not None for r in results)
        row.update(
            runs=len(members),
            completed=len(done),
            failed=sum(j.status in FAILED for j in members),
            solved=len(solved) if goal else None,
            metric=metrics.pop() if len(metrics) == 1 else None,
            metric_mean=statistics.fmean(values) if values else None,
            metric_std=statistics.stdev(values) if len(values) > 1 else None,
            metric_median=statistics.median(values) if values else None,
            sequences_to_solve_mean=statistics.fmean(to_solve) if to_solve else None,
            wall_s_mean=statistics.fmean(walls) if walls else None,
        )
        rows.append(row)
    return rows


def summary_csv(plan: SweepPlan, rows: Sequence[Mapping[str, Any]]) -> str:
    """``summary.csv``: grid keys, then the aggregate columns; empty cells for no value."""
    buf = io.StringIO()
    columns = list(rows[0]) if rows else list(plan.grid)
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for col in columns:
            v = row.get(col)
            if col in plan.grid:
                cells.append(value_text(v))
            elif v is None:
                cells.append("")
            else:
                cells.append(repr(v) if isinstance(v, float) else str(v))
        writer.writerow(cells)
    return buf.getvalue()


@dataclass
class SweepResult:
    """What a sweep did; ``to_json()`` is the ``--json`` document."""

    plan: SweepPlan
    sweep_dir: Path
    jobs: list[Job]
    rows: list[dict[str, Any]]
    where: str = ""
    interrupted: bool = False
    stopped: bool = False  # fail_fast stopped the sweep after a failure
    wall_s: float = 0.0
    error: str | None = None  # why the sweep could not go on (a lost scheduler, ...)
    signum: int | None = None  # the signal that interrupted it

    def count(self, *statuses: str) -> int:
        return sum(j.status in statuses for j in self.jobs)

    @property
    def status(self) -> str:
        """completed | failed | stopped (fail_fast) | interrupted."""
        if self.interrupted:
            return "interrupted"
        if self.stopped:
            return "stopped"
        return "failed" if self.error or self.count(*FAILED) else "completed"

    @property
    def exit_code(self) -> int:
        """0 all completed, 1 a job failed or diverged, 128 + the signal when stopped by
        one (130 for Ctrl-C, 143 for SIGTERM)."""
        if self.status == "interrupted":
            return 128 + (self.signum or 2)
        return {"completed": 0}.get(self.status, 1)

    def failures(self) -> list[dict[str, Any]]:
        return [
            {
                "id": j.id,
                "status": j.status,
                "error": j.error,
                "run_dir": str(self.sweep_dir / j.id),
            }
            for j in self.jobs
            if j.status in FAILED
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "sweep_dir": str(self.sweep_dir),
            "status": self.status,
            "jobs": len(self.jobs),
            "completed": self.count("completed"),
            "failed": self.count(*FAILED),
            "skipped": self.count("skipped"),
            "interrupted": self.count("interrupted"),
            "pending": self.count("pending", "running"),
            "grid": self.plan.grid,
            "seeds": self.plan.seeds,
            "wall_s": round(self.wall_s, 3),
            "summary": self.rows,
            "failures": self.failures(),
            "error": self.error,
        }


def _shown(key: str, values: list[Any]) -> dict[str, str]:
    """How the table shows each grid value: a user's cell ``path/file.py:Class`` as its
    class name where those are unique (summary.csv keeps the whole value)."""
    texts = {value_text(v): value_text(v) for v in values}
    if key == "cell":
        short = {t: t.rsplit(":", 1)[-1] for t in texts}
        if len(set(short.values())) == len(short):
            return short
    return texts


def render(result: SweepResult, console: Console) -> None:
    """The summary as a table that fits the console, then failures and where everything
    is. Tasks without a goal (text) have no solved columns."""
    from rnncli.report import Col, fit_table

    plan = result.plan
    head = f"sweep {plan.name} · {result.count('completed')}/{len(result.jobs)} completed"
    if result.count("skipped"):
        head += f" · {result.count('skipped')} skipped"
    head += f" · {result.count(*FAILED)} failed"
    if result.count("interrupted", "pending", "running"):
        head += f" · {result.count('interrupted', 'pending', 'running')} not finished"
    goal = any(row["solved"] is not None for row in result.rows)
    metrics = {row["metric"] for row in result.rows if row["metric"]}
    one_metric = len(metrics) == 1
    if one_metric:
        head += f" · metric {next(iter(metrics))}"
    cols = [Col(key) for key in plan.grid]
    cols += [Col("runs", "right", priority=5), Col("done", "right", priority=6),
             Col("failed", "right", priority=3)]  # fmt: skip
    if goal:
        cols.append(Col("solved", "right", priority=1))
    if not one_metric:
        cols.append(Col("metric", priority=4))
    cols += [Col("mean ± std", "right"), Col("median", "right", priority=2)]
    if goal:
        cols.append(Col("seq to solve", "right", priority=1))
    cols.append(Col("wall s", "right", priority=3))
    shown = {k: _shown(k, [row[k] for row in result.rows]) for k in plan.grid}
    body = []
    for row in result.rows:
        mean = number_text(row["metric_mean"])
        if row["metric_std"] is not None:
            mean += f" ± {number_text(row['metric_std'])}"
        cells = [shown[k][value_text(row[k])] for k in plan.grid]
        cells += [str(row["runs"]), str(row["completed"]), str(row["failed"])]
        if goal:
            cells.append(str(row["solved"] or 0))
        if not one_metric:
            cells.append(row["metric"] or "-")
        cells += [mean, number_text(row["metric_median"])]
        if goal:
            cells.append(count_text(row["sequences_to_solve_mean"]))
        cells.append(f"{row['wall_s_mean']:.2f}" if row["wall_s_mean"] is not None else "-")
        body.append(cells)
    console.print(fit_table(head, cols, body, console.width))
    for f in result.failures():
        console.print(f"{f['status']}: {f['id']}: {f['error']}", markup=False, highlight=False)
    if result.error:
        console.print(f"sweep stopped: {result.error}", markup=False, highlight=False)
    if result.interrupted or result.stopped or result.error:
        why = "interrupted" if result.interrupted else "stopped"
        again = f"sweep {why}; run it again with --out {result.sweep_dir} to resume"
        console.print(again, markup=False, highlight=False)
    console.print(f"sweep folder: {result.sweep_dir}", soft_wrap=True,
                  markup=False, highlight=False)
