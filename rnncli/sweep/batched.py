"""Sweep jobs that share a model shape, trained as one stacked model per group.

With ``sweep.batch_members: auto`` (the default; ``on`` also stacks the sizes where it
does not pay, `rnncli.training.batched.STACK_UP_TO`) the jobs still to run are grouped by
`rnncli.training.batched.group_key` (cell, sizes, task and its shape, optimiser, dtype:
everything but seeds, learning rates, init scales, forget biases and the other
`PER_MEMBER` keys); a group is split into as many parts as jobs can run at once (a
worker process or Dask thread each), and each part is one submission of `run_group`.
Jobs whose model has no stacked kernels (users' cells, stacked or bidirectional models,
text) run as separate jobs, as with ``off``, and the sweep says why in one line.

A member's folder is an ordinary train run's; ``rnncli train --resume MEMBER`` goes on
with it alone, and a re-run of the sweep resumes it in a group again.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnncli.config import Config
from rnncli.sweep.job import (
    JobSpec,
    StopWatch,
    _clear,
    _quiet,
    _record_failure,
    _resumable,
    error_text,
    run_job,
)
from rnncli.sweep.plan import Job

#: Most members in one stack (a bigger group is split).
MAX_MEMBERS = 64


def units(jobs: Sequence[Job], capacity: int, mode: str) -> tuple[list[list[Job]], list[str]]:
    """The jobs as submissions: groups of one shape, or single jobs; and one line per
    reason some jobs run separately. Order: the jobs' own, by each unit's first job."""
    if mode == "off":
        return [[j] for j in jobs], []
    from rnncli.training.batched import group_key, why_not

    groups: dict[str, list[Job]] = {}
    single: list[list[Job]] = []
    reasons: dict[str, int] = {}
    for job in jobs:
        why = why_not(Config.model_validate(job.config), mode)
        if why:
            single.append([job])
            reasons[why] = reasons.get(why, 0) + 1
        else:
            groups.setdefault(group_key(job.config), []).append(job)
    out = single[:]
    for members in groups.values():
        out += _split(members, capacity)
    order = {id(j): i for i, j in enumerate(jobs)}
    out.sort(key=lambda u: order[id(u[0])])
    notes = [f"{n} job{'s' if n > 1 else ''} run separately: {why}" for why, n in reasons.items()]
    return out, notes


def _split(members: list[Job], capacity: int) -> list[list[Job]]:
    """`members` in about equal parts, one per slot (and at most `MAX_MEMBERS` each)."""
    parts = max(1, min(capacity, len(members)), -(-len(members) // MAX_MEMBERS))
    size = -(-len(members) // parts)
    return [members[i : i + size] for i in range(0, len(members), size)]


def _plan(spec: JobSpec) -> Any:
    """A member's lifecycle plan, as `run_job` makes it: resumed from its checkpoint
    when it was interrupted, else from scratch in a cleared folder."""
    from rnncli.training import start_or_resume

    path = Path(spec.run_dir)
    sweep_info = {"sweep_dir": spec.sweep_dir, "job_id": spec.id, "seed_label": spec.seed_label}
    cfg = Config.model_validate(spec.config)
    if _resumable(path, spec.config):
        plan = start_or_resume(None, resume=path, argv=spec.argv)
        plan.nothing_to_do = ""  # finished but not marked so (killed at the end)
        return plan, True
    _clear(path)
    plan = start_or_resume(
        cfg, run_dir=path, argv=spec.argv, flags=spec.flags, overrides=spec.overrides,
        extra={"sweep": sweep_info},
    )  # fmt: skip
    return plan, False


def _result(spec: JobSpec, outcome: Any, resumed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": spec.id, "status": outcome.status, "error": None,
                           "summary": outcome.summary or None, "resumed": resumed}  # fmt: skip
    if outcome.status in ("failed", "diverged"):
        out["error"] = outcome.message
    return out


def _failed(spec: JobSpec, exc: BaseException) -> dict[str, Any]:
    error = error_text(exc)
    info = {"sweep_dir": spec.sweep_dir, "job_id": spec.id, "seed_label": spec.seed_label}
    _record_failure(Path(spec.run_dir), error, info)
    return {"id": spec.id, "status": "failed", "error": error, "summary": None}


def run_group(specs: Sequence[JobSpec]) -> list[dict[str, Any]]:
    """Run sweep jobs of one model shape as one stack (`execute_group`); what `run_job`
    returns, one per job, in order. A job that cannot join (its checkpoint plans the
    compiled kernels) runs alone after the group."""
    from rnncli.training.batched import batchable, execute_group
    from rnncli.training.signals import catch_stops

    results: dict[int, dict[str, Any]] = {}
    stop_file = Path(specs[0].stop_file)
    if stop_file.exists():
        return [{"id": s.id, "status": "cancelled", "error": None, "summary": None}
                for s in specs]  # fmt: skip
    with catch_stops() as stop:
        watch = StopWatch(stop_file, stop.requested)
        members: list[tuple[int, Any, bool]] = []
        alone: list[int] = []
        for i, spec in enumerate(specs):
            try:
                plan, resumed = _plan(spec)
            except Exception as exc:
                results[i] = _failed(spec, exc)
                continue
            if batchable(plan):
                alone.append(i)
            else:
                members.append((i, plan, resumed))
        stack = {"members": len(members), "jobs": [specs[i].id for i, _, _ in members]}
        for _, plan, _ in members:
            plan.extra["batched"] = stack
        try:
            outcomes = execute_group([p for _, p, _ in members], watch, _quiet)
            for (i, _, resumed), outcome in zip(members, outcomes, strict=True):
                results[i] = _result(specs[i], outcome, resumed)
        except Exception as exc:
            for i, _, _ in members:
                results[i] = _failed(specs[i], exc)
    for i in alone:
        results[i] = run_job(specs[i])
    if stop.signum is not None and multiprocessing.parent_process() is not None:
        os._exit(stop.exit_code)  # a pool worker told to end (its sweep is gone): go
    with contextlib.suppress(KeyError):
        return [results[i] for i in range(len(specs))]
    raise RuntimeError("run_group lost a job's result")
