"""One sweep job: what a worker runs, how the sweep stops it, and the run folder it writes.

:func:`run_job` applied to a :class:`JobSpec` is the whole job: a top-level, picklable pure
function (executors submit it by its path ``rnncli.sweep.job.run_job``) that writes only its
own run folder, resumes it from a checkpoint or clears it, and stops when the sweep's stop
file appears (:data:`STOP_FILE`).
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rnncli.config import Config
from rnncli.errors import InputError
from rnncli.runs import Run, to_json

STOP_FILE = ".stop"

#: Files a job writes; removed before a job starts again from scratch.
_RUN_FILES = (
    "run.json", "config.yaml", "overrides.yaml", "task.json", "metrics.jsonl",
    "checkpoint.npz", "loss.png", "samples.txt",
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


class JobCancelled(Exception):
    """Raised inside a job running in a thread when the sweep is stopping."""


class _StopWatch:
    """A train reporter that stops the job when the sweep's stop file appears."""

    def __init__(self, stop_file: Path, every: float = 0.5) -> None:
        self.stop_file, self.every = stop_file, every
        self.last, self.fired = 0.0, False

    def _check(self) -> None:
        now = time.monotonic()
        if self.fired or now - self.last < self.every:
            return
        self.last = now
        if not self.stop_file.exists():
            return
        self.fired = True
        handler = signal.getsignal(signal.SIGINT)
        in_main = threading.current_thread() is threading.main_thread()
        if in_main and callable(handler) and handler is not signal.default_int_handler:
            signal.raise_signal(signal.SIGINT)  # train's own handler: a clean, checkpointed stop
        else:
            raise JobCancelled("the sweep is stopping")

    def start(self, total: int, done: int) -> None:
        pass

    def update(self, step: int, loss: float, seq_per_s: float) -> None:
        self._check()

    def evaluation(self, record: dict[str, Any]) -> None:
        self._check()

    def stop(self) -> None:
        pass


_ARTIFACTS_LOCK = threading.Lock()  # matplotlib's pyplot is not thread-safe (Dask threads)


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
    info = read_json(path / "run.json")
    if not isinstance(info, dict) or info.get("status") not in ("interrupted", "running"):
        return False
    if not (path / "checkpoint.npz").is_file() or not (path / "task.json").is_file():
        return False
    try:
        saved = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return bool(saved == json.loads(to_json(config)))


def completed_before(run_dir: Path) -> dict[str, Any] | None:
    """The ``run.json`` of a job that completed in an earlier run of the sweep, else None."""
    info = read_json(run_dir / "run.json")
    if isinstance(info, dict) and info.get("status") == "completed":
        return info
    return None


def _clear(path: Path) -> None:
    for name in _RUN_FILES:
        with contextlib.suppress(FileNotFoundError):
            (path / name).unlink()


def error_text(exc: BaseException) -> str:
    """A one-line account of a job's exception (an InputError's message as it is)."""
    text = str(exc).strip()
    if isinstance(exc, InputError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_job(spec: JobSpec) -> dict[str, Any]:
    """Run one sweep job: ``train`` with its own run folder at ``spec.run_dir``.

    Returns ``{"id", "status", "error", "summary", "resumed"}``; status is completed,
    diverged, interrupted, failed (an exception, recorded in run.json too) or cancelled
    (the sweep was stopping before the job started; nothing was written).
    """
    from rnncli.training import artifacts, prepare, train

    out: dict[str, Any] = {"id": spec.id, "status": "failed", "error": None, "summary": None}
    stop_file = Path(spec.stop_file)
    if stop_file.exists():
        return {**out, "status": "cancelled"}
    path = Path(spec.run_dir)
    sweep_info = {"sweep_dir": spec.sweep_dir, "job_id": spec.id, "seed_label": spec.seed_label}
    run: Run | None = None
    try:
        cfg = Config.model_validate(spec.config)
        resume = _resumable(path, spec.config)
        out["resumed"] = resume
        if resume:
            run = Run.reopen(path, spec.argv)
        else:
            _clear(path)
            run = Run.start_at(
                path,
                "train",
                cfg.cell,
                spec.config,
                spec.overrides,
                spec.argv,
                cfg.seed,
                spec.flags,
            )
        problem = prepare(cfg)
        if not resume:
            artifacts.write_task(run, problem)
        result = train(cfg, run, _StopWatch(stop_file), resume=resume, problem=problem)
        summary = result.summary()
        summary["cell"] = cfg.cell
        summary["run_dir"] = str(run.path)
        if result.status == "completed":
            with _ARTIFACTS_LOCK:
                artifacts.write_results(result, run, cfg.train.temperature, _quiet)
        run.finish(result.status, summary=summary, sweep=sweep_info)
        error = result.message if result.status == "diverged" else None
        return {**out, "status": result.status, "error": error, "summary": summary}
    except JobCancelled:
        if run is not None:
            run.finish("interrupted", sweep=sweep_info)
        return {**out, "status": "interrupted"}
    except Exception as exc:
        out["error"] = error_text(exc)
        if run is not None:
            with contextlib.suppress(Exception):
                run.finish(
                    "failed", error=out["error"], traceback=traceback.format_exc(), sweep=sweep_info
                )
        return out
