"""How the Python API's objects show in a notebook: one-line reprs and small HTML tables.

A run's repr is one line (its path, command, task, cell, status and final metric), never
its arrays; ``_repr_html_`` gives Jupyter a table of the same facts. The objects keep
their data as attributes: these functions only show them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

#: Rows a notebook shows of a long table (the object holds them all).
MAX_ROWS = 20


def number(value: Any) -> str:
    """A metric for a line: 4 significant digits, ints and words as they are."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def final_metric(summary: Mapping[str, Any] | None) -> str:
    """``test_mse=0.6764`` from a train summary (its headline metric's final value)."""
    if not isinstance(summary, Mapping):
        return ""
    metric, final = summary.get("metric"), summary.get("final") or {}
    if not metric or not isinstance(final, Mapping) or metric not in final:
        return ""
    return f"{metric}={number(final[metric])}"


def run_line(facts: Mapping[str, Any]) -> str:
    """``path · command task cell · status · metric``, the parts that are known."""
    what = " ".join(str(facts[k]) for k in ("command", "task", "cell") if facts.get(k))
    parts = [str(facts.get("path") or "-"), what, str(facts.get("status") or "")]
    if facts.get("metric"):
        parts.append(str(facts["metric"]))
    return " · ".join(p for p in parts if p)


def run_facts(path: Any, info: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """A run folder's facts for `run_line` from its run.json and config."""
    train = config.get("train") if isinstance(config, Mapping) else None
    task = info.get("task") or (train.get("task") if isinstance(train, Mapping) else None)
    return {"path": str(path), "command": info.get("command"), "task": task,
            "cell": info.get("cell"), "status": info.get("status"),
            "metric": final_metric(info.get("summary"))}  # fmt: skip


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "") -> str:
    """An HTML table (every cell escaped), at most `MAX_ROWS` rows and a line for more."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(number(c))}</td>" for c in row) + "</tr>"
        for row in rows[:MAX_ROWS]
    )
    more = len(rows) - MAX_ROWS
    if more > 0:
        body += f'<tr><td colspan="{len(header)}">… {more} more</td></tr>'
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def facts_table(facts: Mapping[str, Any], caption: str = "") -> str:
    """Key/value rows as an HTML table."""
    return table(["", ""], [[k, v] for k, v in facts.items() if v not in (None, "")], caption)
