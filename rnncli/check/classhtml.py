"""The class report as one self-contained HTML page: inline CSS, no scripts, no images,
nothing fetched; every learner-made string (paths, messages, evidence) escaped."""

from __future__ import annotations

from html import escape
from typing import Any

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;
color:#1d1d1f}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em}
table{border-collapse:collapse;margin:.5em 0}
th,td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#eee;width:160px;height:.8em;display:inline-block}
.bar span{background:#2e8540;height:100%;display:block}
.pass{color:#2e8540;font-weight:600}.fail,.error,.timeout,.crashed{color:#b3261e;font-weight:600}
.missing,.skip{color:#8a6d00}.dim{color:#666}code{font-size:.95em}
"""


def _cell(text: Any, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{escape(str(text))}</td>"


def _table(head: list[str], rows: list[str]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _rates(doc: dict[str, Any]) -> str:
    rows = []
    for f in doc["summary"]["functions"]:
        pct = round(100 * f["pass_rate"])
        bar = f'<td><span class="bar"><span style="width:{pct}%"></span></span></td>'
        rows.append(f"<tr>{_cell(f['name'])}{_cell(f'{pct}%', 'n')}{bar}"
                    f"{_cell(str(f['passed']) + '/' + str(f['present']), 'n')}"
                    f"{_cell(f['missing'], 'n')}</tr>")  # fmt: skip
    return "<h2>Pass rate per function</h2>" + _table(
        ["function", "pass rate", "", "passed", "missing"], rows
    )


def _diagnoses(doc: dict[str, Any]) -> str:
    rows = []
    for d in doc["summary"]["diagnoses"]:
        ex = d["example"]
        example = (f"<td><code>{escape(ex['submission'])}</code>, {escape(ex['function'])}: "
                   f"<span class=\"dim\">{escape(ex['evidence'])}</span></td>")  # fmt: skip
        rows.append(f"<tr>{_cell(d['count'], 'n')}<td><b>{escape(d['id'])}</b></td>"
                    f"{_cell(d['hint'])}{example}</tr>")  # fmt: skip
    if not rows:
        return ""
    return "<h2>Most common diagnoses</h2>" + _table(["count", "id", "hint", "example"], rows)


def _problems(doc: dict[str, Any]) -> str:
    s, html = doc["summary"], ""
    if s["limits"]:
        rows = [f"<tr>{_cell(r['submission'])}{_cell(r['function'] or '(loading)')}"
                f"{_cell(r['limit'], 'fail')}{_cell(r['message'])}</tr>" for r in s["limits"]]
        html += "<h2>Hit a limit</h2>" + _table(["submission", "function", "limit", "message"],
                                                rows)  # fmt: skip
    if s["errors"]:
        rows = [f"<tr>{_cell(r['submission'])}{_cell(r['error'])}</tr>" for r in s["errors"]]
        html += "<h2>Could not be checked</h2>" + _table(["submission", "why"], rows)
    return html


def _submissions(doc: dict[str, Any]) -> str:
    names = [f["name"] for f in doc["summary"]["functions"]]
    rows = []
    for e in doc["submissions"]:
        verdicts = {f["name"]: f for f in e["functions"]}
        cells = []
        for n in names:
            f = verdicts.get(n)
            if f is None:
                cells.append(_cell(""))
                continue
            title = escape(", ".join(f["diagnoses"]) or f["message"], quote=True)
            cells.append(f'<td class="{escape(f["verdict"])}" title="{title}">'
                         f"{escape(f['verdict'])}</td>")  # fmt: skip
        score = f"{e['score']:g}/{e['max_score']:g}" if not e["error"] else "-"
        rows.append(f"<tr>{_cell(e['id'])}{_cell(score, 'n')}{''.join(cells)}"
                    f"{_cell(e['error'] or '', 'dim')}</tr>")  # fmt: skip
    return "<h2>Submissions</h2>" + _table(["submission", "score", *names, ""], rows)


def class_html(doc: dict[str, Any]) -> str:
    """The page: the summary, pass rates, diagnoses, limits, then every submission."""
    s = doc["summary"]
    c = s["counts"]
    head = (f"<p><b>{escape(s['text'])}</b></p><p class=\"dim\">{c['submissions']} "
            f"submissions ({c['distinct']} distinct files); {c['checked']} checked in the "
            f"last session, {c['kept']} kept from before; checked on "
            f"{escape(doc['where'])}.</p>")  # fmt: skip
    body = head + _rates(doc) + _diagnoses(doc) + _problems(doc) + _submissions(doc)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        f"<title>rnncli check: a class</title><style>{_CSS}</style></head><body>"
        f"<h1>rnncli check: a class</h1>{body}</body></html>\n"
    )
