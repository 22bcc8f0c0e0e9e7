"""inspect in the terminal: sparklines, decay and gate tables, state traces and coloured
text, readable at 80 columns and without colour (every number is printed whole; a
sparkline or a block-character line carries what a colour would)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rnncli.inspect import states as states_mod
from rnncli.inspect import units as units_mod
from rnncli.inspect.analysis import Inspection
from rnncli.inspect.gradflow import GradFlow, decay_rows, log_range, sparkline, stride

STATE_ROWS = 8  # units per state in the terminal trace
EXCERPT = 240  # characters of text per unit shown by --find
FOUND_SHOWN = 3  # --find shows the text for the best units of this many features
COMPARE_COLUMNS = 3  # models per comparison table (keeps it inside 80 columns)


def norm(v: float | None) -> str:
    return "–" if v is None or not np.isfinite(v) else ("0" if v == 0 else f"{v:.2e}")


def factor(v: float | None) -> str:
    return "–" if v is None else f"{v:.3g}"


def where(ins: Inspection) -> str:
    """The model's origin: its run folder's name (and "best"), the weights file it was
    given, or "untrained, seed N"."""
    s = ins.subject
    if s.params is not None:
        return f"parameters of {s.params.name}"
    if s.run_dir is None:
        return f"untrained, seed {s.cfg.seed}"
    return s.run_dir.name + (" (best)" if s.which == "best" else "")


def header(ins: Inspection) -> str:
    s = ins.subject
    return f"inspect · {s.cell} · {s.task.get('task')} · {where(ins)}\ndata: {ins.sample.source}"


def labels(inspections: Sequence[Inspection]) -> list[str]:
    """Short names for a comparison: the cell, numbered where cells repeat."""
    cells = [i.subject.cell for i in inspections]
    return [c if cells.count(c) == 1 else f"{c}#{k + 1}" for k, c in enumerate(cells)]


# ----------------------------------------------------------------------------- gradient flow

QUANTITIES = (
    ("last", "a", "‖∂L_T/∂a_t‖, the loss at the last step"),
    ("last", "c", "‖∂L_T/∂c_t‖, the loss at the last step"),
    ("sum", "a", "‖∂L/∂a_t‖, the whole loss"),
    ("sum", "c", "‖∂L/∂c_t‖, the whole loss"),
)


def _series(flow: GradFlow, kind: str, state: str) -> np.ndarray | None:
    if kind == "sum" and flow.last_only:
        return None
    return flow.norms[kind].get(state)


def sparklines(entries: Sequence[tuple[str, GradFlow]], width: int) -> Text:
    """One block of rows per quantity, every model on that quantity's one log scale."""
    out = Text()
    pad = max(len(label) for label, _ in entries)
    room = max(width - pad - 3, 10)
    groups: list[tuple[str, list[tuple[str, np.ndarray]]]] = []
    for kind, state, title in QUANTITIES:
        rows = [(lab, v) for lab, f in entries if (v := _series(f, kind, state)) is not None]
        if rows:
            groups.append((title, rows))
    groups.append(("‖∂a_T/∂x_t‖, connectivity", [(lab, f.connectivity) for lab, f in entries]))
    for title, rows in groups:
        span = log_range([v for _, v in rows])
        T = max(v.size for _, v in rows)
        out.append(f"{title}; t = 1 … {T}\n", style="bold")
        if span is None:
            out.append("  all zero\n")
            continue
        lo, hi = span
        for lab, v in rows:
            out.append(f"  {lab:<{pad}} ")
            out.append(sparkline(v, min(room, v.size), lo, hi) + "\n")
        out.append(f"  log scale: ▁ {lo:.1e} … █ {hi:.1e}\n")
    return out


def _decay_table(title: str, columns: Sequence[tuple[str, str]], rows: list[dict]) -> Table:
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1),
              caption="per 10: the factor per 10 steps back from the row above",
              caption_justify="left")  # fmt: skip
    t.add_column("t", justify="right", no_wrap=True)
    for head, _ in columns:
        t.add_column(head, justify="right", no_wrap=True)
        t.add_column("per 10", justify="right", no_wrap=True)
    for row in rows:
        cells = [str(row["t"])]
        for _, key in columns:
            cells += [norm(row.get(key)), factor(row.get(key + "_per10"))]
        t.add_row(*cells)
    return t


def decay_tables(flow: GradFlow, rows: list[dict[str, Any]]) -> list[Table]:
    """The decay of one model's gradient norms: the loss at the last step with the
    connectivity, then the whole loss (when it differs)."""
    states = list(flow.norms["last"])
    last = [(f"‖∂L_T/∂{s}_t‖", f"last_{s}") for s in states[:2]]
    last.append(("‖∂a_T/∂x_t‖", "connectivity"))
    s = stride(flow.T)
    out = [_decay_table(f"decay over time (rows every {s} steps), loss at the last step",
                        last, rows)]  # fmt: skip
    if not flow.last_only:
        whole = [(f"‖∂L/∂{st}_t‖", f"sum_{st}") for st in states[:2]]
        out.append(_decay_table("decay over time, the whole loss", whole, rows))
    return out


def compare_tables(entries: Sequence[tuple[str, GradFlow, list[dict[str, Any]]]]) -> list[Table]:
    """‖∂L_T/∂a_t‖ and connectivity of several models side by side, a few per table."""
    out = []
    for key, what in (("last_a", "‖∂L_T/∂a_t‖"), ("connectivity", "‖∂a_T/∂x_t‖")):
        for start in range(0, len(entries), COMPARE_COLUMNS):
            chunk = entries[start : start + COMPARE_COLUMNS]
            T = max(f.T for _, f, _ in chunk)
            t = Table(title=f"{what} over time", title_justify="left", box=box.SIMPLE_HEAD,
                      padding=(0, 1))  # fmt: skip
            t.add_column("t", justify="right", no_wrap=True)
            for label, _, _ in chunk:
                t.add_column(escape(label), justify="right", no_wrap=True)
                t.add_column("per 10", justify="right", no_wrap=True)
            by_t = [{r["t"]: r for r in rows} for _, _, rows in chunk]
            for tt in sorted({t for rows in by_t for t in rows}, reverse=True):
                cells = [str(tt)]
                for rows in by_t:
                    r = rows.get(tt, {})
                    cells += [norm(r.get(key)), factor(r.get(key + "_per10"))]
                t.add_row(*cells)
            if T:
                out.append(t)
    return out


# ----------------------------------------------------------------------------- gates, states


def gates_table(ins: Inspection) -> Table | None:
    if not ins.gates:
        return None
    t = Table(title="gate saturation per unit (Karpathy et al. 2015): share of steps",
              title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1),
              caption="shut: < 0.1, open: > 0.9; units mostly shut / open: more than half "
                      "the steps; neither: saturated under a tenth of the steps",
              caption_justify="left")  # fmt: skip
    for col in ("gate", "units", "mean shut", "mean open", "mostly shut", "mostly open",
                "neither"):  # fmt: skip
        t.add_column(col, justify="left" if col == "gate" else "right", no_wrap=True)
    for g in ins.gates:
        s = g.summary()
        t.add_row(g.gate, str(s["units"]), f"{s['mean_left']:.3f}", f"{s['mean_right']:.3f}",
                  str(s["mostly_left"]), str(s["mostly_right"]), str(s["rarely"]))  # fmt: skip
    return t


def states_view(ins: Inspection, width: int) -> Text:
    """The units that vary most, of each state, over the first sequence: a line each,
    ▁ for the most negative value … █ for the most positive."""
    out = Text()
    seq = ins.sequence_states()
    for name, v in seq.items():
        top = float(np.abs(v).max()) or 1.0
        rows = states_mod.busiest(v, min(STATE_ROWS, v.shape[1]))
        label_w = len(f"{name}[{v.shape[1] - 1}]")
        room = max(width - label_w - 3, 10)
        out.append(
            f"{name} over time, the first sequence (t = 1 … {v.shape[0]}): the {len(rows)} of "
            f"{v.shape[1]} units that vary most; ▁ {-top:.3g} … █ {top:.3g}\n",
            style="bold",
        )
        for u in rows:
            line = sparkline(v[:, u], min(room, v.shape[0]), -top, top, log=False)
            out.append(f"  {f'{name}[{u}]':<{label_w}} {line}\n")
    return out


# ----------------------------------------------------------------------------- units


def excerpt(text: str, feature: np.ndarray, length: int = EXCERPT) -> tuple[int, int]:
    """A stretch of the text where the feature changes most often, from a line start:
    (start, stop)."""
    if len(text) <= length:
        return 0, len(text)
    changes = np.concatenate([[0], np.abs(np.diff(feature)) > 0]).astype(int)
    csum = np.concatenate([[0], np.cumsum(changes)])
    starts = [0] + [i + 1 for i, ch in enumerate(text[:-length]) if ch == "\n"]
    best = max(starts, key=lambda s: (csum[min(s + length, len(text))] - csum[s], -s))
    return best, best + length


def units_table(ins: Inspection) -> Table:
    t = Table(title="units that track the text (|Pearson r| of the activation with the "
                    "feature, over every character)",
              title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1))  # fmt: skip
    t.add_column("feature", no_wrap=True)
    t.add_column("best", no_wrap=True)
    t.add_column("r", justify="right", no_wrap=True)
    t.add_column("next best", no_wrap=True)
    for feature, found in ins.units.items():
        if not found:
            t.add_row(feature, "-", "-", f"({units_mod.DESCRIPTIONS[feature]}: not in the "
                      "passage)")  # fmt: skip
            continue
        best = found[0]
        rest = "  ".join(f"{u.name} {u.r:+.2f}" for u in found[1:3])
        t.add_row(feature, best.name, f"{best.r:+.2f}", rest)
    return t


def unit_text(ins: Inspection, state: str, unit: int, width: int,
              span: tuple[int, int] | None = None) -> Text:  # fmt: skip
    """The sample's text (or a stretch of it, `span`) coloured by one unit, scaled to
    the values shown, with a heading that gives the scale."""
    assert ins.sample.text is not None
    lo, hi = span or (0, len(ins.sample.text))
    v = ins.states[state][lo:hi, unit, 0]
    out = Text(f"blue > 0 > red; below each line ▁ {v.min():.3g} … █ {v.max():.3g}\n")
    out.append_text(units_mod.colour(ins.sample.text[lo:hi], v, width))
    return out


def units_view(ins: Inspection, con: Console, find: bool, unit: tuple[str, int] | None) -> None:
    """--find: the ranking, then the best units of the `FOUND_SHOWN` best-tracked
    features, each on the stretch of text where its feature changes most (cells.html
    has them all); --unit: that unit on the whole text."""
    width = max(con.width - 2, 20)
    if find and ins.units:
        con.print(units_table(ins))
        assert ins.sample.text is not None
        feats = units_mod.features(ins.sample.text, ins.sample.context)
        order = sorted(((k, v) for k, v in ins.units.items() if v),
                       key=lambda kv: -abs(kv[1][0].r))  # fmt: skip
        lacking = [k for k, v in ins.units.items() if not v]
        if lacking:
            con.print(Text(f"not in this passage, so no unit can track it: {', '.join(lacking)}"
                           " (--text or --data with quotes, brackets, several lines)"))
        for feature, found in order[:FOUND_SHOWN]:
            best = found[0]
            lo, hi = excerpt(ins.sample.text, feats[feature])
            con.print(Text(f"{best.name}: r = {best.r:+.2f} with {feature} "
                           f"({units_mod.DESCRIPTIONS[feature]}), characters {lo}–{hi}",
                           style="bold"))  # fmt: skip
            con.print(unit_text(ins, best.state, best.unit, width, (lo, hi)), end="")
    if unit is not None:
        state, k = unit
        con.print(Text(f"{state}[{k}] on the text", style="bold"))
        con.print(unit_text(ins, state, k, width), end="")


# ----------------------------------------------------------------------------- all


def render(
    inspections: Sequence[Inspection],
    con: Console,
    find: bool = False,
    unit: tuple[str, int] | None = None,
) -> None:
    """Everything inspect prints for one model, or the comparison of several."""
    width = con.width
    if len(inspections) > 1:
        names = labels(inspections)
        pad = max(map(len, names))
        sources = {i.sample.source for i in inspections}
        con.print(Text("inspect --compare", style="bold"))
        for name, ins in zip(names, inspections, strict=True):
            data = "" if len(sources) == 1 else f" · data: {ins.sample.source}"
            con.print(Text(f"  {name:<{pad}}  {ins.subject.task.get('task')} · {where(ins)}{data}"))
        if len(sources) == 1:
            con.print(Text(f"data: {sources.pop()}"))
        con.print(sparklines([(n, i.flow) for n, i in zip(names, inspections, strict=True)],
                             width))  # fmt: skip
        entries = [(n, i.flow, decay_rows(i.flow))
                   for n, i in zip(names, inspections, strict=True)]  # fmt: skip
        for table in compare_tables(entries):
            con.print(table)
        return
    ins = inspections[0]
    con.print(Text(header(ins), style="bold"))
    con.print(sparklines([(ins.subject.cell, ins.flow)], width))
    for table in decay_tables(ins.flow, decay_rows(ins.flow)):
        con.print(table)
    gt = gates_table(ins)
    if gt is not None:
        con.print(gt)
    con.print(states_view(ins, width))
    if ins.sample.text is not None:
        if not (find or unit):
            con.print("text model: --find ranks the units that track the text, "
                      "--unit a:K colours the text by unit K", markup=False)  # fmt: skip
        units_view(ins, con, find, unit)
