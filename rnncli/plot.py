"""Training curves: a PNG when matplotlib is installed (the ``[plot]`` extra), else a
small text plot for the terminal."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def have_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def figure(width: float = 7, height: float = 4) -> Any:
    """A matplotlib Figure on the Agg canvas, without pyplot (whose global state is not
    thread-safe: sweep jobs on Dask run in threads)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def save_loss_plot(
    history: Sequence[dict[str, Any]],
    metric: str,
    path: Path,
    loss_unit: str = "per sequence",
    metric_is_loss: bool = False,
) -> None:
    """Training loss and the task metric against sequences seen, written atomically.

    A metric that is a loss in the training loss's unit (text's val_loss) shares its
    axis; otherwise it gets its own, on the right. Losses in nats per character also get
    a right-hand axis in bits per character.
    """
    from rnncli.runs import write_bytes_atomic

    write_bytes_atomic(path, loss_png(history, metric, loss_unit, metric_is_loss))


def loss_png(
    history: Sequence[dict[str, Any]],
    metric: str,
    loss_unit: str = "per sequence",
    metric_is_loss: bool = False,
) -> bytes:
    """`save_loss_plot`'s figure as PNG bytes."""
    seqs = [r["sequences"] for r in history]
    fig = figure()
    ax = fig.add_subplot()
    ax.plot(seqs, [r["loss"] for r in history], color="tab:blue", label="training loss")
    ax.set_xlabel("sequences")
    has_metric = bool(history) and metric in history[0]
    if metric_is_loss:
        ax.set_ylabel(f"loss ({loss_unit})")
        if has_metric:
            ax.plot(seqs, [r[metric] for r in history], color="tab:orange", label=metric)
        ax.legend()
        if loss_unit == "nats per character":
            ln2 = float(np.log(2))
            bits = ax.secondary_yaxis("right", functions=(lambda x: x / ln2, lambda b: b * ln2))
            bits.set_ylabel("bits per character")
    else:
        ax.set_ylabel(f"training loss ({loss_unit})", color="tab:blue")
        if has_metric:
            ax2 = ax.twinx()
            ax2.plot(seqs, [r[metric] for r in history], color="tab:orange", label=metric)
            ax2.set_ylabel(metric, color="tab:orange")
    ax.set_title("rnncli train")
    fig.tight_layout()
    return png(fig)


def text_plot(values: Sequence[float], width: int = 60, height: int = 8) -> str:
    """A small block-character plot of a series (resampled to `width` columns)."""
    if not values:
        return ""
    y = np.asarray(values, dtype=float)
    y = y[np.isfinite(y)]
    if y.size == 0:
        return ""
    cols = np.interp(np.linspace(0, y.size - 1, min(width, y.size)), np.arange(y.size), y)
    lo, hi = float(cols.min()), float(cols.max())
    span = hi - lo or 1.0
    levels = np.round((cols - lo) / span * (height - 1)).astype(int)
    rows = []
    for level in range(height - 1, -1, -1):
        label = f"{lo + span * level / (height - 1):>9.4g} │"
        rows.append(label + "".join("█" if v >= level else " " for v in levels))
    rows.append(" " * 10 + "└" + "─" * len(cols))
    return "\n".join(rows)
