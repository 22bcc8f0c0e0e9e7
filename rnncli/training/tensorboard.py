"""TensorBoard event files beside ``metrics.jsonl`` (``train.tensorboard: true``, the
``[tensorboard]`` extra, which writes with tensorboardX).

A run's folder gets ``events.out.tfevents.*``: every metrics record as scalars (tag: the
metric's name, step: the record's step), the config (flattened) as text, and the run's
hyperparameters for TensorBoard's HParams tab: its cell, task and seed, the config keys
not at their defaults and, for a sweep job, its grid point. ``tensorboard --logdir
outputs`` then shows every run and sweep job side by side.

The writer is a sink on the run (`rnncli.runs.Run.sinks`): it gets each line as
``metrics.jsonl`` does, and an error in it is a notice, never a failed run.
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rnncli.errors import InputError
from rnncli.runs import read_json
from rnncli.runs.compare import config_diff
from rnncli.runs.names import METRICS_JSONL, SWEEP_JSON

HINT = "pip install 'rnncli[tensorboard]'"


def available() -> bool:
    """Whether tensorboardX is installed."""
    return importlib.util.find_spec("tensorboardX") is not None


def require() -> None:
    """Refuse ``train.tensorboard=true`` without the extra, in one line."""
    if not available():
        raise InputError(f"train.tensorboard=true needs tensorboardX: {HINT}")


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` as ``{"train.lr": 0.1}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _hparam(value: Any) -> Any:
    """A value TensorBoard's HParams tab takes: a bool, a number or a string."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return "null" if value is None else str(value)


def _sweep_point(sweep: Mapping[str, Any]) -> dict[str, Any]:
    """The grid point of a sweep job, from its sweep folder's sweep.json ({} if unknown)."""
    try:
        doc = read_json(Path(str(sweep["sweep_dir"])) / SWEEP_JSON)
    except (KeyError, InputError, OSError):
        return {}
    for job in doc.get("jobs", []) if isinstance(doc, dict) else []:
        if isinstance(job, dict) and job.get("id") == sweep.get("job_id"):
            return dict(job.get("point") or {})
    return {}


def hparams(config: Mapping[str, Any], defaults: Mapping[str, Any] | None = None,
            sweep: Mapping[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """A run's hyperparameters: cell, task and seed; the keys of `config` that differ
    from `defaults`; and for a sweep job (`sweep`: run.json's ``sweep`` entry) its grid
    point and replicate."""
    train = config.get("train") or {}
    out: dict[str, Any] = {"cell": config.get("cell"), "train.task": train.get("task"),
                           "seed": config.get("seed")}  # fmt: skip
    if defaults is not None:
        out.update({k: v[1] for k, v in config_diff([dict(defaults), dict(config)])})
    if sweep:
        out.update(_sweep_point(sweep))
        out["seed_label"] = sweep.get("seed_label")
    return {k: _hparam(v) for k, v in flatten(out).items() if k != "train.tensorboard"}


def config_text(config: Mapping[str, Any]) -> str:
    """The flattened config as a Markdown table (TensorBoard's Text tab renders it)."""
    rows = [f"| `{k}` | `{v}` |" for k, v in flatten(config).items()]
    return "\n".join(["| key | value |", "|---|---|", *rows])


class EventSink:
    """Writes a run's metrics records, config and hyperparameters as TensorBoard events
    into `folder`. `purge_step`: on a resume, the step after the checkpoint's (TensorBoard
    drops what an earlier session logged from there on, as metrics.jsonl does)."""

    label = "tensorboard"

    def __init__(self, folder: Path, config: Mapping[str, Any], hparams: Mapping[str, Any],
                 step: int = 0, purge_step: int | None = None) -> None:  # fmt: skip
        from tensorboardX import SummaryWriter
        from tensorboardX.summary import hparams as hparams_summary

        # the file is named by the second; two sessions in one second need their own
        self.writer = SummaryWriter(logdir=str(folder), purge_step=purge_step, flush_secs=10,
                                    filename_suffix=f".{time.time_ns()}")  # fmt: skip
        self.writer.add_text("config", config_text(config), step)
        self._end = None
        if hparams:
            _, start, self._end = hparams_summary(dict(hparams), {})
            self.writer._get_file_writer().add_summary(start)

    def write(self, name: str, obj: Any) -> None:
        if name != METRICS_JSONL or not isinstance(obj, Mapping):
            return
        step = int(obj["step"])
        for key, value in obj.items():
            if key == "step" or not isinstance(value, (int, float)):
                continue
            if math.isfinite(float(value)):
                self.writer.add_scalar(key, float(value), step)

    def close(self) -> None:
        if self._end is not None:
            self.writer._get_file_writer().add_summary(self._end)
            self._end = None
        self.writer.close()
