"""inspect's figures as PNG bytes (matplotlib through `rnncli.plot.figure`, never pyplot):
gradflow.png, gates.png and states.png. Callers check `rnncli.plot.have_matplotlib`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnncli import plot
from rnncli.inspect.gates import HIGH, LOW, GateSaturation
from rnncli.inspect.gradflow import GradFlow

COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown",
           "tab:pink", "tab:gray", "tab:olive", "tab:cyan")  # fmt: skip
STYLES = {"a": "-", "c": "--"}  # other states of users' cells: dotted


def _positive(v: np.ndarray) -> np.ndarray:
    """Zeros as gaps on a log axis."""
    v = np.asarray(v, dtype=float)
    return np.where(v > 0, v, np.nan)


def gradflow_png(flows: Sequence[tuple[str, GradFlow]], title: str = "") -> bytes:
    """‖∂L/∂s_t‖ for the loss at the last step (and the whole loss, if that differs) and
    ‖∂a_T/∂x_t‖, over t, log y axis; one colour per model, a dashed line for c."""
    whole = any(not f.last_only for _, f in flows)
    panels = [("last", "gradient of the loss at the last step", "‖∂L_T/∂s_t‖")]
    if whole:
        panels.append(("sum", "gradient of the whole loss", "‖∂L/∂s_t‖"))
    panels.append(("connectivity", "connectivity", "‖∂a_T/∂x_t‖ (mean over the batch)"))
    fig = plot.figure(4.4 * len(panels), 3.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (kind, heading, ylabel) in zip(axes, panels, strict=True):
        for k, (label, flow) in enumerate(flows):
            colour = COLOURS[k % len(COLOURS)]
            t = np.arange(1, flow.T + 1)
            if kind == "connectivity":
                ax.plot(t, _positive(flow.connectivity), color=colour, label=label)
                continue
            for s, v in flow.norms[kind].items():
                name = label if s == "a" else f"{label} ({s})"
                ax.plot(t, _positive(v), STYLES.get(s, ":"), color=colour, label=name)
        ax.set_yscale("log")
        ax.set_xlabel("t")
        ax.set_ylabel(ylabel)
        ax.set_title(heading, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return plot.png(fig)


def gates_png(gates: Sequence[GateSaturation], title: str = "") -> bytes:
    """One scatter per gate: each unit's fraction of steps left-saturated (x) against
    right-saturated (y), as in Karpathy et al. (2015), figure 4."""
    n = max(len(gates), 1)
    fig = plot.figure(3.4 * n, 3.6)
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, g in zip(axes, gates, strict=False):
        ax.plot([0, 1], [1, 0], color="0.7", lw=0.8)  # left + right = 1: always saturated
        ax.scatter(g.left, g.right, s=14, alpha=0.7, color="tab:blue")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal")
        ax.set_xlabel(f"fraction < {LOW}")
        ax.set_ylabel(f"fraction > {HIGH}")
        ax.set_title(f"gate {g.gate} ({g.left.size} units)", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return plot.png(fig)


def states_png(states: dict[str, np.ndarray], title: str = "", text: str | None = None) -> bytes:
    """A heatmap per state of one sequence: units down, time across (blue positive, red
    negative). states: name -> (T, n_a); text: the characters read, as x tick labels
    when there are few enough."""
    fig = plot.figure(10, 2.2 + 2.6 * len(states))
    axes = fig.subplots(len(states), 1, squeeze=False)[:, 0]
    for k, (ax, (name, v)) in enumerate(zip(axes, states.items(), strict=True)):
        T, n_a = v.shape
        top = float(np.abs(v).max()) or 1.0
        im = ax.imshow(v.T, aspect="auto", cmap="RdBu", vmin=-top, vmax=top,
                       interpolation="nearest", extent=(0.5, T + 0.5, n_a - 0.5, -0.5))  # fmt: skip
        ax.set_ylabel("unit")
        ax.set_title(f"{title} · {name}" if title and k == 0 else name, fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
        if text is not None and T <= 120:
            ax.set_xticks(np.arange(1, T + 1))
            ax.set_xticklabels([repr(c)[1:-1] for c in text[:T]], fontsize=6, family="monospace")
        else:
            ax.set_xlabel("t")
    fig.tight_layout()
    return plot.png(fig)
