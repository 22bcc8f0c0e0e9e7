"""A class's results, summed up: the class document (``--json``, class.json), the
gradebook (CSV and JSON), the class report (text), a Gradescope results.json per
submission, and the HTML page (`rnncli.check.classhtml`).

Everything here is built from the result records `rnncli.check.classroom` keeps, so a
resumed class gets the same files as one checked in one go.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rnncli.check.report import gradescope_error
from rnncli.check.spec import FUNCTIONS
from rnncli.runs import write_json_atomic, write_text_atomic
from rnncli.runs.names import REPORT_HTML

if TYPE_CHECKING:
    from rnncli.check.classroom import ClassRun

LIMITS = ("timeout", "crashed", "memory")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def limit_of(verdict: str, message: str) -> str | None:
    """Which limit a function's (or a load's) outcome hit: timeout, crashed, memory."""
    if verdict in ("timeout", "crashed"):
        return verdict
    if "MemoryError" in message or "MiB cap" in message:
        return "memory"
    return None


def _load_limit(error: str) -> str | None:
    """A submission whose definitions did not load in time, or crashed loading."""
    if "loading its definitions did not finish" in error:
        return "timeout"
    if "loading its definitions crashed" in error:
        return "crashed"
    return limit_of("", error)


def _entry(sub: Any, record: dict[str, Any], resumed: bool) -> dict[str, Any]:
    """One submission in the class document."""
    entry: dict[str, Any] = {"id": sub.id, "sha256": sub.sha256, "kind": sub.kind,
                             "resumed": resumed}  # fmt: skip
    if "check" not in record:
        entry.update(ok=False, error=record.get("error", "not checked"), score=0.0,
                     max_score=0.0, summary="", functions=[])  # fmt: skip
        return entry
    check, grades = record["check"], record.get("gradescope", {})
    functions = [
        {"name": f["name"], "verdict": f["verdict"], "score": f["score"],
         "required": f.get("required", False), "message": f.get("message", ""),
         "diagnoses": [d["id"] for d in f.get("diagnosis", [])]}  # fmt: skip
        for f in check["functions"]
    ]
    entry.update(ok=check["ok"], error=None, score=grades.get("score", 0.0),
                 max_score=float(len(grades.get("tests", []))),
                 summary=check["summary"]["text"], functions=functions)  # fmt: skip
    return entry


def _function_rates(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per notebook function: how many submissions have it, pass it, lack it."""
    rows = []
    for name in FUNCTIONS:
        verdicts = [f["verdict"] for e in entries for f in e["functions"] if f["name"] == name]
        present = [v for v in verdicts if v != "missing"]
        if not present:
            continue
        passed = sum(v == "pass" for v in present)
        rows.append({"name": name, "present": len(present), "passed": passed,
                     "missing": len(verdicts) - len(present),
                     "pass_rate": round(passed / len(present), 4)})  # fmt: skip
    return rows


def _diagnoses(entries: list[dict[str, Any]], records: list[dict[str, Any]]) -> list[Any]:
    """The diagnoses, most common first, each with its hint and one example's evidence
    (the first submission, in the class's order, that got it)."""
    counts: Counter[str] = Counter()
    example: dict[str, dict[str, Any]] = {}
    for entry, record in zip(entries, records, strict=True):
        for f in record.get("check", {}).get("functions", []):
            for d in f.get("diagnosis", []):
                counts[d["id"]] += 1
                example.setdefault(d["id"], {"hint": d["hint"], "example": {
                    "submission": entry["id"], "function": f["name"],
                    "evidence": d["evidence"]}})  # fmt: skip
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"id": i, "count": n, **example[i]} for i, n in ranked]


def _limits(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each submission and function that hit a limit (or whose loading did)."""
    out = []
    for e in entries:
        if e["error"] and (kind := _load_limit(e["error"])):
            out.append({"submission": e["id"], "function": None, "limit": kind,
                        "message": e["error"]})  # fmt: skip
        for f in e["functions"]:
            if kind := limit_of(f["verdict"], f["message"]):
                out.append({"submission": e["id"], "function": f["name"], "limit": kind,
                            "message": f["message"]})  # fmt: skip
    return out


def class_document(result: ClassRun) -> dict[str, Any]:
    """The class document: each submission with its verdicts and diagnosis ids, and the
    summary (pass rates, diagnoses, limits, submissions that could not be checked)."""
    records = [result.records.get(s.key, {"error": "not checked"}) for s in result.submissions]
    entries = [_entry(s, r, s.key not in result.checked)
               for s, r in zip(result.submissions, records, strict=True)]  # fmt: skip
    for entry, path in zip(entries, gradescope_paths(entries), strict=True):
        entry["gradescope"] = path
    passed = sum(e["ok"] for e in entries)
    errors = [{"submission": e["id"], "error": e["error"]} for e in entries if e["error"]]
    counts = {"submissions": len(entries), "distinct": len({s.key for s in result.submissions}),
              "checked": len(result.checked), "kept": sum(e["resumed"] for e in entries),
              "passed": passed, "failed": len(entries) - passed - len(errors),
              "errors": len(errors)}  # fmt: skip
    text = (f"{passed} of {len(entries)} submissions pass every function; "
            f"{counts['failed']} fail; {len(errors)} could not be checked")  # fmt: skip
    summary = {"text": text, "counts": counts, "functions": _function_rates(entries),
               "diagnoses": _diagnoses(entries, records), "limits": _limits(entries),
               "errors": errors}  # fmt: skip
    return {"command": "check-class", "ok": passed == len(entries),
            "class_dir": str(result.path), "where": result.where,
            "settings": dict(result.settings), "summary": summary, "submissions": entries,
            "seconds": round(result.seconds, 3)}  # fmt: skip


def gradescope_paths(entries: list[dict[str, Any]]) -> list[str]:
    """``gradescope/<submission>/results.json``, the submission's path made safe (and
    unique)."""
    taken: set[str] = set()
    out = []
    for e in entries:
        base = _UNSAFE.sub("_", e["id"]).strip("_.") or "submission"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        out.append(f"gradescope/{name}/results.json")
    return out


def gradebook_rows(doc: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The gradebook's columns and rows: one row per submission, a verdict per function."""
    names = [f["name"] for f in doc["summary"]["functions"]]
    columns = ["submission", "sha256", "ok", "score", "max_score", *names, "diagnoses",
               "limits", "error"]  # fmt: skip
    rows = []
    for e in doc["submissions"]:
        verdicts = {f["name"]: f["verdict"] for f in e["functions"]}
        diags = [f"{f['name']}:{d}" for f in e["functions"] for d in f["diagnoses"]]
        limits = [f"{f['name']}:{k}" for f in e["functions"]
                  if (k := limit_of(f["verdict"], f["message"]))]  # fmt: skip
        rows.append({"submission": e["id"], "sha256": e["sha256"], "ok": e["ok"],
                     "score": e["score"], "max_score": e["max_score"],
                     **{n: verdicts.get(n, "") for n in names}, "diagnoses": " ".join(diags),
                     "limits": " ".join(limits), "error": e["error"] or ""})  # fmt: skip
    return columns, rows


def gradebook_csv(doc: dict[str, Any]) -> str:
    columns, rows = gradebook_rows(doc)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def render_class(doc: dict[str, Any], console: Console) -> None:
    """The class report: pass rate per function, the most common diagnoses (with one
    example's evidence each), the submissions that hit a limit or could not be checked."""
    s = doc["summary"]
    table = Table(title="Pass rate per function", title_justify="left")
    for col, justify in (("function", "left"), ("pass rate", "right"),
                         ("passed", "right"), ("missing", "right")):  # fmt: skip
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for f in s["functions"]:
        table.add_row(f["name"], _pct(f["pass_rate"]), f"{f['passed']}/{f['present']}",
                      str(f["missing"]))  # fmt: skip
    console.print(table)
    if s["diagnoses"]:
        grid = Table(title="Most common diagnoses", title_justify="left")
        grid.add_column("count", justify="right", no_wrap=True)
        grid.add_column("diagnosis", ratio=1, overflow="fold")
        for d in s["diagnoses"]:
            ex = d["example"]
            text = (f"[bold]{escape(d['id'])}[/] {escape(d['hint'])}\n[dim]e.g. "
                    f"{escape(ex['submission'])}, {ex['function']}: {escape(ex['evidence'])}[/]")
            grid.add_row(str(d["count"]), text)
        console.print(grid)
    for title, rows in (("Hit a limit", s["limits"]), ("Could not be checked", s["errors"])):
        if not rows:
            continue
        console.print(f"[bold]{title}[/]")
        for r in rows:
            what = f"{r['function']}: {r['limit']} " if "limit" in r and r["function"] else ""
            what = what or (f"{r['limit']}: " if "limit" in r else "")
            line = f"  {r['submission']}  {what}({r.get('message') or r.get('error')})"
            console.print(escape(line), highlight=False, overflow="fold")
    c = s["counts"]
    console.print(escape(f"{c['submissions']} submissions ({c['distinct']} distinct files): "
                         f"{c['checked']} checked now, {c['kept']} kept from before"),
                  highlight=False)  # fmt: skip
    style = "bold green" if doc["ok"] else "bold red"
    console.print(escape(s["text"]), style=style, highlight=False)


def report_text(doc: dict[str, Any], width: int = 100) -> str:
    buf = io.StringIO()
    render_class(doc, Console(file=buf, width=width, color_system=None, force_terminal=False))
    return buf.getvalue()


def write_class(result: ClassRun) -> dict[str, Any]:
    """Write the class's files into its folder; the class document."""
    from rnncli.check.classhtml import class_html

    doc = class_document(result)
    folder = result.path
    for sub, entry in zip(result.submissions, doc["submissions"], strict=True):
        record = result.records.get(sub.key, {})
        if "gradescope" in record:
            write_json_atomic(folder / entry["gradescope"], record["gradescope"])
        else:
            write_json_atomic(folder / entry["gradescope"], gradescope_error(entry["error"]))
    columns, rows = gradebook_rows(doc)
    write_text_atomic(folder / "gradebook.csv", gradebook_csv(doc))
    write_json_atomic(folder / "gradebook.json", {"columns": columns, "rows": rows})
    write_text_atomic(folder / "report.txt", report_text(doc))
    write_text_atomic(folder / REPORT_HTML, class_html(doc))
    from rnncli.schemas import stamp

    write_json_atomic(folder / "class.json", stamp("check-class", doc))
    return doc
