"""rnncli from Python: what the command line does, as functions a notebook can call.

    result = rnncli.train({"train": {"task": "adding", "steps": 500}}, out="outputs")
    result.status, result.summary["final"], result.run_dir, result.metrics[-1]
    run = rnncli.load_run(result.run_dir)        # config, metrics, parameters by name
    text = rnncli.sample("latest", n=200)        # from a text or reber run

These go through the same lifecycle as ``rnncli train`` (`rnncli.training.lifecycle`):
the same run folders, checks and exit conditions; errors are raised as exceptions
(`rnncli.errors.InputError` for bad input, `CheckFailed` when training diverges is
*not* raised: the result's status says so). Ctrl-C during `train` stops it cleanly with
a checkpoint (status ``interrupted``), as on the command line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.config import Config, load_config, to_dict
from rnncli.errors import InputError
from rnncli.runs.names import METRICS_JSONL, TASK_JSON


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
                          (lambda text: None) if quiet else print)  # fmt: skip
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
