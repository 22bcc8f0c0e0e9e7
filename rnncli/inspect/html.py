"""Self-contained HTML pages: cells.html (a text coloured by units) and report.html (a
training run on one page). Plain HTML and CSS, no scripts; images are inline PNGs (base64
data URIs), so a page is one file that opens in any browser without a network. Every
piece of text from a run (config, samples, the text itself) is escaped."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rnncli import __version__
from rnncli.inspect import units as units_mod
from rnncli.inspect.analysis import Inspection
from rnncli.inspect.gradflow import decay_rows
from rnncli.inspect.show import excerpt, factor, norm

if TYPE_CHECKING:
    from rnncli.config import Config

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em;
       border-bottom: 1px solid #ddd; } h3 { font-size: 1em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #eee; text-align: right; }
th { border-bottom: 1px solid #999; } td:first-child, th:first-child { text-align: left; }
pre { background: #f6f6f6; padding: 0.7em; overflow-x: auto; font-size: 0.85em; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.text { font-family: ui-monospace, monospace; font-size: 0.9em; white-space: pre-wrap;
        line-height: 1.6; word-break: break-all; }
.note { color: #666; font-size: 0.9em; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    """A complete HTML document."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="generator" content="rnncli {esc(__version__)}">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n{body}\n</body>\n</html>\n"
    )


def img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    cap = f'<caption class="note">{esc(caption)}</caption>' if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


# ----------------------------------------------------------------------------- pieces


def decay_table(ins: Inspection) -> str:
    flow = ins.flow
    series = [(f"‖∂L_T/∂{s}_t‖", f"last_{s}") for s in flow.norms["last"]]
    if not flow.last_only:
        series += [(f"‖∂L/∂{s}_t‖", f"sum_{s}") for s in flow.norms["sum"]]
    series.append(("‖∂a_T/∂x_t‖", "connectivity"))
    header = ["t"] + [h for name, _ in series for h in (name, "per 10")]
    rows = [[r["t"]] + [c for _, k in series for c in (norm(r.get(k)), factor(r.get(k + "_per10")))]
            for r in decay_rows(flow)]  # fmt: skip
    return table(header, rows, "per 10: the factor per 10 steps back from the row above")


def gates_table(ins: Inspection) -> str:
    rows = []
    for g in ins.gates:
        s = g.summary()
        rows.append([g.gate, s["units"], f"{s['mean_left']:.3f}", f"{s['mean_right']:.3f}",
                     s["mostly_left"], s["mostly_right"], s["rarely"]])  # fmt: skip
    header = ["gate", "units", "mean shut", "mean open", "mostly shut", "mostly open", "neither"]
    return table(header, rows, "shut: < 0.1, open: > 0.9, as a share of steps")


def unit_block(
    ins: Inspection, state: str, unit: int, heading: str, span: tuple[int, int] | None = None
) -> str:
    """The text (or text[span[0]:span[1]]) coloured by one unit, scaled to the values
    shown."""
    assert ins.sample.text is not None
    lo, hi = span or (0, len(ins.sample.text))
    v = ins.states[state][lo:hi, unit, 0]
    spans = units_mod.html_spans(ins.sample.text[lo:hi], v, f"{state}[{unit}]")
    return f'<h3>{esc(heading)}</h3>\n<div class="text">{spans}</div>'


def units_section(
    ins: Inspection, unit: tuple[str, int] | None = None, excerpts: bool = False
) -> str:
    """The ranking of units against the text's features, each feature's best unit on
    the text (`excerpts`: on the stretch where the feature changes most), and the
    chosen `unit`."""
    parts = []
    if unit is not None:
        parts.append(unit_block(ins, *unit, f"{unit[0]}[{unit[1]}] (chosen)"))
    if ins.units:
        rows = [[f, found[0].name, f"{found[0].r:+.2f}",
                 "  ".join(f"{u.name} {u.r:+.2f}" for u in found[1:])] if found
                else [f, "-", "-", "not in the passage"]
                for f, found in ins.units.items()]  # fmt: skip
        parts.append(table(["feature", "best unit", "r", "next best"], rows,
                           "Pearson r of each unit's activation with the feature, every "
                           "character"))  # fmt: skip
        assert ins.sample.text is not None
        feats = units_mod.features(ins.sample.text, ins.sample.context)
        tracked = [(k, v) for k, v in ins.units.items() if v]
        for feature, found in sorted(tracked, key=lambda kv: -abs(kv[1][0].r)):
            best = found[0]
            what = units_mod.DESCRIPTIONS[feature]
            span = excerpt(ins.sample.text, feats[feature]) if excerpts else None
            parts.append(unit_block(ins, best.state, best.unit,
                                    f"{best.name}: r = {best.r:+.2f} with {feature} ({what})",
                                    span))  # fmt: skip
    parts.append(
        note(
            "Blue: positive activation, red: negative, white: 0 (scaled to the "
            "largest |value| shown); hover a character for the value."
        )
    )
    return "\n".join(parts)


def cells_page(ins: Inspection, unit: tuple[str, int] | None) -> str:
    """cells.html: the text coloured by the chosen unit and by each feature's best."""
    title = f"rnncli inspect · {ins.subject.label} · cells"
    return page(title, note(ins.sample.source) + units_section(ins, unit))


def inspection_section(ins: Inspection, figures: Mapping[str, bytes]) -> str:
    """Gradient flow, gates and states of one model: figures and tables."""
    parts = [note(f"{ins.sample.source}. Norms: Frobenius over units × batch of the batch "
                  "loss's gradient; connectivity: Frobenius norm of each example's Jacobian, "
                  "mean over the batch.")]  # fmt: skip
    parts.append("<h3>Gradient flow through time</h3>")
    if "gradflow.png" in figures:
        parts.append(img(figures["gradflow.png"], "gradient norms over time, log scale"))
    parts.append(decay_table(ins))
    if ins.gates:
        parts.append("<h3>Gate saturation</h3>")
        if "gates.png" in figures:
            parts.append(img(figures["gates.png"], "gate saturation per unit"))
        parts.append(gates_table(ins))
    parts.append("<h3>States over time</h3>")
    if "states.png" in figures:
        parts.append(img(figures["states.png"], "states over time, first sequence"))
    if not figures:
        parts.append(note("No figures: matplotlib is not installed (pip install "
                          "'rnncli[plot]')."))  # fmt: skip
    if ins.sample.text is not None and ins.units:
        parts.append("<h3>Units that track the text</h3>")
        parts.append(units_section(ins, excerpts=True))
    return "\n".join(parts)


def report_page(
    run_dir: str,
    info: Mapping[str, Any],
    cfg: Config,
    task: Mapping[str, Any],
    config_yaml: str,
    history: Sequence[Mapping[str, Any]],
    loss_png: bytes | None,
    ins: Inspection | None,
    figures: Mapping[str, bytes],
    samples: str | None,
    why_not: str = "",
) -> str:
    """report.html: a training run on one page (`ins` None: without the inspect part,
    for the reason `why_not`)."""
    from rnncli import cells

    title = f"rnncli report · {str(info.get('path', run_dir)).rsplit('/', 1)[-1]}"
    summary = info.get("summary") or {}
    model = f"n_x {task.get('n_x')}, n_a {cfg.train.hidden}, n_y {task.get('n_y')}"
    if cfg.model.layers > 1 or cfg.model.bidirectional:
        model += f", {cfg.model.layers} layers" + (", bidirectional" if cfg.model.bidirectional
                                                   else "")  # fmt: skip
    facts = [
        ("run folder", run_dir), ("status", info.get("status")), ("task", task.get("task")),
        ("cell", cells.get(cfg.cell).label), ("sizes", model),
        ("steps", summary.get("steps")), ("sequences", summary.get("sequences")),
        ("solved", summary.get("solved")), ("wall s", summary.get("wall_s")),
        ("started", info.get("start_time")), ("rnncli", __version__),
        ("parameters inspected", ins.subject.which if ins else "–"),
    ]  # fmt: skip
    parts = [table(["", ""], [(k, "" if v is None else v) for k, v in facts])]
    parts.append("<h2>Metrics</h2>")
    if loss_png is not None:
        parts.append(img(loss_png, "training loss and metric against sequences"))
    if history:
        keys = [k for k in history[0] if k != "wall_s"]
        step = max(1, len(history) // 40)
        shown = list(history[::step])
        if shown[-1] is not history[-1]:
            shown.append(history[-1])
        rows = [[_cell(r.get(k)) for k in keys] for r in shown]
        parts.append(table(keys, rows, f"{len(shown)} of {len(history)} evaluations"))
    else:
        parts.append(note("No evaluations recorded (metrics.jsonl is empty)."))
    parts.append("<h2>Inside the network</h2>")
    if ins is not None:
        parts.append(inspection_section(ins, figures))
    else:
        parts.append(note(f"Not inspected: {why_not}"))
    if samples:
        parts.append("<h2>Samples</h2>")
        parts.append(pre(samples))
    parts.append("<h2>Config</h2>")
    parts.append(pre(config_yaml))
    return page(title, "\n".join(parts))


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)
