"""Runs side by side: what ``rnncli runs``, ``show`` and ``compare`` print.

`row` reduces a run's run.json to one line of facts; `config_diff` keeps only the config
keys that differ between runs; `curves` reads the metrics a run recorded; `compare` and
`compare_sweep` gather them, and `plot` draws them (one colour per run, or per grid point
of a sweep with the mean and the spread over its seeds).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rnncli.errors import InputError
from rnncli.runs.files import read_json, read_jsonl
from rnncli.runs.names import CONFIG_YAML, METRICS_JSONL, RUN_JSON, SWEEP_JSON
from rnncli.runs.store import Entry

X_AXES = ("sequences", "steps", "wall_s")


def _cell_label(cell: Any) -> str:
    text = str(cell or "-")
    return text.rsplit("/", 1)[-1] if "/" in text else text


def row(entry: Entry, root: Path | None = None) -> dict[str, Any]:
    """One run's facts for `rnncli runs`, from its run.json only."""
    info = entry.info
    raw = info.get("summary")
    summary: dict[str, Any] = raw if isinstance(raw, dict) else {}
    final = summary.get("final") or {}
    metric = summary.get("metric")
    path = entry.path
    shown = (
        str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else str(path)
    )
    return {
        "time": str(info.get("start_time", ""))[:19].replace("T", " "),
        "name": info.get("name") or "",
        "command": info.get("command", ""),
        "task": info.get("task") or summary.get("task") or "",
        "cell": _cell_label(info.get("cell")),
        "status": info.get("status", "?"),
        "steps": summary.get("steps"),
        "metric": metric,
        "value": final.get(metric) if metric else None,
        "solved": summary.get("solved"),
        "duration_s": info.get("duration_s"),
        "sweep": str(entry.sweep) if entry.sweep else None,
        "path": shown,
    }


def load_config_dict(run_dir: Path) -> dict[str, Any]:
    """A run's config.yaml as plain data (not validated: old runs may lack new keys)."""
    try:
        data = yaml.safe_load((run_dir / CONFIG_YAML).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{run_dir / CONFIG_YAML}: cannot read it ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{run_dir / CONFIG_YAML}: not a mapping")
    return data


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping) and k != "grid":
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def config_diff(configs: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Any]]]:
    """The dotted keys whose values differ between the configs, with each config's value
    (None where a config lacks the key); sweep settings are left out."""
    flat = [_flatten(c) for c in configs]
    keys = sorted({k for f in flat for k in f if not k.startswith("sweep.")})
    out = []
    for k in keys:
        values = [f.get(k) for f in flat]
        if any(json.dumps(v, sort_keys=True) != json.dumps(values[0], sort_keys=True)
               for v in values[1:]):  # fmt: skip
            out.append((k, values))
    return out


def curves(run_dir: Path) -> list[dict[str, Any]]:
    return read_jsonl(run_dir / METRICS_JSONL)


@dataclass
class Series:
    """A curve to draw: a label, x values and y values (and, for a sweep's grid point,
    the spread over its seeds)."""

    label: str
    x: np.ndarray
    y: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    stops: list[tuple[float, float]] = field(default_factory=list)  # members ended early


def _xy(records: list[dict[str, Any]], metric: str, x: str) -> tuple[np.ndarray, np.ndarray]:
    key = "step" if x == "steps" else x
    pts = [(r.get(key), r.get(metric)) for r in records]
    pts = [(a, b) for a, b in pts if isinstance(a, (int, float)) and isinstance(b, (int, float))]
    if not pts:
        return np.zeros(0), np.zeros(0)
    xs, ys = zip(*pts, strict=True)
    return np.asarray(xs, float), np.asarray(ys, float)


def run_series(dirs: Sequence[Path], labels: Sequence[str], metric: str, x: str) -> list[Series]:
    return [Series(lab, *_xy(curves(d), metric, x)) for d, lab in zip(dirs, labels, strict=True)]


def sweep_series(groups: Mapping[str, Sequence[Path]], metric: str, x: str) -> list[Series]:
    """Per grid point: the mean over seeds and the band of one standard deviation, as
    the table gives them (`group_finals`). A seed that stopped early (solved, patience)
    keeps its last value to the group's end, and its last point is in `stops`."""
    out = []
    for label, dirs in groups.items():
        runs = [_xy(curves(d), metric, x) for d in dirs]
        runs = [(a, b) for a, b in runs if a.size]
        if not runs:
            continue
        end = max(a[-1] for a, _ in runs)
        grid = np.unique(np.concatenate([a for a, _ in runs]))
        Y = np.array([np.interp(grid, a, b) for a, b in runs])  # held after the last point
        mean, sd = Y.mean(axis=0), Y.std(axis=0)
        stops = [(float(a[-1]), float(b[-1])) for a, b in runs if a[-1] < end]
        out.append(Series(label, grid, mean, mean - sd, mean + sd, stops))
    return out


def group_finals(groups: Mapping[str, Sequence[Path]]) -> list[dict[str, Any]]:
    """Per grid point: its seeds, how many solved, how many stopped early, and each
    final metric's mean and standard deviation over the seeds."""
    out = []
    for label, dirs in groups.items():
        summaries = [_summary(d) for d in dirs]
        values: dict[str, list[float]] = {}
        for s in summaries:
            for k, v in (s.get("final") or {}).items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    values.setdefault(k, []).append(float(v))
        solved = [s.get("solved") for s in summaries if s.get("solved") is not None]
        early = sum(s.get("stopped_by") not in (None, "steps") for s in summaries)
        out.append({
            "group": label, "seeds": len(dirs), "solved": sum(map(bool, solved)) if solved
            else None, "stopped_early": early,
            "final": {k: {"mean": float(np.mean(v)), "sd": float(np.std(v)), "n": len(v)}
                      for k, v in values.items()},
        })  # fmt: skip
    return out


def _summary(run_dir: Path) -> dict[str, Any]:
    info = read_json(run_dir / RUN_JSON, RUN_JSON)
    s = info.get("summary") if isinstance(info, dict) else None
    return s if isinstance(s, dict) else {}


def sweep_groups(sweep_dir: Path) -> tuple[dict[str, Any], dict[str, list[Path]]]:
    """A sweep folder's sweep.json and its job folders grouped by grid point."""
    doc = read_json(sweep_dir / SWEEP_JSON, SWEEP_JSON)
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), list):
        raise InputError(f"{sweep_dir / SWEEP_JSON}: not a readable sweep file")
    groups: dict[str, list[Path]] = {}
    for job in doc["jobs"]:
        point = job.get("point") or {}
        label = ", ".join(f"{k}={_cell_label(v) if k == 'cell' else v}" for k, v in point.items())
        path = sweep_dir / str(job.get("run_dir", job.get("id")))
        if (path / METRICS_JSONL).is_file():
            groups.setdefault(label or "all", []).append(path)
    return doc, groups


def plot(series: Sequence[Series], metric: str, x: str, path: Path, title: str) -> None:
    """compare.png: the curves overlaid, the spread shaded (log y for losses)."""
    from rnncli import plot as plots
    from rnncli.runs.files import write_bytes_atomic

    fig = plots.figure(8, 4.5)
    ax = fig.add_subplot()
    marked = False
    for s in series:
        (line,) = ax.plot(s.x, s.y, label=s.label)
        if s.low is not None and s.high is not None:
            ax.fill_between(s.x, s.low, s.high, color=line.get_color(), alpha=0.2)
        if s.stops:
            xs, ys = zip(*s.stops, strict=True)
            ax.plot(xs, ys, "x", color=line.get_color(), markersize=7,
                    label=None if marked else "a seed's last point (it stopped early)")
            marked = True
    positive = all((s.y > 0).all() for s in series if s.y.size)
    if positive and ("loss" in metric or "mse" in metric):
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.set_title(title)
    if series:
        ax.legend(fontsize="small")
    fig.tight_layout()
    write_bytes_atomic(path, plots.png(fig))


# --------------------------------------------------------------------------- tables


def _num(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "-" if v is None else ("yes" if v else "no")
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def duration_text(seconds: Any) -> str:
    """Seconds as the tables show them: 3.1s, 2.5m, 1.2h (or - for none)."""
    if not isinstance(seconds, (int, float)):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def runs_table(rows: Sequence[Mapping[str, Any]], width: int,
               taken: Sequence[str] | None = None) -> Any:  # fmt: skip
    """`rnncli runs`: newest first, one line per run. First the run's name (the shortest
    one every command takes back: unique among `taken`, the root-relative paths of all
    runs, shortened in the middle where the console is narrow), then task, cell, steps,
    status and metric; wider consoles add solved, duration, start time and command."""
    from rnncli.report import Col, column_width, fit_columns, fit_table
    from rnncli.runs.store import short_names

    cols = [
        Col("name", min_width=NAME_MIN), Col("task", priority=3), Col("cell", priority=2),
        Col("steps", "right", priority=4), Col("status"), Col("metric", priority=1),
        Col("solved", priority=6), Col("time s", "right", priority=5),
        Col("started", priority=7), Col("command", priority=8),
    ]  # fmt: skip
    paths = [str(r["path"]) for r in rows]
    names = short_names(list(taken or paths))
    body = []
    for r in rows:
        metric = f"{r['metric']} {_num(r['value'])}" if r.get("metric") else "-"
        body.append([
            names.get(r["path"], r["path"]), r["task"] or "-", r["cell"], _num(r["steps"]),
            r["status"], metric, _num(r["solved"]), duration_text(r["duration_s"]),
            r["time"][5:16], r["command"],
        ])  # fmt: skip
    keep = fit_columns(cols, body, width, True)  # extras go before names are shortened
    if any(i not in keep for i, c in enumerate(cols) if c.priority <= CORE):
        cut = [[b[0][:NAME_MIN], *b[1:]] for b in body]
        keep = [i for i in fit_columns(cols, cut, width, True) if cols[i].priority <= CORE]
    room = width - column_width(cols, [["name", *b[1:]] for b in body], keep, True) + 4
    if any(len(b[0]) > room for b in body):
        short = short_names(list(taken or paths), max(room, NAME_MIN))
        for b, p in zip(body, paths, strict=True):
            b[0] = short.get(p, b[0])
    return fit_table(None, cols, body, width, compact=True, keep=keep)


#: The runs table's name column is never narrower than this (other columns go first);
#: the columns up to this priority stay while names can be shortened to make room.
NAME_MIN = 22
CORE = 4


def diff_table(labels: Sequence[str], diff: Sequence[tuple[str, list[Any]]], width: int) -> Any:
    from rnncli.report import Col, fit_table

    cols = [Col("key"), *(Col(lab, "right", wrap=True, min_width=10) for lab in labels)]
    body = [[k, *(_short(v) for v in values)] for k, values in diff]
    return fit_table("config differences", cols, body, width)


def _short(v: Any) -> str:
    if isinstance(v, str) and "/" in v:
        return v.rsplit("/", 1)[-1]
    return _num(v) if not isinstance(v, str) else v


def groups_table(metric: str, groups: Sequence[Mapping[str, Any]], width: int) -> Any:
    """A sweep's grid points: seeds, solved, and each final metric as mean ± standard
    deviation over the seeds (the line and band of compare.png at its end)."""
    from rnncli.report import Col, fit_table

    keys: list[str] = [metric]
    for g in groups:
        keys += [k for k in g["final"] if k not in keys]
    cols = [Col("group", wrap=True, min_width=12), Col("seeds", "right"),
            Col("solved", "right", priority=2), Col("early", "right", priority=3),
            *(Col(k, "right", priority=i + (1 if i else 0)) for i, k in enumerate(keys))]
    body = []
    for g in groups:
        f = g["final"]
        body.append([g["group"], str(g["seeds"]), _num(g["solved"]), str(g["stopped_early"]),
                     *(f"{f[k]['mean']:.4g} ± {f[k]['sd']:.2g}" if k in f else "-"
                       for k in keys)])  # fmt: skip
    table = fit_table("final metrics over seeds: mean ± sd", cols, body, width,
                      caption="early: seeds that stopped before train.steps (x in "
                      "compare.png)")  # fmt: skip
    table.caption_justify = "left"
    return table


def finals_table(labels: Sequence[str], finals: Sequence[Mapping[str, Any]], width: int) -> Any:
    """Final metrics side by side: one row per metric, one column per run."""
    from rnncli.report import Col, fit_table

    keys: list[str] = []
    for f in finals:
        keys += [k for k in f if k not in keys]
    cols = [Col("final"), *(Col(lab, "right") for lab in labels)]
    body = [[k, *(_num(f.get(k)) for f in finals)] for k in keys]
    return fit_table("final metrics", cols, body, width)
