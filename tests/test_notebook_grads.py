"""Gradient checks, dtype, shape-validation and activation tests for rnncli.notebook.

Every backward function is compared, for every gradient it returns, against central
differences of a scalar objective in float64:

    cells:      L = sum(da_next * a_next)  (+ sum(dc_next * c_next) for the LSTM)
    sequences:  L = sum(da * a)            (the LSTM's c0 is fixed at zero)

with relative error |g - g_num| / max(|g| + |g_num|, 1e-300) < 1e-7. The checker is
shown to fail on planted bugs (the carried da_prev / dc_prev dropped).
"""

from __future__ import annotations

import inspect
import warnings
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rnncli import notebook as nb
from rnncli.activations import sigmoid, softmax

EPS = 1e-6
TOLERANCE = 1e-7
N_Y = 2

# (n_x, n_a, m, T_x): odd sizes, m = 1 and T_x = 1 included
SHAPES = [(3, 5, 4, 3), (1, 2, 1, 1), (4, 3, 1, 2), (2, 6, 3, 1)]
SHAPE_IDS = [f"nx{n_x}-na{n_a}-m{m}-T{T}" for n_x, n_a, m, T in SHAPES]

Backward = Callable[..., dict[str, np.ndarray]]


def rel_error(g: np.ndarray, g_num: np.ndarray) -> float:
    return float(np.linalg.norm(g - g_num) / max(np.linalg.norm(g) + np.linalg.norm(g_num), 1e-300))


def numerical_gradient(loss: Callable[[], float], array: np.ndarray) -> np.ndarray:
    """Central differences of loss() with respect to `array`, perturbed in place."""
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        old = array[i]
        array[i] = old + EPS
        plus = loss()
        array[i] = old - EPS
        minus = loss()
        array[i] = old
        grad[i] = (plus - minus) / (2 * EPS)
    return grad


def gradient_errors(
    loss: Callable[[], float], gradients: dict[str, np.ndarray], wrt: dict[str, np.ndarray]
) -> dict[str, float]:
    """Relative error of every returned gradient; wrt maps its key to the array it is for."""
    assert set(gradients) == set(wrt), "every returned gradient must be checked"
    errors = {}
    for key, array in wrt.items():
        assert gradients[key].shape == array.shape, key
        errors[key] = rel_error(gradients[key], numerical_gradient(loss, array))
    return errors


# --------------------------------------------------------------------------------------
# Problems: random inputs, parameters and upstream gradients; L and its analytic gradient
# --------------------------------------------------------------------------------------


def rnn_parameters(rng: np.random.Generator, n_x: int, n_a: int) -> dict[str, np.ndarray]:
    return {
        "Wax": rng.standard_normal((n_a, n_x)),
        "Waa": rng.standard_normal((n_a, n_a)),
        "Wya": rng.standard_normal((N_Y, n_a)),
        "ba": rng.standard_normal((n_a, 1)),
        "by": rng.standard_normal((N_Y, 1)),
    }


def gated_parameters(
    rng: np.random.Generator, n_x: int, n_a: int, gates: str
) -> dict[str, np.ndarray]:
    p = {}
    for g in gates:
        p[f"W{g}"] = rng.standard_normal((n_a, n_a + n_x))
        p[f"b{g}"] = rng.standard_normal((n_a, 1))
    p["Wy"] = rng.standard_normal((N_Y, n_a))
    p["by"] = rng.standard_normal((N_Y, 1))
    return p


def weights_of(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{"dWax": Wax, ...} for the parameters a backward function differentiates."""
    return {f"d{k}": v for k, v in p.items() if k not in ("Wya", "Wy", "by")}


Problem = tuple[Callable[[], float], Callable[[], dict[str, np.ndarray]], dict[str, np.ndarray]]


def problem(
    name: str, shape: tuple[int, int, int, int], backward: Backward | None = None
) -> Problem:
    """(loss, analytic gradients, wrt) for one backward function of notebook.py."""
    n_x, n_a, m, T_x = shape
    rng = np.random.default_rng(zlib.crc32(f"{name} {shape}".encode()))
    family, _, kind = name.partition("_")
    if family == "rnn":
        p = rnn_parameters(rng, n_x, n_a)
    else:
        p = gated_parameters(rng, n_x, n_a, "fico" if family == "lstm" else "zrh")
    backward = backward or getattr(nb, f"{name}_backward")

    if kind == "cell":
        xt, a_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
        da_next = rng.standard_normal((n_a, m))
        wrt = {"dxt": xt, "da_prev": a_prev, **weights_of(p)}
        if family == "lstm":
            c_prev, dc_next = rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))
            wrt["dc_prev"] = c_prev

            def loss() -> float:
                a_next, c_next, _, _ = nb.lstm_cell_forward(xt, a_prev, c_prev, p)
                return float(np.sum(da_next * a_next) + np.sum(dc_next * c_next))

            def analytic() -> dict[str, np.ndarray]:
                cache = nb.lstm_cell_forward(xt, a_prev, c_prev, p)[3]
                return backward(da_next, dc_next, cache)

        else:
            forward = getattr(nb, f"{family}_cell_forward")

            def loss() -> float:
                return float(np.sum(da_next * forward(xt, a_prev, p)[0]))

            def analytic() -> dict[str, np.ndarray]:
                return backward(da_next, forward(xt, a_prev, p)[2])

    else:
        x, a0 = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m))
        da = rng.standard_normal((n_a, m, T_x))
        wrt = {"dx": x, "da0": a0, **weights_of(p)}
        forward = getattr(nb, f"{family}_forward")

        def loss() -> float:
            return float(np.sum(da * forward(x, a0, p)[0]))

        def analytic() -> dict[str, np.ndarray]:
            return backward(da, forward(x, a0, p)[-1])

    return loss, analytic, wrt


def check(
    name: str, shape: tuple[int, int, int, int], backward: Backward | None = None
) -> dict[str, float]:
    loss, analytic, wrt = problem(name, shape, backward)
    return gradient_errors(loss, analytic(), wrt)


BACKWARDS = ["rnn_cell", "rnn", "lstm_cell", "lstm", "gru_cell", "gru"]


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("name", BACKWARDS)
def test_backward_matches_central_differences(name: str, shape: tuple[int, int, int, int]) -> None:
    errors = check(name, shape)
    bad = {k: e for k, e in errors.items() if not e < TOLERANCE}
    assert not bad, f"{name}_backward disagrees with central differences: {bad}"


# --------------------------------------------------------------------------------------
# The checker must be able to fail: plant the classic bug (the carry dropped)
# --------------------------------------------------------------------------------------


def planted(function: Callable[..., Any], old: str, new: str) -> Backward:
    """A copy of a notebook function with one piece of its source replaced."""
    source = inspect.getsource(function)
    assert old in source, f"{old!r} not in {function.__name__}"
    namespace = dict(vars(nb))
    exec(compile(source.replace(old, new), f"<planted {function.__name__}>", "exec"), namespace)
    copy: Backward = namespace[function.__name__]
    return copy


BUGS = {
    "rnn-da_prev": ("rnn", nb.rnn_backward, "da[:, :, t] + da_prevt", "da[:, :, t]"),
    "lstm-da_prev": ("lstm", nb.lstm_backward, "da[:, :, t] + da_prevt", "da[:, :, t]"),
    "lstm-dc_prev": ("lstm", nb.lstm_backward, "da_prevt, dc_prevt,", "da_prevt, 0 * dc_prevt,"),
    "gru-da_prev": ("gru", nb.gru_backward, "da[:, :, t] + da_prevt", "da[:, :, t]"),
}


@pytest.mark.parametrize("bug", BUGS)
def test_checker_catches_a_dropped_carry(bug: str) -> None:
    name, function, old, new = BUGS[bug]
    buggy = planted(function, old, new)
    shape = SHAPES[0]  # T_x = 3

    errors = check(name, shape, buggy)
    failed = {k for k, e in errors.items() if not e < TOLERANCE}
    assert failed, f"the gradient check did not notice the planted bug {bug}"
    assert {"dx", "da0"} <= failed
    # the bug only shows when there is something to carry: with T_x = 1 it is invisible
    assert all(e < TOLERANCE for e in check(name, SHAPES[1], buggy).values())


def test_checker_catches_a_wrong_cell_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    # a cell that forgets the tanh' factor in dxt
    original = nb.rnn_cell_backward

    def wrong_cell(da_next: np.ndarray, cache: tuple[Any, ...]) -> dict[str, np.ndarray]:
        gradients = original(da_next, cache)
        gradients["dxt"] = np.dot(cache[3]["Wax"].T, da_next)
        return gradients

    monkeypatch.setattr(nb, "rnn_cell_backward", wrong_cell)
    errors = check("rnn", SHAPES[0])
    assert errors["dx"] > TOLERANCE


# --------------------------------------------------------------------------------------
# dtype: float32 in, float32 out (no silent upcast)
# --------------------------------------------------------------------------------------


def arrays_in(value: Any) -> list[np.ndarray]:
    """Every ndarray in a result (tuples, lists and dicts searched, parameters included)."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, dict):
        return [a for v in value.values() for a in arrays_in(v)]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in arrays_in(v)]
    return []


@pytest.mark.parametrize("family", ["rnn", "lstm", "gru"])
def test_float32_stays_float32(family: str) -> None:
    n_x, n_a, m, T_x = SHAPES[0]
    rng = np.random.default_rng(0)

    def f32(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    if family == "rnn":
        p = {k: v.astype(np.float32) for k, v in rnn_parameters(rng, n_x, n_a).items()}
    else:
        gates = "fico" if family == "lstm" else "zrh"
        p = {k: v.astype(np.float32) for k, v in gated_parameters(rng, n_x, n_a, gates).items()}
    xt, a_prev, c_prev = f32(n_x, m), f32(n_a, m), f32(n_a, m)
    x, a0, da, da_next, dc_next = (
        f32(n_x, m, T_x),
        f32(n_a, m),
        f32(n_a, m, T_x),
        f32(n_a, m),
        f32(n_a, m),
    )

    results: dict[str, Any] = {}
    if family == "lstm":
        results["lstm_cell_forward"] = cell = nb.lstm_cell_forward(xt, a_prev, c_prev, p)
        results["lstm_cell_backward"] = nb.lstm_cell_backward(da_next, dc_next, cell[3])
        results["lstm_forward"] = seq = nb.lstm_forward(x, a0, p)
        results["lstm_backward"] = nb.lstm_backward(da, seq[3])
    else:
        results[f"{family}_cell_forward"] = cell = getattr(nb, f"{family}_cell_forward")(
            xt, a_prev, p
        )
        results[f"{family}_cell_backward"] = getattr(nb, f"{family}_cell_backward")(
            da_next, cell[2]
        )
        results[f"{family}_forward"] = seq = getattr(nb, f"{family}_forward")(x, a0, p)
        results[f"{family}_backward"] = getattr(nb, f"{family}_backward")(da, seq[2])

    for function, result in results.items():
        dtypes = {a.dtype for a in arrays_in(result)}
        assert dtypes == {np.dtype(np.float32)}, f"{function} returned {dtypes}"


# --------------------------------------------------------------------------------------
# Shape validation: ValueError naming the array, expected vs actual
# --------------------------------------------------------------------------------------


def test_mismatched_xt_message() -> None:
    p = rnn_parameters(np.random.default_rng(0), 3, 5)
    with pytest.raises(ValueError) as info:
        nb.rnn_cell_forward(np.zeros((4, 10)), np.zeros((5, 10)), p)
    assert str(info.value) == "xt has shape (4, 10) but Wax expects n_x = 3: expected (3, 10)"


def _mismatches() -> list[tuple[str, Callable[[], Any], str]]:
    """(array name, call, regex its message must match) for each input of each function."""
    rng = np.random.default_rng(0)
    n_x, n_a, m, T = 3, 5, 4, 3
    rp = rnn_parameters(rng, n_x, n_a)
    lp = gated_parameters(rng, n_x, n_a, "fico")
    gp = gated_parameters(rng, n_x, n_a, "zrh")
    z = np.zeros
    xt, a, x = z((n_x, m)), z((n_a, m)), z((n_x, m, T))
    r_seq = nb.rnn_forward(x, a, rp)[2]
    l_seq = nb.lstm_forward(x, a, lp)[3]
    g_seq = nb.gru_forward(x, a, gp)[2]
    r_cell = nb.rnn_cell_forward(xt, a, rp)[2]
    l_cell = nb.lstm_cell_forward(xt, a, a, lp)[3]
    g_cell = nb.gru_cell_forward(xt, a, gp)[2]
    return [
        ("xt", lambda: nb.rnn_cell_forward(z((2, m)), a, rp), r"\(2, 4\).*expected \(3, 4\)"),
        ("xt", lambda: nb.rnn_cell_forward(z(n_x), a, rp), r"\(3,\).*expected \(3, m\)"),
        ("a_prev", lambda: nb.rnn_cell_forward(xt, z((n_a, m + 1)), rp), r"expected \(5, 4\)"),
        ("x", lambda: nb.rnn_forward(z((n_x + 1, m, T)), a, rp), r"expected \(3, 4, 3\)"),
        ("x", lambda: nb.rnn_forward(xt, a, rp), r"expected \(3, m, T_x\)"),
        ("a0", lambda: nb.rnn_forward(x, z((n_a + 1, m)), rp), r"expected \(5, 4\)"),
        ("da_next", lambda: nb.rnn_cell_backward(z((n_a, m + 1)), r_cell), r"expected \(5, 4\)"),
        ("da", lambda: nb.rnn_backward(z((n_a, m, T + 1)), r_seq), r"caches hold 3 steps"),
        ("xt", lambda: nb.lstm_cell_forward(z((2, m)), a, a, lp), r"expected \(3, 4\)"),
        ("a_prev", lambda: nb.lstm_cell_forward(xt, z((4, m)), a, lp), r"expected \(5, 4\)"),
        ("c_prev", lambda: nb.lstm_cell_forward(xt, a, z((4, m)), lp), r"expected \(5, 4\)"),
        ("x", lambda: nb.lstm_forward(z((2, m, T)), a, lp), r"expected \(3, 4, 3\)"),
        ("a0", lambda: nb.lstm_forward(x, z((n_a, 1)), lp), r"expected \(5, 4\)"),
        ("da_next", lambda: nb.lstm_cell_backward(z((4, m)), a, l_cell), r"expected \(5, 4\)"),
        ("dc_next", lambda: nb.lstm_cell_backward(a, z((4, m)), l_cell), r"expected \(5, 4\)"),
        ("da", lambda: nb.lstm_backward(z((n_a, m, T - 1)), l_seq), r"caches hold 3 steps"),
        ("da", lambda: nb.lstm_backward(z((n_a, m)), l_seq), r"expected \(5, 4, 3\)"),
        ("xt", lambda: nb.gru_cell_forward(z((2, m)), a, gp), r"expected \(3, 4\)"),
        ("a_prev", lambda: nb.gru_cell_forward(xt, z((4, m)), gp), r"expected \(5, 4\)"),
        ("x", lambda: nb.gru_forward(z((2, m, T)), a, gp), r"expected \(3, 4, 3\)"),
        ("a0", lambda: nb.gru_forward(x, z((4, m)), gp), r"expected \(5, 4\)"),
        ("da_next", lambda: nb.gru_cell_backward(z((4, m)), g_cell), r"expected \(5, 4\)"),
        ("da", lambda: nb.gru_backward(z((4, m, T)), g_seq), r"expected \(5, 4, 3\)"),
    ]


@pytest.mark.parametrize("case", range(len(_mismatches())))
def test_mismatched_shape_raises_value_error_naming_the_array(case: int) -> None:
    name, call, pattern = _mismatches()[case]
    with pytest.raises(ValueError, match=rf"^{name} has shape .*{pattern}") as info:
        call()
    assert "expected" in str(info.value)


# --------------------------------------------------------------------------------------
# Activations: no overflow warning, no NaN, softmax columns sum to 1
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activations_are_safe_at_extremes(dtype: type) -> None:
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0], [0.0, 0.0, -1000.0]], dtype=dtype)
    # overflow, invalid (NaN) and divide raise; underflow of exp(-2000) to 0 is the right
    # answer for a saturated softmax, so it is allowed (it never warns by default)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        s = sigmoid(x)
        y = softmax(x)
        y_big = softmax(np.array([[1000.0], [999.0], [-1000.0]], dtype=dtype))
    for out in (s, y, y_big):
        assert out.dtype == dtype
        assert np.all(np.isfinite(out))
    np.testing.assert_allclose(s, [[1, 0, 0.5], [0, 1, 0.5], [0.5, 0.5, 0]], atol=1e-6)
    np.testing.assert_allclose(y.sum(axis=0), 1, rtol=1e-6)
    np.testing.assert_allclose(y_big.sum(axis=0), 1, rtol=1e-6)
    np.testing.assert_allclose(y_big[:, 0], [1 / (1 + np.exp(-1)), 1 / (1 + np.e), 0], rtol=1e-6)


def test_softmax_columns_sum_to_one() -> None:
    x = np.random.default_rng(0).standard_normal((7, 11)) * 50
    y = softmax(x)
    assert np.all(y >= 0)
    np.testing.assert_allclose(y.sum(axis=0), np.ones(11), rtol=1e-12)
