"""One sweep job: what a worker runs, how the sweep stops it, and the run folder it writes.

:func:`run_job` applied to a :class:`JobSpec` is the whole job: a top-level, picklable pure
function (executors submit it by its path ``rnncli.sweep.job.run_job``) that writes only its
own run folder, resumes it from a checkpoint or clears it, and stops when the sweep's stop
file appears (:data:`STOP_FILE`).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rnncli.config import Config
from rnncli.errors import InputError
from rnncli.runs import to_json, write_json_atomic
from rnncli.runs.names import (
    BEST,
    CHECKPOINT,
    CONFIG_YAML,
    LOSS_PNG,
    METRICS_JSONL,
    OVERRIDES_YAML,
    RUN_JSON,
    SAMPLES_TXT,
    TASK_JSON,
)

STOP_FILE = ".stop"

#: Files a job writes; removed before a job starts again from scratch.
_RUN_FILES = (
    RUN_JSON, CONFIG_YAML, OVERRIDES_YAML, TASK_JSON, METRICS_JSONL,
    CHECKPOINT, BEST, LOSS_PNG, SAMPLES_TXT,
)  # fmt: skip


@dataclass(frozen=True)
class JobSpec:
    """All a worker needs to run one job (picklable; no state from the main process)."""

    id: str
    run_dir: str
    config: dict[str, Any]
    overrides: list[str]
    flags: dict[str, Any]
    argv: list[str]
    seed_label: int
    sweep_dir: str
    stop_file: str


class StopWatch:
    """``should_stop`` for a job: true once the sweep's stop file exists (looked for at
    most every `every` seconds) or a signal reached this worker."""

    def __init__(self, stop_file: Path, signalled: Callable[[], bool], every: float = 0.5) -> None:
        self.stop_file, self.signalled, self.every = stop_file, signalled, every
        self.last, self.fired = 0.0, False

    def __call__(self) -> bool:
        if self.fired or self.signalled():
            return True
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self.fired = self.stop_file.exists()
        return self.fired


def _quiet(message: str) -> None:
    """Workers print nothing (e.g. the no-matplotlib notice and text plot)."""


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None if it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _resumable(path: Path, config: dict[str, Any]) -> bool:
    """An interrupted (or killed) job with a checkpoint and the same config continues."""
    info = read_json(path / RUN_JSON)
    if not isinstance(info, dict) or info.get("status") not in ("interrupted", "running"):
        return False
    if not (path / CHECKPOINT).is_file() or not (path / TASK_JSON).is_file():
        return False
    try:
        saved = yaml.safe_load((path / CONFIG_YAML).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return bool(saved == json.loads(to_json(config)))


def completed_before(run_dir: Path) -> dict[str, Any] | None:
    """The ``run.json`` of a job that completed in an earlier run of the sweep, else None."""
    info = read_json(run_dir / RUN_JSON)
    if isinstance(info, dict) and info.get("status") == "completed":
        return info
    return None


def _clear(path: Path) -> None:
    for name in _RUN_FILES:
        with contextlib.suppress(FileNotFoundError):
            (path / name).unlink()
    for events in path.glob("events.out.tfevents.*"):  # train.tensorboard's
        with contextlib.suppress(OSError):
            events.unlink()


def error_text(exc: BaseException) -> str:
    """A one-line account of a job's exception (an InputError's message as it is)."""
    text = str(exc).strip()
    if isinstance(exc, InputError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_job(spec: JobSpec) -> dict[str, Any]:
    """Run one sweep job: ``train`` with its own run folder at ``spec.run_dir``, through
    the same lifecycle as ``rnncli train``.

    Returns ``{"id", "status", "error", "summary", "resumed"}``; status is completed,
    diverged, interrupted, failed (an exception, recorded in run.json too) or cancelled
    (the sweep was stopping before the job started; nothing was written).
    """
    from rnncli.training import execute, start_or_resume
    from rnncli.training.signals import catch_stops

    out: dict[str, Any] = {"id": spec.id, "status": "failed", "error": None, "summary": None}
    stop_file = Path(spec.stop_file)
    if stop_file.exists():
        return {**out, "status": "cancelled"}
    path = Path(spec.run_dir)
    sweep_info = {"sweep_dir": spec.sweep_dir, "job_id": spec.id, "seed_label": spec.seed_label}
    with catch_stops() as stop:  # from the first moment: a stop while planning is clean too
        try:
            cfg = Config.model_validate(spec.config)
            resume = _resumable(path, spec.config)
            out["resumed"] = resume
            if resume:
                plan = start_or_resume(None, resume=path, argv=spec.argv)
                plan.nothing_to_do = ""  # finished but not marked so (killed at the end)
            else:
                _clear(path)
                plan = start_or_resume(
                    cfg, run_dir=path, argv=spec.argv, flags=spec.flags,
                    overrides=spec.overrides, extra={"sweep": sweep_info},
                )  # fmt: skip
            outcome = execute(plan, None, StopWatch(stop_file, stop.requested), _quiet)
        except Exception as exc:
            out["error"] = error_text(exc)
            _record_failure(path, out["error"], sweep_info)
            return out
    if stop.signum is not None and multiprocessing.parent_process() is not None:
        os._exit(stop.exit_code)  # a pool worker told to end (its sweep is gone): go
    if outcome.status == "failed":
        return {**out, "error": outcome.message, "summary": outcome.summary or None}
    error = outcome.message if outcome.status == "diverged" else None
    return {**out, "status": outcome.status, "error": error, "summary": outcome.summary}


def _record_failure(path: Path, error: str, sweep_info: dict[str, Any]) -> None:
    """Mark the job's run.json failed, if the job got as far as writing one."""
    info = read_json(path / RUN_JSON)
    if not isinstance(info, dict):
        return
    info.update(status="failed", error=error, traceback=traceback.format_exc(), sweep=sweep_info)
    with contextlib.suppress(Exception):
        write_json_atomic(path / RUN_JSON, info)
