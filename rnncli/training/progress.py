"""How training shows progress: a rich bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def _metrics_text(record: dict[str, Any]) -> str:
    skip = ("step", "sequences", "wall_s", "lr")
    return "  ".join(f"{k} {v:.4g}" for k, v in record.items() if k not in skip)


class RichReporter:
    """A live bar: step, loss, sequences per second, ETA (to stderr)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            TextColumn("step {task.completed}/{task.total}"),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} seq/s"),
            TextColumn("{task.fields[metrics]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task: Any = None

    def start(self, total: int, done: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task(
            "train", total=total, completed=done, loss="-", rate="-", metrics=""
        )

    def update(self, step: int, loss: float, seq_per_s: float) -> None:
        self.progress.update(
            self.task, completed=step, loss=f"{loss:.4g}", rate=f"{seq_per_s:,.0f}"
        )

    def evaluation(self, record: dict[str, Any]) -> None:
        self.progress.update(self.task, completed=record["step"], metrics=_metrics_text(record))

    def stop(self) -> None:
        self.progress.stop()


class PlainReporter:
    """Periodic plain lines (at most one every `every` seconds, plus the last), to stderr."""

    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self.last = 0.0
        self.pending: dict[str, Any] | None = None

    def start(self, total: int, done: int) -> None:
        self.total = total
        print(f"train: steps {done}/{total}", file=sys.stderr, flush=True)

    def update(self, step: int, loss: float, seq_per_s: float) -> None:
        pass

    def evaluation(self, record: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self._print(record)
            self.last, self.pending = now, None
        else:
            self.pending = record

    def _print(self, record: dict[str, Any]) -> None:
        step = f"step {record['step']}/{self.total}  seq {record['sequences']}"
        print(f"{step}  {_metrics_text(record)}", file=sys.stderr, flush=True)

    def stop(self) -> None:
        if self.pending is not None:
            self._print(self.pending)


class ByteBar:
    """A transient bar for long passes over a file (encoding a text into the cache: both
    passes as one bar), on stderr: it appears on the first update and is gone when the
    work is done. Use it as a context manager, so that an error mid-way takes it down."""

    def __init__(self, console: Console, label: str = "encoding text") -> None:
        self.progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("encode", total=total)
        self.progress.update(self.task, completed=done, total=total)
        if done >= total:
            self.__exit__()

    def __enter__(self) -> ByteBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None
