"""The one-line fix of each mistake `variants` recomputes, by diagnosis id, in the order
they are tried (`diagnose`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rnncli.check.diagnose import Evidence


def _dropped_carry_hint(ev: Evidence) -> str:
    carried = " and ".join(f"d{s}_prevt" for s in ev.spec.cell.states)
    opening = (
        "The gradient from step t+1 is not carried back"
        if ev.carry_zero
        else "It looks like the gradient from step t+1 is not carried back (or not all of it)"
    )
    course = " (The course's first lstm_backward expected output had this bug.)"
    return (
        f"{opening}: in the loop, give the cell da[:, :, t] + da_prevt and update {carried} "
        "from its result at every step." + (course if ev.spec.cell.has_c else "")
    )


def _transpose_hint(ev: Evidence) -> str:
    w = "W[:, :n_a].T @ d(gate) for every gate" if ev.spec.cell.gates else "Waa.T @ dz"
    return f"da_prev looks like it misses a transpose: da_prev = {w}."


KNOWN: dict[str, Callable[[Evidence], str]] = {
    "softmax-axis": lambda ev: (
        "yt_pred looks like a softmax over the batch axis: normalise each column, "
        "np.sum(e, axis=0)."
    ),
    "a0-every-step": lambda ev: (
        "a0 looks given to the cell at every step: pass the previous step's a_next "
        "(a_next = a0 before the loop only)."
    ),
    "concat-order": lambda ev: (
        "The concatenation looks like [xt; a_prev]: the notebook stacks [a_prev; xt], "
        "np.concatenate((a_prev, xt), axis=0), so W[:, :n_a] multiplies a_prev."
    ),
    "missing-transpose": _transpose_hint,
    "wrong-state": lambda ev: (
        "dWaa looks like it uses a_next where a_prev belongs: dWaa = dz @ a_prev.T."
    ),
    "dc-prev-ft": lambda ev: "dc_prev looks like it misses the forget gate: dc_prev = dc * ft.",
    "dc-path": lambda ev: (
        "dc looks like it misses the path through a_next: dc = da_next * ot * "
        "(1 - tanh(c_next)**2) + dc_next, then dc_prev = dc * ft."
    ),
    "tanh-of-c": lambda ev: (
        "dc has (1 - c_next**2) where (1 - np.tanh(c_next)**2) belongs: c_next is not a "
        "tanh output (cct is)."
    ),
    "w-slice": lambda ev: (
        "A wrong slice of W: dxt takes W[:, n_a:] (the xt columns), da_prev W[:, :n_a] "
        "(the a_prev columns) of each gate's W."
    ),
    "loop-range": lambda ev: (
        "The backward loop's range or direction looks wrong: for t in reversed(range(T_x)) "
        "visits every step, the last first."
    ),
    "carry-init": lambda ev: (
        "da_prevt looks started from da[:, :, 0]: start it at zeros, np.zeros((n_a, m)); "
        "da[:, :, t] is added inside the loop."
    ),
    "dropped-carry": _dropped_carry_hint,
    "da0-not-set": lambda ev: (
        "da0 looks not taken from the loop: after it, da0 = da_prevt (the carry from t = 0)."
    ),
}
