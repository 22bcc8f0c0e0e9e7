"""rnncli from Python: what the command line does, as functions a notebook can call.

    result = rnncli.train({"train": {"task": "adding", "steps": 500}}, out="outputs")
    result.status, result.summary["final"], result.run_dir, result.metrics[-1]
    run = rnncli.load_run(result.run_dir)        # config, metrics, parameters by name
    text = rnncli.sample("latest", n=200)        # from a text or reber run
    report = rnncli.gradcheck(cells="lstm", levels="cell")    # report.result.ok
    table = rnncli.runs(task="adding")           # rows as ``rnncli runs --json`` has them
    both = rnncli.compare(table[0]["path"], table[1]["path"])

Each returns what the command prints (its ``--json`` document is the object's
``to_json()``, where it has one), shows as one line (``repr``) and as a small table in
Jupyter (``_repr_html_``). Notices (matplotlib missing, ...) go to the ``rnncli`` logger
(`logging.getLogger("rnncli")`): warnings, or info with ``quiet=True``.

These go through the same lifecycle as ``rnncli train`` (`rnncli.training.lifecycle`):
the same run folders, checks and exit conditions; errors are raised as exceptions
(`rnncli.errors.InputError` for bad input, `CheckFailed` when training diverges is
*not* raised: the result's status says so). Ctrl-C during `train` stops it cleanly with
a checkpoint (status ``interrupted``), as on the command line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rnncli import displays
from rnncli.config import Config, load_config, to_dict
from rnncli.errors import InputError
from rnncli.runs.names import METRICS_JSONL, TASK_JSON

if TYPE_CHECKING:
    from rnncli.jobs import GradcheckJob
    from rnncli.runs.query import Comparison

log = logging.getLogger("rnncli")


@dataclass
class TrainResult:
    """What `train` did: status (completed, interrupted, diverged, failed), the summary
    ``rnncli train --json`` prints, the run folder (None without one), and the metrics
    recorded at each evaluation."""

    status: str
    summary: dict[str, Any]
    run_dir: Path | None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    def _facts(self) -> dict[str, Any]:
        s = self.summary
        return {"path": str(self.run_dir) if self.run_dir else "(no run folder)",
                "command": "train", "task": s.get("task"), "cell": s.get("cell"),
                "status": self.status, "metric": displays.final_metric(s)}  # fmt: skip

    def __repr__(self) -> str:
        return f"TrainResult({displays.run_line(self._facts())})"

    def _repr_html_(self) -> str:
        facts = {**self._facts(), "steps": self.summary.get("steps"), "message": self.message}
        return displays.facts_table(facts, "TrainResult")


@dataclass
class RunData:
    """A run folder's contents: its config (plain data), run.json, metrics, task.json
    and, for a training run, its parameters under notebook names."""

    path: Path
    config: dict[str, Any]
    info: dict[str, Any]
    metrics: list[dict[str, Any]]
    task: dict[str, Any] | None
    params: dict[str, np.ndarray] | None

    def _facts(self) -> dict[str, Any]:
        return displays.run_facts(self.path, self.info, self.config)

    def __repr__(self) -> str:
        return f"RunData({displays.run_line(self._facts())})"

    def _repr_html_(self) -> str:
        sizes = {k: "x".join(map(str, v.shape)) for k, v in (self.params or {}).items()}
        facts = {**self._facts(), "metrics recorded": len(self.metrics),
                 "parameters": ", ".join(f"{k} {v}" for k, v in sizes.items())}  # fmt: skip
        return displays.facts_table(facts, "RunData")


class RunTable(list):
    """`runs`: the rows of ``rnncli runs --json`` (dicts: time, status, task, cell, metric,
    value, path, ...), newest first; `entries` are their store entries, `root` where."""

    def __init__(self, rows: Sequence[dict[str, Any]], entries: Sequence[Any], root: Path):
        super().__init__(rows)
        self.entries, self.root = list(entries), root

    def to_json(self) -> dict[str, Any]:
        return {"root": str(self.root), "runs": list(self)}

    def __repr__(self) -> str:
        lines = [f"RunTable({len(self)} runs under {self.root})"]
        lines += [f"  {r['path']} · {r['command']} {r['task']} {r['cell']} · {r['status']}"
                  for r in self[:displays.MAX_ROWS]]  # fmt: skip
        return "\n".join(lines + ([f"  ... {len(self) - displays.MAX_ROWS} more"]
                                   if len(self) > displays.MAX_ROWS else []))  # fmt: skip

    def _repr_html_(self) -> str:
        keys = ["time", "status", "task", "cell", "metric", "value", "steps", "path"]
        return displays.table(keys, [[r.get(k) for k in keys] for r in self],
                              f"{len(self)} runs under {self.root}")  # fmt: skip


def _config(
    config: str | Path | Mapping[str, Any] | Config | None, overrides: Sequence[str]
) -> Config:
    if isinstance(config, Config):
        config = to_dict(config)
    if isinstance(config, Mapping):
        return load_config(None, {}, list(overrides), training=True, data=config)
    return load_config(config, {}, list(overrides), training=True)


def train(
    config: str | Path | Mapping[str, Any] | Config | None = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = "outputs",
    name: str | None = None,
    init_from: str | Path | None = None,
    resume: str | Path | None = None,
    quiet: bool = True,
) -> TrainResult:
    """Train as ``rnncli train`` does. `config`: a YAML file, a dict shaped like one, or a
    `Config`; `overrides`: ``["train.steps=2000", ...]``; `out`: the root for run folders
    (None: write nothing); `resume`: a run folder to continue (then `overrides` may only
    extend it, as on the command line); `quiet=False` shows progress lines."""
    from rnncli.runs import store
    from rnncli.training import execute, start_or_resume
    from rnncli.training.progress import PlainReporter
    from rnncli.training.signals import catch_stops

    if resume is not None and (config is not None or init_from is not None or name is not None):
        raise InputError("resume continues a run with its saved config: give only overrides")
    plan = start_or_resume(
        _config(config, overrides) if resume is None else None,
        resume=None if resume is None else store.resolve(resume, out or "outputs", "train"),
        out=None if out is None else Path(out), overrides=list(overrides), name=name,
        init_from=None if init_from is None else Path(init_from),
    )  # fmt: skip
    if plan.nothing_to_do:
        return TrainResult("nothing-to-do", {}, plan.run_dir, [], plan.nothing_to_do)
    with catch_stops() as stop:
        outcome = execute(plan, None if quiet else PlainReporter(), stop.requested,
                          log.info if quiet else log.warning)  # fmt: skip
    history = outcome.result.history if outcome.result else []
    return TrainResult(outcome.status, outcome.summary, outcome.run_dir, list(history),
                       outcome.message)  # fmt: skip


def load_run(run_dir: str | Path, which: str = "last", out: str | Path = "outputs") -> RunData:
    """A run folder (a path, ``latest`` or a unique start of its name) as data; for a
    training run, `which` parameters: ``"last"`` (the checkpoint) or ``"best"``."""
    from rnncli.runs import Run, read_jsonl, store
    from rnncli.runs.compare import load_config_dict
    from rnncli.weights import named_from_run, run_model

    path = store.resolve(run_dir, out)
    info = Run.load_json(path)
    metrics = read_jsonl(path / METRICS_JSONL)
    task = params = None
    if (path / TASK_JSON).is_file():
        _, task = run_model(path)
        params = named_from_run(path, which)
    return RunData(path, load_config_dict(path), info, metrics, task, params)


def sample(
    run_dir: str | Path,
    n: int | None = None,
    temperature: float = 1.0,
    prime: str | None = None,
    seed: int = 0,
    best: bool = False,
    out: str | Path = "outputs",
) -> dict[str, Any]:
    """Samples from a reber or text run, as ``rnncli sample --json`` prints them."""
    from rnncli.runs import store
    from rnncli.training.sampling import sample_run

    return sample_run(store.resolve(run_dir, out, "train"), n, temperature, prime, seed, best)


def gradcheck(
    config: str | Path | Mapping[str, Any] | Config | None = None,
    overrides: Sequence[str] = (),
    cells: str | None = None,
    levels: str | None = None,
    params: str | Path | None = None,
    out: str | Path | None = None,
) -> GradcheckJob:
    """Check gradients as ``rnncli gradcheck`` does (`rnncli.jobs.gradcheck_job`): `cells`
    and `levels` are comma lists (default all), `params` a run or weights file to check
    at. Returns the job: ``.result`` is the report the command prints (``.result.ok``,
    ``.result.failures()``), ``.to_json()`` its ``--json``; a failed check is not raised.
    `out`: a root to keep a run folder under (None: keep nothing)."""
    from rnncli import jobs

    if isinstance(config, Config):
        config = to_dict(config)
    if isinstance(config, Mapping):
        cfg = load_config(None, {}, list(overrides), data=config)
    else:
        cfg = load_config(config, {}, list(overrides))
    saving = jobs.Saving(None if out is None else Path(out), [], {}, list(overrides))
    job = jobs.gradcheck_job(cfg, cells, levels, None if params is None else Path(params),
                             saving)  # fmt: skip
    job.kept.raise_error()
    return job


def runs(
    out: str | Path = "outputs",
    command: str | None = None,
    task: str | None = None,
    cell: str | None = None,
    status: str | Sequence[str] | None = None,
    since: str | None = None,
    older_than: str | None = None,
    limit: int | None = None,
) -> RunTable:
    """Past runs under `out`, newest first, as ``rnncli runs`` lists them
    (`rnncli.runs.query.select`): every filter given must match; `status` one or a list."""
    from rnncli.runs import query

    wanted = [status] if isinstance(status, str) else status
    rows = query.select(Path(out), command, task, cell, wanted, since, older_than)
    rows = rows[:limit] if limit is not None else rows
    return RunTable([r for _, r in rows], [e for e, _ in rows], Path(out))


def compare(
    *run_dirs: str | Path,
    metric: str | None = None,
    x: str = "sequences",
    out: str | Path = "outputs",
    save: bool = False,
) -> Comparison:
    """Runs side by side as ``rnncli compare`` shows them (`rnncli.runs.query.compare`):
    two or more runs (paths, ``latest`` or unique starts of names under `out`), or one
    sweep folder. `save`: draw compare.png into a new compare run folder under `out`, as
    the command does (a sweep's figure goes into the sweep folder)."""
    from rnncli.runs import query, store

    folders = [store.resolve(d, out) for d in run_dirs]
    return query.compare(folders, metric, x, Path(out) if save else None)
