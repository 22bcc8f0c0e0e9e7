"""Sweeps: a grid of ``train`` runs over config keys and replicate seeds, run in parallel.

A sweep is planned, then run::

    plan = plan_sweep(config, flags, ["cell=rnn,lstm", "train.T=50,100"], seeds="0-9")
    result = run_sweep(plan, out=None, workers=None, dask=None)
    render(result, console)

**Grid.** As in Hydra, an override with a comma list (``cell=rnn,lstm``) is a grid axis;
``key=value`` with one value is an ordinary override for every job. A config file may carry
a ``sweep:`` section (``grid``, ``seeds``, ``name``); command-line axes add to or replace its
axes, and a one-value override of a grid key fixes that key. Axes are ordered as in the
config schema, so the order they are typed in does not matter. ``seed`` is not an axis:
replicates come from ``--seeds`` (ranges and lists: ``0-9``, ``0,2,5-7``) or
``sweep.seeds``.

**Seeds.** Every job's seed is passed explicitly. It is derived from the root seed (the
config's ``seed``) and the replicate *label* (the number from ``--seeds``), not the job
index::

    seed = SeedSequence(root_seed, spawn_key=(label,)).generate_state(1, uint32)[0]

i.e. child ``label`` of ``SeedSequence(root_seed).spawn(...)``. Every grid point therefore
sees the same seed for the same replicate -- an rnn and an lstm with replicate 3 get the
same seed, which pairs comparisons across the grid -- and adding axes or seeds never
changes the seeds of existing jobs. ``sweep.json`` records both the label and the seed.

**Jobs.** Each job is an ordinary ``train`` run with a complete run folder
(``config.yaml``, ``overrides.yaml``, ``run.json``, ``task.json``, ``metrics.jsonl``,
``checkpoint.npz``, ``loss.png``, ``samples.txt``) at
``<sweep_dir>/<job-id>/``, where the job id names its grid point and replicate, e.g.
``cell=rnn,train.T=50,seed=3`` (characters outside ``A-Za-z0-9_.,=+-`` become ``_`` and
add a short hash). The sweep folder is ``--out DIR`` or a fresh
``outputs/sweeps/<date>/<time>-<name>/``. A job is :func:`run_job` applied to a
:class:`JobSpec`: a top-level, picklable pure function of (resolved config, seed) that
writes only its own folder and needs nothing from the main process. A worker on another
machine can therefore run it, provided rnncli is installed there and the sweep folder is
a shared path (the same absolute path on every machine): give ``--out`` such a path.

**Executors.** One code path, the ``concurrent.futures`` interface: by default a
``ProcessPoolExecutor`` (``forkserver`` start method where available) with ``os.cpu_count()``
workers; with ``dask=ADDRESS`` the executor of ``distributed.Client(ADDRESS)`` on an existing
scheduler (the optional ``rnncli[dask]`` extra). At most ``workers`` jobs are in flight
(for Dask, by default, the number of worker threads on the cluster when the sweep starts),
so stopping never leaves a queue of submitted jobs behind. Process-pool workers start
fresh interpreters, so a script that calls :func:`run_sweep` must do so under
``if __name__ == "__main__":`` (the ``rnncli`` command is fine); if a worker process dies
(that, or out of memory) the sweep stops with an error and stays resumable.

**Results.** ``sweep.json`` (grid, seeds, base config, every job with its status, seed and
run folder, errors) is written atomically when the sweep starts and again as jobs finish;
``summary.csv`` holds one row per grid point aggregated over seeds (runs, completed,
failed, solved, the task metric's mean, sample standard deviation and median over
completed runs, mean sequences to solve over solved runs, mean training wall time).

**Resume and failures.** Re-running the same sweep into the same folder (same grid, seeds
and base config; anything else is refused) skips jobs whose ``run.json`` says completed. A
job that was interrupted (or killed) with a checkpoint continues from it; any other
unfinished job starts again. A job that raises or diverges is recorded with its error and
the others go on, unless ``fail_fast``. Ctrl-C (or ``fail_fast``) stops submitting, and
writes ``<sweep_dir>/.stop``, which running jobs poll: in a process-pool worker the job
stops as ``train`` does on Ctrl-C (status interrupted, with a checkpoint), in a thread
(Dask) it stops at once. A second Ctrl-C stops waiting. ``sweep.json`` stays consistent
throughout, and the next run picks up where this one stopped. One sweep folder takes one
``rnncli sweep`` at a time.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import csv
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import re
import signal
import statistics
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from rnncli.config import (
    Config,
    Sweep,
    leaf_keys,
    load_config,
    parse_overrides,
    parse_seeds,
    sweep_values,
    to_dict,
)
from rnncli.errors import InputError
from rnncli.runs import Run, new_run_dir, to_json, write_json_atomic, write_text_atomic

SWEEP_JSON = "sweep.json"
SUMMARY_CSV = "summary.csv"
STOP_FILE = ".stop"
FORMAT = "rnncli-sweep/1"
DASK_HINT = "--dask needs the optional Dask extra: pip install 'rnncli[dask]'"

#: Job statuses: pending (not run yet), running, completed, skipped (completed by an
#: earlier run of the sweep), failed (raised), diverged, interrupted (stopped part way).
FAILED = ("failed", "diverged")
DONE = ("completed", "skipped")

#: Files a job writes; removed before a job starts again from scratch.
_RUN_FILES = (
    "run.json", "config.yaml", "overrides.yaml", "task.json", "metrics.jsonl",
    "checkpoint.npz", "loss.png", "samples.txt",
)  # fmt: skip


# --------------------------------------------------------------------------- planning


def derive_seed(root_seed: int, replicate: int) -> int:
    """The seed of replicate ``replicate``: child ``replicate`` of ``SeedSequence(root_seed)``."""
    child = np.random.SeedSequence(root_seed, spawn_key=(replicate,))
    return int(child.generate_state(1, dtype=np.uint32)[0])


def value_text(value: Any) -> str:
    """How a grid value reads in a job id and in ``summary.csv``: ``rnn``, ``50``, ``0.001``."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value, separators=(",", ":"))


def _override_text(key: str, value: Any) -> str:
    """``key=text`` that :func:`~rnncli.config.parse_overrides` reads back as ``value``."""
    for text in ([value] if isinstance(value, str) else []) + [json.dumps(value)]:
        item = f"{key}={text}"
        with contextlib.suppress(InputError):
            back = parse_overrides([item])
            for part in key.split("."):
                back = back[part]
            if back == value and type(back) is type(value):
                return item
    raise InputError(f"sweep value {key}={value!r} cannot be written as an override")


_ID_SAFE = re.compile(r"^[A-Za-z0-9_.+-]*$")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")
_ID_MAX = 150


def job_id(point: Mapping[str, Any], seed_label: int) -> str:
    """A stable, readable, filesystem-safe id: ``cell=rnn,train.T=50,seed=3``.

    Values with characters outside ``A-Za-z0-9_.+-`` are made safe with ``_`` and the id
    gets a short hash of the exact values, so different points never share a folder.
    """
    texts = [(k, value_text(v)) for k, v in point.items()]
    raw = ",".join(f"{k}={t}" for k, t in [*texts, ("seed", str(seed_label))])
    safe = ",".join(f"{k}={_ID_UNSAFE.sub('_', t)}" for k, t in [*texts, ("seed", str(seed_label))])
    if all(_ID_SAFE.match(t) for _, t in texts) and len(safe) <= _ID_MAX:
        return safe
    digest = hashlib.sha1(raw.encode("utf-8")).hexdigest()[:8]
    return f"{safe[:_ID_MAX]}-{digest}"


@dataclass
class Job:
    """One grid point and replicate; ``status``, ``error`` and ``result`` change as it runs."""

    index: int
    id: str
    point: dict[str, Any]
    seed_label: int
    seed: int
    config: dict[str, Any]
    overrides: list[str]
    status: str = "pending"
    error: str | None = None
    result: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        """The job's entry in ``sweep.json``."""
        return {
            "id": self.id,
            "index": self.index,
            "point": self.point,
            "seed_label": self.seed_label,
            "seed": self.seed,
            "status": self.status,
            "run_dir": self.id,
            "error": self.error,
            "result": self.result,
        }


@dataclass
class SweepPlan:
    """A resolved sweep: the effective grid, the replicate labels and every job's config."""

    name: str
    grid: dict[str, list[Any]]
    seeds: list[int]
    root_seed: int
    base_config: dict[str, Any]
    config_file: str | None
    flags: dict[str, Any]
    overrides: list[str]
    jobs: list[Job]

    def fingerprint(self) -> dict[str, Any]:
        """What must match for a sweep folder to be resumed."""
        return json.loads(
            to_json({"grid": self.grid, "seeds": self.seeds, "base_config": self.base_config})
        )


def _key_order(key: str, order: Sequence[str]) -> tuple[int, str]:
    return (order.index(key) if key in order else len(order), key)


def _dedupe(values: Sequence[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(json.dumps(v, sort_keys=True), v)
    return list(seen.values())


def plan_sweep(
    config: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    seeds: str | None = None,
    name: str | None = None,
) -> SweepPlan:
    """Resolve a sweep: split ``overrides`` into grid axes (comma lists) and fixed overrides,
    merge with the config file's ``sweep:`` section, and resolve every job's config.

    ``flags`` are the shortcut flags as for ``load_config`` (e.g. ``{"train.task": "reber"}``);
    ``seeds`` (``"0-9"``, ``"0,2,5-7"``) replaces ``sweep.seeds``. Every job's config is
    validated here, so a bad value fails before anything runs. Raises InputError.
    """
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    fixed: list[str] = []
    fixed_keys = set(flags)  # flags and one-value overrides fix a key of the file's grid
    axes: dict[str, list[Any]] = {}
    for item in overrides:
        key, values = sweep_values(item)
        if len(values) == 1:
            fixed.append(item)
            fixed_keys.add(key)
            axes.pop(key, None)
            continue
        if key == "seed":
            raise InputError(
                f"sweep value {item!r}: 'seed' is not a grid key; use --seeds 0-9 for replicates "
                "(each job's seed is derived from the root seed and the replicate)"
            )
        if key.startswith("sweep.") or key == "sweep":
            raise InputError(f"sweep value {item!r}: sweep settings cannot be swept")
        axes[key] = _dedupe(values)
    base = load_config(config, flags, fixed, training=True)
    grid = {k: _dedupe(v) for k, v in base.sweep.grid.items() if k not in fixed_keys}
    if "seed" in grid:
        raise InputError("sweep.grid: 'seed' is not a grid key; use sweep.seeds for replicates")
    grid.update(axes)
    order = leaf_keys()
    grid = {k: grid[k] for k in sorted(grid, key=lambda k: _key_order(k, order))}
    labels = parse_seeds(seeds) if seeds is not None else base.sweep.seed_list()
    base_dict = to_dict(base)
    base_dict.pop("sweep")
    sweep_name = name or base.sweep.name or (Path(config).stem if config else "sweep")

    jobs: list[Job] = []
    points = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    for point in points:
        point_items = [_override_text(k, v) for k, v in point.items()]
        for label in labels:
            seed = derive_seed(base.seed, label)
            job_overrides = [*fixed, *point_items, f"seed={seed}"]
            cfg = load_config(config, flags, job_overrides, training=True)
            cfg = cfg.model_copy(update={"sweep": Sweep()})
            jobs.append(
                Job(
                    len(jobs), job_id(point, label), point, label, seed, to_dict(cfg), job_overrides
                )
            )
    ids = [j.id for j in jobs]
    if len(set(ids)) != len(ids):  # only if two values print alike: true and "true"
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"two grid points share the job id {dup!r}: make the grid values distinct")
    return SweepPlan(
        name=sweep_name,
        grid=grid,
        seeds=labels,
        root_seed=base.seed,
        base_config=base_dict,
        config_file=str(config) if config is not None else None,
        flags=dict(flags),
        overrides=fixed,
        jobs=jobs,
    )


# --------------------------------------------------------------------------- the job


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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _resumable(path: Path, config: dict[str, Any]) -> bool:
    """An interrupted (or killed) job with a checkpoint and the same config continues."""
    info = _read_json(path / "run.json")
    if not isinstance(info, dict) or info.get("status") not in ("interrupted", "running"):
        return False
    if not (path / "checkpoint.npz").is_file() or not (path / "task.json").is_file():
        return False
    try:
        saved = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return bool(saved == json.loads(to_json(config)))


def _clear(path: Path) -> None:
    for name in _RUN_FILES:
        with contextlib.suppress(FileNotFoundError):
            (path / name).unlink()


def _error_text(exc: BaseException) -> str:
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
    from rnncli.train import artifacts, prepare, train

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
        out["error"] = _error_text(exc)
        if run is not None:
            with contextlib.suppress(Exception):
                run.finish(
                    "failed", error=out["error"], traceback=traceback.format_exc(), sweep=sweep_info
                )
        return out


# --------------------------------------------------------------------------- reporting


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


def _job_line(job: Job) -> str:
    r = job.result or {}
    parts = [job.id, job.status]
    if job.status == "completed" and r.get("metric"):
        parts.append(f"{r['metric']} {_num(r.get('value'))}")
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
        skipped = f", {counts.skipped} already completed" if counts.skipped else ""
        self._print(f"sweep: {counts.total} jobs{skipped}; {where}; {sweep_dir}")

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
        self.progress = Progress(
            TextColumn("[bold]sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}"),
            TextColumn("running {task.fields[running]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task: Any = None

    def start(self, counts: Counts, where: str, sweep_dir: Path) -> None:
        skipped = f", {counts.skipped} already completed" if counts.skipped else ""
        line = f"sweep: {counts.total} jobs{skipped}; {where}; {sweep_dir}"
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


def make_reporter(json_out: bool = False, console: Console | None = None) -> SweepReporter:
    """Nothing for ``--json``; a live bar on a terminal; plain lines otherwise (stderr)."""
    if json_out:
        return SilentReporter()
    if console is None:
        from rnncli.report import console as make_console

        console = make_console(stderr=True)
    return RichReporter(console) if console.is_terminal else PlainReporter(console.file)


# --------------------------------------------------------------------------- results


def _num(value: Any) -> str:
    return (
        f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"
    )


def _compact(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The facts of a train summary that the sweep aggregates."""
    if not summary:
        return None
    metric = summary.get("metric")
    final = summary.get("final") or {}
    return {
        "metric": metric,
        "value": final.get(metric) if metric else None,
        "solved": bool(summary.get("solved")),
        "sequences_to_solve": summary.get("sequences_to_solve"),
        "steps": summary.get("steps"),
        "sequences": summary.get("sequences"),
        "wall_s": summary.get("wall_s"),
    }


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def summarize(plan: SweepPlan, jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """One row per grid point, aggregated over its replicates (see the module docstring)."""
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
        row.update(
            runs=len(members),
            completed=len(done),
            failed=sum(j.status in FAILED for j in members),
            solved=len(solved),
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
    error: str | None = None  # why the sweep could not go on (a broken process pool)

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
        """0 all completed, 1 a job failed or diverged, 130 interrupted."""
        return {"completed": 0, "interrupted": 130}.get(self.status, 1)

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


def render(result: SweepResult, console: Console) -> None:
    """The summary as a rich table, then failures and where everything is."""
    plan = result.plan
    head = (
        f"sweep {plan.name} · {len(result.jobs)} jobs · {result.count('completed')} completed"
        f" · {result.count('skipped')} skipped · {result.count(*FAILED)} failed"
    )
    if result.count("interrupted", "pending", "running"):
        head += f" · {result.count('interrupted', 'pending', 'running')} not finished"
    t = Table(title=Text(head), title_justify="left")
    for key in plan.grid:
        t.add_column(Text(key))
    for col in ("runs", "completed", "failed", "solved"):
        t.add_column(col, justify="right")
    t.add_column("metric")
    for col in ("mean ± std", "median", "seq to solve", "wall s"):
        t.add_column(col, justify="right")
    for row in result.rows:
        mean = _num(row["metric_mean"])
        if row["metric_std"] is not None:
            mean += f" ± {_num(row['metric_std'])}"
        t.add_row(
            *(Text(value_text(row[k])) for k in plan.grid),
            *(str(row[c]) for c in ("runs", "completed", "failed", "solved")),
            row["metric"] or "-",
            mean,
            _num(row["metric_median"]),
            _num(row["sequences_to_solve_mean"]),
            f"{row['wall_s_mean']:.2f}" if row["wall_s_mean"] is not None else "-",
        )
    console.print(t)
    for f in result.failures():
        console.print(f"{f['status']}: {f['id']}: {f['error']}", markup=False, highlight=False)
    if result.error:
        console.print(f"sweep stopped: {result.error}", markup=False, highlight=False)
    if result.interrupted or result.stopped or result.error:
        why = "interrupted" if result.interrupted else "stopped"
        again = f"sweep {why}; run it again with --out {result.sweep_dir} to resume"
        console.print(again, markup=False, highlight=False)
    console.print(f"sweep folder: {result.sweep_dir}", markup=False, highlight=False)


# --------------------------------------------------------------------------- the sweep folder


def _now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _check_out(plan: SweepPlan, out: Path) -> dict[str, Any] | None:
    """The existing ``sweep.json`` at ``out`` if it is this sweep; refuse anything else."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file, expected a sweep folder")
    doc_path = out / SWEEP_JSON
    if not doc_path.exists():
        if out.is_dir() and any(out.iterdir()):
            raise InputError(
                f"--out {out}: folder exists and is not a sweep folder (no {SWEEP_JSON})"
            )
        return None
    doc = _read_json(doc_path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{doc_path}: not a readable rnncli sweep file")
    mine = plan.fingerprint()
    differ = [k for k in ("grid", "seeds", "base_config") if doc.get(k) != mine[k]]
    if differ:
        what = " and ".join({"base_config": "base config"}.get(k, k) for k in differ)
        raise InputError(
            f"--out {out} holds a different sweep ({what} differ); "
            "use another --out, or the same grid, seeds and config to resume it"
        )
    return doc


def _sweep_doc(
    plan: SweepPlan,
    sweep_dir: Path,
    status: str,
    where: str,
    argv: Sequence[str],
    created: str,
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    counts = {s: 0 for s in ("pending", "running", "completed", "skipped", *FAILED, "interrupted")}
    for job in plan.jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    return {
        "format": FORMAT,
        "name": plan.name,
        "status": status,
        "sweep_dir": str(sweep_dir),
        "created": created,
        "updated": _now_iso(),
        "runs": history,
        "argv": list(argv),
        "executor": where,
        "config_file": plan.config_file,
        "flags": plan.flags,
        "overrides": plan.overrides,
        "grid": plan.grid,
        "seeds": plan.seeds,
        "root_seed": plan.root_seed,
        "seed_derivation": "SeedSequence(root_seed, spawn_key=(seed_label,))"
        ".generate_state(1, uint32)[0]",
        "base_config": plan.base_config,
        "counts": counts,
        "jobs": [j.record() for j in plan.jobs],
    }


# --------------------------------------------------------------------------- executors


def _worker_init() -> None:
    """Process-pool workers ignore Ctrl-C except inside train, which stops cleanly on it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _import_dask_client() -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise InputError(DASK_HINT) from None
    return Client


def _broken_text(exc: BaseException | None) -> str:
    return (
        f"a worker process died ({exc}); it may have run out of memory, or, when run_sweep is "
        'called from a script, the script lacks an `if __name__ == "__main__":` guard'
    )


@dataclass
class _Executor:
    executor: cf.Executor
    capacity: int
    where: str
    client: Any = None
    abandon: bool = False  # do not wait for running jobs when closing

    def close(self) -> None:
        wait = not self.abandon
        try:
            if isinstance(self.executor, cf.ProcessPoolExecutor):
                self.executor.shutdown(wait=wait, cancel_futures=True)
            else:
                self.executor.shutdown(wait=wait)
        finally:
            if self.client is not None:
                with contextlib.suppress(Exception):
                    self.client.close()


def _open_executor(workers: int | None, dask: str | None) -> _Executor:
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: expected at least 1")
    if dask is not None:
        Client = _import_dask_client()
        try:
            client = Client(dask, timeout=10, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"--dask {dask}: cannot connect to a Dask scheduler ({exc})") from None
        executor = client.get_executor(pure=False)
        threads = sum(client.nthreads().values())
        capacity = workers or max(1, threads)
        return _Executor(executor, capacity, f"dask {dask} ({threads} threads)", client)
    n = workers or os.cpu_count() or 1
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_worker_init)
    return _Executor(pool, n, f"{n} worker process{'es' if n > 1 else ''}")


@contextlib.contextmanager
def _sigint_counter() -> Iterator[list[int]]:
    """Count Ctrl-Cs instead of raising KeyboardInterrupt (main thread only)."""
    hits = [0]
    if threading.current_thread() is not threading.main_thread():
        yield hits
        return

    def handler(signum: int, frame: Any) -> None:
        hits[0] += 1

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield hits
    finally:
        signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------- running


def _completed_before(run_dir: Path) -> dict[str, Any] | None:
    info = _read_json(run_dir / "run.json")
    if isinstance(info, dict) and info.get("status") == "completed":
        return info
    return None


def _outcome(future: cf.Future[Any]) -> dict[str, Any]:
    if future.cancelled():
        return {"status": "cancelled"}
    exc = future.exception()
    if exc is None:
        result = future.result()
        return result if isinstance(result, dict) else {"status": "failed", "error": repr(result)}
    if isinstance(exc, KeyboardInterrupt):
        return {"status": "interrupted", "error": None}
    return {"status": "failed", "error": _error_text(exc)}


def run_sweep(
    plan: SweepPlan,
    out: str | Path | None = None,
    root: str | Path = "outputs",
    workers: int | None = None,
    dask: str | None = None,
    fail_fast: bool = False,
    reporter: SweepReporter | None = None,
    argv: Sequence[str] | None = None,
) -> SweepResult:
    """Run ``plan``'s jobs; see the module docstring.

    ``out`` is the sweep folder itself (created, or resumed if it holds this sweep);
    without it a fresh ``<root>/sweeps/<date>/<time>-<name>/`` is made. ``workers``
    defaults to ``os.cpu_count()`` (process pool) or the cluster's threads (``dask``, a
    scheduler address such as ``tcp://127.0.0.1:8786``). Raises InputError for a bad
    ``out``, ``workers`` or ``dask`` before any job runs; job failures are recorded, not
    raised. On Ctrl-C returns with ``interrupted=True`` (``exit_code`` 130).
    """
    t0 = time.monotonic()
    argv = list(sys.argv if argv is None else argv)
    reporter = reporter or SilentReporter()
    if dask is not None:
        _import_dask_client()  # the hint before anything else
    previous = _check_out(plan, Path(out).absolute()) if out is not None else None
    executor = _open_executor(workers, dask)
    try:
        if out is not None:
            sweep_dir = Path(out).absolute()
            sweep_dir.mkdir(parents=True, exist_ok=True)
        else:
            sweep_dir = new_run_dir(Path(root).absolute() / "sweeps", plan.name, "")
        return _run(plan, sweep_dir, previous, executor, fail_fast, reporter, argv, t0)
    except BaseException:
        executor.abandon = True
        raise
    finally:
        executor.close()


def _run(
    plan: SweepPlan,
    sweep_dir: Path,
    previous: dict[str, Any] | None,
    executor: _Executor,
    fail_fast: bool,
    reporter: SweepReporter,
    argv: list[str],
    t0: float,
) -> SweepResult:
    stop_file = sweep_dir / STOP_FILE
    stop_file.unlink(missing_ok=True)
    created = previous.get("created", _now_iso()) if previous else _now_iso()
    history = list(previous.get("runs", [])) if previous else []
    history.append({"start_time": _now_iso(), "argv": argv, "executor": executor.where})
    counts = Counts(total=len(plan.jobs))
    todo: list[Job] = []
    for job in plan.jobs:
        job.error, job.result = None, None
        info = _completed_before(sweep_dir / job.id)
        if info is not None:
            job.status, job.result = "skipped", _compact(info.get("summary"))
            counts.skipped += 1
        else:
            job.status = "pending"
            todo.append(job)
    counts.done = counts.skipped
    # round-robin over grid points: replicate 0 of every point first, then replicate 1, ...
    seed_pos = {label: i for i, label in enumerate(plan.seeds)}
    todo.sort(key=lambda j: (seed_pos[j.seed_label], j.index))

    def save(status: str) -> None:
        doc = _sweep_doc(plan, sweep_dir, status, executor.where, argv, created, history)
        write_json_atomic(sweep_dir / SWEEP_JSON, doc)

    def spec(job: Job) -> JobSpec:
        return JobSpec(
            id=job.id, run_dir=str(sweep_dir / job.id), config=job.config,
            overrides=job.overrides, flags=plan.flags, argv=argv, seed_label=job.seed_label,
            sweep_dir=str(sweep_dir), stop_file=str(stop_file),
        )  # fmt: skip

    save("running")
    reporter.start(counts, executor.where, sweep_dir)
    pending = deque(todo)
    inflight: dict[cf.Future[Any], Job] = {}
    interrupted = stopped = False
    broken: str | None = None
    last_save = time.monotonic()
    dirty = False

    def halted() -> bool:
        return interrupted or stopped or broken is not None

    try:
        with _sigint_counter() as sigint:
            while inflight or (pending and not halted()):
                while pending and not halted() and len(inflight) < executor.capacity:
                    job = pending[0]
                    try:
                        future = executor.executor.submit(run_job, spec(job))
                    except cf.BrokenExecutor as exc:
                        broken = _broken_text(exc)
                        break
                    pending.popleft()
                    job.status = "running"
                    inflight[future] = job
                    dirty = True
                counts.running = len(inflight)
                reporter.update(counts)
                finished, _ = cf.wait(list(inflight), timeout=0.2, return_when=cf.FIRST_COMPLETED)
                for future in finished:
                    job = inflight.pop(future)
                    if not future.cancelled() and isinstance(future.exception(), cf.BrokenExecutor):
                        broken = _broken_text(future.exception())
                    outcome = _outcome(future)
                    if outcome["status"] == "cancelled":
                        job.status = "pending"
                        continue
                    job.status = outcome["status"]
                    job.error = outcome.get("error")
                    job.result = _compact(outcome.get("summary"))
                    counts.done += 1
                    counts.failed += job.status in FAILED
                    counts.running = len(inflight)
                    reporter.job_finished(job, counts)
                    dirty = True
                    if fail_fast and job.status in FAILED:
                        stopped = True
                if sigint[0] and not interrupted:
                    interrupted = True
                if halted() and not stop_file.exists():
                    # jobs not started yet return at once; running ones stop (see run_job)
                    write_text_atomic(stop_file, "stop\n")
                    dirty = True
                if sigint[0] >= 2:
                    executor.abandon = True
                    break  # a second Ctrl-C: stop waiting for running jobs
                if dirty and time.monotonic() - last_save > 0.5:
                    save("running")
                    dirty, last_save = False, time.monotonic()
    except BaseException:
        executor.abandon = True
        with contextlib.suppress(Exception):
            write_text_atomic(stop_file, "stop\n")
        with contextlib.suppress(Exception):
            save("error")
        raise
    finally:
        for job in inflight.values():
            job.status = "interrupted"
        for job in pending:
            job.status = "pending"
        counts.running = 0
        reporter.update(counts)
        reporter.stop()
    result = SweepResult(
        plan, sweep_dir, plan.jobs, summarize(plan, plan.jobs), executor.where,
        interrupted=interrupted, stopped=stopped and not interrupted,
        wall_s=time.monotonic() - t0, error=broken,
    )  # fmt: skip
    history[-1]["end_time"] = _now_iso()
    history[-1]["status"] = result.status
    save(result.status)
    write_text_atomic(sweep_dir / SUMMARY_CSV, summary_csv(plan, result.rows))
    if not inflight:
        stop_file.unlink(missing_ok=True)
    return result


__all__ = [
    "Counts",
    "Job",
    "JobSpec",
    "PlainReporter",
    "RichReporter",
    "SilentReporter",
    "SweepPlan",
    "SweepReporter",
    "SweepResult",
    "derive_seed",
    "job_id",
    "make_reporter",
    "plan_sweep",
    "render",
    "run_job",
    "run_sweep",
    "summarize",
    "summary_csv",
]
