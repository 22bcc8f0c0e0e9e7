"""The checks of one function, run in rnncli's process on what the learner's code returns.

Per function, in table order:

  contract          returns the notebook's structure: values, dict keys, cache items,
                    NumPy arrays of the right shapes, float64 (on the notebook test)
  inputs untouched  leaves its arguments (arrays, parameters, cache) as they were
  notebook test     the notebook's test cell, whole arrays against rnncli's
  m = 1, ...        fresh shapes (`problems.FRESH`)
backward functions also:
  vs your forward   central differences of the learner's own forward (`rnncli.gradcheck`)
  zero upstream     a zero upstream gives zero gradients
  linear upstream   twice (and minus) the upstream gives twice (minus) the gradients
  da_next only, dc_next only (LSTM cell), last step only (sequences): probes against
                    rnncli's backward on the same upstream

Each function is checked on its own: while it runs, the learner's other notebook
functions are replaced by rnncli's (`Learner.isolated`), so a sequence function calling a
wrong cell function is not blamed for it, and a bug is reported once, where it is. A
backward consumes the learner's own cache when their forward computes it right on those
inputs, and rnncli's otherwise (the row says so).
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnncli import notebook
from rnncli.check.compare import (
    array_diff,
    colsum,
    contract,
    diff_outputs,
    same,
    time_profile,
    zero_diff,
)
from rnncli.check.diagnose import Evidence, diagnose
from rnncli.check.load import Source
from rnncli.check.problems import Case, fd_case, fresh_cases, notebook_case
from rnncli.check.results import ArrayDiff, CheckResult, FunctionResult
from rnncli.check.spec import FUNCTIONS, SPECS, Spec
from rnncli.gradcheck import DEFAULT_EPS, DEFAULT_TOL, Problem, Settings, Tally, check_problem

REFERENCE: dict[str, Callable[..., Any]] = {name: getattr(notebook, name) for name in FUNCTIONS}


@dataclass
class Failure:
    """The learner's code raised (or called sys.exit)."""

    type: str
    message: str
    where: str | None  # "line 12", "cell 7, line 3"
    name: str | None = None  # the missing name of a NameError

    def line(self) -> str:
        text = f"{self.type}: {self.message}" if self.message else self.type
        return f"{text} ({self.where})" if self.where else text


@dataclass
class Outcome:
    """One call of a learner's function."""

    value: Any = None
    failure: Failure | None = None
    touched: list[str] = field(default_factory=list)  # arguments it wrote into


class Learner:
    """The learner's namespace, loaded from `source`, and how to call into it."""

    def __init__(
        self, ns: dict[str, Any], source: Source, skipped: Mapping[str, str], memory_mib: int
    ) -> None:
        self.ns = ns
        self.source = source
        self.skipped = dict(skipped)  # names only dropped test code assigns -> where
        self.memory_mib = memory_mib

    def failure(self, exc: BaseException, fn: Any = None) -> Failure:
        """Describe `exc` at the deepest frame of the learner's file (or `fn`'s def line)."""
        where = None
        for frame in traceback.extract_tb(exc.__traceback__):
            where = self.source.where(frame.filename, frame.lineno or 0) or where
        code = getattr(fn, "__code__", None)
        if where is None and code is not None:
            where = self.source.where(code.co_filename, code.co_firstlineno)
        if isinstance(exc, SystemExit):
            return Failure("SystemExit", f"sys.exit({exc.code!r}) was called", where)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if isinstance(exc, MemoryError):
            message = (message + "; " if message else "") + f"over the {self.memory_mib} MiB cap"
        name = exc.name if isinstance(exc, NameError) else None
        return Failure(type(exc).__name__, message, where, name)

    def call(self, fn: Callable[..., Any], args: list[Any], names: tuple[str, ...]) -> Outcome:
        """fn(*args) on copies; which arguments it modified; its exception as a Failure."""
        before = copy.deepcopy(args)
        try:
            value = fn(*args)
        except BaseException as exc:  # their code: any exception, sys.exit included
            # (KeyboardInterrupt too: the child has its own session, Ctrl-C goes to rnncli)
            return Outcome(failure=self.failure(exc, fn))
        touched = [n for n, a, b in zip(names, args, before, strict=True) if not same(a, b)]
        return Outcome(value, touched=touched)

    @contextmanager
    def isolated(self, name: str) -> Iterator[dict[str, Any]]:
        """While checking `name`, every other notebook function is rnncli's.

        Yields the learner's own functions by name (their forward is called from there).
        """
        own = {n: self.ns[n] for n in FUNCTIONS if n in self.ns}
        for n in FUNCTIONS:
            if n != name:
                self.ns[n] = REFERENCE[n]
        try:
            yield own
        finally:
            for n in FUNCTIONS:
                if n in own:
                    self.ns[n] = own[n]
                else:
                    self.ns.pop(n, None)


def _forward_args(spec: Spec, case: Case) -> tuple[list[Any], tuple[str, ...]]:
    fwd = SPECS[spec.forward]
    args = [case.inputs[k].copy() for k in fwd.state_inputs] + [
        {k: v.copy() for k, v in case.params.items()}
    ]
    return args, (*fwd.state_inputs, "parameters")


def _backward_args(
    spec: Spec, upstream: Mapping[str, np.ndarray], cache: Any
) -> tuple[list[Any], tuple[str, ...]]:
    args = [upstream[k].copy() for k in spec.upstream] + [copy.deepcopy(cache)]
    return args, (*spec.upstream, "caches" if spec.is_sequence else "cache")


def _reference_forward(spec: Spec, case: Case) -> Any:
    args, _ = _forward_args(spec, case)
    return REFERENCE[spec.forward](*args)


# ------------------------------------------------------------------------------ rows


def _worst(diffs: list[ArrayDiff]) -> ArrayDiff | None:
    bad = [d for d in diffs if not d.ok]
    if not bad:
        return None
    return max(bad, key=lambda d: d.max_rel if np.isfinite(d.max_rel) else np.inf)


def _describe(diffs: list[ArrayDiff]) -> str:
    """``wrong: dba`` or ``wrong: dxt (shape (5, 10), expected (3, 10)), da_prev``."""
    bad = [d.name + (f" ({d.note})" if d.note else "") for d in diffs if not d.ok]
    return "wrong: " + ", ".join(bad) if bad else ""


def _value_row(label: str, outcome: Outcome, diffs: list[ArrayDiff], note: str = "") -> CheckResult:
    if outcome.failure is not None:
        return CheckResult(label, "error", note=outcome.failure.line())
    worst = _worst(diffs)
    if worst is None:
        rel = max((d.max_rel for d in diffs), default=0.0)
        absolute = max((d.max_abs for d in diffs), default=0.0)
        return CheckResult(label, "pass", absolute, rel, note=note, arrays=diffs)
    text = "; ".join(t for t in (_describe(diffs), note) if t)
    return CheckResult(label, "fail", worst.max_abs, worst.max_rel, worst.where, text, diffs)


def _contract_row(spec: Spec, outcome: Outcome, expected: Any) -> CheckResult:
    if outcome.failure is not None:
        return CheckResult("contract", "error", note=outcome.failure.line())
    problems = contract(spec.outputs, outcome.value, expected, spec.is_backward)
    if not problems:
        return CheckResult("contract", "pass")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return CheckResult("contract", "fail", note=problems[0] + more)


def _untouched_row(outcome: Outcome) -> CheckResult:
    if outcome.failure is not None:
        return CheckResult("inputs untouched", "skip", note="it raised")
    if outcome.touched:
        return CheckResult(
            "inputs untouched", "fail", note="writes into " + ", ".join(outcome.touched)
        )
    return CheckResult("inputs untouched", "pass")


# ------------------------------------------------------------------------------ forward


def _check_forward(
    spec: Spec, fn: Callable[..., Any], learner: Learner, seed: int
) -> tuple[list[CheckResult], Evidence]:
    ev = Evidence(spec, skipped=learner.skipped)
    rows: list[CheckResult] = []
    for i, case in enumerate([notebook_case(spec), *fresh_cases(spec, seed)]):
        expected = _reference_forward(spec, case)
        args, names = _forward_args(spec, case)
        out = learner.call(fn, args, names)
        diffs = [] if out.failure else diff_outputs(spec.outputs, out.value, expected, False)
        row = _value_row(case.label, out, diffs)
        if i == 0:
            ev.m, ev.failure, ev.touched = case.m, out.failure, out.touched
            ev.main = None if out.failure else diffs
            ev.observe(case, None, out.value, expected)
            rows += [_contract_row(spec, out, expected), _untouched_row(out)]
        elif row.status != "pass":
            ev.fresh_failed.append(case.label)
            ev.failure = ev.failure or out.failure
        rows.append(row)
    return rows, ev


# ------------------------------------------------------------------------------ backward


def _cache(
    spec: Spec, case: Case, forward: Callable[..., Any] | None, learner: Learner, why: str
) -> tuple[Any, Any, str]:
    """(cache to feed the backward, rnncli's cache, a note when it is not the learner's).

    `why` says why there is no `forward` of the learner's to call.
    """
    reference = _reference_forward(spec, case)
    if forward is None:
        return reference[-1], reference[-1], f"on rnncli's cache: your {spec.forward} {why}"
    args, names = _forward_args(spec, case)
    out = learner.call(forward, args, names)
    if out.failure is None:
        fwd = SPECS[spec.forward]
        same = all(d.ok for d in diff_outputs(fwd.outputs, out.value, reference, False))
        if same and not contract(fwd.outputs, out.value, reference, False):
            return out.value[-1], reference[-1], ""
    return reference[-1], reference[-1], f"on rnncli's cache: your {spec.forward} differs here"


def _probe_upstreams(spec: Spec, case: Case) -> dict[str, dict[str, np.ndarray]]:
    up = case.upstream
    if spec.is_sequence:
        da = np.zeros_like(up["da"])
        da[:, :, -1] = up["da"][:, :, -1]
        return {"last step only": {"da": da}}
    if len(spec.upstream) < 2:
        return {}
    zeros = {k: np.zeros_like(up[k]) for k in spec.upstream}
    return {f"{k} only": {**zeros, k: up[k]} for k in spec.upstream}  # da_next, dc_next


def _check_backward(
    spec: Spec,
    fn: Callable[..., Any],
    own: Mapping[str, Any],
    learner: Learner,
    seed: int,
    unusable: Mapping[str, str],
) -> tuple[list[CheckResult], Evidence]:
    ev = Evidence(spec, skipped=learner.skipped)
    why = unusable.get(spec.forward, "is missing")
    forward = None if spec.forward in unusable else own.get(spec.forward)
    rows: list[CheckResult] = []
    main_case = notebook_case(spec)
    main_cache: Any = None
    main_out = Outcome()
    for i, case in enumerate([main_case, *fresh_cases(spec, seed)]):
        cache, ref_cache, note = _cache(spec, case, forward, learner, why)
        expected = REFERENCE[spec.name](*_backward_args(spec, case.upstream, ref_cache)[0])
        args, names = _backward_args(spec, case.upstream, cache)
        out = learner.call(fn, args, names)
        diffs = [] if out.failure else diff_outputs(spec.outputs, out.value, expected, True)
        row = _value_row(case.label, out, diffs, note)
        if spec.is_sequence and isinstance(out.value, Mapping):
            row.profile = time_profile(out.value.get("dx"), expected["dx"])
        if i == 0:
            main_cache, main_out = cache, out
            ev.m, ev.failure, ev.touched = case.m, out.failure, out.touched
            ev.main = None if out.failure else diffs
            ev.profile = row.profile
            ev.observe(case, ref_cache, out.value, expected)
            rows += [_contract_row(spec, out, expected), _untouched_row(out)]
        elif row.status != "pass":
            ev.fresh_failed.append(case.label)
            ev.failure = ev.failure or out.failure
        rows.append(row)
    rows.append(_finite_differences(spec, fn, forward, learner, seed, ev, why))
    rows += _properties(spec, fn, learner, main_case, main_cache, main_out, ev)
    return rows, ev


def _properties(
    spec: Spec,
    fn: Callable[..., Any],
    learner: Learner,
    case: Case,
    cache: Any,
    base: Outcome,
    ev: Evidence,
) -> list[CheckResult]:
    """Zero and linear in the upstream (against the learner's own notebook-test result);
    probes against rnncli's backward on the same upstream."""
    rows = []
    g = _grads(base)
    zero = learner.call(fn, *_backward_args(spec, _scaled(case.upstream, 0.0), cache))
    failed = base.failure or zero.failure
    if failed is not None:
        rows.append(CheckResult("zero upstream", "error", note=failed.line()))
    else:
        diffs = [zero_diff(n, _grads(zero).get(n), g[n]) for n in spec.outputs if n in g]
        rows.append(_value_row("zero upstream", zero, diffs))
        ev.zero_ok = rows[-1].status == "pass"
    twice = learner.call(fn, *_backward_args(spec, _scaled(case.upstream, 2.0), cache))
    minus = learner.call(fn, *_backward_args(spec, _scaled(case.upstream, -1.0), cache))
    failed = base.failure or twice.failure or minus.failure
    if failed is not None:
        rows.append(CheckResult("linear upstream", "error", note=failed.line()))
    else:
        diffs = []
        for n in (n for n in spec.outputs if n in g):
            d2 = array_diff(n, _grads(twice).get(n), 2 * g[n])
            diffs.append(d2 if not d2.ok else array_diff(n, _grads(minus).get(n), -g[n]))
        rows.append(_value_row("linear upstream", twice, diffs))
        ev.linear_ok = rows[-1].status == "pass"
    ref_cache = _reference_forward(spec, case)[-1]
    for label, upstream in _probe_upstreams(spec, case).items():
        expected = REFERENCE[spec.name](*_backward_args(spec, upstream, ref_cache)[0])
        out = learner.call(fn, *_backward_args(spec, upstream, cache))
        diffs = [] if out.failure else diff_outputs(spec.outputs, out.value, expected, True)
        rows.append(_value_row(label, out, diffs))
        if out.failure is None:
            ev.probes[label] = diffs
            dx = _grads(out).get("dx")
            if spec.is_sequence and dx is not None and dx.shape == expected["dx"].shape:
                ev.carry_zero = not np.any(dx[:, :, :-1]) and bool(
                    np.any(expected["dx"][:, :, :-1])
                )
    return rows


def _scaled(upstream: Mapping[str, np.ndarray], factor: float) -> dict[str, np.ndarray]:
    return {k: factor * v for k, v in upstream.items()}


def _grads(out: Outcome) -> dict[str, np.ndarray]:
    """The returned gradient arrays (what could be read of them)."""
    if out.failure is not None or not isinstance(out.value, Mapping):
        return {}
    return {k: v for k, v in out.value.items() if isinstance(v, np.ndarray)}


def _finite_differences(
    spec: Spec,
    fn: Callable[..., Any],
    forward: Callable[..., Any] | None,
    learner: Learner,
    seed: int,
    ev: Evidence,
    why: str,
) -> CheckResult:
    """The learner's backward on their own cache against central differences of their forward.

    f = Σ da_next⊙a_next (+ Σ dc_next⊙c_next), or Σ da⊙a for a sequence, per batch column.
    """
    label = "vs your forward"
    if forward is None:
        return CheckResult(
            label, "skip", note=f"nothing to differentiate: your {spec.forward} {why}"
        )
    case = fd_case(spec, seed)
    fwd = SPECS[spec.forward]
    out = learner.call(forward, *_forward_args(spec, case))
    if out.failure is not None:
        return CheckResult(label, "skip", note=f"your {spec.forward} raised: {out.failure.line()}")
    reference = _reference_forward(spec, case)
    ev.forward_ok = all(d.ok for d in diff_outputs(fwd.outputs, out.value, reference, False))
    broken = contract(fwd.outputs, out.value, reference, False)
    if broken:  # not the notebook's structure or dtype: differentiate rnncli's forward
        forward, out = REFERENCE[spec.forward], Outcome(reference)
        ev.forward_ok = None
    try:
        cache = out.value[-1]
    except Exception:  # whatever it returned, it has no last item
        return CheckResult(label, "skip", note=f"your {spec.forward} returns no cache")
    grads = learner.call(fn, *_backward_args(spec, case.upstream, cache))
    if grads.failure is not None:
        return CheckResult(label, "error", note=grads.failure.line())

    problem = _fd_problem(spec, case, forward, grads)
    settings = Settings(DEFAULT_EPS, DEFAULT_TOL, "full", 4, 10**9, seed, np.dtype(np.float64))
    try:
        found = check_problem(problem, settings, Tally())
    except BaseException as exc:
        return CheckResult(
            label,
            "skip",
            note=f"your {spec.forward} raised: {learner.failure(exc, forward).line()}",
        )
    on = f"; of rnncli's {spec.forward}: yours {broken[0]}" if broken else ""
    return _fd_row(spec, found, ev, on)


def _fd_problem(spec: Spec, case: Case, forward: Callable[..., Any], grads: Outcome) -> Problem:
    """gradcheck's problem: f = Σ da⊙a (+ Σ dc_next⊙c_next) of `forward`, per batch column,
    against the backward's `grads`."""
    fwd = SPECS[spec.forward]

    def per_column(
        p: dict[str, np.ndarray], c: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        result = forward(*[c[k] for k in fwd.state_inputs], p)
        # f = Σ da⊙a (+ Σ dc_next⊙c_next: a cell step's every state)
        terms = [c[k] * np.asarray(r) for k, r in zip(spec.upstream, result, strict=False)]
        f = sum(colsum(t) for t in terms)
        s = sum(colsum(np.abs(t)) for t in terms)
        return np.asarray(f), np.asarray(s)

    return Problem(
        spec.family,
        spec.level,
        None,
        dict(case.params),
        {**case.inputs, **case.upstream},
        spec.wrt(),
        per_column,
        lambda: grads.value,
        case.m,
    )


def _fd_row(spec: Spec, found: list[Any], ev: Evidence, on: str) -> CheckResult:
    """The "vs your forward" row from gradcheck's results (`on`: whose forward, if not theirs)."""
    label = "vs your forward"
    bad = [r for r in found if not r.passed]
    rel = max((r.rel_error for r in found if np.isfinite(r.rel_error)), default=np.inf)
    worst_abs = max((r.abs_error for r in found if np.isfinite(r.abs_error)), default=np.inf)
    if not bad:
        ev.fd_ok = not on
        return CheckResult(
            label, "pass", worst_abs, rel, note=f"central differences, eps {DEFAULT_EPS:g}{on}"
        )
    ev.fd_ok = False
    worst = max(bad, key=lambda r: r.rel_error if np.isfinite(r.rel_error) else np.inf)
    text = "differs: " + ", ".join(r.name + (f" ({r.note})" if r.note else "") for r in bad) + on
    if ev.forward_ok is False:
        # their forward is wrong here: its derivative says nothing about this backward
        text += f"; your {spec.forward} is wrong, so this says little"
        return CheckResult(label, "skip", worst.abs_error, worst.rel_error, worst.name, text)
    return CheckResult(label, "fail", worst.abs_error, worst.rel_error, worst.name, text)


# ------------------------------------------------------------------------------ one function


def check_function(
    name: str, learner: Learner, seed: int, unusable: Mapping[str, str] | None = None
) -> FunctionResult:
    """Every check of `name` from the learner's namespace, its verdict and diagnosis.

    `unusable` names functions of the learner's not to call (they hung or killed the
    process when checked), with why: ``{"rnn_cell_forward": "timed out"}``.
    """
    spec = SPECS[name]
    fn = learner.ns.get(name)
    if not callable(fn):
        kind = type(fn).__name__
        return FunctionResult(name, "error", f"{name} is not a function (it is a {kind})")
    with learner.isolated(name) as own:
        if spec.is_backward:
            rows, ev = _check_backward(spec, fn, own, learner, seed, unusable or {})
        else:
            rows, ev = _check_forward(spec, fn, learner, seed)
    result = FunctionResult(name, "pass", checks=rows, diagnosis=diagnose(ev, rows))
    counted = [r for r in rows if r.counted]
    if rows[0].status == "error":  # it does not run on the notebook's test
        result.verdict, result.message = "error", rows[0].note
    elif any(r.status != "pass" for r in counted):
        result.verdict = "fail"
        result.message = f"{len(counted) - result.passed} of {len(counted)} checks failed"
    return result
