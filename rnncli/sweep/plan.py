"""Planning a sweep: grid axes, replicate seeds, job ids and every job's resolved config.

:func:`plan_sweep` turns a config, shortcut flags, overrides (comma lists are grid axes) and
``--seeds`` into a :class:`SweepPlan` of :class:`Job` s; see :mod:`rnncli.sweep` for the grid,
seed and job-id rules. Nothing here runs or writes anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.config import (
    Sweep,
    leaf_keys,
    load_config,
    parse_overrides,
    parse_seeds,
    sweep_values,
    to_dict,
)
from rnncli.errors import InputError
from rnncli.runs import read_json, to_json
from rnncli.runs.names import SWEEP_JSON

#: Job statuses: pending (not run yet), running, completed, skipped (completed by an
#: earlier run of the sweep), failed (raised), diverged, interrupted (stopped part way).
FAILED = ("failed", "diverged")
DONE = ("completed", "skipped")


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


_ID_SAFE = re.compile(r"[A-Za-z0-9_.+-]*")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")
_ID_MAX = 150


def job_id(point: Mapping[str, Any], seed_label: int) -> str:
    """A stable, readable, filesystem-safe id: ``cell=rnn,train.T=50,rep=3`` (``rep``: the
    replicate label; the job's seed is derived from it, see `derive_seed`).

    Values with characters outside ``A-Za-z0-9_.+-`` are made safe with ``_`` and the id
    gets a short hash of the exact values, so different points never share a folder.
    """
    texts = [(k, value_text(v)) for k, v in point.items()]
    raw = ",".join(f"{k}={t}" for k, t in [*texts, ("rep", str(seed_label))])
    safe = ",".join(f"{k}={_ID_UNSAFE.sub('_', t)}" for k, t in [*texts, ("rep", str(seed_label))])
    if all(_ID_SAFE.fullmatch(t) for _, t in texts) and len(safe) <= _ID_MAX:
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
    dask_timeout: float = 10.0
    batch_members: str = "auto"  # sweep.batch_members: auto | off

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


def _check_jobs(jobs: Sequence[Job]) -> None:
    """Refuse the sweep, once and before anything runs, if a job's task input is bad (a
    missing text file, a model the task cannot take, too little memory)."""
    from rnncli.config import Config
    from rnncli.training.lifecycle import check

    seen = set()
    for job in jobs:
        cfg = Config.model_validate(job.config)
        t = cfg.train
        key = (
            cfg.cell,
            cfg.dtype,
            cfg.model.model_dump_json(),
            t.model_dump_json(exclude={"steps"}),
        )
        if key in seen:
            continue
        seen.add(key)
        try:
            check(cfg)
        except InputError as err:
            raise InputError(f"sweep job {job.id}: {err}") from None


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
    sweep_name = name or base.sweep.name or (Path(config).stem if config else None)
    return _plan(
        sweep_name or _default_name(base.train.task, grid), grid, labels, base.seed, base_dict,
        str(config) if config is not None else None, dict(flags), fixed,
        base.sweep.dask_timeout, lambda more: load_config(config, flags, more, training=True),
        base.sweep.batch_members,
    )  # fmt: skip


def _default_name(task: str, grid: Mapping[str, Any]) -> str:
    """``reber-cell``: the task and the last part of every grid key."""
    return "-".join([task, *(k.rsplit(".", 1)[-1] for k in grid)])


def plan_from_doc(doc: Mapping[str, Any]) -> SweepPlan:
    """The plan a sweep folder's sweep.json records, to resume it as it was."""
    try:
        base = dict(doc["base_config"])
        grid = {k: list(v) for k, v in doc["grid"].items()}
        return _plan(
            str(doc["name"]), grid, list(doc["seeds"]), int(doc["root_seed"]), base,
            doc.get("config_file"), dict(doc.get("flags") or {}), list(doc.get("overrides") or []),
            float(doc.get("dask_timeout", 10.0)),
            lambda more: load_config(None, {}, more, training=True, data=base),
            str(doc.get("batch_members", "auto")),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InputError(f"sweep.json: not a readable sweep record ({err})") from None


def _plan(
    name: str, grid: dict[str, list[Any]], labels: list[int], root_seed: int,
    base_dict: dict[str, Any], config_file: str | None, flags: dict[str, Any], fixed: list[str],
    dask_timeout: float, make: Any, batch_members: str = "auto",
) -> SweepPlan:  # fmt: skip
    """Every job's resolved config: the base config (`make` merges overrides into it),
    one grid point, and the seed derived from the replicate label."""
    jobs: list[Job] = []
    points = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    for point in points:
        point_items = [_override_text(k, v) for k, v in point.items()]
        for label in labels:
            seed = derive_seed(root_seed, label)
            job_overrides = [*fixed, *point_items, f"seed={seed}"]
            cfg = make(job_overrides)
            cfg = cfg.model_copy(update={"sweep": Sweep()})
            jobs.append(
                Job(
                    len(jobs), job_id(point, label), point, label, seed, to_dict(cfg), job_overrides
                )
            )
    _check_jobs(jobs)
    ids = [j.id for j in jobs]
    if len(set(ids)) != len(ids):  # only if two values print alike: true and "true"
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"two grid points share the job id {dup!r}: make the grid values distinct")
    return SweepPlan(
        name=name, grid=grid, seeds=labels, root_seed=root_seed, base_config=base_dict,
        config_file=config_file, flags=flags, overrides=fixed, jobs=jobs,
        dask_timeout=dask_timeout, batch_members=batch_members,
    )  # fmt: skip


def plan_or_resume(
    out: Path | None,
    config: Path | None,
    flags: Mapping[str, Any],
    overrides: Sequence[str],
    seeds: str | None = None,
) -> SweepPlan:
    """The sweep stored in `out` as it was, when nothing else is given; else a new plan."""
    stored = None if out is None else out / SWEEP_JSON
    if stored is not None and stored.is_file() and not (flags or overrides or config or seeds):
        return plan_from_doc(read_json(stored, SWEEP_JSON))
    return plan_sweep(config, dict(flags), list(overrides), seeds=seeds)
