"""Rich tables for people, and the same facts as plain data for ``--json``."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

#: ``rnncli --color`` sets it for the whole process (and the sweep's workers).
COLOR_ENV = "RNNCLI_COLOR"
COLORS = ("auto", "always", "never")


def color_wanted(tty: bool) -> bool:
    """Colour or not: ``--color always|never`` first, then FORCE_COLOR and NO_COLOR (any
    non-empty value), then whether the stream is a terminal."""
    mode = os.environ.get(COLOR_ENV, "auto")
    if mode in ("always", "never"):
        return mode == "always"
    if os.environ.get("FORCE_COLOR"):
        return True
    return tty and not os.environ.get("NO_COLOR")


def console(stderr: bool = False) -> Console:
    """A console that writes plain text when piped or when NO_COLOR is set (colour
    anyway with FORCE_COLOR or --color always); piped, it is 200 columns wide unless
    COLUMNS says otherwise."""
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    colour = color_wanted(tty)
    return Console(
        file=stream,
        no_color=not colour,
        color_system=("auto" if tty else "standard") if colour else None,
        highlight=False,
        width=None if tty or os.environ.get("COLUMNS", "").isdigit() else 200,
        force_terminal=True if colour and not tty else (False if not tty else None),
    )


def stats(a: np.ndarray) -> dict[str, Any]:
    """Shape, dtype and summary statistics of an array (JSON-safe)."""
    a = np.asarray(a)
    out: dict[str, Any] = {"shape": list(a.shape), "dtype": str(a.dtype)}
    if a.size and np.issubdtype(a.dtype, np.number):
        f = a.astype(np.float64)
        out.update(mean=float(f.mean()), std=float(f.std()), min=float(f.min()), max=float(f.max()))
        out["norm"] = float(np.linalg.norm(f))
    return out


def fmt(x: float) -> str:
    return f"{x: .4g}"


def head(a: np.ndarray, n: int = 3) -> str:
    """The first few values, flattened: ``0.5958 0.1814 0.6131 …``."""
    flat = np.asarray(a).ravel()
    text = " ".join(f"{v:.4g}" for v in flat[:n])
    return text + (" …" if flat.size > n else "")


def format_value(value: Any) -> str:
    """A sampled value printed the way the notebook prints it."""
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=8, separator=" ")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def arrays_table(
    title: str, groups: Iterable[tuple[str, Mapping[str, np.ndarray]]], width: int = 200
) -> Table:
    """One row per array: kind, name, shape, dtype, mean, std, min, max, first values;
    narrow consoles lose the first values, dtype, kind, then max, min and std."""
    cols = [
        Col("kind", priority=3), Col("name"), Col("shape"), Col("dtype", priority=4),
        Col("mean", "right"), Col("std", "right", priority=1), Col("min", "right", priority=2),
        Col("max", "right", priority=2), Col("values", priority=5, wrap=True, min_width=20),
    ]  # fmt: skip
    rows = []
    for kind, arrays in groups:
        for name, a in arrays.items():
            s = stats(a)
            nums = [fmt(s[k]) for k in ("mean", "std", "min", "max")] if "mean" in s else [""] * 4
            rows.append([kind, name, str(tuple(s["shape"])), s["dtype"], *nums, head(a)])
    return fit_table(title, cols, rows, width)


def grads_table(title: str, grads: Mapping[str, np.ndarray], width: int = 200) -> Table:
    """One row per gradient: name, shape, norm, first values."""
    cols = [Col("gradient"), Col("shape", priority=2), Col("norm", "right"),
            Col("values", priority=1, wrap=True, min_width=20)]  # fmt: skip
    rows = [[name, str(g.shape), f"{np.linalg.norm(g):.6g}", head(g)] for name, g in grads.items()]
    return fit_table(title, cols, rows, width)


def samples_table(values: Mapping[str, Any], width: int = 200) -> Table:
    """Sampled entries under the expressions that name them (long values wrap between
    numbers, never inside one)."""
    cols = [Col("expression"), Col("value", wrap=True, min_width=16)]
    rows = [[expr, format_value(value)] for expr, value in values.items()]
    return fit_table("sampled values", cols, rows, width)


def key_values(title: str, rows: Mapping[str, Any], width: int = 200) -> Table:
    """A two-column summary table."""
    t = fit_table(
        title, [Col("key"), Col("value", wrap=True, min_width=16)],
        [[k, f"{v:.6g}" if isinstance(v, float) else str(v)] for k, v in rows.items()], width,
    )  # fmt: skip
    t.show_header = False
    return t


def print_key_values(con: Console, title: str, rows: Mapping[str, Any]) -> None:
    """`key_values` on `con`, except that a value with no space in it (a path) that would
    have to be cut to fit goes under the table on a line of its own, whole."""
    keyw = max((cell_len(k) for k in rows), default=0)
    room = con.width - keyw - 7  # the borders and padding of two columns
    whole = {k: str(v) for k, v in rows.items()
             if " " not in str(v) and cell_len(str(v)) > room}  # fmt: skip
    shown = {k: ("(below)" if k in whole else v) for k, v in rows.items()}
    con.print(key_values(title, shown, con.width))
    for k, v in whole.items():
        con.print(f"{k}: {v}", markup=False, highlight=False, soft_wrap=True)


@dataclass
class Col:
    """A column of `fit_table`: its header, alignment and how readily it goes.

    priority: columns are dropped highest first when the table is wider than the console
    (0: never dropped). wrap: the cell is text that may wrap onto more lines (a path, a
    note); never set for numbers, which must never be cut.
    """

    header: str
    justify: str = "left"
    priority: int = 0
    wrap: bool = False
    min_width: int = 12


def _cell_width(text: str) -> int:
    return max((cell_len(line) for line in str(text).splitlines()), default=0)


def _chrome(n: int, compact: bool) -> int:
    """Columns that borders and padding take: ``│ a │ b │``, or ``a  b`` compact."""
    return 2 * max(n - 1, 0) if compact else 3 * n + 1


def fit_columns(cols: Sequence[Col], rows: Sequence[Sequence[Any]], width: int,
                compact: bool = False) -> list[int]:  # fmt: skip
    """The columns (indices) of a table that fits `width`: the lowest-priority ones are
    left out until it fits (a `wrap` column counted at its `min_width`)."""
    keep = list(range(len(cols)))
    while column_width(cols, rows, keep, compact) > width:
        droppable = [i for i in keep if cols[i].priority > 0]
        if not droppable:
            break
        keep.remove(max(droppable, key=lambda i: (cols[i].priority, i)))
    return keep


def _need(col: Col, rows: Sequence[Sequence[Any]], i: int) -> int:
    """A column's width: its widest cell; a `wrap` column's `min_width`, but never less
    than its longest word (a path, a number), which must not be cut."""
    natural = max([cell_len(col.header), *(_cell_width(r[i]) for r in rows)])
    if not col.wrap:
        return natural
    word = max((cell_len(w) for r in rows for w in str(r[i]).split()), default=0)
    return max(min(natural, col.min_width), word)


def column_width(cols: Sequence[Col], rows: Sequence[Sequence[Any]], keep: Sequence[int],
                 compact: bool = False) -> int:  # fmt: skip
    """The width the columns `keep` need, borders and padding included."""
    return sum(_need(cols[i], rows, i) for i in keep) + _chrome(len(keep), compact)


def fit_table(
    title: str | None, cols: Sequence[Col], rows: Sequence[Sequence[Any]], width: int,
    caption: str | None = None, compact: bool = False, keep: Sequence[int] | None = None,
) -> Table:  # fmt: skip
    """A rich table of `rows` that fits `width` columns without cutting a number: the
    lowest-priority columns are left out until it fits (or only those of `keep`); text
    columns marked `wrap` wrap between words. Cells are shown as given (str() of them),
    never as markup. `compact`: no borders, two spaces between columns (a listing)."""
    keep = list(keep) if keep is not None else fit_columns(cols, rows, width, compact)
    t = Table(title=title, title_justify="left", caption=caption)
    if compact:
        t = Table(title=title, title_justify="left", caption=caption, box=None,
                  pad_edge=False, padding=(0, 1), header_style="bold")  # fmt: skip
    for i in keep:
        c = cols[i]
        t.add_column(
            c.header, justify=c.justify, no_wrap=not c.wrap,  # type: ignore[arg-type]
            overflow="fold" if c.wrap else "ellipsis",
            min_width=_need(c, rows, i) if c.wrap else min(_need(c, rows, i), c.min_width),
        )  # fmt: skip
    for r in rows:
        t.add_row(*(Text(str(r[i])) for i in keep))
    return t
