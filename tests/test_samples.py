"""Sample expressions: parsed by a tiny scanner, never evaluated; resolved by chained indexing."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncli.errors import InputError
from rnncli.samples import Sample, default_samples, parse, resolve, to_jsonable


@pytest.mark.parametrize(
    ("text", "name", "key", "index"),
    [
        ("a[4][1]", "a", None, (4, 1)),
        ("y[1][4][3]", "y", None, (1, 4, 3)),
        ("a_next[4]", "a_next", None, (4,)),
        ("gradients[dWax][3][1]", "gradients", "dWax", (3, 1)),
        ('gradients["dxt"][1][2]', "gradients", "dxt", (1, 2)),
        ("gradients['da0'][2][3]", "gradients", "da0", (2, 3)),
        ("gradients[dWax]", "gradients", "dWax", ()),
        ("parameters['Wy'][0]", "parameters", "Wy", (0,)),
        ("caches[1][1][3]", "caches", None, (1, 1, 3)),
        ("a[4, 1]", "a", None, (4, 1)),
        ("a[4,1][2]", "a", None, (4, 1, 2)),
        ("a[-1]", "a", None, (-1,)),
        ("  a [ 4 ] [1]  ", "a", None, (4, 1)),
    ],
)
def test_parse(text: str, name: str, key: str | None, index: tuple[int, ...]) -> None:
    s = parse(text)
    assert (s.name, s.key, s.index) == (name, key, index)
    assert s.text == text.strip() and str(s) == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "os.system('rm -rf /')",
        "a[1:2]",
        "a[:]",
        "a[::2]",
        "a[x]",
        "a[1",
        "a]1[",
        "a[1]]",
        "a[[1]]",
        "a",
        "a[]",
        "a[1.0]",
        "a[1e3]",
        "a[0x1]",
        "a[+1]",
        "a[- 1]",
        "a[\u0663]",
        "1a[1]",
        "a[1] b[2]",
        "a[1]; import os",
        "a[1].T",
        "a(1)",
        "gradients[1][dWax]",
        "gradients[dWax][dWaa]",
        "gradients['']",
        "gradients['unterminated]",
        "gradients[\"mixed']",
        "a['k']",
        "a[1,]",
        "a[,1]",
        "",
        "   ",
        "a[" + "1" * 300 + "]",
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse(text)
    msg = str(info.value)
    assert "\n" not in msg
    if text.strip() and len(text) < 60:
        assert repr(text.strip()) in msg


def test_parse_refuses_non_strings() -> None:
    with pytest.raises(InputError):
        parse(3)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_only_raises_input_error(text: str) -> None:
    with contextlib.suppress(InputError):
        parse(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ag_[]0123456789-,: '\"dWx()\t.", max_size=30))
def test_near_miss_text_only_raises_input_error(text: str) -> None:
    try:
        s = parse(text)
    except InputError:
        return
    assert isinstance(s, Sample) and (s.index or s.key)


@settings(max_examples=100, deadline=None)
@given(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
    st.lists(st.integers(-1000, 1000), min_size=1, max_size=5),
)
def test_generated_expressions_parse_back(name: str, index: list[int]) -> None:
    text = name + "".join(f"[{i}]" for i in index)
    s = parse(text)
    assert (s.name, s.key, s.index) == (name, None, tuple(index))


# ----------------------------------------------------------------- resolve

RNG = np.random.default_rng(1)
A = RNG.normal(size=(5, 10, 7))
X = RNG.normal(size=(3, 10, 7))
ARRAYS: dict[str, Any] = {"a": A, "x": X, "y": RNG.normal(size=(2, 10, 7)), "dWya": np.eye(2)}
GRADS = {"dWax": RNG.normal(size=(5, 3)), "dxt": RNG.normal(size=(3, 10))}


def test_resolve_values_and_rows() -> None:
    row = resolve(parse("a[4][1]"), ARRAYS)
    assert isinstance(row, np.ndarray) and row.shape == (7,)
    np.testing.assert_array_equal(row, A[4][1])
    value = resolve(parse("a[4][1][2]"), ARRAYS)
    assert isinstance(value, float) and value == A[4, 1, 2]
    assert resolve(parse("a[4, 1, 2]"), ARRAYS) == A[4, 1, 2]
    assert resolve(parse("a[-1][-1][-1]"), ARRAYS) == A[-1, -1, -1]
    assert resolve("x[2][9][6]", ARRAYS) == X[2, 9, 6]


def test_resolve_gradients() -> None:
    assert resolve(parse("gradients[dWax][3][1]"), ARRAYS, GRADS) == GRADS["dWax"][3][1]
    assert resolve(parse('gradients["dxt"][1][2]'), ARRAYS, GRADS) == GRADS["dxt"][1][2]
    assert resolve(parse("dWax[3][1]"), ARRAYS, GRADS) == GRADS["dWax"][3][1]  # bare name
    assert resolve(parse("gradients[dWya][1][1]"), ARRAYS, GRADS) == 1.0  # from arrays
    nested = {"gradients": GRADS}
    assert resolve(parse("gradients[dWax][0][0]"), nested) == GRADS["dWax"][0][0]


def test_resolve_notebook_caches() -> None:
    caches = ([("a_next", "a_prev")], X)
    got = resolve(parse("caches[1][1][3]"), {"caches": caches})
    np.testing.assert_array_equal(got, X[1][3])


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("b[0]", ["'b[0]'", "no array named 'b'", "a, dWya, x, y; gradients: dWax, dxt"]),
        ("gradients[dWzz][0]", ["no gradients entry named 'dWzz'", "dWax, dxt"]),
        ("a[5]", ["index 5", "axis 0", "(5, 10, 7)"]),
        ("a[0][10]", ["index 10", "axis 1", "(5, 10, 7)"]),
        ("a[0][0][-8]", ["index -8", "axis 2"]),
        ("a[0][0][0][0]", ["too many indices", "(5, 10, 7)"]),
        ("gradients[dWax][5]", ["index 5", "(5, 3)"]),
    ],
)
def test_resolve_errors(text: str, needles: list[str]) -> None:
    with pytest.raises(InputError) as info:
        resolve(parse(text), ARRAYS, GRADS)
    for needle in needles:
        assert needle in str(info.value), str(info.value)


def test_resolve_key_without_gradients() -> None:
    with pytest.raises(InputError, match="no gradients entry"):
        resolve(parse("gradients[dWax][0]"), ARRAYS, None)


# ----------------------------------------------------------------- defaults and JSON


def test_default_samples_are_deterministic_and_resolvable() -> None:
    got = default_samples(ARRAYS, per_array=3, seed=0, gradients=GRADS)
    assert got == default_samples(ARRAYS, per_array=3, seed=0, gradients=GRADS)
    assert got[0] == "a[0][0][0]"
    assert "gradients[dWax][0][0]" in got
    assert sum(s.startswith("a[") for s in got) == 3
    assert len(set(got)) == len(got)
    for expr in got:
        assert isinstance(resolve(parse(expr), ARRAYS, GRADS), float)
    seeds = {tuple(default_samples(ARRAYS, seed=k)) for k in range(5)}
    assert len(seeds) > 1  # the seed changes the pseudo-random picks


def test_default_samples_edge_cases() -> None:
    arrays: dict[str, Any] = {
        "one": np.ones(1),
        "scalar": np.array(3.0),
        "empty": np.zeros((0, 2)),
        "notarray": [1, 2],
    }
    assert default_samples(arrays, per_array=4) == ["one[0]"]
    small = default_samples({"b": np.ones((2, 2))}, per_array=10)
    assert small[0] == "b[0][0]" and sorted(small) == ["b[0][0]", "b[0][1]", "b[1][0]", "b[1][1]"]
    assert default_samples({"b": np.ones(3)}, per_array=0) == []
    # picks for one array do not depend on which other arrays are present
    alone = default_samples({"a": A})
    assert default_samples(ARRAYS)[:2] == alone


def test_to_jsonable() -> None:
    assert to_jsonable(np.float64(1.5)) == 1.5 and type(to_jsonable(np.float64(1.5))) is float
    assert to_jsonable(np.arange(3)) == [0, 1, 2]
    assert to_jsonable({"a": np.int32(2), "b": (np.bool_(True),)}) == {"a": 2, "b": [True]}
    assert to_jsonable(2.0) == 2.0
