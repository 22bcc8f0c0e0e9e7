"""How training shows progress: a rich bar on a terminal, plain lines otherwise.

The bar fits the terminal: on a narrow one it drops the ETA and the elapsed time before
it would cut a number, and the last evaluation's metrics go on a line of their own under
it, wrapping between metrics rather than inside one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


def metrics_text(record: dict[str, Any]) -> str:
    skip = ("step", "sequences", "wall_s", "lr", "loss")
    return "  ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
        for k, v in record.items()
        if k not in skip
    )


class _Bar(Progress):
    """A progress bar with a line for the last evaluation under it."""

    metrics = ""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        if self.metrics:
            yield Text(self.metrics, overflow="fold", no_wrap=False)


def bar_columns(width: int) -> list[ProgressColumn]:
    """The bar's columns for a terminal `width` wide: the numbers always, the ETA from 80
    columns, the elapsed time from 100 (each labelled), the bar as wide as is left."""
    times: list[ProgressColumn] = []
    if width >= 80:
        times += [TextColumn("ETA"), TimeRemainingColumn()]
    if width >= 100:
        times += [TextColumn("elapsed"), TimeElapsedColumn()]
    fixed = 5 + 11 + 12 + 14 + (12 if width >= 80 else 0) + (16 if width >= 100 else 0) + 5
    return [
        TextColumn("[bold]train"),
        BarColumn(bar_width=max(8, min(30, width - fixed - 1))),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[rate]} seq/s"),
        *times,
    ]


def rate_text(seq_per_s: float) -> str:
    """Sequences per second as the bar and the summary both show it."""
    return f"{seq_per_s:,.1f}"


class RichReporter:
    """A live bar on stderr: step, loss (per sequence or per character, as the task
    reports it), sequences per second (over the run so far: at the end, the summary's
    sequences_per_s), ETA, elapsed time; the last evaluation below."""

    def __init__(self, console: Console) -> None:
        self.progress = _Bar(*bar_columns(console.width), console=console, transient=False)
        self.task: Any = None

    def start(self, total: int, done: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("train", total=total, completed=done, loss="-", rate="-")

    def update(self, step: int, loss: float, seq_per_s: float) -> None:
        self.progress.update(
            self.task, completed=step, loss=f"{loss:.4g}", rate=rate_text(seq_per_s)
        )

    def evaluation(self, record: dict[str, Any]) -> None:
        self.progress.metrics = f"step {record['step']}: {metrics_text(record)}"
        self.progress.update(self.task, completed=record["step"])

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
        loss = f"  loss {record['loss']:.4g}" if isinstance(record.get("loss"), float) else ""
        print(f"{step}{loss}  {metrics_text(record)}", file=sys.stderr, flush=True)

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
