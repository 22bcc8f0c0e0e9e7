"""Replays the notebook's 7 test cells and checks every value they print (67 in all).

Source: /work/shared/seed/000_372982b869cc6379.txt ("Building a Recurrent Neural
Network - Step by Step"). Each cell's random arrays come from `rnncli.seed_cells.draw`,
which redraws them with `RandomState(1)` in the cell's exact order (including the stale
`ba` of the `rnn_cell_backward` cell). The expected values below are copied from the
notebook's printed output.

Comparison by how the value was printed:
  "shape", "len"  exact;
  "f"             a float printed at full precision (~17 digits): rtol 1e-10, since BLAS
                  summation order moves the last digits;
  "a8"            an array printed by NumPy with 8 decimals: within half a unit of the
                  8th decimal (plus 1e-12 of slack).

Quirks reproduced, not fixed:
  * the lstm_cell_forward cell prints `c_next.shape` under the label "a_next.shape";
  * the lstm_forward cell's label "caches[1][1[1]]" is a typo for caches[1][1][1] (= x[1][1]);
  * the rnn_cell_backward cell passes the rnn_forward cell's `ba` (it draws `b`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest

from rnncli import notebook as nb
from rnncli.seed_cells import CELLS, STALE, draw, parameters

# (cell, label as printed, how it was printed, the value copied from the notebook's output)
# fmt: off
PRINTED: list[tuple[str, str, str, Any]] = [
    # --- rnn_cell_forward
    ("rnn_cell_forward", "a_next[4]", "a8", [
        0.59584544, 0.18141802, 0.61311866, 0.99808218, 0.85016201, 0.99980978,
        -0.18887155, 0.99815551, 0.6531151, 0.82872037,
    ]),
    ("rnn_cell_forward", "a_next.shape", "shape", (5, 10)),
    ("rnn_cell_forward", "yt_pred[1]", "a8", [
        0.9888161, 0.01682021, 0.21140899, 0.36817467, 0.98988387, 0.88945212,
        0.36920224, 0.9966312, 0.9982559, 0.17746526,
    ]),
    ("rnn_cell_forward", "yt_pred.shape", "shape", (2, 10)),
    # --- rnn_forward
    ("rnn_forward", "a[4][1]", "a8", [-0.99999375, 0.77911235, -0.99861469, -0.99833267]),
    ("rnn_forward", "a.shape", "shape", (5, 10, 4)),
    ("rnn_forward", "y_pred[1][3]", "a8", [0.79560373, 0.86224861, 0.11118257, 0.81515947]),
    ("rnn_forward", "y_pred.shape", "shape", (2, 10, 4)),
    ("rnn_forward", "caches[1][1][3]", "a8", [-1.1425182, -0.34934272, -0.20889423, 0.58662319]),
    ("rnn_forward", "len(caches)", "len", 2),
    # --- lstm_cell_forward
    ("lstm_cell_forward", "a_next[4]", "a8", [
        -0.66408471, 0.0036921, 0.02088357, 0.22834167, -0.85575339, 0.00138482,
        0.76566531, 0.34631421, -0.00215674, 0.43827275,
    ]),
    ("lstm_cell_forward", "a_next.shape", "shape", (5, 10)),
    ("lstm_cell_forward", "c_next[2]", "a8", [
        0.63267805, 1.00570849, 0.35504474, 0.20690913, -1.64566718, 0.11832942,
        0.76449811, -0.0981561, -0.74348425, -0.26810932,
    ]),
    ("lstm_cell_forward", "c_next.shape", "shape", (5, 10)),
    ("lstm_cell_forward", "yt[1]", "a8", [
        0.79913913, 0.15986619, 0.22412122, 0.15606108, 0.97057211, 0.31146381,
        0.00943007, 0.12666353, 0.39380172, 0.07828381,
    ]),
    ("lstm_cell_forward", "yt.shape", "shape", (2, 10)),
    ("lstm_cell_forward", "cache[1][3]", "a8", [
        -0.16263996, 1.03729328, 0.72938082, -0.54101719, 0.02752074, -0.30821874,
        0.07651101, -1.03752894, 1.41219977, -0.37647422,
    ]),
    ("lstm_cell_forward", "len(cache)", "len", 10),
    # --- lstm_forward
    ("lstm_forward", "a[4][3][6]", "f", 0.17211776753291672),
    ("lstm_forward", "a.shape", "shape", (5, 10, 7)),
    ("lstm_forward", "y[1][4][3]", "f", 0.9508734618501101),
    ("lstm_forward", "y.shape", "shape", (2, 10, 7)),
    ("lstm_forward", "caches[1][1[1]]", "a8", [
        0.82797464, 0.23009474, 0.76201118, -0.22232814, -0.20075807, 0.18656139,
        0.41005165,
    ]),
    ("lstm_forward", "c[1][2][1]", "f", -0.8555449167181981),
    ("lstm_forward", "len(caches)", "len", 2),
    # --- rnn_cell_backward
    ("rnn_cell_backward", "dxt[1][2]", "f", -0.4605641030588796),
    ("rnn_cell_backward", "dxt.shape", "shape", (3, 10)),
    ("rnn_cell_backward", "da_prev[2][3]", "f", 0.08429686538067724),
    ("rnn_cell_backward", "da_prev.shape", "shape", (5, 10)),
    ("rnn_cell_backward", "dWax[3][1]", "f", 0.39308187392193034),
    ("rnn_cell_backward", "dWax.shape", "shape", (5, 3)),
    ("rnn_cell_backward", "dWaa[1][2]", "f", -0.28483955786960663),
    ("rnn_cell_backward", "dWaa.shape", "shape", (5, 5)),
    ("rnn_cell_backward", "dba[4]", "a8", [0.80517166]),
    ("rnn_cell_backward", "dba.shape", "shape", (5, 1)),
    # --- rnn_backward
    ("rnn_backward", "dx[1][2]", "a8", [-2.07101689, -0.59255627, 0.02466855, 0.01483317]),
    ("rnn_backward", "dx.shape", "shape", (3, 10, 4)),
    ("rnn_backward", "da0[2][3]", "f", -0.31494237512664996),
    ("rnn_backward", "da0.shape", "shape", (5, 10)),
    ("rnn_backward", "dWax[3][1]", "f", 11.264104496527777),
    ("rnn_backward", "dWax.shape", "shape", (5, 3)),
    ("rnn_backward", "dWaa[1][2]", "f", 2.303333126579893),
    ("rnn_backward", "dWaa.shape", "shape", (5, 5)),
    ("rnn_backward", "dba[4]", "a8", [-0.74747722]),
    ("rnn_backward", "dba.shape", "shape", (5, 1)),
    # --- lstm_cell_backward
    ("lstm_cell_backward", "dxt[1][2]", "f", 3.230559115109188),
    ("lstm_cell_backward", "dxt.shape", "shape", (3, 10)),
    ("lstm_cell_backward", "da_prev[2][3]", "f", -0.06396214197109233),
    ("lstm_cell_backward", "da_prev.shape", "shape", (5, 10)),
    ("lstm_cell_backward", "dc_prev[2][3]", "f", 0.7975220387970015),
    ("lstm_cell_backward", "dc_prev.shape", "shape", (5, 10)),
    ("lstm_cell_backward", "dWf[3][1]", "f", -0.14795483816449675),
    ("lstm_cell_backward", "dWf.shape", "shape", (5, 8)),
    ("lstm_cell_backward", "dWi[1][2]", "f", 1.0574980552259903),
    ("lstm_cell_backward", "dWi.shape", "shape", (5, 8)),
    ("lstm_cell_backward", "dWc[3][1]", "f", 2.304562163687667),
    ("lstm_cell_backward", "dWc.shape", "shape", (5, 8)),
    ("lstm_cell_backward", "dWo[1][2]", "f", 0.3313115952892109),
    ("lstm_cell_backward", "dWo.shape", "shape", (5, 8)),
    ("lstm_cell_backward", "dbf[4]", "a8", [0.18864637]),
    ("lstm_cell_backward", "dbf.shape", "shape", (5, 1)),
    ("lstm_cell_backward", "dbi[4]", "a8", [-0.40142491]),
    ("lstm_cell_backward", "dbi.shape", "shape", (5, 1)),
    ("lstm_cell_backward", "dbc[4]", "a8", [0.25587763]),
    ("lstm_cell_backward", "dbc.shape", "shape", (5, 1)),
    ("lstm_cell_backward", "dbo[4]", "a8", [0.13893342]),
    ("lstm_cell_backward", "dbo.shape", "shape", (5, 1)),
]
# fmt: on

NOTEBOOK_CELLS = (
    "rnn_cell_forward",
    "rnn_forward",
    "lstm_cell_forward",
    "lstm_forward",
    "rnn_cell_backward",
    "rnn_backward",
    "lstm_cell_backward",
)


@cache
def run_cell(cell: str) -> dict[str, Any]:
    """Run one notebook test cell; return what each of its print() calls prints."""
    d = draw(cell)
    p = parameters(cell)
    if cell == "rnn_cell_forward":
        a_next, yt_pred, cache = nb.rnn_cell_forward(d["xt"], d["a_prev"], p)
        return {
            "a_next[4]": a_next[4],
            "a_next.shape": a_next.shape,
            "yt_pred[1]": yt_pred[1],
            "yt_pred.shape": yt_pred.shape,
        }
    if cell == "rnn_forward":
        a, y_pred, caches = nb.rnn_forward(d["x"], d["a0"], p)
        return {
            "a[4][1]": a[4][1],
            "a.shape": a.shape,
            "y_pred[1][3]": y_pred[1][3],
            "y_pred.shape": y_pred.shape,
            "caches[1][1][3]": caches[1][1][3],
            "len(caches)": len(caches),
        }
    if cell == "lstm_cell_forward":
        a_next, c_next, yt, cache = nb.lstm_cell_forward(d["xt"], d["a_prev"], d["c_prev"], p)
        return {
            "a_next[4]": a_next[4],
            "a_next.shape": c_next.shape,  # sic: the notebook prints c_next.shape here
            "c_next[2]": c_next[2],
            "c_next.shape": c_next.shape,
            "yt[1]": yt[1],
            "yt.shape": yt.shape,
            "cache[1][3]": cache[1][3],
            "len(cache)": len(cache),
        }
    if cell == "lstm_forward":
        a, y, c, caches = nb.lstm_forward(d["x"], d["a0"], p)
        return {
            "a[4][3][6]": a[4][3][6],
            "a.shape": a.shape,
            "y[1][4][3]": y[1][4][3],
            "y.shape": y.shape,
            "caches[1][1[1]]": caches[1][1][1],  # sic: label typo in the notebook
            "c[1][2][1]": c[1][2][1],
            "len(caches)": len(caches),
        }
    if cell == "rnn_cell_backward":
        a_next, yt, cache = nb.rnn_cell_forward(d["xt"], d["a_prev"], p)
        gradients = nb.rnn_cell_backward(d["da_next"], cache)
        return _printed_gradients(gradients, ("dxt", "da_prev", "dWax", "dWaa", "dba"))
    if cell == "rnn_backward":
        a, y, caches = nb.rnn_forward(d["x"], d["a0"], p)
        gradients = nb.rnn_backward(d["da"], caches)
        return _printed_gradients(gradients, ("dx", "da0", "dWax", "dWaa", "dba"))
    if cell == "lstm_cell_backward":
        a_next, c_next, yt, cache = nb.lstm_cell_forward(d["xt"], d["a_prev"], d["c_prev"], p)
        gradients = nb.lstm_cell_backward(d["da_next"], d["dc_next"], cache)
        names = ("dxt", "da_prev", "dc_prev", "dWf", "dWi", "dWc", "dWo")
        return _printed_gradients(gradients, names + ("dbf", "dbi", "dbc", "dbo"))
    raise AssertionError(f"not a notebook cell: {cell}")


# the index each notebook backward cell prints for each gradient
_INDEX = {
    "dxt": (1, 2),
    "dx": (1, 2),
    "da_prev": (2, 3),
    "da0": (2, 3),
    "dc_prev": (2, 3),
    "dWax": (3, 1),
    "dWaa": (1, 2),
    "dWf": (3, 1),
    "dWi": (1, 2),
    "dWc": (3, 1),
    "dWo": (1, 2),
}


def _printed_gradients(gradients: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        index = _INDEX.get(name, (4,))  # the bias gradients print row 4
        label = name + "".join(f"[{i}]" for i in index)
        value = gradients[name]
        for i in index:
            value = value[i]
        out[label] = value
        out[f"{name}.shape"] = gradients[name].shape
    return out


def _assert_printed(actual: Any, expected: Any, kind: str) -> None:
    if kind in ("shape", "len"):
        assert actual == expected
    elif kind == "f":
        assert np.ndim(actual) == 0
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=0)
    elif kind == "a8":
        assert np.shape(actual) == np.shape(expected)
        np.testing.assert_allclose(actual, expected, rtol=0, atol=0.5e-8 + 1e-12)
    else:
        raise AssertionError(f"unknown kind {kind}")


@pytest.mark.parametrize(
    ("cell", "label", "kind", "expected"),
    PRINTED,
    ids=[f"{cell}:{label}" for cell, label, _, _ in PRINTED],
)
def test_printed_value(cell: str, label: str, kind: str, expected: Any) -> None:
    _assert_printed(run_cell(cell)[label], expected, kind)


def test_every_printed_value_is_checked() -> None:
    assert len(PRINTED) == 67
    assert len({(cell, label) for cell, label, _, _ in PRINTED}) == 67
    per_cell = {cell: sum(c == cell for c, _, _, _ in PRINTED) for cell in NOTEBOOK_CELLS}
    assert per_cell == {
        "rnn_cell_forward": 4,
        "rnn_forward": 6,
        "lstm_cell_forward": 8,
        "lstm_forward": 7,
        "rnn_cell_backward": 10,
        "rnn_backward": 10,
        "lstm_cell_backward": 22,
    }
    # each cell prints exactly the labels checked here, no more
    for cell in NOTEBOOK_CELLS:
        assert set(run_cell(cell)) == {label for c, label, _, _ in PRINTED if c == cell}


# --------------------------------------------------------------------------------------
# seed_cells: the draw order and the stale arrays
# --------------------------------------------------------------------------------------


def test_rnn_cell_backward_cell_uses_stale_ba_from_rnn_forward_cell() -> None:
    rng = np.random.RandomState(1)  # the cell's own draws, Wax before Waa
    xt, a_prev = rng.randn(3, 10), rng.randn(5, 10)
    Wax, Waa, Wya, b, by = (
        rng.randn(5, 3),
        rng.randn(5, 5),
        rng.randn(2, 5),
        rng.randn(5, 1),
        rng.randn(2, 1),
    )
    da_next = rng.randn(5, 10)
    d = draw("rnn_cell_backward")
    for name, value in dict(
        xt=xt, a_prev=a_prev, Wax=Wax, Waa=Waa, Wya=Wya, b=b, by=by, da_next=da_next
    ).items():
        np.testing.assert_array_equal(d[name], value)
    assert list(d)[:8] == ["xt", "a_prev", "Wax", "Waa", "Wya", "b", "by", "da_next"]
    np.testing.assert_array_equal(d["ba"], draw("rnn_forward")["ba"])
    assert not np.array_equal(d["ba"], d["b"])
    np.testing.assert_array_equal(parameters("rnn_cell_backward")["ba"], draw("rnn_forward")["ba"])
    # with the freshly drawn b instead, the printed dba[4] = [0.80517166] is not reproduced
    p = dict(parameters("rnn_cell_backward"), ba=d["b"])
    _, _, cache = nb.rnn_cell_forward(d["xt"], d["a_prev"], p)
    assert abs(nb.rnn_cell_backward(d["da_next"], cache)["dba"][4, 0] - 0.80517166) > 1e-3


def test_forward_cells_draw_waa_first_backward_cells_wax_first() -> None:
    assert [n for n in draw("rnn_forward") if n in ("Wax", "Waa")] == ["Waa", "Wax"]
    assert [n for n in draw("rnn_backward") if n in ("Wax", "Waa")] == ["Wax", "Waa"]
    rng = np.random.RandomState(1)
    rng.randn(3, 10, 4)  # x
    rng.randn(5, 10)  # a0
    np.testing.assert_array_equal(draw("rnn_forward")["Waa"], rng.randn(5, 5))


def test_draw_leaves_the_global_rng_alone() -> None:
    np.random.seed(12345)
    expected = np.random.RandomState(12345).randn(3)
    for cell in CELLS:
        draw(cell)
    np.testing.assert_array_equal(np.random.randn(3), expected)


def test_draw_rejects_unknown_cell() -> None:
    with pytest.raises(ValueError, match="gru_forward"):
        draw("gru_forward")


def test_lstm_backward_draws() -> None:
    d = draw("lstm_backward")
    drawn = ["x", "a0", "Wf", "bf", "Wi", "bi", "Wo", "bo", "Wc", "bc", "da"]
    assert list(d) == drawn + ["Wy", "by"]
    assert d["x"].shape == (3, 10, 7) and d["da"].shape == (5, 10, 4)
    assert STALE["lstm_backward"] == {"Wy": "lstm_cell_backward", "by": "lstm_cell_backward"}
    np.testing.assert_array_equal(d["Wy"], draw("lstm_cell_backward")["Wy"])
    # the x, a0 and gates are the lstm_forward cell's
    for name in drawn[:-1]:
        np.testing.assert_array_equal(d[name], draw("lstm_forward")[name])


# --------------------------------------------------------------------------------------
# lstm_backward: the course's later cell (not in this notebook; not among the 67)
# --------------------------------------------------------------------------------------


def _run_lstm_backward(backward: Any = nb.lstm_backward) -> dict[str, np.ndarray]:
    d = draw("lstm_backward")
    # the course back-propagates through the first 4 of the 7 steps
    a, y, c, caches = nb.lstm_forward(d["x"][:, :, :4], d["a0"], parameters("lstm_backward"))
    gradients: dict[str, np.ndarray] = backward(d["da"], caches)
    return gradients


def _course_printed(gradients: dict[str, np.ndarray]) -> dict[str, Any]:
    return {
        "dx[1][2]": gradients["dx"][1][2],
        "da0[2][3]": gradients["da0"][2][3],
        "dWf[3][1]": gradients["dWf"][3][1],
        "dWi[1][2]": gradients["dWi"][1][2],
        "dWc[3][1]": gradients["dWc"][3][1],
        "dWo[1][2]": gradients["dWo"][1][2],
        "dbf[4]": gradients["dbf"][4],
        "dbi[4]": gradients["dbi"][4],
        "dbc[4]": gradients["dbc"][4],
        "dbo[4]": gradients["dbo"][4],
    }


# The course's later, corrected (v3) expected output as quoted in public solutions;
# the scalars were printed with 12 significant digits.
LSTM_BACKWARD_V3 = {
    "dx[1][2]": [0.00218254, 0.28205375, -0.48292508, -0.43281115],
    "da0[2][3]": 0.312770310257,
    "dWf[3][1]": -0.0809802310938,
    "dWi[1][2]": 0.40512433093,
    "dWc[3][1]": -0.0793746735512,
    "dWo[1][2]": 0.038948775763,
    "dbf[4]": [-0.15745657],
    "dbi[4]": [-0.50848333],
    "dbc[4]": [-0.42510818],
    "dbo[4]": [-0.17958196],
}

# The course's earlier (v2) expected output. It is what you get when the backward loop
# does NOT carry da_prev and dc_prev from step t+1 to step t (see test below).
LSTM_BACKWARD_V2 = {
    "dx[1][2]": [-0.00173313, 0.08287442, -0.30545663, -0.43281115],
    "da0[2][3]": -0.095911501954,
    "dWf[3][1]": -0.0698198561274,
    "dWi[1][2]": 0.102371820249,
    "dWc[3][1]": -0.0624983794927,
    "dWo[1][2]": 0.0484389131444,
    "dbf[4]": [-0.0565788],
    "dbi[4]": [-0.15399065],
    "dbc[4]": [-0.29691142],
    "dbo[4]": [-0.29798344],
}


def _assert_course_values(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for label, value in expected.items():
        if isinstance(value, list):
            np.testing.assert_allclose(
                actual[label], value, rtol=0, atol=0.5e-8 + 1e-12, err_msg=label
            )
        else:
            np.testing.assert_allclose(actual[label], value, rtol=1e-10, err_msg=label)


def test_lstm_backward_reproduces_the_course_corrected_output() -> None:
    gradients = _run_lstm_backward()
    assert gradients["dx"].shape == (3, 10, 4)
    assert gradients["da0"].shape == (5, 10)
    assert all(gradients[k].shape == (5, 8) for k in ("dWf", "dWi", "dWc", "dWo"))
    assert all(gradients[k].shape == (5, 1) for k in ("dbf", "dbi", "dbc", "dbo"))
    _assert_course_values(_course_printed(gradients), LSTM_BACKWARD_V3)


def _lstm_backward_without_carry(da: np.ndarray, caches: Any) -> dict[str, np.ndarray]:
    """lstm_backward with the bug behind the course's v2 numbers: nothing is carried."""
    cell_caches, x = caches
    n_a, m, T_x = da.shape
    total: dict[str, np.ndarray] = {}
    dx = np.zeros((x.shape[0], m, T_x))
    for t in reversed(range(T_x)):
        g = nb.lstm_cell_backward(da[:, :, t], np.zeros((n_a, m)), cell_caches[t])
        dx[:, :, t] = g["dxt"]
        for k in ("dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo"):
            total[k] = total.get(k, 0) + g[k]
    return {"dx": dx, "da0": g["da_prev"], **total}


def test_course_v2_lstm_backward_output_comes_from_not_carrying_the_gradients() -> None:
    _assert_course_values(
        _course_printed(_run_lstm_backward(_lstm_backward_without_carry)), LSTM_BACKWARD_V2
    )
    with pytest.raises(AssertionError):
        _assert_course_values(_course_printed(_run_lstm_backward()), LSTM_BACKWARD_V2)


def test_lstm_backward_refuses_caches_longer_than_da() -> None:
    d = draw("lstm_backward")
    a, y, c, caches = nb.lstm_forward(d["x"], d["a0"], parameters("lstm_backward"))
    with pytest.raises(ValueError, match=r"da has shape \(5, 10, 4\) but caches hold 7 steps"):
        nb.lstm_backward(d["da"], caches)
    # the forward is causal: the 4-step run is the first 4 steps of the 7-step run
    a4, y4, c4, _ = nb.lstm_forward(d["x"][:, :, :4], d["a0"], parameters("lstm_backward"))
    np.testing.assert_array_equal(a4, a[:, :, :4])
    np.testing.assert_array_equal(c4, c[:, :, :4])
