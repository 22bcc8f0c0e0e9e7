"""Copy run folders into an MLflow tracking store (``rnncli runs --export-mlflow URI``;
the ``[mlflow]`` extra: mlflow-skinny, with SQLAlchemy and Alembic for a database store
such as ``sqlite:///mlflow.db``).

Each run becomes one MLflow run in the experiment ``rnncli-<task>`` (``rnncli-<command>``
for a run without a task): its flattened config as params, every metrics record as metric
history (step: the record's step), its task, cell, command, status and sweep as tags, and
config.yaml, run.json, metrics.jsonl, loss.png and samples.txt as artifacts. The run
folders stay the source of truth: an exported run carries the tag ``rnncli.run_dir`` (its
folder's absolute path), and a folder already in the store is skipped, so exporting again
adds only the runs that are new. The tag is set last, so a run whose export was cut short
is exported again whole, not skipped half done.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rnncli.errors import InputError
from rnncli.runs import store
from rnncli.runs.compare import load_config_dict
from rnncli.runs.files import read_jsonl
from rnncli.runs.names import CONFIG_YAML, LOSS_PNG, METRICS_JSONL, RUN_JSON, SAMPLES_TXT

HINT = "pip install 'rnncli[mlflow]'"
RUN_DIR_TAG = "rnncli.run_dir"
ARTIFACTS = (CONFIG_YAML, RUN_JSON, METRICS_JSONL, LOSS_PNG, SAMPLES_TXT)
#: rnncli's run statuses as MLflow's.
STATUS = {"completed": "FINISHED", "failed": "FAILED", "diverged": "FAILED",
          "interrupted": "KILLED", "running": "KILLED"}  # fmt: skip
_DATABASES = ("sqlite", "postgresql", "mysql", "mssql")
_PARAMS_PER_BATCH, _METRICS_PER_BATCH, _PARAM_CHARS = 100, 1000, 6000


@dataclass
class Exported:
    """What an export did: the runs copied (folder, experiment, MLflow run id) and the
    runs left out (folder, why)."""

    uri: str
    exported: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"uri": self.uri, "exported": self.exported, "skipped": self.skipped}


def _client(uri: str) -> Any:
    """An MlflowClient on `uri`; one line naming what is missing otherwise."""
    if importlib.util.find_spec("mlflow") is None:
        raise InputError(f"--export-mlflow needs mlflow: {HINT}")
    scheme = uri.split(":", 1)[0].split("+", 1)[0] if ":" in uri else ""
    if scheme in _DATABASES and not all(
        importlib.util.find_spec(m) for m in ("sqlalchemy", "alembic")
    ):
        raise InputError(f"--export-mlflow {uri}: a database store needs sqlalchemy and "
                         f"alembic: {HINT}")  # fmt: skip
    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):  # no INFO lines about creating the tables
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=uri)


def _artifact_root(uri: str) -> Path | None:
    """Where a SQLite store's artifacts go: ``mlartifacts/`` beside the database file
    (MLflow's default, ``./mlruns`` in the working directory, would scatter them)."""
    if not uri.startswith("sqlite:///"):
        return None
    db = uri[len("sqlite:///"):]
    return Path(db).absolute().parent / "mlartifacts" if db and db != ":memory:" else None


def _experiment(client: Any, name: str, uri: str, cache: dict[str, str]) -> str:
    if name not in cache:
        found = client.get_experiment_by_name(name)
        if found is not None:
            cache[name] = found.experiment_id
        else:
            root = _artifact_root(uri)
            where = (root / name).as_uri() if root is not None else None
            cache[name] = client.create_experiment(name, artifact_location=where)
    return cache[name]


def _known(client: Any, experiment_id: str) -> set[str]:
    """The run folders already exported into an experiment."""
    seen: set[str] = set()
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        seen.update(r.data.tags[RUN_DIR_TAG] for r in page if RUN_DIR_TAG in r.data.tags)
        token = page.token
        if not token:
            return seen


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _ms(text: Any) -> int | None:
    try:
        return int(datetime.fromisoformat(str(text)).timestamp() * 1000)
    except ValueError:
        return None


def _chunks(items: list[Any], n: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _tags(entry: store.Entry) -> dict[str, str]:
    info = entry.info
    summary: dict[str, Any] = info.get("summary") or {}
    sweep: dict[str, Any] = info.get("sweep") or {}
    summary, sweep = (d if isinstance(d, dict) else {} for d in (summary, sweep))
    tags = {
        "command": info.get("command"), "task": info.get("task") or summary.get("task"),
        "cell": info.get("cell"), "status": info.get("status"), "name": info.get("name"),
        "sweep": str(entry.sweep) if entry.sweep else sweep.get("sweep_dir"),
        "sweep_job": sweep.get("job_id"), "rnncli.seed": info.get("seed"),
    }  # fmt: skip
    return {k: str(v) for k, v in tags.items() if v not in (None, "")}


def _metrics(folder: Path, start_ms: int) -> list[Any]:
    from mlflow.entities import Metric

    path = folder / METRICS_JSONL
    records = read_jsonl(path) if path.is_file() else []
    out = []
    for r in records:
        step, wall = int(r.get("step", 0)), r.get("wall_s")
        at = start_ms + int(1000 * wall) if isinstance(wall, (int, float)) else start_ms
        for key, value in r.items():
            if key != "step" and isinstance(value, (int, float)):
                out.append(Metric(key, float(value), at, step))
    return out


def _copy(client: Any, entry: store.Entry, experiment_id: str, run_dir: str) -> str:
    """One run folder into the store; its MLflow run id."""
    from mlflow.entities import Param, RunTag

    info = entry.info
    start = _ms(info.get("start_time")) or int(entry.path.stat().st_mtime * 1000)
    tags = _tags(entry)
    run = client.create_run(experiment_id, start_time=start, tags=tags, run_name=entry.path.name)
    rid = run.info.run_id
    try:
        config = _flatten(load_config_dict(entry.path))
    except InputError:
        config = {}
    params = [Param(k, str(v)[:_PARAM_CHARS]) for k, v in config.items()]
    for batch in _chunks(params, _PARAMS_PER_BATCH):
        client.log_batch(rid, params=batch)
    for batch in _chunks(_metrics(entry.path, start), _METRICS_PER_BATCH):
        client.log_batch(rid, metrics=batch)
    for name in ARTIFACTS:
        if (entry.path / name).is_file():
            client.log_artifact(rid, str(entry.path / name))
    client.log_batch(rid, tags=[RunTag(RUN_DIR_TAG, run_dir)])  # last: the run is whole
    status = STATUS.get(str(info.get("status")), "KILLED")
    client.set_terminated(rid, status, end_time=_ms(info.get("end_time")))
    return str(rid)


def export(
    entries: Sequence[store.Entry],
    uri: str,
    progress: Callable[[str], None] | None = None,
) -> Exported:
    """Copy `entries` (as `rnncli.runs.query.select` finds them) into the MLflow tracking
    store at `uri`, skipping the folders already there and the runs still running."""
    client = _client(uri)
    result = Exported(uri)
    experiments: dict[str, str] = {}  # name: id
    known: dict[str, set[str]] = {}  # experiment id: the run folders in it
    try:
        for entry in entries:
            run_dir = str(entry.path.resolve())
            if store.is_locked(entry.path):
                result.skipped.append({"path": run_dir, "reason": "still running"})
                continue
            what = _tags(entry)
            name = f"rnncli-{what.get('task') or what.get('command') or 'run'}"
            eid = _experiment(client, name, uri, experiments)
            if eid not in known:
                known[eid] = _known(client, eid)
            if run_dir in known[eid]:
                result.skipped.append({"path": run_dir, "reason": "already in the store"})
                continue
            rid = _copy(client, entry, eid, run_dir)
            known[eid].add(run_dir)
            result.exported.append({"path": run_dir, "experiment": name, "run_id": rid})
            if progress is not None:
                progress(f"exported {run_dir} -> {name} {rid}")
    except InputError:
        raise
    except Exception as err:  # the store refused or could not be reached: one line
        first = (str(err).strip().splitlines() or [""])[0]
        raise InputError(f"--export-mlflow {uri}: {type(err).__name__}: {first}") from None
    return result
