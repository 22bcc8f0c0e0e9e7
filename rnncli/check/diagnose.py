"""From the evidence of a failing function to what is most likely wrong with it.

Each rule reads the `Evidence`: which returned arrays differ on the
notebook test and how (all zeros, an exact multiple of the expected, a swapped shape),
the upstream probes, the zero and linearity properties, dx's error per time step, and
finite differences of the learner's own forward. The first rule that fits gives the
diagnosis: a stable id, a hint in plain words and the evidence it rests on. A pattern
read off the evidence is worded "looks like"; a mismatch that fits no rule says so.

Most ids rest on a variant (`variants`): the learner's result equals, on every array,
rnncli's function with that one mistake made; a rule scoped to its functions checks every
precondition of its signature, and a failure no rule fully fits is `no-known-pattern`.

    id                   evidence (function)
    test-cell-global     a NameError for a name only the (skipped) test code assigns
    signature            a TypeError calling it: its arguments are not the notebook's
    missing-import       a NameError for np, numpy, math, sigmoid or softmax
    numpy-removed        an AttributeError for a name NumPy 2 removed
    modifies-input       it writes into an argument (its values right or not)
    not-linear           backward: twice the upstream does not give twice the gradients
    no-upstream          backward: every gradient is exactly zero
    follows-forward      right by finite differences of the learner's forward, which is wrong
    slice-swap           lstm/gru cell backward: dxt and da_prev have each other's shapes
    missing-keepdims     the wrong arrays are right but for a dropped size-1 axis
    divided-by-m         every weight and bias gradient exactly 1/m of the expected
    bias-mean            only biases wrong, each exactly 1/m of the expected
    softmax-axis         cell forward: = softmax over axis 1
    a0-every-step        sequence forward: = a0 given to the cell at every step
    concat-order         lstm cell forward/backward: = [xt; a_prev]
    missing-transpose    cell backward: = da_prev without the transpose of W
    wrong-state          rnn_cell_backward: = dWaa from a_next
    dc-prev-ft           lstm_cell_backward: = dc_prev without * ft
    dc-path              lstm_cell_backward: = dc without its path through a_next
    tanh-of-c            lstm_cell_backward: = (1 - c_next**2) for (1 - tanh(c_next)**2)
    w-slice              lstm_cell_backward: = dxt or da_prev from the wrong columns of W
    loop-range           sequence backward: = the loop forward in time or missing a step
    carry-init           sequence backward: = da_prevt started from da[:, :, 0]
    dropped-carry        sequence backward: = da_prevt (or dc_prevt) not carried
    da0-not-set          sequence backward: = da0 zero, or the carry of another step
    not-stored           sequence forward: some steps of a, y or c never written, the rest right
    gate-<name>          lstm_cell_backward: one gate's dW/db wrong (dxt, da_prev may follow)
    dtanh                rnn_cell_backward: every gradient follows from one wrong dz
    notebook-shapes-only right on the notebook test, wrong on fresh shapes
    no-known-pattern     anything else that fails
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rnncli.check import variants
from rnncli.check.compare import RTOL
from rnncli.check.hints import KNOWN
from rnncli.check.problems import Case
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
    got: Any = None  # the learner's result on the notebook test
    expected: Any = None  # rnncli's
    cache: Any = None  # rnncli's cache there (a backward)
    matches: dict[str, str] = field(default_factory=dict)  # variant id -> the mistake

    def observe(self, case: Case, cache: Any, got: Any, expected: Any) -> None:
        """The notebook test's result, and the known mistakes it equals."""
        self.got, self.expected, self.cache = got, expected, cache
        if self.main is not None and _wrong(self.main):
            self.matches = variants.matches(self.spec, case, cache, got)


IDS = (
    "test-cell-global",
    "signature",
    "missing-import",
    "numpy-removed",
    "modifies-input",
    "not-linear",
    "no-upstream",
    "follows-forward",
    "slice-swap",
    "missing-keepdims",
    "divided-by-m",
    "bias-mean",
    "softmax-axis",
    "a0-every-step",
    "concat-order",
    "missing-transpose",
    "wrong-state",
    "dc-prev-ft",
    "dc-path",
    "tanh-of-c",
    "w-slice",
    "loop-range",
    "carry-init",
    "dropped-carry",
    "da0-not-set",
    "not-stored",
    *(f"gate-{g}" for g in LSTM_GATES.values()),
    "dtanh",
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


_IMPORTS = {"np": "import numpy as np", "numpy": "import numpy", "math": "import math",
            "sigmoid": "from rnn_utils import *", "softmax": "from rnn_utils import *"}  # fmt: skip


def _loading(ev: Evidence) -> Diagnosis | None:
    """The call itself fails: a changed signature, a missing import, a removed NumPy name."""
    f = ev.failure
    if f is None:
        return None
    if f.type == "TypeError" and f.message.startswith(f"{ev.spec.name}()"):
        s = ev.spec
        args = (*s.upstream, "caches" if s.is_sequence else "cache") if s.is_backward else (
            *s.state_inputs, "parameters")  # fmt: skip
        return Diagnosis(
            "signature",
            f"Keep the notebook's signature: {s.name}({', '.join(args)}).",
            f.line(),
        )
    if f.type == "NameError" and f.name in _IMPORTS and f.name not in ev.skipped:
        return Diagnosis(
            "missing-import", f"{f.name} is never imported: add `{_IMPORTS[f.name]}` at the top.",
            f.line(),
        )  # fmt: skip
    removed = "removed in the NumPy 2.0 release" in f.message
    if f.type == "AttributeError" and (removed or "module 'numpy' has no" in f.message):
        return Diagnosis(
            "numpy-removed",
            "A name NumPy 2 removed (np.float_, np.NaN, ...): use the current one "
            "(np.float64, np.nan); the error says which.",
            f.line(),
        )
    return None


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


def _modifies_input(ev: Evidence) -> Diagnosis | None:
    if not ev.touched:
        return None
    names = ", ".join(ev.touched)
    wrong = _wrong(ev.main) if ev.main else []
    also = (
        "; its results differ too (" + ", ".join(wrong) + "), which writing into "
        f"{names} can cause: fix this first"
        if wrong
        else "; its results are right"
    )
    return Diagnosis(
        "modifies-input",
        f"It writes into its argument {names}, which changes the caller's data: work on a "
        "copy (x = x.copy()) or build new arrays (dz = da_next * ..., not da_next *= ...).",
        f"after the call, {names} differs from what was passed in{also}",
    )


def _missing_keepdims(ev: Evidence) -> Diagnosis | None:
    if not ev.main or not isinstance(ev.got, dict) or not isinstance(ev.expected, dict):
        return None
    wrong = _wrong(ev.main)
    if not wrong or not all(
        variants.keepdims_lost(ev.got.get(n), ev.expected[n]) for n in wrong
    ):
        return None
    names = ", ".join(wrong)
    return Diagnosis(
        "missing-keepdims",
        f"{names} lost its size-1 axis: sum with keepdims, np.sum(d, axis=1, keepdims=True).",
        f"{names}: the right values in shape {tuple(ev.got[wrong[0]].shape)}, expected "
        f"{tuple(ev.expected[wrong[0]].shape)}; every other gradient matches",
    )


def _divided_by_m(ev: Evidence) -> Diagnosis | None:
    if not ev.spec.is_backward or not ev.main or ev.m < 2:
        return None
    params = {"d" + k for k in ev.spec.cell.params}
    bad = [d for d in ev.main if not d.ok]
    if {d.name for d in bad} != params:
        return None
    if not all(d.multiple is not None and abs(d.multiple * ev.m - 1) < 1e-6 for d in bad):
        return None
    return Diagnosis(
        "divided-by-m",
        "The weight and bias gradients look divided by m: the notebook's are sums over the "
        "batch; drop the / m (or the mean).",
        f"every weight and bias gradient = exactly 1/{ev.m} of the expected (m = {ev.m}); "
        "the other gradients match",
    )


def _not_stored(ev: Evidence) -> Diagnosis | None:
    spec = ev.spec
    if spec.is_backward or not spec.is_sequence or not ev.main or ev.expected is None:
        return None
    wrong = _wrong(ev.main)
    if not wrong or "caches" in wrong or not isinstance(ev.got, (tuple, list)):
        return None
    got = dict(zip(spec.outputs, ev.got, strict=False))
    want = dict(zip(spec.outputs, ev.expected, strict=False))
    steps = {n: variants.steps_not_stored(got.get(n), want[n]) for n in wrong}
    if any(v is None for v in steps.values()):
        return None
    where = "; ".join(f"{n} at t = {', '.join(map(str, v or []))}" for n, v in steps.items())
    names = " and ".join(f"{n}[:, :, t]" for n in wrong)
    return Diagnosis(
        "not-stored",
        f"{names} looks not stored at every step: inside the loop, store the cell's "
        "output at step t.",
        f"all zero (never written) {where}; every other step and output matches",
    )


def _gate(ev: Evidence) -> Diagnosis | None:
    if ev.spec.name != "lstm_cell_backward" or not ev.main:
        return None
    if any(d.note for d in ev.main if not d.ok):  # a shape or type problem is another story
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
    if ev.spec.name != "rnn_cell_backward" or not ev.main or any(d.ok or d.note for d in ev.main):
        return None
    if not (ev.linear_ok and ev.zero_ok) or variants.one_dz(ev.got, ev.cache) is None:
        return None
    return Diagnosis(
        "dtanh",
        "Every gradient is wrong, yet they scale with the upstream: it looks like the "
        "derivative of tanh: dz = da_next * (1 - a_next**2) (a_next is already tanh(...)).",
        "every gradient differs on the notebook test, scales linearly with the upstream and "
        "follows from one dz (dxt = Wax.T @ dz, da_prev = Waa.T @ dz, dWax, dWaa, dba) that "
        "is not da_next * (1 - a_next**2)",
    )


def _known(ev: Evidence) -> Diagnosis | None:
    """A mistake rnncli recomputes (`variants`) that the learner's result equals exactly."""
    if not ev.main or not _wrong(ev.main):
        return None
    for bug_id, hint in KNOWN.items():
        if bug_id in ev.matches:
            return Diagnosis(
                bug_id,
                hint(ev),
                f"equals rnncli's {ev.spec.name} with {ev.matches[bug_id]}, on every array"
                + (_carry_evidence(ev) if bug_id == "dropped-carry" else "")
                + "; "
                + _evidence_of(ev.main),
            )
    return None


def _carry_evidence(ev: Evidence) -> str:
    p = ev.profile or []
    wrong_t = [str(t) for t, e in enumerate(p) if e > RTOL]
    text = f"; dx wrong at t = {', '.join(wrong_t)}" if wrong_t else ""
    if ev.carry_zero:
        text += "; with an upstream at the last step only, dx before it is all zero"
    return text


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
    _loading,
    _modifies_input,
    _not_linear,
    _no_upstream,
    _follows_forward,
    _slice_swap,
    _missing_keepdims,
    _divided_by_m,
    _bias_mean,
    _known,
    _not_stored,
    _gate,
    _dtanh,
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
