"""From the evidence of a failing function to what is most likely wrong with it.

Each rule reads the `Evidence`: which returned arrays differ on the
notebook test and how (all zeros, an exact multiple of the expected, a swapped shape),
the upstream probes, the zero and linearity properties, dx's error per time step, and
finite differences of the learner's own forward. The first rule that fits gives the
diagnosis: a stable id, a hint in plain words and the evidence it rests on. A pattern
read off the evidence is worded "looks like"; a mismatch that fits no rule says so.

    id                   evidence
    test-cell-global     a NameError for a name only the (skipped) test code assigns
    not-linear           twice the upstream does not give twice the gradients
    no-upstream          every gradient is exactly zero
    follows-forward      right by finite differences of the learner's forward, which is wrong
    slice-swap           dxt and da_prev have each other's shapes
    dropped-carry        sequence: dx right at the last step only
    bias-mean            only biases wrong, each exactly 1/m of the expected
    wrong-state          rnn: only dWaa wrong
    missing-transpose    da_prev wrong, every weight and bias gradient right
    dc-path              lstm: only dc_prev wrong, and right when da_next = 0
    gate-<name>          lstm: one gate's dW/db wrong (dxt, da_prev may follow), the others right
    dtanh                rnn: every gradient wrong, all linear in the upstream
    modifies-input       right values, but it writes into an argument
    notebook-shapes-only right on the notebook test, wrong on fresh shapes
    no-known-pattern     anything else that fails
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rnncli.check.compare import RTOL
from rnncli.check.results import ArrayDiff, CheckResult, Diagnosis
from rnncli.check.spec import LSTM_GATES, Spec

if TYPE_CHECKING:
    from rnncli.check.checks import Failure


@dataclass
class Evidence:
    """What a diagnosis is derived from; `checks` gathers it while it checks a function."""

    spec: Spec
    m: int = 0  # the notebook test's batch size
    main: list[ArrayDiff] | None = None  # the notebook test, per returned array
    failure: Failure | None = None  # the first exception of the learner's code
    touched: list[str] = field(default_factory=list)
    fresh_failed: list[str] = field(default_factory=list)
    zero_ok: bool | None = None
    linear_ok: bool | None = None
    probes: dict[str, list[ArrayDiff]] = field(default_factory=dict)
    profile: list[float] | None = None  # dx's error per time step on the notebook test
    carry_zero: bool | None = None  # upstream at the last step only: dx before it is all 0
    fd_ok: bool | None = None
    forward_ok: bool | None = None  # the learner's forward on the finite-difference case
    skipped: dict[str, str] = field(default_factory=dict)


IDS = (
    "test-cell-global",
    "not-linear",
    "no-upstream",
    "follows-forward",
    "slice-swap",
    "dropped-carry",
    "bias-mean",
    "wrong-state",
    "missing-transpose",
    "dc-path",
    *(f"gate-{g}" for g in LSTM_GATES.values()),
    "dtanh",
    "modifies-input",
    "notebook-shapes-only",
    "no-known-pattern",
)

_DC = "dc = da_next * ot * (1 - tanh(c_next)**2) + dc_next"
_GATE_FORMULA = {
    "f": "dft = dc * c_prev * ft * (1 - ft)",
    "i": "dit = dc * cct * it * (1 - it)",
    "c": "dcct = dc * it * (1 - cct**2)",
    "o": "dot = da_next * tanh(c_next) * ot * (1 - ot)",
}
_ERRATA = (
    " The course's first version of this equation (8) was wrong: it added dc_next * it"
    " outside the derivative, multiplied by an extra cct, and had (1 - tanh(cct)**2) where"
    " (1 - cct**2) belongs (cct is already tanh(...))."
)


def _wrong(diffs: list[ArrayDiff]) -> list[str]:
    return [d.name for d in diffs if not d.ok]


def _by_name(diffs: list[ArrayDiff]) -> dict[str, ArrayDiff]:
    return {d.name: d for d in diffs}


def _fmt(x: float) -> str:
    return f"{x:.1e}"


def _evidence_of(diffs: list[ArrayDiff]) -> str:
    """``dWaa differs (max rel. error 4.1e-01 at dWaa[1, 2]); dxt, da_prev, dba match``."""
    bad = [d for d in diffs if not d.ok]
    good = [d.name for d in diffs if d.ok]
    parts = []
    for d in bad:
        detail = d.note or f"max rel. error {_fmt(d.max_rel)} at {d.where}"
        parts.append(f"{d.name} ({detail})")
    text = (
        ("only " if len(bad) == 1 else "")
        + ", ".join(parts)
        + (" differs" if len(bad) == 1 else " differ")
    )
    return text + (f"; {', '.join(good)} match" if good else "")


Rule = Callable[[Evidence], Diagnosis | None]


def _test_cell_global(ev: Evidence) -> Diagnosis | None:
    f = ev.failure
    if f is None or f.type != "NameError" or f.name not in ev.skipped:
        return None
    where = ev.skipped[f.name]
    return Diagnosis(
        "test-cell-global",
        f"{f.name} is only set by test code ({where}), which check does not run: inside the "
        f'function, take it from the arguments (e.g. {f.name} = parameters["{f.name}"]).',
        f"{f.line()}; {f.name} is assigned at {where}, by a statement check skips",
    )


def _not_linear(ev: Evidence) -> Diagnosis | None:
    if ev.linear_ok is not False:
        return None
    zero = "" if ev.zero_ok is not False else "; a zero upstream does not give zero gradients"
    return Diagnosis(
        "not-linear",
        "The gradients do not scale with the upstream gradient: it looks like something is "
        "added or recomputed that should be multiplied by it.",
        f"twice (or minus) the upstream does not give twice (minus) the gradients{zero}",
    )


def _no_upstream(ev: Evidence) -> Diagnosis | None:
    if not ev.main or not all(d.zero for d in ev.main):
        return None
    if ev.spec.is_sequence:
        hint = (
            "Every gradient is zero: it looks like only the carried gradient reaches the "
            "cell. Pass it da[:, :, t] + da_prevt, not da_prevt alone."
        )
    else:
        hint = "Every gradient is zero: the upstream gradient da_next never reaches them."
    names = ", ".join(d.name for d in ev.main)
    return Diagnosis("no-upstream", hint, f"{names}: all exactly zero on the notebook test")


def _follows_forward(ev: Evidence) -> Diagnosis | None:
    if not (ev.fd_ok and ev.forward_ok is False and ev.main and _wrong(ev.main)):
        return None
    fwd = ev.spec.forward
    return Diagnosis(
        "follows-forward",
        f"This backward is consistent with your {fwd}, but {fwd} is wrong: fix {fwd} "
        "first; the backward looks like the derivative of what it computes.",
        f"it matches central differences of your {fwd}; against rnncli's backward "
        + _evidence_of(ev.main),
    )


def _slice_swap(ev: Evidence) -> Diagnosis | None:
    if not ev.main or not ev.spec.cell.gates:  # the rnn has one W per input, no slices
        return None
    d = _by_name(ev.main)
    x_name, a_name = ev.spec.outputs[:2]  # dxt, da_prev (dx, da0)
    dx, da = d[x_name], d[a_name]
    swapped = [
        n
        for n, mine, other in ((x_name, dx, da), (a_name, da, dx))
        if mine.shape is not None and mine.shape == other.expected_shape
    ]
    others_ok = all(v.ok for k, v in d.items() if k not in (x_name, a_name))
    if not swapped or not others_ok:
        return None
    shapes = ", ".join(f"{n} has shape {tuple(d[n].shape or ())}" for n in swapped)
    return Diagnosis(
        "slice-swap",
        f"{a_name} and {x_name} look swapped: {a_name} takes W[:, :n_a] (the a_prev "
        f"columns) of each gate's W, {x_name} takes W[:, n_a:] (the xt columns).",
        f"{shapes}: the other one's shape; the weight and bias gradients match",
    )


def _dropped_carry(ev: Evidence) -> Diagnosis | None:
    p = ev.profile
    if not ev.spec.is_sequence or p is None or len(p) < 2:
        return None
    if not (p[-1] <= RTOL and max(p[:-1]) > RTOL):
        return None
    wrong_t = [str(t) for t, e in enumerate(p[:-1]) if e > RTOL]
    carried = " and ".join(f"d{s}_prevt" for s in ev.spec.cell.states)
    evidence = (
        f"dx is right at the last step (t = {len(p) - 1}) only; wrong at t = {', '.join(wrong_t)}"
    )
    if ev.carry_zero:
        evidence += "; with an upstream at the last step only, dx before it is all zero"
    opening = (
        "The gradient from step t+1 is not carried back"
        if ev.carry_zero
        else "It looks like the gradient from step t+1 is not carried back (or not all of it)"
    )
    course = " (The course's first lstm_backward expected output had this bug.)"
    return Diagnosis(
        "dropped-carry",
        f"{opening}: in the loop, give the cell da[:, :, t] + da_prevt and update {carried} "
        "from its result at every step." + (course if ev.spec.cell.has_c else ""),
        evidence,
    )


def _bias_mean(ev: Evidence) -> Diagnosis | None:
    if not ev.main or ev.m < 2:
        return None
    bad = [d for d in ev.main if not d.ok]
    if not bad or not all(d.name.startswith("db") for d in bad):
        return None
    if not all(d.multiple is not None and abs(d.multiple * ev.m - 1) < 1e-6 for d in bad):
        return None
    names = ", ".join(d.name for d in bad)
    return Diagnosis(
        "bias-mean",
        "The bias gradient looks averaged over the batch: sum it instead, "
        "db = np.sum(dz, axis=1, keepdims=True).",
        f"{names} = exactly 1/{ev.m} of the expected (m = {ev.m}); every other gradient matches",
    )


def _wrong_state(ev: Evidence) -> Diagnosis | None:
    if ev.spec.cell.gates or not ev.main or _wrong(ev.main) != ["dWaa"]:
        return None
    return Diagnosis(
        "wrong-state",
        "Only dWaa is wrong: it looks like it uses a_next where a_prev belongs: "
        "dWaa = dz @ a_prev.T (a_prev is the state Waa multiplies).",
        _evidence_of(ev.main),
    )


def _missing_transpose(ev: Evidence) -> Diagnosis | None:
    if not ev.main:
        return None
    x_name, a_name = ev.spec.outputs[:2]
    wrong = _wrong(ev.main)
    if a_name not in wrong or not set(wrong) <= {x_name, a_name}:
        return None
    if any(d.note for d in ev.main if not d.ok):  # a shape problem is another story
        return None
    w = "W[:, :n_a].T @ d(gate) for every gate" if ev.spec.cell.gates else "Waa.T @ dz"
    return Diagnosis(
        "missing-transpose",
        f"{a_name} is wrong while every weight and bias gradient is right: it looks like a "
        f"missing transpose: {a_name} = {w}.",
        _evidence_of(ev.main),
    )


def _dc_path(ev: Evidence) -> Diagnosis | None:
    if ev.spec.name != "lstm_cell_backward" or not ev.main or _wrong(ev.main) != ["dc_prev"]:
        return None
    only_dc, only_da = ev.probes.get("dc_next only"), ev.probes.get("da_next only")
    if not only_dc or not only_da:
        return None
    if not _by_name(only_dc)["dc_prev"].ok or _by_name(only_da)["dc_prev"].ok:
        return None
    return Diagnosis(
        "dc-path",
        "dc_prev looks like it misses the path through a_next: dc_prev = (da_next * ot * "
        "(1 - tanh(c_next)**2) + dc_next) * ft.",
        _evidence_of(ev.main) + "; with da_next = 0 dc_prev is right, with dc_next = 0 it is not",
    )


def _gate(ev: Evidence) -> Diagnosis | None:
    if ev.spec.name != "lstm_cell_backward" or not ev.main:
        return None
    wrong = _wrong(ev.main)
    gates = {n[2] for n in wrong if n[:2] in ("dW", "db")}
    if len(gates) != 1 or not set(wrong) <= {
        "dxt",
        "da_prev",
        *(p + g for g in gates for p in ("dW", "db")),
    }:
        return None
    (g,) = gates
    name = LSTM_GATES[g]
    hint = (
        f"Only the {name} gate's gradients are wrong (and dxt, da_prev through them): "
        f"check its derivative, {_GATE_FORMULA[g]}" + (f", with {_DC}." if g != "o" else ".")
    )
    return Diagnosis(f"gate-{name}", hint + (_ERRATA if g == "c" else ""), _evidence_of(ev.main))


def _dtanh(ev: Evidence) -> Diagnosis | None:
    if ev.spec.cell.gates or not ev.main or any(d.ok or d.note for d in ev.main):
        return None
    if not (ev.linear_ok and ev.zero_ok):
        return None
    return Diagnosis(
        "dtanh",
        "Every gradient is wrong, yet they scale with the upstream: it looks like the "
        "derivative of tanh: dz = da_next * (1 - a_next**2) (a_next is already tanh(...)).",
        "every gradient differs on the notebook test and scales linearly with the upstream",
    )


def _modifies_input(ev: Evidence) -> Diagnosis | None:
    if not ev.touched or not ev.main or _wrong(ev.main):
        return None
    names = ", ".join(ev.touched)
    return Diagnosis(
        "modifies-input",
        f"It writes into its argument {names}, which changes the caller's data: work on a "
        "copy (x = x.copy()) or build new arrays.",
        f"after the call, {names} differs from what was passed in",
    )


def _shapes_only(ev: Evidence) -> Diagnosis | None:
    if ev.main is None or _wrong(ev.main) or not ev.fresh_failed:
        return None
    error = f" ({ev.failure.line()})" if ev.failure else ""
    return Diagnosis(
        "notebook-shapes-only",
        "Right on the notebook's test, wrong on other shapes: look for sizes or indices "
        "written for the notebook's (a literal 5 or 10, caches[1] where caches[0] is meant).",
        f"wrong at {', '.join(ev.fresh_failed)}{error}",
    )


RULES: tuple[Rule, ...] = (
    _test_cell_global,
    _not_linear,
    _no_upstream,
    _follows_forward,
    _slice_swap,
    _dropped_carry,
    _bias_mean,
    _wrong_state,
    _missing_transpose,
    _dc_path,
    _gate,
    _dtanh,
    _modifies_input,
    _shapes_only,
)


def diagnose(ev: Evidence, rows: list[CheckResult]) -> list[Diagnosis]:
    """At most one diagnosis for a failing function; none when it passes or just raises."""
    if all(r.status in ("pass", "skip") for r in rows):
        return []
    for rule in RULES:
        found = rule(ev)
        if found is not None:
            return [found]
    if ev.main is None:  # it raised on the notebook test: the error says it all
        return []
    failing = [r for r in rows if r.status in ("fail", "error")]
    evidence = (
        "on the notebook test " + _evidence_of(ev.main)
        if _wrong(ev.main)
        else "failing: " + "; ".join(f"{r.name}: {r.note}" for r in failing)
    )
    return [Diagnosis("no-known-pattern", "No known pattern; see the evidence.", evidence)]
