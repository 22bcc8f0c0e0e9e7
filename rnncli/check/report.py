"""The results of `rnncli check`: `CheckReport`, its JSON, Gradescope's results.json, tables.

Tables read on an 80-column terminal: numbers and array indices never wrap; below 100
columns the "where" column folds into the hint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rnncli.check.results import NOT_THERE, CheckResult, FunctionResult

WIDE = 100  # from this width on, "where" has its own column

_STYLE = {
    "pass": "bold green",
    "fail": "bold red",
    "error": "bold red",
    "timeout": "bold red",
    "crashed": "bold red",
    "skip": "dim",
    "missing": "yellow",
    "not-implemented": "yellow",
}


@dataclass
class CheckReport:
    """Everything one `rnncli check` found, in the notebook's order of functions."""

    path: str
    kind: str  # "py" | "ipynb"
    sha256: str
    size: int  # bytes
    functions: list[FunctionResult]  # every selected function, missing ones included
    required: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)  # what loading skipped
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def present(self) -> list[FunctionResult]:
        """The functions checked (not missing, not left unfinished)."""
        return [f for f in self.functions if f.verdict not in NOT_THERE]

    @property
    def failing(self) -> list[FunctionResult]:
        """Present functions that do not pass; required ones missing or not implemented."""
        return [
            f
            for f in self.functions
            if f.verdict not in ("pass", *NOT_THERE)
            or (f.verdict in NOT_THERE and f.name in self.required)
        ]

    @property
    def ok(self) -> bool:
        return not self.failing

    def summary(self) -> str:
        """``FAIL: 6 of 7 functions pass; fails: rnn_backward; 5 missing; 59/60 checks``"""
        present = self.present
        passed = sum(f.verdict == "pass" for f in present)
        parts = [f"{'PASS' if self.ok else 'FAIL'}: {passed} of {len(present)} functions pass"]
        bad = [f.name + ("" if f.verdict == "fail" else f" ({f.verdict})") for f in self.failing]
        if bad:
            parts.append(("fails: " if len(bad) == 1 else "fail: ") + ", ".join(bad))
        missing = [f for f in self.functions if f.verdict == "missing"]
        if missing:
            parts.append(f"{len(missing)} missing")
        left = [f for f in self.functions if f.verdict == "not-implemented"]
        if left:
            parts.append(f"{len(left)} not implemented")
        checks = sum(f.total for f in present)
        passed_checks = sum(f.passed for f in present)
        parts.append(f"{passed_checks}/{checks} checks in {self.seconds:.1f} s")
        return "; ".join(parts)

    def failure_line(self) -> str:
        """For the exit-1 message: each failing function and its diagnosis or verdict."""
        items = []
        for f in self.failing:
            why = f.diagnosis[0].id if f.diagnosis else f.verdict
            items.append(f"{f.name} ({why})")
        return "check failed: " + ", ".join(items)

    def to_json(self) -> dict[str, Any]:
        """The autograder's view: per function its checks, errors, diagnosis ids and score."""
        present = self.present
        functions = []
        for f in self.functions:
            doc = f.to_json()
            doc["required"] = f.name in self.required
            functions.append(doc)
        return {
            "command": "check",
            "ok": self.ok,
            "file": {
                "path": self.path,
                "kind": self.kind,
                "sha256": self.sha256,
                "bytes": self.size,
            },
            "summary": {
                "text": self.summary(),
                "functions": len(present),
                "passed": sum(f.verdict == "pass" for f in present),
                "failed": [f.name for f in self.failing],
                "missing": [f.name for f in self.functions if f.verdict == "missing"],
                "not_implemented": [
                    f.name for f in self.functions if f.verdict == "not-implemented"
                ],
                "checks": sum(f.total for f in present),
                "checks_passed": sum(f.passed for f in present),
            },
            "functions": functions,
            "notes": list(self.notes),
            "settings": dict(self.settings),
            "seconds": round(self.seconds, 3),
        }


def _row_line(r: CheckResult) -> str:
    error = (
        f", worst error {_num(r.max_rel)}"
        if r.status == "fail" and math.isfinite(r.max_rel)
        else ""
    )
    where = f" at {r.where}" if r.where else ""
    note = f": {r.note}" if r.note else ""
    return f"{r.name}: {r.status}{error}{where}{note}"


def verdict_line(f: FunctionResult) -> str:
    """``rnn_cell_backward: FAIL, 5/9 checks pass`` (or the error, timeout, crash)."""
    if f.verdict == "missing":
        return f"{f.name}: missing"
    if f.verdict == "not-implemented":
        return f"{f.name}: not implemented: {f.message}"
    if f.verdict in ("timeout", "crashed"):
        return f"{f.name}: {f.verdict.upper()} ({f.message})"
    if not f.checks:  # it could not be checked at all (it does not parse)
        return f"{f.name}: {f.verdict.upper()}; {f.message}"
    text = f"{f.name}: {f.verdict.upper()}, {f.passed}/{f.total} checks pass"
    return text + (f"; {f.message}" if f.verdict == "error" else "")


def points(report: CheckReport, f: FunctionResult) -> tuple[float, float]:
    """(score, max score) of a function on Gradescope, by `settings["scoring"]`:
    ``all-or-nothing`` (the default) its weight when it passes, else 0; ``share`` its
    weight times the share of its checks that pass (short of the whole weight unless it
    passes). Weights (`settings["weights"]`) default to 1; a missing required function
    scores 0."""
    weight = float(report.settings.get("weights", {}).get(f.name, 1.0))
    if report.settings.get("scoring", "all-or-nothing") == "share":
        share = f.score if f.verdict == "pass" else min(f.score, 1 - 1 / max(f.total, 1))
        return round(weight * share, 4), weight
    return (weight if f.verdict == "pass" else 0.0), weight


def gradescope(report: CheckReport) -> dict[str, Any]:
    """Gradescope's results.json: one test per present (or required) function (`points`)."""
    tests: list[dict[str, Any]] = []
    for number, f in enumerate(report.functions, 1):
        if f.verdict in NOT_THERE and f.name not in report.required:
            continue
        lines = [verdict_line(f)]
        lines += [f"{d.id}: {d.hint}\n  evidence: {d.evidence}" for d in f.diagnosis]
        lines += [_row_line(r) for r in f.checks]
        score, max_score = points(report, f)
        tests.append(
            {
                "name": f.name,
                "number": str(number),
                "score": score,
                "max_score": max_score,
                "status": "passed" if f.verdict == "pass" else "failed",
                "output": "\n".join(lines),
                "visibility": "visible",
            }
        )
    output = "\n".join([report.summary(), *(f"note: {n}" for n in report.notes)])
    return {
        "score": round(sum(float(t["score"]) for t in tests), 4),
        "execution_time": math.ceil(report.seconds),
        "output": output,
        "stdout_visibility": "visible",
        "tests": tests,
    }


def gradescope_error(message: str) -> dict[str, Any]:
    """Gradescope's results.json for a file that could not be checked at all (exit 2)."""
    return {
        "score": 0.0,
        "output": f"rnncli check could not check this submission: {message}",
        "stdout_visibility": "visible",
        "tests": [],
    }


def _num(x: float) -> str:
    return f"{x:.1e}" if math.isfinite(x) else "-"


def _table(f: FunctionResult, wide: bool) -> Table:
    verdict = f"[{_STYLE[f.verdict]}]{f.verdict.upper()}[/]"
    title = f"[bold]{f.name}[/] · {verdict} · {f.passed}/{f.total} checks"
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("worst error" if wide else "worst err.", justify="right", no_wrap=True)
    if wide:
        table.add_column("where", no_wrap=True)
    table.add_column("hint", ratio=1, overflow="fold")
    for r in f.checks:
        hint = r.note
        if (
            f.verdict == "error"
            and r.status == "error"
            and r.note == f.message
            and r is not f.checks[0]
        ):
            hint = "the same error"
        if not wide and r.where:
            hint = f"at {r.where}" + (f"; {hint}" if hint else "")
        error = _num(r.max_rel) if r.status in ("fail", "pass") or math.isfinite(r.max_rel) else ""
        cells = [r.name, f"[{_STYLE[r.status]}]{r.status.upper()}[/]", error]
        if wide:
            cells.append(escape(r.where))
        table.add_row(*cells, escape(hint))
    return table


def _diagnosis(f: FunctionResult, console: Console) -> None:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(ratio=1)
    for d in f.diagnosis:
        grid.add_row(f"  {d.id}", escape(d.hint))
        grid.add_row("  evidence", escape(d.evidence), style="dim")
    console.print(grid)


def _line(f: FunctionResult, console: Console) -> None:
    text = verdict_line(f) + (f" [{f.diagnosis[0].id}]" if f.diagnosis else "")
    console.print(escape(text), style=_STYLE[f.verdict], highlight=False)


def render(report: CheckReport, console: Console, quiet: bool = False) -> None:
    """Failing functions first, each with its table, verdict and diagnosis; then a line per
    passing function, the missing ones, notes and the summary. `quiet`: one line per
    function and the summary."""
    wide = console.width >= WIDE
    present = report.present
    failing = [f for f in present if f.verdict != "pass"]
    failing += [f for f in report.functions if f.verdict == "not-implemented"]
    if quiet:
        for f in failing + [f for f in present if f.verdict == "pass"]:
            _line(f, console)
    else:
        for f in failing:
            if f.verdict == "not-implemented":
                _line(f, console)
                continue
            if f.checks:
                console.print(_table(f, wide))
            console.print(escape(verdict_line(f)), style=_STYLE[f.verdict], highlight=False)
            if f.diagnosis:
                _diagnosis(f, console)
            console.print()
        for f in present:
            if f.verdict == "pass":
                _line(f, console)
    missing = [f.name for f in report.functions if f.verdict == "missing"]
    if missing:
        required = [n for n in missing if n in report.required]
        text = "missing: " + ", ".join(missing)
        if required:
            text += f" (required: {', '.join(required)})"
        console.print(escape(text), style="bold red" if required else "yellow", highlight=False)
    for note in [] if quiet else report.notes:
        console.print(f"note: {escape(note)}", style="dim", highlight=False)
    console.print(
        escape(report.summary()), style="bold green" if report.ok else "bold red", highlight=False
    )
