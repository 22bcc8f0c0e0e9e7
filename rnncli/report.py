"""Rich tables for people, and the same facts as plain data for ``--json``."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def console(stderr: bool = False) -> Console:
    """A console that writes plain text when piped or when NO_COLOR is set."""
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    plain = bool(os.environ.get("NO_COLOR")) or not tty
    return Console(
        file=stream,
        no_color=plain,
        color_system=None if plain else "auto",  # no_color alone still emits bold/italic
        highlight=False,
        width=None if tty else 200,
        force_terminal=False if not tty else None,
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


def arrays_table(title: str, groups: Iterable[tuple[str, Mapping[str, np.ndarray]]]) -> Table:
    """One row per array: kind, name, shape, dtype, mean, std, min, max, first values."""
    t = Table(title=title, title_justify="left")
    for col in ("kind", "name", "shape", "dtype"):
        t.add_column(col)
    for col in ("mean", "std", "min", "max"):
        t.add_column(col, justify="right")
    t.add_column("values")
    for kind, arrays in groups:
        for name, a in arrays.items():
            s = stats(a)
            nums = [fmt(s[k]) for k in ("mean", "std", "min", "max")] if "mean" in s else [""] * 4
            t.add_row(kind, name, str(tuple(s["shape"])), s["dtype"], *nums, head(a))
    return t


def grads_table(title: str, grads: Mapping[str, np.ndarray]) -> Table:
    """One row per gradient: name, shape, norm, first values."""
    t = Table(title=title, title_justify="left")
    t.add_column("gradient")
    t.add_column("shape")
    t.add_column("norm", justify="right")
    t.add_column("values")
    for name, g in grads.items():
        t.add_row(name, str(g.shape), f"{np.linalg.norm(g):.6g}", head(g))
    return t


def samples_table(values: Mapping[str, Any]) -> Table:
    """Sampled entries under the expressions that name them."""
    t = Table(title="sampled values", title_justify="left")
    t.add_column("expression")
    t.add_column("value")
    for expr, value in values.items():
        t.add_row(escape(expr), escape(format_value(value)))  # gradients[dWax] is not markup
    return t


def key_values(title: str, rows: Mapping[str, Any]) -> Table:
    """A two-column summary table."""
    t = Table(title=title, title_justify="left", show_header=False)
    t.add_column("key", style="bold")
    t.add_column("value")
    for k, v in rows.items():
        t.add_row(escape(k), f"{v:.6g}" if isinstance(v, float) else escape(str(v)))
    return t
