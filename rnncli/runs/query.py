"""Finding runs and reading one: what ``rnncli runs``, ``show`` and ``compare`` compute
(their printing aside), and what ``rnncli.runs`` callers get from Python."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rnncli.config import load_config, to_dict
from rnncli.errors import InputError
from rnncli.hashing import file_sha256
from rnncli.runs import compare as cmp
from rnncli.runs import store
from rnncli.runs.folder import Run
from rnncli.runs.names import COMPARE_JSON, COMPARE_PNG, METRICS_JSONL, RUN_JSON


def source(path: Path, out: Path, flag: str) -> Path:
    """A file as it is; else a run folder by path, `latest` or a unique start of its name
    under `out` (as RUN_DIR arguments take them)."""
    if path.is_file():
        return path
    try:
        return store.resolve(path, out, "train")
    except InputError as err:
        raise InputError(f"{flag} {err}") from None


def params_record(path: Path) -> dict[str, Any]:
    """What run.json records of --params: the path and, for a file, its sha256."""
    record = {"path": str(path.resolve())}
    if path.is_file():
        record["sha256"] = file_sha256(path)
    return {"params": record}


def _since(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--since {text!r}: expected a date such as 2026-11-01") from None


def _started_before(entry: store.Entry, cutoff: datetime) -> bool:
    return bool(entry.start and entry.start.replace(tzinfo=None) < cutoff)


def select(
    root: Path,
    command: str | None = None,
    task: str | None = None,
    cell: str | None = None,
    status: Sequence[str] | None = None,
    since: str | None = None,
    older_than: str | None = None,
    entries: list[store.Entry] | None = None,
) -> list[tuple[store.Entry, dict[str, Any]]]:
    """The runs under `root` (sweeps' runs too), newest first, that match every filter
    given: each as its store entry and its row (`compare.row`). `entries`: `store.scan`
    of `root`, when the caller has it already."""
    entries = store.scan(root) if entries is None else entries
    if since is not None:
        start = _since(since)
        entries = [e for e in entries if e.start and e.start.replace(tzinfo=None) >= start]
    wanted = set(status) if status else None
    rows = []
    for e in entries:
        r = cmp.row(e, root)
        if command and r["command"] != command or task and r["task"] != task:
            continue
        if cell and r["cell"] != cell and str(e.info.get("cell")) != cell:
            continue
        if wanted and r["status"] not in wanted:
            continue
        rows.append((e, r))
    if older_than is not None:
        cutoff = datetime.now() - store.parse_age(older_than)
        rows = [(e, r) for e, r in rows if _started_before(e, cutoff)]
    return rows


@dataclass
class RunView:
    """One run as ``rnncli show`` prints it: run.json, the config keys not at their
    defaults, the files and the metrics recorded."""

    path: Path
    info: dict[str, Any]
    config_changes: dict[str, Any]
    files: dict[str, int]
    metrics: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"run_dir": str(self.path), "run": self.info,
                "config_changes": self.config_changes, "files": self.files,
                "metrics": self.metrics}  # fmt: skip


def describe(folder: Path) -> RunView:
    """The run in `folder` as `RunView` (a sweep folder: an error that says so)."""
    if (folder / store.SWEEP_JSON).is_file() and not (folder / RUN_JSON).is_file():
        raise InputError(f"{folder} is a sweep folder, not a run: rnncli compare {folder.name} "
                         f"compares its grid points, rnncli runs --out {folder} lists its runs")
    info = Run.load_json(folder)
    config = cmp.load_config_dict(folder)
    training = info.get("command") in ("train",)
    task = config.get("train", {}).get("task")
    defaults = to_dict(load_config(None, {"train.task": task}, training=training))
    changed = {k: v[1] for k, v in cmp.config_diff([defaults, config])}
    files = sorted((p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file()
                   and not p.name.startswith("."))  # fmt: skip
    records = cmp.curves(folder) if (folder / METRICS_JSONL).exists() else []
    return RunView(folder, info, changed, dict(files), records)


@dataclass
class Comparison:
    """Runs side by side (``rnncli compare``): their labels and folders, the config keys
    that differ, each run's final metrics, and the figure drawn."""

    labels: list[str]
    dirs: list[Path]
    differences: list[tuple[str, list[Any]]]
    finals: list[dict[str, Any]]
    metric: str
    x: str
    figure: str | None = None
    figure_wanted: bool = False  # a figure was asked for (matplotlib may be missing)
    groups: list[dict[str, Any]] = field(default_factory=list)  # a sweep's grid points

    def to_json(self) -> dict[str, Any]:
        runs = [{"label": lab, "path": str(d)} for lab, d in zip(self.labels, self.dirs,
                                                                strict=True)]  # fmt: skip
        doc = {"runs": runs, "differences": dict(self.differences), "final": self.finals,
               "metric": self.metric, "x": self.x, "figure": self.figure}  # fmt: skip
        return doc | ({"groups": self.groups} if self.groups else {})

    def __repr__(self) -> str:
        from rnncli.displays import number

        finals = ", ".join(f"{lab} {number(f.get(self.metric))}"
                           for lab, f in zip(self.labels, self.finals, strict=True))  # fmt: skip
        keys = ", ".join(k for k, _ in self.differences) or "same config"
        return f"Comparison({self.metric}: {finals}; differ: {keys})"

    def _repr_html_(self) -> str:
        from rnncli import displays

        metrics = sorted({k for f in self.finals for k in f})
        rows = [[lab, str(d), *(f.get(k) for k in metrics)]
                for lab, d, f in zip(self.labels, self.dirs, self.finals, strict=True)]  # fmt: skip
        out = displays.table(["run", "path", *metrics], rows, f"compare: {self.metric}")
        if self.differences:
            diff = [[k, *(displays.number(v) for v in vals)] for k, vals in self.differences]
            out += displays.table(["key", *self.labels], diff, "config differences")
        return out


def task_metric(dirs: Sequence[Path]) -> str:
    """The metric the runs' task is judged by (their summaries say), else loss."""
    for d in dirs:
        summary = Run.load_json(d).get("summary")
        if isinstance(summary, dict) and summary.get("metric"):
            return str(summary["metric"])
    return "loss"


def _finals(dirs: Sequence[Path]) -> list[dict[str, Any]]:
    out = []
    for d in dirs:
        summary = Run.load_json(d).get("summary")
        out.append((summary or {}).get("final", {}) if isinstance(summary, dict) else {})
    return out


def compare(
    folders: Sequence[Path],
    metric: str | None = None,
    x: str = "sequences",
    out: Path | None = Path("outputs"),
    argv: Sequence[str] = (),
) -> Comparison:
    """Two or more runs, or one sweep folder (then one curve per grid point: the mean and
    spread over its seeds, drawn into the sweep folder). The figure of runs goes into a
    new compare run folder under `out` (None: no figure, nothing written)."""
    from rnncli import plot

    if x not in cmp.X_AXES:
        raise InputError(f"--x {x!r}: expected one of {', '.join(cmp.X_AXES)}")
    sweep = len(folders) == 1 and (folders[0] / store.SWEEP_JSON).is_file()
    if sweep:
        doc, groups = cmp.sweep_groups(folders[0])
        labels, dirs = list(groups), [paths[0] for paths in groups.values()]
        metric = metric or task_metric(dirs)
        series = cmp.sweep_series(groups, metric, x)
        title = f"sweep {doc.get('name', folders[0].name)}"
    else:
        if len(folders) < 2:
            raise InputError("compare needs two or more run folders, or one sweep folder")
        dirs = list(folders)
        labels = [chr(ord("A") + i) if i < 26 else f"R{i}" for i in range(len(dirs))]
        metric = metric or task_metric(dirs)
        series = cmp.run_series(dirs, labels, metric, x)
        title = "rnncli compare"
    diff = cmp.config_diff([cmp.load_config_dict(d) for d in dirs])
    result = Comparison(labels, dirs, diff, _finals(dirs), metric, x, None, out is not None)
    if sweep:  # a grid point's finals are its seeds' means, not its first seed's
        result.groups = cmp.group_finals(groups)
        result.finals = [{k: v["mean"] for k, v in g["final"].items()} for g in result.groups]
    if out is None:
        return result
    if sweep:
        _draw(result, series, folders[0] / COMPARE_PNG, title, plot.have_matplotlib())
        return result
    with Run.start(out, "compare", "runs", {"runs": [str(d) for d in dirs]}, [], list(argv), 0,
                   what=[str(len(dirs)), "runs"]) as run:  # fmt: skip
        _draw(result, series, run.path / COMPARE_PNG, title, plot.have_matplotlib())
        run.write_json(COMPARE_JSON, result.to_json())
        run.finish("completed")
    return result


def _draw(result: Comparison, series: list[Any], target: Path, title: str, can: bool) -> None:
    if can and series:
        cmp.plot(series, result.metric, result.x, target, title)
        result.figure = str(target)
