"""Running a sweep: submit jobs, collect what they return, stop cleanly, keep the record.

:func:`run_sweep` opens the sweep folder and an executor, skips jobs completed before,
keeps at most ``capacity`` jobs in flight (replicate 0 of every grid point first), and on
Ctrl-C, ``fail_fast`` or a broken pool writes the stop file; ``sweep.json`` is rewritten as
jobs finish and ``summary.csv`` at the end. See :mod:`rnncli.sweep` for the resume rules.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import sys
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnncli.errors import InputError
from rnncli.runs import Lock, new_run_dir, write_json_atomic, write_text_atomic
from rnncli.runs.names import COMPARE_PNG, RUN_JSON, SUMMARY_CSV
from rnncli.sweep import batched, executors
from rnncli.sweep.folder import SWEEP_JSON, check_out, now_iso, sweep_doc
from rnncli.sweep.job import (
    STOP_FILE,
    JobSpec,
    completed_before,
    error_text,
    read_json,
    run_job,
)
from rnncli.sweep.plan import FAILED, Job, SweepPlan
from rnncli.sweep.progress import Counts, SilentReporter, SweepReporter
from rnncli.sweep.summary import SweepResult, compact_summary, summarize, summary_csv
from rnncli.training.signals import Stop, catch_stops


def _broke(future: cf.Future[Any]) -> bool:
    return (
        future.done()
        and not future.cancelled()
        and isinstance(future.exception(), cf.BrokenExecutor)
    )


def _stopped_cleanly(run_dir: Path) -> bool:
    """Whether a job whose pool broke can simply run again: it never started (no
    run.json) or it was interrupted cleanly (with a checkpoint to go on from)."""
    info = read_json(run_dir / RUN_JSON)
    return info is None or (isinstance(info, dict) and info.get("status") == "interrupted")


def _outcome(future: cf.Future[Any]) -> dict[str, Any]:
    if future.cancelled():
        return {"status": "cancelled"}
    exc = future.exception()
    if exc is None:
        result = future.result()
        return result if isinstance(result, dict) else {"status": "failed", "error": repr(result)}
    if isinstance(exc, KeyboardInterrupt):
        return {"status": "interrupted", "error": None}
    if isinstance(exc, cf.BrokenExecutor):  # the worker died (see _stopped_cleanly)
        return {"status": "failed", "error": executors.broken_text(exc)}
    return {"status": "failed", "error": error_text(exc)}


def _outcomes(future: cf.Future[Any], n: int) -> list[dict[str, Any]]:
    """The outcome of each of a submission's `n` jobs (a group returns a list)."""
    if not future.cancelled() and future.exception() is None:
        result = future.result()
        if isinstance(result, list) and len(result) == n:
            return [r if isinstance(r, dict) else {"status": "failed", "error": repr(r)}
                    for r in result]  # fmt: skip
    return [_outcome(future)] * n


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
    """Run ``plan``'s jobs; see the :mod:`rnncli.sweep` docstring.

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
        executors.import_dask_client()  # the hint before anything else
    if any(job.config.get("train", {}).get("tensorboard") for job in plan.jobs):
        from rnncli.training import tensorboard

        tensorboard.require()
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: expected at least 1")
    previous = check_out(plan, Path(out).absolute()) if out is not None else None
    if out is not None:
        sweep_dir = Path(out).absolute()
        try:
            sweep_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--out {out}: cannot create it ({exc.strerror})") from None
    else:
        sweep_dir = new_run_dir(Path(root).absolute() / "sweeps", plan.name, "")
    lock = Lock.acquire(sweep_dir, "sweep folder")  # one sweep process per folder
    try:
        executor = executors.open_executor(workers, dask, plan.dask_timeout)
        try:
            return _run(plan, sweep_dir, previous, executor, fail_fast, reporter, argv, t0)
        except BaseException:
            executor.abandon = True
            raise
        finally:
            executor.close()
    finally:
        lock.release()


def _run(
    plan: SweepPlan,
    sweep_dir: Path,
    previous: dict[str, Any] | None,
    executor: executors.Executor,
    fail_fast: bool,
    reporter: SweepReporter,
    argv: list[str],
    t0: float,
) -> SweepResult:
    sweep = _Sweep(plan, sweep_dir, previous, executor, fail_fast, reporter, argv)
    sweep.prepare_jobs()
    sweep.save("running")
    reporter.start(sweep.counts, executor.where, sweep_dir)
    sweep.last_save = time.monotonic()
    try:
        with catch_stops() as stop:
            while sweep.inflight or (sweep.pending and not sweep.halted()):
                sweep.submit_ready()
                finished, dead = sweep.wait()
                sweep.collect(finished)
                if dead:
                    sweep.after_broken_pool()
                if sweep.scheduler_lost() or sweep.watch_stops(stop):
                    break  # abandon the jobs still running: the executor closes without them
                sweep.save_if_due()
    except BaseException:
        sweep.give_up()
        raise
    finally:
        sweep.wind_down()
    return sweep.result(t0)


class _Sweep:
    """The state of one run of a sweep: the queue of jobs, the jobs in flight, the counts,
    why it halted, and the record (``sweep.json``) kept of it."""

    def __init__(
        self,
        plan: SweepPlan,
        sweep_dir: Path,
        previous: dict[str, Any] | None,
        executor: executors.Executor,
        fail_fast: bool,
        reporter: SweepReporter,
        argv: list[str],
    ) -> None:
        self.plan, self.sweep_dir, self.executor = plan, sweep_dir, executor
        self.fail_fast, self.reporter, self.argv = fail_fast, reporter, argv
        self.stop_file = sweep_dir / STOP_FILE
        self.created = previous.get("created", now_iso()) if previous else now_iso()
        self.history: list[dict[str, Any]] = list(previous.get("runs", [])) if previous else []
        self.counts = Counts(total=len(plan.jobs))
        self.pending: deque[list[Job]] = deque()  # submissions: one job, or a group
        self.inflight: dict[cf.Future[Any], list[Job]] = {}
        self.notes: list[str] = []  # why some jobs run separately (batch_members: auto)
        self.interrupted = False  # Ctrl-C (or another stop signal)
        self.stopped = False  # fail_fast saw a failure
        self.signum: int | None = None
        self.broken: str | None = None  # why the executor cannot go on
        self.restarts = 0  # fresh process pools started after one broke
        self.dirty = False  # sweep.json is behind
        self.last_save = time.monotonic()

    def halted(self) -> bool:
        return self.interrupted or self.stopped or self.broken is not None

    def prepare_jobs(self) -> None:
        """Queue the jobs not completed before; count the others as skipped."""
        self.stop_file.unlink(missing_ok=True)
        self.history.append(
            {"start_time": now_iso(), "argv": self.argv, "executor": self.executor.where}
        )
        todo: list[Job] = []
        for job in self.plan.jobs:
            job.error, job.result = None, None
            info = completed_before(self.sweep_dir / job.id)
            if info is not None:
                job.status, job.result = "skipped", compact_summary(info.get("summary"))
                self.counts.skipped += 1
            else:
                job.status = "pending"
                todo.append(job)
        self.counts.done = self.counts.skipped
        # round-robin over grid points: replicate 0 of every point first, then replicate 1, ...
        seed_pos = {label: i for i, label in enumerate(self.plan.seeds)}
        todo.sort(key=lambda j: (seed_pos[j.seed_label], j.index))
        units, self.notes = batched.units(todo, self.executor.capacity, self.plan.batch_members)
        self.pending.extend(units)
        if self.notes:
            self.history[-1]["separate"] = self.notes

    def submit_ready(self) -> None:
        """Submit jobs from the front of the queue until ``capacity`` are in flight."""
        while self.pending and not self.halted() and len(self.inflight) < self.executor.capacity:
            unit = self.pending[0]
            future: cf.Future[Any]
            try:
                if len(unit) == 1:
                    future = self.executor.executor.submit(run_job, self._spec(unit[0]))
                else:
                    specs = [self._spec(job) for job in unit]
                    future = self.executor.executor.submit(batched.run_group, specs)
            except cf.BrokenExecutor as exc:
                if self._restart():
                    continue
                self.broken = executors.broken_text(exc)
                break
            self.pending.popleft()
            for job in unit:
                job.status = "running"
            self.inflight[future] = unit
            self.dirty = True
        self.counts.running = sum(map(len, self.inflight.values()))
        self.reporter.update(self.counts)

    def wait(self) -> tuple[set[cf.Future[Any]], bool]:
        """The futures done within 0.2 s, and whether the process pool broke (then every
        job in flight is among them)."""
        finished, _ = cf.wait(list(self.inflight), timeout=0.2, return_when=cf.FIRST_COMPLETED)
        if not any(_broke(f) for f in finished):
            return finished, False
        # A worker died and the pool with it: every job in flight fails. Wait for the pool
        # to be down, then tell them apart (see collect): the job whose worker died left
        # its run.json "running", the others stopped cleanly ("interrupted").
        with contextlib.suppress(Exception):
            self.executor.executor.shutdown(wait=True, cancel_futures=True)
        return set(finished) | set(self.inflight), True

    def collect(self, finished: set[cf.Future[Any]]) -> None:
        """Record the jobs of ``finished``; those a broken pool stopped cleanly go back to
        the front of the queue."""
        for future in finished:
            unit = self.inflight.pop(future)
            if _broke(future):
                again = [j for j in unit if _stopped_cleanly(self.sweep_dir / j.id)]
                if again:
                    for job in again:
                        job.status = "pending"
                    self.pending.appendleft(again)
                unit = [j for j in unit if j not in again]
            outcomes = _outcomes(future, len(unit))
            for job, outcome in zip(unit, outcomes, strict=True):
                self._record(job, outcome)

    def _record(self, job: Job, outcome: dict[str, Any]) -> None:
        """Record one job's outcome."""
        if outcome["status"] == "cancelled":
            job.status = "pending"
            return
        job.status = outcome["status"]
        job.error = outcome.get("error")
        job.result = compact_summary(outcome.get("summary"))
        self.counts.done += job.status != "interrupted"  # stopped part way: not done
        self.counts.failed += job.status in FAILED
        self.counts.running = sum(map(len, self.inflight.values()))
        self.reporter.job_finished(job, self.counts)
        self.dirty = True
        if self.fail_fast and job.status in FAILED:
            self.stopped = True

    def after_broken_pool(self) -> None:
        """Start a fresh pool for the jobs left, unless halted or it keeps breaking."""
        if not self.halted() and not self._restart():
            self.broken = "the process pool keeps breaking: its workers die"

    def _restart(self) -> bool:
        # at most one restart per job: a pool that keeps breaking is given up
        if self.restarts < len(self.plan.jobs) and self.executor.restart():
            self.restarts += 1
            return True
        return False

    def scheduler_lost(self) -> bool:
        """Whether the Dask scheduler is gone (then the sweep fails, its jobs abandoned)."""
        if not self.executor.lost():
            return False
        self.broken = f"lost the Dask scheduler at {self.executor.address}"
        self.executor.abandon = True
        return True

    def watch_stops(self, stop: Stop) -> bool:
        """Write the stop file once halted; whether to stop waiting (a second Ctrl-C)."""
        if stop.requested() and not self.interrupted:
            self.interrupted, self.signum = True, stop.signum
        if self.halted() and not self.stop_file.exists():
            # jobs not started yet return at once; running ones stop (see run_job)
            write_text_atomic(self.stop_file, "stop\n")
            self.dirty = True
        if stop.count >= 2:
            self.executor.abandon = True
            return True  # a second Ctrl-C: stop waiting for running jobs
        return False

    def save(self, status: str) -> None:
        doc = sweep_doc(
            self.plan, self.sweep_dir, status, self.executor.where, self.argv, self.created,
            self.history,
        )  # fmt: skip
        write_json_atomic(self.sweep_dir / SWEEP_JSON, doc)

    def save_if_due(self) -> None:
        """Rewrite sweep.json when it is behind, at most every 0.5 s."""
        if self.dirty and time.monotonic() - self.last_save > 0.5:
            self.save("running")
            self.dirty, self.last_save = False, time.monotonic()

    def give_up(self) -> None:
        """On an error in the sweep itself: stop every job and record the sweep failed."""
        self.executor.abandon = True
        with contextlib.suppress(Exception):
            write_text_atomic(self.stop_file, "stop\n")
        with contextlib.suppress(Exception):
            self.save("error")

    def wind_down(self) -> None:
        """Mark the jobs left in flight interrupted and those never started pending."""
        for job in (j for unit in self.inflight.values() for j in unit):
            job.status = "interrupted"
        for job in (j for unit in self.pending for j in unit):
            job.status = "pending"
        self.counts.running = 0
        self.reporter.update(self.counts)
        self.reporter.stop()

    def result(self, t0: float) -> SweepResult:
        """The result; sweep.json, summary.csv and compare.png written for it."""
        result = SweepResult(
            self.plan, self.sweep_dir, self.plan.jobs, summarize(self.plan, self.plan.jobs),
            self.executor.where, interrupted=self.interrupted,
            stopped=self.stopped and not self.interrupted, wall_s=time.monotonic() - t0,
            error=self.broken, signum=self.signum,
        )  # fmt: skip
        self.history[-1]["end_time"] = now_iso()
        self.history[-1]["status"] = result.status
        self.save(result.status)
        write_text_atomic(self.sweep_dir / SUMMARY_CSV, summary_csv(self.plan, result.rows))
        _draw(self.sweep_dir, result)
        if not self.inflight:  # abandoned jobs still running must still see the stop file
            self.stop_file.unlink(missing_ok=True)
        return result

    def _spec(self, job: Job) -> JobSpec:
        return JobSpec(
            id=job.id, run_dir=str(self.sweep_dir / job.id), config=job.config,
            overrides=job.overrides, flags=self.plan.flags, argv=self.argv,
            seed_label=job.seed_label, sweep_dir=str(self.sweep_dir),
            stop_file=str(self.stop_file),
        )  # fmt: skip


def _draw(sweep_dir: Path, result: SweepResult) -> None:
    """compare.png: every grid point's curve of the task metric, mean and spread over
    its seeds (with the [plot] extra; a sweep never fails for its figure)."""
    from rnncli import plot
    from rnncli.runs import compare

    metrics = {str(r["metric"]) for r in result.rows if r.get("metric")}
    if not plot.have_matplotlib() or len(metrics) != 1:
        return
    metric = metrics.pop()
    with contextlib.suppress(InputError):
        _, groups = compare.sweep_groups(sweep_dir)
        series = compare.sweep_series(groups, metric, "sequences")
        if series:
            compare.plot(series, metric, "sequences", sweep_dir / COMPARE_PNG,
                         f"sweep {result.plan.name}")  # fmt: skip
