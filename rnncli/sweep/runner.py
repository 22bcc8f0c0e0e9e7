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
from rnncli.sweep import executors
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
from rnncli.sweep.summary import SUMMARY_CSV, SweepResult, compact_summary, summarize, summary_csv
from rnncli.training.signals import catch_stops


def _broke(future: cf.Future[Any]) -> bool:
    return (
        future.done()
        and not future.cancelled()
        and isinstance(future.exception(), cf.BrokenExecutor)
    )


def _stopped_cleanly(run_dir: Path) -> bool:
    """Whether a job whose pool broke can simply run again: it never started (no
    run.json) or it was interrupted cleanly (with a checkpoint to go on from)."""
    info = read_json(run_dir / "run.json")
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
    return {"status": "failed", "error": error_text(exc)}


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
    stop_file = sweep_dir / STOP_FILE
    stop_file.unlink(missing_ok=True)
    created = previous.get("created", now_iso()) if previous else now_iso()
    history = list(previous.get("runs", [])) if previous else []
    history.append({"start_time": now_iso(), "argv": argv, "executor": executor.where})
    counts = Counts(total=len(plan.jobs))
    todo: list[Job] = []
    for job in plan.jobs:
        job.error, job.result = None, None
        info = completed_before(sweep_dir / job.id)
        if info is not None:
            job.status, job.result = "skipped", compact_summary(info.get("summary"))
            counts.skipped += 1
        else:
            job.status = "pending"
            todo.append(job)
    counts.done = counts.skipped
    # round-robin over grid points: replicate 0 of every point first, then replicate 1, ...
    seed_pos = {label: i for i, label in enumerate(plan.seeds)}
    todo.sort(key=lambda j: (seed_pos[j.seed_label], j.index))

    def save(status: str) -> None:
        doc = sweep_doc(plan, sweep_dir, status, executor.where, argv, created, history)
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
    signum: int | None = None
    broken: str | None = None
    last_save = time.monotonic()
    dirty = False

    def halted() -> bool:
        return interrupted or stopped or broken is not None

    lost: str | None = None
    restarts = 0
    try:
        with catch_stops() as stop:
            while inflight or (pending and not halted()):
                while pending and not halted() and len(inflight) < executor.capacity:
                    job = pending[0]
                    try:
                        future = executor.executor.submit(run_job, spec(job))
                    except cf.BrokenExecutor as exc:
                        if restarts < len(plan.jobs) and executor.restart():
                            restarts += 1
                            continue
                        broken = executors.broken_text(exc)
                        break
                    pending.popleft()
                    job.status = "running"
                    inflight[future] = job
                    dirty = True
                counts.running = len(inflight)
                reporter.update(counts)
                finished, _ = cf.wait(list(inflight), timeout=0.2, return_when=cf.FIRST_COMPLETED)
                if any(_broke(f) for f in finished):
                    # A worker died and the pool with it: every job in flight fails. Wait
                    # for the pool to be down, then tell them apart: the job whose worker
                    # died left its run.json "running", the others stopped cleanly
                    # ("interrupted") and go back to the queue.
                    with contextlib.suppress(Exception):
                        executor.executor.shutdown(wait=True, cancel_futures=True)
                    finished = set(finished) | set(inflight)
                    dead = True
                else:
                    dead = False
                for future in finished:
                    job = inflight.pop(future)
                    if _broke(future):
                        if _stopped_cleanly(sweep_dir / job.id):
                            job.status = "pending"
                            pending.appendleft(job)
                            continue
                        outcome: dict[str, Any] = {
                            "status": "failed", "error": executors.broken_text(future.exception())
                        }  # fmt: skip
                    else:
                        outcome = _outcome(future)
                    if outcome["status"] == "cancelled":
                        job.status = "pending"
                        continue
                    job.status = outcome["status"]
                    job.error = outcome.get("error")
                    job.result = compact_summary(outcome.get("summary"))
                    counts.done += job.status != "interrupted"  # stopped part way: not done
                    counts.failed += job.status in FAILED
                    counts.running = len(inflight)
                    reporter.job_finished(job, counts)
                    dirty = True
                    if fail_fast and job.status in FAILED:
                        stopped = True
                if dead and not halted():
                    if restarts < len(plan.jobs) and executor.restart():
                        restarts += 1
                    else:
                        broken = "the process pool keeps breaking: its workers die"
                if executor.lost():
                    lost = f"lost the Dask scheduler at {executor.address}"
                    broken = lost
                    executor.abandon = True
                    break
                if stop.requested() and not interrupted:
                    interrupted, signum = True, stop.signum
                if halted() and not stop_file.exists():
                    # jobs not started yet return at once; running ones stop (see run_job)
                    write_text_atomic(stop_file, "stop\n")
                    dirty = True
                if stop.count >= 2:
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
        wall_s=time.monotonic() - t0, error=broken, signum=signum,
    )  # fmt: skip
    history[-1]["end_time"] = now_iso()
    history[-1]["status"] = result.status
    save(result.status)
    write_text_atomic(sweep_dir / SUMMARY_CSV, summary_csv(plan, result.rows))
    _draw(sweep_dir, result)
    if not inflight:
        stop_file.unlink(missing_ok=True)
    return result


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
            compare.plot(series, metric, "sequences", sweep_dir / "compare.png",
                         f"sweep {result.plan.name}")  # fmt: skip
