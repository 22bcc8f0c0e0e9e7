"""Known learner bugs, recomputed: what a function returns with one specific mistake.

A diagnosis that rests on a variant is exact: the learner's result on the notebook test
equals rnncli's function with that one mistake made, on every returned array (a
forward's cache aside). `matches` gives, per diagnosis id, the evidence of the variants
the learner's result equals; `signatures` adds the patterns read straight off the arrays
(a step never stored, a missing ``keepdims``, gradients divided by m, one wrong ``dz``).

Everything here runs in rnncli's process on plain arrays the learner's code returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from rnncli import notebook
from rnncli.check.compare import RTOL, diff_outputs
from rnncli.check.problems import Case
from rnncli.check.spec import Spec

Arrays = dict[str, np.ndarray]
Variant = tuple[str, str, Any]  # (diagnosis id, what the mistake is, the outputs it gives)


def _softmax_batch(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - np.max(z))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _forward(spec: Spec, case: Case, params: Mapping[str, np.ndarray] | None = None) -> Any:
    fn = getattr(notebook, spec.name)
    p = dict(case.params if params is None else params)
    return fn(*[case.inputs[k] for k in spec.state_inputs], p)


def _rolled(case: Case, n_x: int) -> Arrays:
    """Gate weights with their columns rolled: W' [a_prev; xt] = W [xt; a_prev]."""
    out = {}
    for k, w in case.params.items():
        if w.ndim == 2 and k.startswith("W") and w.shape[1] > n_x and k not in ("Wy", "Wya"):
            w = np.concatenate((w[:, n_x:], w[:, :n_x]), axis=1)
        out[k] = w
    return out


def _cell_forward(spec: Spec, case: Case) -> Iterable[Variant]:
    ref = _forward(spec, case)
    w, b = (case.params[k] for k in spec.output_layer)
    y = _softmax_batch(w @ ref[0] + b)
    yield "softmax-axis", "softmax over axis 1", (*ref[:-2], y, ref[-1])
    if spec.cell.gates:
        n_x = case.inputs["xt"].shape[0]
        yield "concat-order", "[xt; a_prev]", _forward(spec, case, _rolled(case, n_x))


def _sequence_forward(spec: Spec, case: Case) -> Iterable[Variant]:
    cell = getattr(notebook, spec.name.replace("_forward", "_cell_forward"))
    x, a0, p = case.inputs["x"], case.inputs["a0"], case.params
    ref = _forward(spec, case)
    outs = [np.zeros_like(o) for o in ref[:-1]]
    c = np.zeros_like(a0)
    for t in range(x.shape[2]):
        if spec.cell.has_c:
            a, c, y, _ = cell(x[:, :, t], a0, c, p)
            steps = {"a": a, "y": y, "c": c}
        else:
            a, y, _ = cell(x[:, :, t], a0, p)
            steps = {"a": a, "y": y}
        for o, name in zip(outs, spec.outputs[:-1], strict=True):
            o[:, :, t] = steps[name[0]]
    yield "a0-every-step", "a0 given to the cell at every step", (*outs, ref[-1])


def _rnn_cell_backward(
    da_next: np.ndarray, cache: Any, dz: np.ndarray | None = None, *, transpose: bool = True
) -> Arrays:
    a_next, a_prev, xt, p = cache
    dz = da_next * (1 - a_next**2) if dz is None else dz
    waa = p["Waa"].T if transpose else p["Waa"]
    return {
        "dxt": p["Wax"].T @ dz,
        "da_prev": waa @ dz,
        "dWax": dz @ xt.T,
        "dWaa": dz @ a_prev.T,
        "dba": np.sum(dz, axis=1, keepdims=True),
    }


def _lstm_cell_backward(da_next: np.ndarray, dc_next: np.ndarray, cache: Any, **bug: Any) -> Arrays:
    """The notebook's lstm_cell_backward with one mistake, named by `bug`'s keyword."""
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, p = cache
    n_a, n_x = a_prev.shape[0], xt.shape[0]
    th = c_next**2 if bug.get("dc") == "c2" else np.tanh(c_next) ** 2
    dc = da_next * ot * (1 - th) + dc_next
    if bug.get("dc") == "dc_next":
        dc = dc_next
    d = {
        "f": dc * c_prev * ft * (1 - ft),
        "i": dc * cct * it * (1 - it),
        "c": dc * it * (1 - cct**2),
        "o": da_next * np.tanh(c_next) * ot * (1 - ot),
    }
    concat = np.concatenate((xt, a_prev) if bug.get("concat") else (a_prev, xt), axis=0)
    x_cols = slice(0, n_x) if bug.get("x_cols") else slice(n_a, None)
    a_cols = slice(n_x, None) if bug.get("a_cols") else slice(0, n_a)
    out = {
        "dxt": sum(p["W" + g][:, x_cols].T @ d[g] for g in d),
        "da_prev": sum(
            (p["W" + g][:, a_cols] if bug.get("no_t") else p["W" + g][:, a_cols].T) @ d[g]
            for g in d
        ),
        "dc_prev": {"no_ft": dc, "no_da": dc_next * ft}.get(bug.get("dc_prev", ""), dc * ft),
    }
    for g in d:
        out["dW" + g] = d[g] @ concat.T
        out["db" + g] = np.sum(d[g], axis=1, keepdims=True)
    return out


def _cell_backward(spec: Spec, case: Case, cache: Any) -> Iterable[Variant]:
    up = case.upstream
    if spec.family == "rnn":
        yield "missing-transpose", "da_prev = Waa @ dz", _rnn_cell_backward(
            up["da_next"], cache, transpose=False
        )
        g = _rnn_cell_backward(up["da_next"], cache)
        dz = up["da_next"] * (1 - cache[0] ** 2)
        yield "wrong-state", "dWaa = dz @ a_next.T", {**g, "dWaa": dz @ cache[0].T}
        return
    if spec.family != "lstm":
        return
    da, dc = up["da_next"], up["dc_next"]
    for bug_id, what, bug in (
        ("dc-prev-ft", "dc_prev = dc (no * ft)", {"dc_prev": "no_ft"}),
        ("dc-path", "dc_prev = dc_next * ft", {"dc_prev": "no_da"}),
        ("dc-path", "dc = dc_next", {"dc": "dc_next"}),
        ("tanh-of-c", "(1 - c_next**2) in dc", {"dc": "c2"}),
        ("concat-order", "dW = d(gate) @ [xt; a_prev].T", {"concat": True}),
        ("concat-order", "[xt; a_prev] in dW and slices", dict(concat=1, x_cols=1, a_cols=1)),
        ("w-slice", "dxt from W[:, :n_x]", {"x_cols": True}),
        ("w-slice", "da_prev from W[:, n_x:]", {"a_cols": True}),
        ("w-slice", "dxt from W[:, :n_x], da_prev from W[:, n_x:]", {"x_cols": 1, "a_cols": 1}),
        ("missing-transpose", "da_prev = W[:, :n_a] @ d(gate)", {"no_t": True}),
    ):
        yield bug_id, what, _lstm_cell_backward(da, dc, cache, **bug)


def _sequence_backward(
    spec: Spec,
    da: np.ndarray,
    caches: Any,
    order: Iterable[int],
    carry0: np.ndarray | None = None,
    carry: str = "ac",
) -> tuple[Arrays, list[np.ndarray]]:
    """rnncli's cell backward over `order`; the a-carry starts at `carry0`; only the states
    named in `carry` are given to the cell (the others are kept, not passed). Returns the
    gradients and the a-carry after each step."""
    cell = getattr(notebook, spec.name.replace("_backward", "_cell_backward"))
    cell_caches, x = caches
    ref = getattr(notebook, spec.name)(da, caches)
    grads = {k: np.zeros_like(v) for k, v in ref.items()}
    da_c = np.zeros_like(da[:, :, 0]) if carry0 is None else carry0
    dc_c = np.zeros_like(da_c)
    carried = []
    for t in order:
        da_in = da[:, :, t] + (da_c if "a" in carry else 0)
        args = [da_in] + ([dc_c if "c" in carry else 0 * dc_c] if spec.cell.has_c else [])
        g = cell(*args, cell_caches[t])
        grads["dx"][:, :, t] = g["dxt"]
        da_c = g["da_prev"]
        if spec.cell.has_c:
            dc_c = g["dc_prev"]
        for k in grads:
            if k not in ("dx", "da0"):
                grads[k] += g[k]
        carried.append(da_c)
    grads["da0"] = da_c
    return grads, carried


def _backward_loop(spec: Spec, case: Case, caches: Any) -> Iterable[Variant]:
    da = case.upstream["da"]
    n = da.shape[2]

    def run(order: Iterable[int], **kw: Any) -> Arrays:
        return _sequence_backward(spec, da, caches, order, **kw)[0]

    yield "loop-range", "the loop runs forward in time", run(range(n))
    yield "loop-range", "range(T_x - 1, 0, -1) misses t = 0", run(range(n - 1, 0, -1))
    yield "loop-range", "range(T_x - 2, -1, -1) misses the last step", run(range(n - 2, -1, -1))
    back = range(n - 1, -1, -1)
    yield "carry-init", "da_prevt starts from da[:, :, 0]", run(back, carry0=da[:, :, 0])
    yield "dropped-carry", "da_prevt not carried", run(range(n - 1, -1, -1), carry="c")
    if spec.cell.has_c:
        yield "dropped-carry", "dc_prevt not carried", run(range(n - 1, -1, -1), carry="a")
        yield "dropped-carry", "neither carried", run(range(n - 1, -1, -1), carry="")
    grads, carried = _sequence_backward(spec, da, caches, range(n - 1, -1, -1))
    yield "da0-not-set", "da0 is all zeros", {**grads, "da0": np.zeros_like(grads["da0"])}
    for i, c in enumerate(carried[:-1]):
        yield "da0-not-set", f"da0 is the carry at t = {n - 1 - i}", {**grads, "da0": c}


def variants(spec: Spec, case: Case, cache: Any) -> Iterable[Variant]:
    """The known mistakes of `spec` on `case` (`cache`: rnncli's, for a backward)."""
    kinds: dict[tuple[str, str], Callable[[], Iterable[Variant]]] = {
        ("cell", "forward"): lambda: _cell_forward(spec, case),
        ("sequence", "forward"): lambda: _sequence_forward(spec, case),
        ("cell", "backward"): lambda: _cell_backward(spec, case, cache),
        ("sequence", "backward"): lambda: _backward_loop(spec, case, cache),
    }
    return kinds[spec.level, spec.direction]()


def _compared(spec: Spec) -> tuple[str, ...]:
    return spec.outputs if spec.is_backward else spec.outputs[:-1]


def matches(spec: Spec, case: Case, cache: Any, got: Any) -> dict[str, str]:
    """Diagnosis id -> the mistake, for each variant the learner's result equals."""
    names = _compared(spec)
    if spec.is_backward:
        if not isinstance(got, Mapping):
            return {}
        pick = got
    else:
        if not isinstance(got, (tuple, list)) or len(got) != len(spec.outputs):
            return {}
        pick = dict(zip(spec.outputs, got, strict=True))
    found: dict[str, str] = {}
    try:
        for bug_id, what, out in variants(spec, case, cache):
            want = out if spec.is_backward else dict(zip(spec.outputs, out, strict=True))
            diffs = diff_outputs(names, {n: pick.get(n) for n in names}, want, True)
            if all(d.ok for d in diffs) and bug_id not in found:
                found[bug_id] = what
    except Exception:  # noqa: BLE001 - a variant that does not apply here: no diagnosis from it
        pass
    return found


def steps_not_stored(got: Any, expected: np.ndarray) -> list[int] | None:
    """The steps t where a sequence output is all zero while expected is not, when every
    other step is right; None when that is not the pattern."""
    if not isinstance(got, np.ndarray) or got.shape != expected.shape or got.ndim != 3:
        return None
    scale = float(np.max(np.abs(expected))) or 1.0
    zero, ok = [], True
    for t in range(got.shape[2]):
        err = float(np.max(np.abs(got[:, :, t] - expected[:, :, t])))
        if err <= RTOL * scale:
            continue
        if np.any(got[:, :, t]) or not np.any(expected[:, :, t]):
            ok = False
        zero.append(t)
    return zero if ok and zero else None


def keepdims_lost(got: Any, expected: np.ndarray) -> bool:
    """`got` is `expected` with its size-1 axis dropped (np.sum without keepdims)."""
    if not isinstance(got, np.ndarray) or got.shape == expected.shape:
        return False
    if got.shape != tuple(s for s in expected.shape if s != 1) or got.size != expected.size:
        return False
    scale = float(np.max(np.abs(expected))) or 1.0
    return bool(np.max(np.abs(got.reshape(expected.shape) - expected)) <= RTOL * scale)


def one_dz(grads: Any, cache: Any) -> np.ndarray | None:
    """rnn_cell_backward: the dz every returned gradient follows from, if there is one."""
    try:
        a_next, a_prev, xt, p = cache
        da_prev = np.asarray(grads["da_prev"], dtype=np.float64)
        dz = np.linalg.lstsq(p["Waa"].T, da_prev, rcond=None)[0]
        want = _rnn_cell_backward(np.zeros_like(dz), cache, dz)
        got = {k: np.asarray(grads[k], dtype=np.float64) for k in want}
    except (KeyError, TypeError, ValueError, np.linalg.LinAlgError):
        return None
    diffs = diff_outputs(tuple(want), got, want, True)
    return dz if all(d.ok for d in diffs) else None

