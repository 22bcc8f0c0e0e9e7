"""The fast engine against the literal notebook implementation (`rnncli.reference`).

Every gradient, the loss, dx and da0 must match to 1e-12 relative (float64) for every
cell and loss, on odd shapes (m = 1, T_x = 1, n_x != n_a), padded targets, a0 given or
not; float32 must stay float32; bad shapes must raise ValueError naming the array.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import layout_v1

import rnncli
from rnncli import engine
from rnncli.cells import BUILTIN
from rnncli.engine import workspace
from rnncli.reference import reference_loss_and_grads

CELLS = ("rnn", "lstm", "gru")
LOSSES = ("xent", "mse_last", "xent_last")
SHAPES = [  # (n_x, n_a, n_y, m, T_x)
    (3, 5, 2, 10, 7),  # the notebook's
    (4, 3, 6, 1, 5),  # m = 1, n_x > n_a
    (2, 6, 3, 4, 1),  # T_x = 1
    (7, 4, 5, 3, 9),
]


def make_params(
    cell: str, n_x: int, n_a: int, n_y: int, rng: np.random.Generator, dtype: type = np.float64
) -> dict[str, np.ndarray]:
    """Random notebook-named parameters with unit-ish pre-activations."""
    scale = 1.5 / np.sqrt(n_a + n_x)
    if cell == "rnn":
        shapes = {"Wax": (n_a, n_x), "Waa": (n_a, n_a), "ba": (n_a, 1)}
    else:
        gates = "fico" if cell == "lstm" else "zrh"
        shapes = {}
        for g in gates:
            shapes["W" + g] = (n_a, n_a + n_x)
            shapes["b" + g] = (n_a, 1)
    shapes["Wya" if cell == "rnn" else "Wy"] = (n_y, n_a)
    shapes["by"] = (n_y, 1)
    return {k: (scale * rng.standard_normal(s)).astype(dtype) for k, s in shapes.items()}


def make_problem(
    cell: str,
    shape: tuple[int, int, int, int, int],
    loss: str,
    seed: int = 0,
    pad: bool = False,
    dtype: type = np.float64,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    n_x, n_a, n_y, m, T = shape
    rng = np.random.default_rng(seed)
    params = make_params(cell, n_x, n_a, n_y, rng, dtype)
    x: np.ndarray = rng.standard_normal((n_x, m, T)).astype(dtype)
    a0: np.ndarray = (0.5 * rng.standard_normal((n_a, m))).astype(dtype)
    if loss == "xent":
        targets = rng.integers(0, n_y, (m, T))
        if pad:  # ragged sequences: the tail of some rows is padding
            for i in range(m):
                targets[i, rng.integers(1, T + 1) :] = -1
            targets[0, -1] = -1
    elif loss == "xent_last":
        targets = rng.integers(0, n_y, (m,))
        if pad and m > 1:
            targets[0] = -1  # a sequence without a target
    else:
        targets = rng.standard_normal((n_y, m)).astype(dtype)
    return params, x, targets, a0


def assert_close(name: str, got: np.ndarray, want: np.ndarray, rtol: float) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    scale = max(float(np.max(np.abs(want))), 1e-300)
    err = float(np.max(np.abs(got - want))) if want.size else 0.0
    assert err <= rtol * scale, f"{name}: max error {err:.3g} vs scale {scale:.3g}"


def compare(
    cell: str,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    targets: np.ndarray,
    a0: np.ndarray | None,
    loss: str,
    rtol: float = 1e-12,
) -> None:
    value, grads = rnncli.loss_and_grads(cell, params, x, targets, a0=a0, loss=loss)
    ref_value, ref = reference_loss_and_grads(cell, params, x, targets, a0=a0, loss=loss)
    assert abs(value - ref_value) <= rtol * max(abs(ref_value), 1e-300)
    expected = {"d" + k for k in BUILTIN[cell].all_params} | {"dx", "da0"}
    assert set(grads) == expected
    for k in sorted(expected):
        assert_close(f"{cell} {loss} {k}", grads[k], ref[k], rtol)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matches_reference(cell: str, loss: str, shape: tuple[int, int, int, int, int]) -> None:
    params, x, targets, a0 = make_problem(cell, shape, loss)
    compare(cell, params, x, targets, a0, loss)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("loss", LOSSES)
def test_a0_none_is_zeros(cell: str, loss: str) -> None:
    params, x, targets, _ = make_problem(cell, (3, 5, 2, 4, 6), loss, seed=1)
    compare(cell, params, x, targets, None, loss)
    v1, g1 = rnncli.loss_and_grads(cell, params, x, targets, loss=loss)
    v2, g2 = rnncli.loss_and_grads(cell, params, x, targets, a0=np.zeros((5, 4)), loss=loss)
    assert v1 == v2
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k])


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("shape", [(3, 5, 4, 6, 8), (2, 3, 3, 1, 4)], ids=["m6", "m1"])
def test_padded_targets(cell: str, shape: tuple[int, int, int, int, int]) -> None:
    params, x, targets, a0 = make_problem(cell, shape, "xent", seed=2, pad=True)
    assert (targets < 0).any()
    compare(cell, params, x, targets, a0, "xent")


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32])
@pytest.mark.parametrize("pad", [False, True])
def test_narrow_integer_targets(dtype: type, pad: bool) -> None:
    """target * N + column is computed in intp: in the targets' own dtype it would wrap
    (targets up to 5, N = 6800 here: beyond int8, uint8 and int16)."""
    params, x, targets, a0 = make_problem("rnn", (2, 3, 6, 40, 170), "xent", seed=4, pad=pad)
    if dtype == np.uint8:
        targets = np.where(targets < 0, 0, targets)
    compare("rnn", params, x, targets.astype(dtype), a0, "xent")


@pytest.mark.parametrize("cell", CELLS)
def test_all_padding_gives_zero_loss(cell: str) -> None:
    params, x, targets, a0 = make_problem(cell, (3, 4, 2, 3, 5), "xent", seed=3)
    value, grads = rnncli.loss_and_grads(cell, params, x, np.full_like(targets, -1), a0)
    assert value == 0.0
    assert all(not g.any() for g in grads.values())


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("loss", LOSSES)
def test_float32_preserved(cell: str, loss: str) -> None:
    params, x, targets, a0 = make_problem(cell, (3, 5, 2, 4, 6), loss, seed=4, dtype=np.float32)
    value, grads = rnncli.loss_and_grads(cell, params, x, targets, a0=a0, loss=loss)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert isinstance(value, float)
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    t64 = targets if loss != "mse_last" else targets.astype(np.float64)
    ref_value, ref = reference_loss_and_grads(
        cell, p64, x.astype(np.float64), t64, a0.astype(np.float64), loss
    )
    assert abs(value - ref_value) <= 1e-4 * abs(ref_value)
    for k in grads:
        assert_close(k, grads[k], ref[k], 1e-4)


@pytest.mark.parametrize("cell", CELLS)
def test_repeated_calls_reuse_workspace_safely(cell: str) -> None:
    """Returned arrays are fresh: a second call with the same shapes must not change them."""
    workspace.clear()
    p1, x1, t1, a1 = make_problem(cell, (3, 5, 2, 4, 6), "xent", seed=5)
    p2, x2, t2, a2 = make_problem(cell, (3, 5, 2, 4, 6), "xent", seed=6)
    v1, g1 = rnncli.loss_and_grads(cell, p1, x1, t1, a1)
    kept = {k: v.copy() for k, v in g1.items()}
    rnncli.loss_and_grads(cell, p2, x2, t2, a2)
    for k in kept:
        np.testing.assert_array_equal(g1[k], kept[k])
    assert rnncli.loss_and_grads(cell, p1, x1, t1, a1)[0] == v1


@pytest.mark.parametrize("cell", CELLS)
def test_hot_path_reuses_its_step_views(cell: str) -> None:
    """The per-step views are built once per workspace: a second call with the same
    shapes must hit the memo (building them costs ~0.1 µs a view, a tenth of a small
    call), including the backward pass, whose cache it consumes."""
    workspace.clear()
    params, x, targets, a0 = make_problem(cell, (3, 5, 2, 4, 6), "xent", seed=5)
    rnncli.loss_and_grads(cell, params, x, targets, a0)
    (ws,) = workspace._local.cache.values()
    first = {name: entry[2] for name, entry in ws.memo.items()}
    assert set(first) == {f"{cell}.forward", f"{cell}.backward"}
    rnncli.loss_and_grads(cell, params, x, targets, a0)
    assert all(ws.memo[name][2] is views for name, views in first.items())
    p = engine.pack(cell, params)  # the training loop's path, from a carried state
    X, tm_targets = engine.to_time_major(x), np.ascontiguousarray(targets.T)
    for _ in range(2):
        engine.train_step(p, X, tm_targets, (a0, a0), "xent", p.zeros_like())
    assert all(ws.memo[name][2] is views for name, views in first.items())


@pytest.mark.parametrize("cell", CELLS)
def test_packed_path_with_given_grads(cell: str) -> None:
    """loss_and_grads_packed writes into the caller's grads and matches the dict API."""
    params, x, targets, a0 = make_problem(cell, (4, 3, 5, 2, 5), "xent", seed=7)
    p = engine.pack(cell, params)
    grads = p.zeros_like()
    grads.flat[:] = np.nan  # every entry must be overwritten
    value, g, dX, da0 = engine.loss_and_grads_packed(
        p, engine.to_time_major(x), np.ascontiguousarray(targets.T), a0, "xent", grads
    )
    assert g is grads and dX is None
    ref_value, ref = rnncli.loss_and_grads(cell, params, x, targets, a0)
    assert value == pytest.approx(ref_value, rel=1e-14)
    named = engine.unpack(g, prefix="d")
    for k, v in named.items():
        assert_close(k, v, ref[k], 1e-13)
    assert_close("da0", da0, ref["da0"], 1e-13)


@pytest.mark.parametrize("cell", CELLS)
def test_public_forward_backward_match(cell: str) -> None:
    """forward / hidden / backward (the train loop's path) agree with loss_and_grads."""
    from rnncli import loss as losses

    params, x, targets, a0 = make_problem(cell, (3, 5, 4, 3, 6), "xent", seed=8)
    p = engine.pack(cell, params)
    cache = engine.forward(p, engine.to_time_major(x), (a0,))
    value, dWy, dby, dH = losses.xent(p.Wy, p.by, engine.hidden(p, cache), targets.T.copy())
    grads, dX, da0 = engine.backward(p, cache, dH)
    grads.Wy[...] = dWy
    grads.by[...] = dby
    ref_value, ref = rnncli.loss_and_grads(cell, params, x, targets, a0)
    assert value == pytest.approx(ref_value, rel=1e-14)
    for k, v in engine.unpack(grads, prefix="d").items():
        assert_close(k, v, ref[k], 1e-13)
    assert dX is not None
    assert_close("dx", engine.from_time_major(dX), ref["dx"], 1e-13)
    final = engine.final_state(p, cache)
    np.testing.assert_array_equal(final[0], engine.hidden(p, cache)[-1])
    assert len(final) == (2 if cell == "lstm" else 1)


def test_lstm_c0_continues_a_sequence() -> None:
    """Running 3 + 4 steps carrying (a, c) equals running 7 steps at once."""
    params, x, _, a0 = make_problem("lstm", (3, 5, 2, 4, 7), "xent", seed=9)
    p = engine.pack("lstm", params)
    X = engine.to_time_major(x)
    whole = engine.hidden(p, engine.forward(p, X, (a0,)))
    first = engine.forward(p, X[:3], (a0,))
    a, c = engine.final_state(p, first)
    second = engine.hidden(p, engine.forward(p, X[3:], (a, c)))
    np.testing.assert_allclose(second, whole[3:], rtol=0, atol=1e-14)


@pytest.mark.parametrize("cell", CELLS)
def test_bad_shapes_raise_naming_the_array(cell: str) -> None:
    params, x, targets, a0 = make_problem(cell, (3, 5, 2, 4, 6), "xent")
    with pytest.raises(ValueError, match=r"\bx\b"):
        rnncli.loss_and_grads(cell, params, x[:2], targets, a0)
    with pytest.raises(ValueError, match=r"\bx\b"):
        rnncli.loss_and_grads(cell, params, x[:, :, 0], targets, a0)
    with pytest.raises(ValueError, match="a0"):
        rnncli.loss_and_grads(cell, params, x, targets, a0[:, :3])
    with pytest.raises(ValueError, match="targets"):
        rnncli.loss_and_grads(cell, params, x, targets[:, :5], a0)
    with pytest.raises(ValueError, match="targets"):
        rnncli.loss_and_grads(cell, params, x, targets.astype(float), a0)
    with pytest.raises(ValueError, match="targets"):
        rnncli.loss_and_grads(cell, params, x, targets + 2, a0)  # class >= n_y
    with pytest.raises(ValueError, match="targets"):
        rnncli.loss_and_grads(cell, params, x, np.zeros((2, 3)), a0, loss="mse_last")
    out = "Wya" if cell == "rnn" else "Wy"
    bad = dict(params)
    bad[out] = params[out][:, :3]
    with pytest.raises(ValueError, match=out):
        rnncli.loss_and_grads(cell, bad, x, targets, a0)
    first = BUILTIN[cell].params[0]
    bad = dict(params)
    bad[first] = params[first][:-1]
    with pytest.raises(ValueError, match=first):
        rnncli.loss_and_grads(cell, bad, x, targets, a0)
    bad = dict(params)
    del bad["by"]
    with pytest.raises(ValueError, match="by"):
        rnncli.loss_and_grads(cell, bad, x, targets, a0)


def test_unknown_cell_and_loss() -> None:
    params, x, targets, a0 = make_problem("rnn", (3, 5, 2, 4, 6), "xent")
    with pytest.raises(ValueError, match="cell"):
        rnncli.loss_and_grads("tree", params, x, targets, a0)
    with pytest.raises(ValueError, match="loss"):
        rnncli.loss_and_grads("rnn", params, x, targets, a0, loss="hinge")


def test_workspace_reuses_buffers_and_memo() -> None:
    ws = workspace.Workspace()
    a = ws.get("a", (2, 3), np.dtype(np.float64))
    assert ws.get("a", (2, 3), np.dtype(np.float64)) is a
    b = ws.get("a", (3, 2), np.dtype(np.float64))  # new shape: new buffer
    assert b is not a and b.shape == (3, 2)
    made: list[int] = []

    def make(arr: np.ndarray) -> list[np.ndarray]:
        made.append(1)
        return [arr[0]]

    views = ws.views("v", (b,), lambda: make(b))
    assert ws.views("v", (b,), lambda: make(b)) is views and made == [1]
    c = ws.get("a", (4, 2), np.dtype(np.float64))
    assert ws.views("v", (c,), lambda: make(c)) is not views and made == [1, 1]
    assert ws.one(np.dtype(np.float32)).dtype == np.float32


def test_cached_workspaces_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    workspace.clear()
    monkeypatch.setattr(workspace, "MAX_CACHED", 2)
    first = workspace.cached("a")
    workspace.cached("b")
    assert workspace.cached("a") is first  # a is now the most recently used
    workspace.cached("c")  # evicts b
    assert workspace.cached("a") is first
    assert workspace.cached("b") is not None and len(workspace._local.cache) == 2
    monkeypatch.setattr(workspace, "MAX_CACHED_BYTES", 1000)
    workspace.cached("d").get("x", (1000,), np.dtype(np.float64))  # 8000 bytes
    workspace.cached("e")
    assert list(workspace._local.cache) == ["e"]  # over the byte cap: all but the newest go
    workspace.clear()


@pytest.mark.parametrize("cell", CELLS)
def test_layout_upgrade_from_version_1(cell: str) -> None:
    from rnncli.engine.layout import LAYOUT_VERSION, upgrade_flat

    params, *_ = make_problem(cell, (3, 4, 2, 2, 3), "xent", seed=11)
    p = engine.pack(cell, params)
    old = layout_v1(cell, params)
    assert not np.array_equal(old, p.flat)  # the layouts do differ
    np.testing.assert_array_equal(upgrade_flat(cell, 3, 4, 2, old, 1), p.flat)
    assert upgrade_flat(cell, 3, 4, 2, p.flat, LAYOUT_VERSION) is p.flat
    with pytest.raises(ValueError, match="layout version 7"):
        upgrade_flat(cell, 3, 4, 2, old, 7)
    with pytest.raises(ValueError, match="the model needs"):
        upgrade_flat(cell, 3, 5, 2, old, 1)


def test_lstm_gate_values_match_the_notebook_caches() -> None:
    from rnncli import notebook
    from rnncli.engine import lstm

    params, x, _, a0 = make_problem("lstm", (3, 5, 2, 4, 6), "xent", seed=3)
    *_, (caches, _) = notebook.lstm_forward(x, a0, params)
    p = engine.pack("lstm", params)
    cache = engine.forward(p, engine.to_time_major(x), (a0,))
    Z = lstm.gate_values(cache)
    for t, (*_, ft, it, cct, ot, _xt, _p) in enumerate(caches):
        np.testing.assert_allclose(Z[t], np.concatenate([ot, it, ft, cct]), rtol=1e-13)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("choice", ["mkl", "auto"])
def test_mkl_products_match_reference(cell: str, choice: str) -> None:
    """engine.blas=mkl (every product on MKL's cblas) and auto on one thread (MKL for the
    larger products) equal the notebook to 1e-12, padded targets and one-hot-free
    inputs; the bound per-step products follow a switch back to NumPy."""
    from rnncli.engine import blas

    if not blas.available():
        pytest.skip(blas.HINT)
    params, x, targets, a0 = make_problem(cell, (20, 64, 9, 16, 12), "xent", seed=3, pad=True)
    try:
        blas.use(choice)
        with engine.limit_threads(1):
            assert blas.gemm_for(np.float64).mkl
            compare(cell, params, x, targets, a0, "xent")
            compare(cell, params, x, targets, a0, "xent")  # the memoised products again
        blas.use("numpy")
        compare(cell, params, x, targets, a0, "xent")
    finally:
        blas.use("auto")
