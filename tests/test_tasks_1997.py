"""Tests for the long-time-lag battery: lag (2a), lag_noise (2c), multiplication (5),
temporal_order (6a/6b) and copy_task (Arjovsky et al. 2016)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rnncli.errors import InputError
from rnncli.tasks import copy_task, lag, lag_noise, multiplication, temporal_order


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def one_hot_probs(targets: np.ndarray, n: int) -> np.ndarray:
    """Perfect output activations: one-hot of targets, classes on axis 0."""
    return np.moveaxis(np.eye(n)[targets], -1, 0)


# ======================================================================== common

# (name, generate with small parameters, generate_eval with the same)
GENERATORS: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("lag", lambda r, m: lag.generate(r, m, 7), lambda r, n: lag.generate_eval(r, n, 7)),
    (
        "lag-noise",
        lambda r, m: lag_noise.generate(r, m, 6, 4),
        lambda r, n: lag_noise.generate_eval(r, n, 6, 4),
    ),
    (
        "multiplication",
        lambda r, m: multiplication.generate(r, m, 30),
        lambda r, n: multiplication.generate_eval(r, n, 30),
    ),
    (
        "temporal-order",
        lambda r, m: temporal_order.generate(r, m, 2),
        lambda r, n: temporal_order.generate_eval(r, n, 2),
    ),
    (
        "temporal-order-3",
        lambda r, m: temporal_order.generate(r, m, 3),
        lambda r, n: temporal_order.generate_eval(r, n, 3),
    ),
    (
        "copy",
        lambda r, m: copy_task.generate(r, m, 5),
        lambda r, n: copy_task.generate_eval(r, n, 5),
    ),
]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b, strict=True))
    return a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize(("name", "gen", "gen_eval"), GENERATORS, ids=[g[0] for g in GENERATORS])
def test_deterministic_per_seed(
    name: str, gen: Callable[..., Any], gen_eval: Callable[..., Any]
) -> None:
    assert _same(gen(rng(3), 16), gen(rng(3), 16))
    assert _same(gen_eval(rng(3), 40), gen_eval(rng(3), 40))
    if name != "lag":  # lag's evaluation set is exhaustive and fixed
        assert not _same(gen_eval(rng(3), 40), gen_eval(rng(4), 40))
    assert not _same(gen(rng(3), 16), gen(rng(4), 16))


@pytest.mark.parametrize(("name", "gen", "gen_eval"), GENERATORS, ids=[g[0] for g in GENERATORS])
def test_only_the_passed_rng(
    name: str, gen: Callable[..., Any], gen_eval: Callable[..., Any]
) -> None:
    np.random.seed(0)
    before = np.random.get_state()[1].copy()  # type: ignore[index]
    gen(rng(1), 8)
    gen_eval(rng(1), 8)
    assert np.array_equal(np.random.get_state()[1], before)  # type: ignore[index]


@pytest.mark.parametrize(("name", "gen", "gen_eval"), GENERATORS, ids=[g[0] for g in GENERATORS])
def test_eval_sets_hold_n_sequences(
    name: str, gen: Callable[..., Any], gen_eval: Callable[..., Any]
) -> None:
    batches = gen_eval(rng(2), 50)
    sizes = [x.shape[1] for x, _ in batches]
    assert sum(sizes) == 50
    steps = [x.shape[2] for x, _ in batches]
    assert steps == sorted(set(steps))  # one batch per length, increasing
    for x, t in batches:
        assert x.dtype == np.float64
        assert x.shape[1] in t.shape  # targets (m, T), (m,) or (1, m)


@pytest.mark.parametrize(("name", "gen", "gen_eval"), GENERATORS, ids=[g[0] for g in GENERATORS])
def test_bad_sizes(name: str, gen: Callable[..., Any], gen_eval: Callable[..., Any]) -> None:
    with pytest.raises(InputError):
        gen(rng(0), 0)
    with pytest.raises(InputError):
        gen_eval(rng(0), 0)


@pytest.mark.parametrize(
    ("call", "key"),
    [
        (lambda: lag.check_params(p=0), "train.p"),
        (lambda: lag.check_params(p=-3), "train.p"),
        (lambda: lag.check_params(p=2.5), "train.p"),
        (lambda: lag.check_params(p=True), "train.p"),
        (lambda: lag.generate(rng(), 4, 0), "train.p"),
        (lambda: lag_noise.check_params(q=-1, p=10), "train.q"),
        (lambda: lag_noise.check_params(q=10, p=0), "train.p"),
        (lambda: lag_noise.generate(rng(), 4, 10, 0), "train.p"),
        (lambda: multiplication.check_params(T=19), "train.T"),
        (lambda: multiplication.generate(rng(), 4, 10), "train.T"),
        (lambda: temporal_order.check_params(markers=1), "train.markers"),
        (lambda: temporal_order.check_params(markers=4), "train.markers"),
        (lambda: temporal_order.check_params(markers=2.0), "train.markers"),
        (lambda: temporal_order.generate(rng(), 4, 5), "train.markers"),
        (lambda: copy_task.check_params(T=0), "train.T"),
        (lambda: copy_task.generate(rng(), 4, -2), "train.T"),
    ],
)
def test_bad_params_name_the_key(call: Callable[[], Any], key: str) -> None:
    with pytest.raises(InputError) as info:
        call()
    msg = str(info.value)
    assert key in msg and "\n" not in msg


def test_good_params_pass() -> None:
    lag.check_params(p=1)
    lag_noise.check_params(q=0, p=1)
    lag_noise.check_params(q=5, p=50)  # no q >= p constraint (nor q < p)
    lag_noise.check_params(q=50, p=5)
    multiplication.check_params(T=20)
    temporal_order.check_params(markers=2)
    temporal_order.check_params(markers=3)
    copy_task.check_params(T=1)


# =========================================================================== 2a


def test_lag_symbols_and_sizes() -> None:
    assert lag.symbols(4) == ["a1", "a2", "a3", "x", "y"]
    assert lag.N_INPUTS(100) == lag.N_OUTPUTS(100) == 101


def test_lag_hand_built() -> None:
    # p = 4: y a1 a2 a3 y with x = 3, y = 4
    x, targets = lag.encode(np.array([[4, 0, 1, 2, 4]]), 4)
    assert x.shape == (5, 1, 4)
    assert np.array_equal(x[:, 0, :], np.eye(5)[:, [4, 0, 1, 2]])
    assert targets.tolist() == [[0, 1, 2, 4]] and targets.dtype == np.int64


def test_lag_batches() -> None:
    p = 6
    x, targets = lag.generate(rng(1), 40, p)
    assert x.shape == (p + 1, 40, p) and targets.shape == (40, p)
    seqs = x.argmax(axis=0)
    assert np.array_equal(x.sum(axis=0), np.ones((40, p)))
    first = seqs[:, 0]
    assert set(first.tolist()) == {p - 1, p}  # both x and y occur
    assert np.all(seqs[:, 1:] == np.arange(p - 1))  # the fixed middle block
    assert np.all(targets[:, :-1] == np.arange(p - 1))
    assert np.array_equal(targets[:, -1], first)  # the long-lag target is the first symbol
    x32, t32 = lag.generate(rng(1), 40, p, dtype=np.float32)
    assert x32.dtype == np.float32 and np.array_equal(x32, x) and np.array_equal(t32, targets)


def test_lag_p1_has_no_distractors() -> None:
    x, targets = lag.generate(rng(0), 6, 1)
    assert x.shape == (2, 6, 1)
    assert np.array_equal(targets[:, 0], x[:, :, 0].argmax(axis=0))


def test_lag_eval_set_is_exhaustive() -> None:
    [(x, targets)] = lag.generate_eval(rng(0), 2, 5)
    assert x[:, :, 0].argmax(axis=0).tolist() == [4, 5]  # x-sequence, then y-sequence
    assert targets[:, -1].tolist() == [4, 5]
    # the two sequences differ only in the first input and the last target
    assert np.array_equal(x[:, 0, 1:], x[:, 1, 1:])
    assert np.array_equal(targets[0, :-1], targets[1, :-1])


def test_lag_criterion() -> None:
    p = 5
    [(_, targets)] = lag.generate_eval(rng(0), 2, p)
    probs = one_hot_probs(targets, p + 1)
    result = lag.metrics(probs, targets)
    assert result == {
        "max_err": 0.0,
        "max_err_last": 0.0,
        "n_wrong": 0.0,
        "last_acc": 1.0,
        "step_acc": 1.0,
    }
    assert lag.solved(result)
    # a softmax with 0.76 on the right symbol everywhere: error 0.24 < 0.25
    soft = 0.76 * probs + 0.24 / p * (1 - probs)
    assert lag.solved(lag.metrics(soft, targets))
    # one sequence only 0.7 sure of the last symbol: still argmax-right, but fails ABS(0.25)
    soft[:, 1, -1] = 0.3 / p
    soft[targets[1, -1], 1, -1] = 0.7
    result = lag.metrics(soft, targets)
    assert result["last_acc"] == 1.0 and result["n_wrong"] == 1.0
    assert result["max_err_last"] == pytest.approx(0.3)
    assert not lag.solved(result)
    # a wrong local transition fails too, although the long-lag step is right
    bad = probs.copy()
    bad[:, 0, 2] = np.roll(bad[:, 0, 2], 1)
    result = lag.metrics(bad, targets)
    assert result["max_err_last"] == 0.0 and result["max_err"] == 1.0
    assert not lag.solved(result)
    assert lag.solved(result, last_only=True)  # Table 11's end-only reading
    with pytest.raises(ValueError):
        lag.metrics(probs[:, :, :-1], targets)


# =========================================================================== 2c


def test_lag_noise_symbols() -> None:
    assert lag_noise.symbols(3) == ["a1", "a2", "a3", "e", "b", "x", "y"]
    assert lag_noise.N_INPUTS(1000) == 1004 and lag_noise.N_OUTPUTS == 2


def test_lag_noise_hand_built() -> None:
    # p = 3: a1 a2 a3 = 0 1 2, e = 3, b = 4, x = 5, y = 6; sequence b y a1 a3 a2 e y
    seq = np.array([[4, 6, 0, 2, 1, 3, 6], [4, 5, 2, 2, 0, 3, 5]])
    x, y = lag_noise.encode(seq, 3)
    assert x.shape == (7, 2, 6)
    assert np.array_equal(x[:, 0, :], np.eye(7)[:, [4, 6, 0, 2, 1, 3]])
    assert np.array_equal(x[:, 1, :], np.eye(7)[:, [4, 5, 2, 2, 0, 3]])
    assert y.tolist() == [1, 0] and y.dtype == np.int64
    with pytest.raises(ValueError):
        lag_noise.encode(np.array([[4, 6, 0, 3, 0]]), 3)  # does not end with x or y


def test_lag_noise_batches() -> None:
    q, p = 8, 5
    e, b, xs, ys = p, p + 1, p + 2, p + 3
    for seed in range(20):
        x, y = lag_noise.generate(rng(seed), 30, q, p)
        steps = x.shape[2]
        assert x.shape[:2] == (p + 4, 30) and steps >= q + 3
        s = x.argmax(axis=0)
        assert np.array_equal(x.sum(axis=0), np.ones((30, steps)))
        assert np.all(s[:, 0] == b)
        assert np.all((s[:, 1] == xs) | (s[:, 1] == ys))
        assert np.all(s[:, 2:-1] < p)  # q + k distractors, nothing else
        assert np.all(s[:, -1] == e)  # the net reads the trigger last
        # the label is the second symbol, the only informative input
        assert np.array_equal(y, s[:, 1] - xs)


def test_lag_noise_lengths() -> None:
    q = 3
    batches = lag_noise.generate_eval(rng(5), 20000, q, 2)
    ks = np.concatenate([np.full(x.shape[1], x.shape[2] - (q + 3)) for x, _ in batches])
    assert ks.min() == 0 and len(ks) == 20000
    assert np.mean(ks) == pytest.approx(9.0, rel=0.05)  # E[k] = 0.9 / 0.1
    assert np.mean(ks == 0) == pytest.approx(0.1, abs=0.01)
    # the minimal lag from the second symbol to the trigger is q + 1
    x, _ = batches[0]
    s = x.argmax(axis=0)
    assert np.all(np.argmax(s == 2, axis=1) - 1 == q + 1)  # e = p = 2 here
    # classes balanced
    y = np.concatenate([y for _, y in batches])
    assert np.mean(y) == pytest.approx(0.5, abs=0.02)


def test_lag_noise_criterion() -> None:
    y = np.array([0, 1, 1, 0, 1])
    probs = one_hot_probs(y, 2)
    assert lag_noise.metrics(probs, y) == {"max_err": 0.0, "n_wrong": 0.0, "acc": 1.0}
    soft = 0.81 * probs + 0.19 * (1 - probs)
    assert lag_noise.solved(lag_noise.metrics(soft, y))
    soft[:, 3] = [0.79, 0.21]  # right class, but error 0.21 on both units
    result = lag_noise.metrics(soft, y)
    assert result["acc"] == 1.0 and result["n_wrong"] == 1.0
    assert not lag_noise.solved(result)
    with pytest.raises(ValueError):
        lag_noise.metrics(np.ones((3, 5)), y)


# ================================================================ multiplication


def test_multiplication_hand_built() -> None:
    L = 8
    values = np.array(
        [[0.5, 0.2, 0.9, 0.3, 0.7, 0.4, 0.6, 0.1], [1.0, 0.2, 0.9, 0.3, 0.7, 0.4, 0.6, 0.1]]
    )
    markers = np.array([[-1, 0, 1, 0, 0, 1, 0, -1], [1, 0, 0, 0, 1, 0, 0, -1]], dtype=float)
    x = np.stack([values, markers])
    assert x.shape == (2, 2, L)
    y = multiplication.marked_product(x)
    assert y.shape == (1, 2)
    assert y[0, 0] == pytest.approx(0.9 * 0.4)
    assert y[0, 1] == pytest.approx(0.7)  # step 0 marked: its value is 1.0
    # only the marked values matter
    x2 = x.copy()
    x2[0][markers != 1] = 0.123
    assert np.array_equal(multiplication.marked_product(x2), y)


def test_multiplication_batches() -> None:
    T = 40
    half = T // 2
    seen_first_marked = seen_x2_before_x1 = False
    for seed in range(30):
        x, y = multiplication.generate(rng(seed), 64, T)
        L = x.shape[2]
        assert x.shape[:2] == (2, 64) and T <= L <= T + T // 10
        assert y.shape == (1, 64) and y.dtype == np.float64
        values, markers = x
        assert np.all((values >= 0) & (values <= 1))
        assert np.all(np.isin(markers, [-1, 0, 1]))
        assert np.all((markers == 1).sum(axis=1) == 2)
        assert np.all(markers[:, -1] == -1)
        assert np.all((markers[:, 0] == -1) | (markers[:, 0] == 1))
        assert np.all(markers[:, 1:-1] >= 0)
        marked = [np.flatnonzero(row == 1) for row in markers]
        for pos in marked:
            assert pos.max() < half  # both in the first T/2: minimal lag T/2
            assert pos.min() < 10  # X1 among the first ten
        first_marked = markers[:, 0] == 1
        assert np.all(values[first_marked, 0] == 1.0)  # the paper's rare case
        seen_first_marked |= bool(first_marked.any())
        seen_x2_before_x1 |= any(pos.max() < 10 for pos in marked)
        expected = np.array([values[i, pos].prod() for i, pos in enumerate(marked)])
        assert np.allclose(y[0], expected)
    assert seen_first_marked and seen_x2_before_x1


def test_multiplication_lengths_and_dtype() -> None:
    assert multiplication.lengths(100) == (100, 110)
    Ls = {multiplication.generate(rng(s), 2, 20)[0].shape[2] for s in range(60)}
    assert Ls == {20, 21, 22}
    x32, y32 = multiplication.generate(rng(1), 8, 20, dtype=np.float32)
    x64, y64 = multiplication.generate(rng(1), 8, 20)
    assert x32.dtype == y32.dtype == np.float32
    assert np.allclose(x32, x64, atol=1e-6) and np.allclose(y32, y64, atol=1e-6)


def test_multiplication_baseline() -> None:
    y = np.concatenate([y[0] for _, y in multiplication.generate_eval(rng(0), 40000, 20)])
    assert np.var(y) == pytest.approx(multiplication.baseline_mse(20), rel=0.03)
    assert multiplication.baseline_mse(100) == pytest.approx(0.0592, abs=1e-4)
    assert multiplication.baseline_mse(100) > 0.04  # why MSE < 0.04 is no criterion here


def test_multiplication_criterion() -> None:
    y = rng(0).uniform(0, 1, size=(1, 2000))
    result = multiplication.metrics(y, y)
    assert result == {"mse": 0.0, "mae": 0.0, "n_wrong": 0.0, "wrong_frac": 0.0}
    assert multiplication.solved(result) and multiplication.solved(result, strict=True)
    pred = y + 0.039  # all within tolerance
    assert multiplication.metrics(pred, y)["n_wrong"] == 0.0
    for n_bad, ok, ok_strict in (
        (12, True, True),
        (13, True, False),
        (139, True, False),
        (140, False, False),
    ):
        pred = y.copy()
        pred[0, :n_bad] += 0.05
        result = multiplication.metrics(pred, y)
        assert result["n_wrong"] == n_bad
        assert multiplication.solved(result) is ok
        assert multiplication.solved(result, strict=True) is ok_strict
    with pytest.raises(ValueError):
        multiplication.metrics(y[0], y)


# ================================================================ temporal order


def test_temporal_order_labels() -> None:
    assert [temporal_order.label(o) for o in ("XX", "XY", "YX", "YY")] == [0, 1, 2, 3]
    names = temporal_order.CLASS_NAMES[3]
    orders = ["XXX", "XXY", "XYX", "XYY", "YXX", "YXY", "YYX", "YYY"]
    assert [names[temporal_order.label(o)] for o in orders] == list("QRSUVABC")
    assert temporal_order.N_OUTPUTS(2) == 4 and temporal_order.N_OUTPUTS(3) == 8
    with pytest.raises(ValueError):
        temporal_order.label("XZ")


def _seq(text: str) -> list[int]:
    return [temporal_order.SYMBOLS.index(c) for c in text]


def test_temporal_order_hand_built() -> None:
    seqs = np.array([_seq("EabXcdYbB"), _seq("EYaaaaXdB"), _seq("EddXbbXcB")])
    x, y = temporal_order.encode(seqs, 2)
    assert x.shape == (8, 3, 9)
    assert np.array_equal(x[:, 0, :], np.eye(8)[:, _seq("EabXcdYbB")])
    assert y.tolist() == [1, 2, 0]  # XY -> R, YX -> S, XX -> Q
    x3, y3 = temporal_order.encode(np.array([_seq("EYaXbYcB")]), 3)
    assert y3.tolist() == [5]  # YXY -> A
    with pytest.raises(ValueError):
        temporal_order.encode(seqs, 3)  # two markers, three expected


@pytest.mark.parametrize("markers", [2, 3])
def test_temporal_order_batches(markers: int) -> None:
    windows = temporal_order.WINDOWS[markers]
    for seed in range(10):
        x, y = temporal_order.generate(rng(seed), 64, markers)
        L = x.shape[2]
        assert x.shape[:2] == (8, 64) and 100 <= L <= 110
        assert y.shape == (64,) and y.dtype == np.int64
        s = x.argmax(axis=0)
        assert np.array_equal(x.sum(axis=0), np.ones((64, L)))
        assert np.all(s[:, 0] == temporal_order.START) and np.all(
            s[:, -1] == temporal_order.TRIGGER
        )
        for row, label in zip(s, y, strict=True):
            pos = np.flatnonzero((row == temporal_order.X) | (row == temporal_order.Y))
            assert len(pos) == markers
            for p, (lo, hi) in zip(pos, windows, strict=True):
                assert lo <= p + 1 <= hi  # 1-based positions, as in the paper
            assert L - 1 - pos[-1] >= (40 if markers == 2 else 24)  # Table 10's minimal lag
            order = "".join("X" if row[p] == temporal_order.X else "Y" for p in pos)
            assert label == temporal_order.label(order)
            rest = np.delete(row[1:-1], pos - 1)
            assert np.all(rest < temporal_order.DISTRACTORS)


def test_temporal_order_label_depends_only_on_order() -> None:
    x, y = temporal_order.generate(rng(9), 200, 2)
    seqs = x.argmax(axis=0)
    # new distractors everywhere, markers moved within their windows: same labels
    r = rng(10)
    moved = r.integers(0, temporal_order.DISTRACTORS, size=seqs.shape)
    moved[:, 0], moved[:, -1] = temporal_order.START, temporal_order.TRIGGER
    for i, row in enumerate(seqs):
        symbols = row[(row == temporal_order.X) | (row == temporal_order.Y)]
        for sym, (lo, hi) in zip(symbols, temporal_order.WINDOWS[2], strict=True):
            moved[i, r.integers(lo, hi + 1) - 1] = sym
    assert np.array_equal(temporal_order.encode(moved, 2)[1], y)


def test_temporal_order_classes_uniform() -> None:
    y = np.concatenate([y for _, y in temporal_order.generate_eval(rng(1), 4000, 3)])
    assert np.allclose(np.bincount(y, minlength=8) / 4000, 1 / 8, atol=0.02)


def test_temporal_order_criterion() -> None:
    y = np.array([0, 3, 2, 1, 1])
    probs = one_hot_probs(y, 4)
    result = temporal_order.metrics(probs, y)
    assert result["max_err"] == 0.0 and result["n_wrong"] == 0.0 and result["acc"] == 1.0
    assert temporal_order.solved(result)
    soft = 0.71 * probs + 0.29 / 3 * (1 - probs)
    assert temporal_order.solved(temporal_order.metrics(soft, y))
    soft[:, 2] = 0.3 / 3
    soft[y[2], 2] = 0.69  # argmax still right, error 0.31
    result = temporal_order.metrics(soft, y)
    assert result["acc"] == 1.0 and result["n_wrong"] == 1.0 and result["wrong_frac"] == 0.2
    assert not temporal_order.solved(result)


# ========================================================================== copy


def test_copy_hand_built() -> None:
    data = np.array([[1, 2, 3, 4, 5, 6, 7, 0, 1, 2]])
    x, targets = copy_task.encode(data, 3)
    assert x.shape == (10, 1, 23)
    inputs = [1, 2, 3, 4, 5, 6, 7, 0, 1, 2] + [8, 8] + [9] + [8] * 10
    assert np.array_equal(x[:, 0, :], np.eye(10)[:, inputs])
    assert targets.tolist() == [[8] * 13 + [1, 2, 3, 4, 5, 6, 7, 0, 1, 2]]


def test_copy_batches() -> None:
    T = 12
    x, targets = copy_task.generate(rng(0), 50, T)
    assert x.shape == (10, 50, T + 20) and targets.shape == (50, T + 20)
    s = x.argmax(axis=0)
    assert np.all(s[:, :10] < 8) and np.all(s[:, 10:] >= 8)
    assert np.all(s[:, T + 9] == copy_task.DELIMITER)
    # everything after the first 10 steps is the same for all sequences
    assert np.all(s[:, 10:] == s[0, 10:])
    assert np.array_equal(targets[:, T + 10 :], s[:, :10])
    assert np.all(targets[:, : T + 10] == copy_task.BLANK)


def test_copy_baseline_is_the_memoryless_cost() -> None:
    T = 30
    [(_, targets)] = copy_task.generate_eval(rng(0), 20, T)
    probs = np.zeros((9, 20, T + 20))
    probs[copy_task.BLANK, :, : T + 10] = 1.0
    probs[:8, :, T + 10 :] = 1 / 8
    result = copy_task.metrics(probs, targets)
    assert result["xent"] == pytest.approx(10 * np.log(8) / (T + 20), rel=1e-12)
    assert result["xent_ratio"] == pytest.approx(1.0)
    assert result["blank_acc"] == 1.0
    assert not copy_task.solved(result)


def test_copy_criterion() -> None:
    T = 5
    [(_, targets)] = copy_task.generate_eval(rng(1), 100, T)
    probs = one_hot_probs(targets, 9)
    result = copy_task.metrics(probs, targets)
    assert result["xent"] == 0.0 and result["recall_acc"] == 1.0 and result["seq_acc"] == 1.0
    assert copy_task.solved(result)
    wrong = probs.copy()
    wrong[:, :10, T + 10] = np.roll(wrong[:, :10, T + 10], 1, axis=0)  # 10 of 1000 wrong
    result = copy_task.metrics(wrong, targets)
    assert result["recall_acc"] == 0.99 and result["seq_acc"] == 0.9
    assert np.isfinite(result["xent"])  # a zero probability does not give inf
    assert copy_task.solved(result)
    wrong[:, 10:11, T + 11] = np.roll(wrong[:, 10:11, T + 11], 1, axis=0)
    assert not copy_task.solved(copy_task.metrics(wrong, targets))
    with pytest.raises(ValueError):
        copy_task.metrics(probs[:8], targets)
