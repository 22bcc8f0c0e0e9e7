"""The cells that mean something: which units of a text model track simple properties
of the text, and the text coloured by a unit's activation (Karpathy, Johnson & Fei-Fei
2015, section 4.1).

Features of the text, one value per character (the state a_t is the model's after
reading character t):

``in_quotes``      1 inside double quotes: from an opening quote up to, not including,
                   the closing one (``"`` toggles; ``“`` opens and ``”`` closes), or to
                   the end of the paragraph (a blank line), so that one stray quote
                   does not turn the rest of a text inside out
``in_brackets``    1 inside (), [] or {}, nested or not (an opening bracket counts as
                   inside, a closing one as outside)
``line_position``  the column in the line (0 right after a newline), over the longest
                   line's: 0 to 1
``after_newline``  1 right after a newline: the character just read is ``\\n``
``in_word``        1 inside a word (a letter or digit), 0 at a word boundary

`rank` orders units (of every state, a and c) by |Pearson correlation| of their
activation with each feature over all positions; `colour` and `html_spans` show a
unit's activation on the text: blue for positive, red for negative, and, for readers
without colour, a block character per character on a line below (▁ for the lowest
value shown … █ for the highest).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.cells import cell_len
from rich.text import Text

from rnncli.inspect.gradflow import BLOCKS

FEATURES = ("in_quotes", "in_brackets", "line_position", "after_newline", "in_word")
DESCRIPTIONS = {
    "in_quotes": "inside double quotes",
    "in_brackets": "inside brackets",
    "line_position": "position in the line",
    "after_newline": "right after a newline",
    "in_word": "inside a word",
}
OPEN, CLOSE = "([{", ")]}"
SHOWN = {"\n": "↵", "\t": "→", "\r": "␍"}  # how invisible characters are drawn


def features(text: str, context: str = "") -> dict[str, np.ndarray]:
    """Every feature of `FEATURES` at every character of `text`: name -> (len(text),).
    `context`: the text before it (a passage from the middle of a file may start
    inside quotes or brackets, or mid-line)."""
    n, k = len(text), len(context)
    out = {name: np.zeros(k + n) for name in FEATURES}
    quoted = False
    depth = 0
    column = 0
    previous = ""
    for t, ch in enumerate(context + text):
        if ch == "\n" and previous == "\n":
            quoted = False
        previous = ch
        if ch == '"':
            quoted = not quoted
        elif ch == "“":
            quoted = True
        elif ch == "”":
            quoted = False
        if ch in OPEN:
            depth += 1
        elif ch in CLOSE:
            depth = max(depth - 1, 0)
        out["in_quotes"][t] = quoted
        out["in_brackets"][t] = depth > 0
        out["line_position"][t] = column
        out["after_newline"][t] = ch == "\n"
        out["in_word"][t] = ch.isalnum()
        column = 0 if ch == "\n" else column + 1
    out = {name: v[k:] for name, v in out.items()}
    top = out["line_position"].max() if n else 0
    if top > 0:
        out["line_position"] /= top
    return out


def absent(feature: np.ndarray) -> str | None:
    """Why a feature cannot be tracked in a passage (it is the same at every character:
    no quotes, no brackets, one line), or None."""
    if feature.size == 0 or np.ptp(feature) == 0:
        return "not in the passage" if not feature.any() else "the same at every character"
    return None


def correlations(acts: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """Pearson correlation of each unit with each feature: acts (T, k), feats (T, F)
    -> (k, F); 0 where either is constant."""
    a = acts - acts.mean(axis=0)
    f = feats - feats.mean(axis=0)
    na = np.sqrt((a * a).sum(axis=0))
    nf = np.sqrt((f * f).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a.T @ f) / np.outer(na, nf)
    return np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass(frozen=True)
class Unit:
    """A unit of one state, and how well it tracks a feature."""

    feature: str
    state: str  # "a", "c", ...
    unit: int
    r: float  # Pearson correlation (its sign says which way the unit tracks it)

    @property
    def name(self) -> str:
        return f"{self.state}[{self.unit}]"

    def to_json(self) -> dict[str, Any]:
        return {"feature": self.feature, "state": self.state, "unit": self.unit, "r": self.r}


def rank(
    states: Mapping[str, np.ndarray], feats: Mapping[str, np.ndarray], top: int = 3
) -> dict[str, list[Unit]]:
    """For every feature, the `top` units (over all states) by |correlation|; none for a
    feature that does not vary over the passage (`absent`).

    states: name -> (T, n_a) activations at each character; feats: `features`."""
    names = list(feats)
    F = np.stack([feats[k] for k in names], axis=1)
    found: dict[str, list[Unit]] = {k: [] for k in names}
    there = [k for k in names if absent(feats[k]) is None]
    for s, acts in states.items():
        r = correlations(np.asarray(acts, float), F)
        for j, k in enumerate(names):
            if k in there:  # a feature the passage lacks ranks no unit (every r is 0)
                found[k] += [Unit(k, s, int(u), float(r[u, j])) for u in range(r.shape[0])]
    for k in names:
        found[k].sort(key=lambda u: (-abs(u.r), u.state, u.unit))
        found[k] = found[k][:top]
    return found


def parse_unit(text: str, states: tuple[str, ...], n_a: int) -> tuple[str, int]:
    """``a:17``, ``c:3`` or ``17`` (a state a's unit) -> (state, unit); ValueError with
    the reason otherwise."""
    state, sep, index = text.rpartition(":")
    state = state if sep else states[0]
    if state not in states:
        raise ValueError(f"--unit {text}: this model's states are {', '.join(states)}")
    try:
        unit = int(index)
    except ValueError:
        raise ValueError(f"--unit {text}: expected STATE:UNIT such as a:17") from None
    if not 0 <= unit < n_a:
        raise ValueError(f"--unit {text}: units are 0..{n_a - 1}")
    return state, unit


# ----------------------------------------------------------------------------- colour


def shown(ch: str) -> str:
    """How a character is drawn: visible stand-ins for newline, tab and control
    characters."""
    if ch in SHOWN:
        return SHOWN[ch]
    return ch if ch.isprintable() else "·"


def scaled(values: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """values / vmax clipped to [-1, 1] (vmax: the largest |value|, or 1 if that is 0)."""
    v = np.asarray(values, dtype=float)
    top = float(np.abs(v).max()) if vmax is None and v.size else (vmax or 1.0)
    return np.clip(v / (top or 1.0), -1.0, 1.0)


def rgb(x: float) -> tuple[int, int, int]:
    """White at 0, blue towards +1, red towards -1 (x in [-1, 1])."""
    k = int(round(200 * min(abs(x), 1.0)))
    return (255 - k, 255 - k, 255) if x >= 0 else (255, 255 - k, 255 - k)


def block(x: float) -> str:
    """x in [-1, 1] as a block character: ▁ for -1 … █ for +1."""
    i = int(round((x + 1) / 2 * (len(BLOCKS) - 1)))
    return BLOCKS[min(max(i, 0), len(BLOCKS) - 1)]


def lines(text: str, width: int) -> list[list[int]]:
    """The positions of `text` on each display line: a line ends after a newline or
    when it would be wider than `width` cells."""
    out: list[list[int]] = [[]]
    used = 0
    for t, ch in enumerate(text):
        w = cell_len(shown(ch))
        if used + w > width and out[-1]:
            out.append([])
            used = 0
        out[-1].append(t)
        used += w
        if ch == "\n":
            out.append([])
            used = 0
    return [line for line in out if line]


def colour(text: str, values: np.ndarray, width: int) -> Text:
    """`text` coloured by `values` (one per character; by sign, scaled to the largest
    |value|), each display line followed by a line of block characters that says it
    without colour: ▁ for the lowest value … █ for the highest."""
    x = scaled(values)
    v = np.asarray(values, dtype=float)
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    bar = 2 * (v - lo) / ((hi - lo) or 1.0) - 1  # [lo, hi] -> [-1, 1]
    out = Text()
    for line in lines(text, width):
        for t in line:
            r, g, b = rgb(x[t])
            out.append(shown(text[t]), style=f"black on rgb({r},{g},{b})")
        out.append("\n")
        out.append("".join(block(bar[t]) * cell_len(shown(text[t])) for t in line) + "\n")
    return out


def html_spans(text: str, values: np.ndarray, label: str, vmax: float | None = None) -> str:
    """`text` as HTML spans coloured by `values`; each span's title gives the value."""
    x = scaled(values, vmax)
    v = np.asarray(values, dtype=float)
    parts = []
    for t, ch in enumerate(text):
        r, g, b = rgb(x[t])
        title = html.escape(f"{label} = {v[t]:.3f}")
        glyph = html.escape(shown(ch))
        parts.append(f'<span style="background:rgb({r},{g},{b})" title="{title}">{glyph}</span>')
        if ch == "\n":
            parts.append("<br>")
    return "".join(parts)
