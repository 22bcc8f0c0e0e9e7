"""How a sweep shows progress: a live bar on a terminal, plain lines otherwise, or nothing.

These report jobs of a sweep (done, failed, running); the reporters of one ``train`` run
(steps, loss, metrics) are :mod:`rnncli.training.progress`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from rnncli.sweep.plan import FAILED, Job
from rnncli.sweep.summary import number_text


@dataclass
class Counts:
    """Progress of a sweep: ``done`` counts every finished job, skipped ones included."""

    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    skipped: int = 0


class SweepReporter(Protocol):
    """How a sweep shows progress (see :func:`make_reporter`)."""

    def start(self, counts: Counts, where: str, sweep_dir: Path) -> None: ...
    def update(self, counts: Counts) -> None: ...
    def job_finished(self, job: Job, counts: Counts) -> None: ...
    def stop(self) -> None: ...


class SilentReporter:
    """Shows nothing (``--json``)."""

    def start(self, counts: Counts, where: str, sweep_dir: Path) -> None:
        pass

    def update(self, counts: Counts) -> None:
        pass

    def job_finished(self, job: Job, counts: Counts) -> None:
        pass

    def stop(self) -> None:
        pass


def _start_line(counts: Counts, where: str, sweep_dir: Path) -> str:
    """``sweep: 8 jobs, 2 already completed; 4 worker processes; <sweep_dir>``."""
    skipped = f", {counts.skipped} already completed" if counts.skipped else ""
    return f"sweep: {counts.total} jobs{skipped}; {where}; {sweep_dir}"


def _job_line(job: Job) -> str:
    r = job.result or {}
    parts = [job.id, job.status]
    if job.status == "completed" and r.get("metric"):
        parts.append(f"{r['metric']} {number_text(r.get('value'))}")
        if r.get("solved"):
            parts.append("solved")
        if isinstance(r.get("wall_s"), (int, float)):
            parts.append(f"{r['wall_s']:.1f} s")
    if job.error:
        parts.append(job.error.splitlines()[0] if job.error.strip() else job.error)
    return "  ".join(parts)


class PlainReporter:
    """One line per finished job on stderr (for logs and pipes)."""

    def __init__(self, file: Any = None) -> None:
        self.file = file

    def _print(self, text: str) -> None:
        print(text, file=self.file or sys.stderr, flush=True)

    def start(self, counts: Counts, where: str, sweep_dir: Path) -> None:
        self._print(_start_line(counts, where, sweep_dir))

    def update(self, counts: Counts) -> None:
        pass

    def job_finished(self, job: Job, counts: Counts) -> None:
        self._print(f"sweep: [{counts.done}/{counts.total}] {_job_line(job)}")

    def stop(self) -> None:
        pass


class RichReporter:
    """A live bar on stderr: jobs done, failed and running, elapsed time and ETA."""

    def __init__(self, console: Console) -> None:
        self.console = console
        width = console.width
        cols: list[Any] = [
            TextColumn("[bold]sweep"),
            BarColumn(bar_width=max(8, min(30, width - 60))),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}"),
            TextColumn("running {task.fields[running]}"),
        ]
        if width >= 80:  # times only where they fit whole
            cols.append(TimeElapsedColumn())
        if width >= 96:
            cols += [TextColumn("ETA"), TimeRemainingColumn()]
        self.progress = Progress(*cols, console=console, transient=False)
        self.task: Any = None

    def start(self, counts: Counts, where: str, sweep_dir: Path) -> None:
        line = _start_line(counts, where, sweep_dir)
        self.console.print(line, markup=False, highlight=False)
        self.progress.start()
        self.task = self.progress.add_task(
            "sweep", total=counts.total, completed=counts.done, failed=0, running=0
        )

    def update(self, counts: Counts) -> None:
        self.progress.update(
            self.task, completed=counts.done, failed=counts.failed, running=counts.running
        )

    def job_finished(self, job: Job, counts: Counts) -> None:
        if job.status != "completed":
            style = "red" if job.status in FAILED else "yellow"
            self.progress.console.print(Text(_job_line(job), style=style))
        self.update(counts)

    def stop(self) -> None:
        self.progress.stop()


def make_reporter(
    json_out: bool = False, console: Console | None = None, verbose: bool = False
) -> SweepReporter:
    """Nothing for ``--json`` (or --quiet); a live bar on a terminal; plain lines otherwise
    or with `verbose` (stderr)."""
    if json_out:
        return SilentReporter()
    if console is None:
        from rnncli.report import console as make_console

        console = make_console(stderr=True)
    if console.is_terminal and not verbose:
        return RichReporter(console)
    return PlainReporter(console.file)
