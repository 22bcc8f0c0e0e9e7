"""The compiled backend (the [fast] extra): every cell, loss and odd shape against
`rnncli.reference` to 1e-12 in float64, dense and index inputs alike, the backend rule
`auto` follows, and training runs that record the backend they ran on and resume bit
for bit. Skipped, with the reason, where numba is not installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rnncli import engine
from rnncli.cli import app
from rnncli.engine import blas, compiled
from rnncli.params import init_params
from rnncli.reference import reference_loss_and_grads

#: run.json's engine entry of a one-thread run (what ran its NumPy products)
ONE_THREAD = {"threads": 1, "blas": blas.active()}

numba = pytest.importorskip("numba", reason="the compiled backend needs the [fast] extra")

CELLS = ("rnn", "lstm", "gru")
LOSSES = ("xent", "mse_last", "xent_last")
SHAPES = ((3, 5, 2, 10, 7), (4, 3, 6, 1, 5), (2, 6, 3, 4, 1))  # n_x, n_a, n_y, m, T


def case(cell: str, loss: str, shape: tuple[int, ...], dtype: Any = np.float64) -> Any:
    n_x, n_a, n_y, m, T = shape
    rng = np.random.default_rng(hash((cell, loss, shape)) % 2**32)
    params = init_params(cell, n_x, n_a, n_y, rng, "normal", 0.5)
    x = rng.standard_normal((n_x, m, T))
    a0 = 0.5 * rng.standard_normal((n_a, m))
    if loss == "xent":
        targets = rng.integers(0, n_y, (m, T))
        targets[0, -1] = -1  # a padded step: no loss
    elif loss == "xent_last":
        targets = rng.integers(0, n_y, (m,))
    else:
        targets = rng.standard_normal((n_y, m))
    return params, x, a0, targets


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def engine_targets(loss: str, targets: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(targets.T) if loss == "xent" else targets


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("cell", CELLS)
def test_compiled_equals_the_reference(cell: str, loss: str, shape: tuple[int, ...]) -> None:
    params, x, a0, targets = case(cell, loss, shape)
    value_ref, ref = reference_loss_and_grads(cell, params, x, targets, a0, loss)
    p = engine.pack(cell, params)
    grads = p.zeros_like()
    value, dX, da0, final = compiled.loss_and_grads(
        p, engine.to_time_major(x), engine_targets(loss, targets), (a0,), loss, grads, True
    )
    assert abs(value - value_ref) <= 1e-12 * abs(value_ref)
    got = engine.unpack(grads, prefix="d")
    for name, g in got.items():
        assert rel(g, ref[name]) < 1e-12, name
    assert dX is not None
    assert rel(engine.from_time_major(dX), ref["dx"]) < 1e-12
    assert rel(da0, ref["da0"]) < 1e-12
    # the final state is the NumPy engine's
    _, _, _, numpy_final = engine._loss_and_grads(
        p, engine.to_time_major(x), engine_targets(loss, targets), (a0,), loss,
        p.zeros_like(), False, True,
    )  # fmt: skip
    assert numpy_final is not None
    for a, b in zip(final, numpy_final, strict=True):
        assert rel(a, b) < 1e-12


@pytest.mark.parametrize("cell", CELLS)
def test_index_inputs_equal_one_hot_inputs_with_padding(cell: str) -> None:
    rng = np.random.default_rng(3)
    n_x, n_a, m, T = 7, 6, 5, 9
    p = engine.pack(cell, init_params(cell, n_x, n_a, n_x, rng, "normal", 0.5))
    idx = rng.integers(0, n_x, (T, m))
    idx[6:, 1] = -1  # a short sequence: no input past its end
    targets = rng.integers(0, n_x, (T, m))
    targets[6:, 1] = -1
    dense = engine.dense(idx, n_x, np.float64)
    assert dense[7, :, 1].sum() == 0 and dense[0, idx[0, 0], 0] == 1
    g1, g2 = p.zeros_like(), p.zeros_like()
    v1, *_ = compiled.loss_and_grads(p, dense, targets, None, "xent", g1, False)
    v2, *_ = compiled.loss_and_grads(p, None, targets, None, "xent", g2, False, idx)  # type: ignore[arg-type]
    assert abs(v1 - v2) < 1e-13 * abs(v1)
    assert rel(g2.flat, g1.flat) < 1e-13
    # and the NumPy engine, which takes the same indices
    g3 = p.zeros_like()
    v3, _ = engine.train_step(p, idx, targets, None, "xent", g3)
    assert abs(v3 - v1) < 1e-12 * abs(v1) and rel(g3.flat, g1.flat) < 1e-12


@pytest.mark.parametrize("cell", CELLS)
def test_float32_kernels_agree_with_float64(cell: str) -> None:
    params, x, a0, targets = case(cell, "xent", SHAPES[0])
    p64 = engine.pack(cell, params)
    p32 = engine.pack(cell, {k: v.astype(np.float32) for k, v in params.items()})
    g64, g32 = p64.zeros_like(), p32.zeros_like()
    t = engine_targets("xent", targets)
    X = engine.to_time_major(x)
    v64, *_ = compiled.loss_and_grads(p64, X, t, (a0,), "xent", g64, False)
    v32, *_ = compiled.loss_and_grads(
        p32, X.astype(np.float32), t, (a0.astype(np.float32),), "xent", g32, False
    )
    assert g32.flat.dtype == np.float32
    assert abs(v32 - v64) < 1e-5 * abs(v64) and rel(g32.flat, g64.flat) < 1e-4


def test_a_wrong_kernel_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The agreement test above fails on a kernel with a planted bug (dropped forget-gate
    gradient), so it is a test that can fail."""
    params, x, a0, targets = case("lstm", "xent", SHAPES[0])
    _, ref = reference_loss_and_grads("lstm", params, x, targets, a0, "xent")
    p = engine.pack("lstm", params)
    grads = p.zeros_like()
    real = compiled._kernel("lstm")

    def planted(*args: Any) -> Any:
        out = real(*args)
        dW = args[13]
        n = p.n_a
        dW[2 * n : 3 * n] *= 0.999  # the forget gate's rows, slightly off
        return out

    monkeypatch.setattr(compiled, "_kernel", lambda cell: planted)
    compiled.loss_and_grads(p, engine.to_time_major(x), targets.T.copy(), (a0,), "xent", grads,
                            False)  # fmt: skip
    got = engine.unpack(grads, prefix="d")
    assert max(rel(got[k], ref[k]) for k in ("dWf", "dbf") if k in got) > 1e-6


def test_auto_picks_compiled_only_where_it_is_faster(monkeypatch: pytest.MonkeyPatch) -> None:
    choose = engine.choose_backend
    assert choose("auto", "lstm", False, 16, 4) == "compiled"
    assert choose("auto", "lstm", False, 32, 32) == "numpy"  # the adding size: NumPy wins
    assert choose("auto", "lstm", True, 4, 4) == "numpy"  # stacked: NumPy only
    assert choose("auto", "peephole.py:Peephole", False, 4, 4) == "numpy"
    assert choose("numpy", "lstm", False, 4, 4) == "numpy"
    assert choose("compiled", "gru", False, 512, 64) == "compiled"  # asked for: obeyed
    with pytest.raises(ValueError, match="one-layer"):
        choose("compiled", "lstm", True, 4, 4)
    monkeypatch.setattr(compiled, "available", lambda: False)
    assert choose("auto", "lstm", False, 16, 4) == "numpy"
    with pytest.raises(ValueError, match=r"rnncli\[fast\]"):
        choose("compiled", "lstm", False, 16, 4)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"NO_COLOR": "1"}, catch_exceptions=False)


REBER = ["--task", "reber", "train.hidden=8", "train.eval_every=10", "train.eval_size=16",
         "train.checkpoint_every=20", "train.stop_on_solve=false"]  # fmt: skip


def test_training_records_its_backend_and_resumes_bit_for_bit(tmp_path: Path) -> None:
    def run(out: Path, *extra: str) -> Path:
        result = invoke("train", *REBER, "--out", str(out), "--json", *extra)
        assert result.exit_code == 0, result.stderr
        return Path(json.loads(result.stdout)["run_dir"])

    whole = run(tmp_path / "a", "train.steps=60", "engine.backend=compiled")
    summary = json.loads((whole / "run.json").read_text())["summary"]
    assert summary["engine"] == {"backend": "compiled", **ONE_THREAD}
    half = run(tmp_path / "b", "train.steps=30", "engine.backend=compiled")
    result = invoke("train", "--resume", str(half), "train.steps=60", "--json")
    assert result.exit_code == 0, result.stderr
    with np.load(whole / "checkpoint.npz") as a, np.load(half / "checkpoint.npz") as b:
        assert np.array_equal(a["theta"], b["theta"])
    # and the NumPy engine trains the same model to rounding
    numpy_run = run(tmp_path / "c", "train.steps=60", "engine.backend=numpy")
    with np.load(whole / "checkpoint.npz") as a, np.load(numpy_run / "checkpoint.npz") as b:
        assert rel(a["theta"], b["theta"]) < 1e-9


def test_auto_moves_to_the_kernels_at_a_fixed_step_and_resumes_bit_for_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compiled, "AUTO_FROM_STEP", 30)

    def run(out: Path, *extra: str) -> Path:
        result = invoke("train", *REBER, "--out", str(out), "--json", *extra)
        assert result.exit_code == 0, result.stderr
        return Path(json.loads(result.stdout)["run_dir"])

    def engine_of(run_dir: Path) -> dict[str, Any]:
        return json.loads((run_dir / "run.json").read_text())["summary"]["engine"]

    short = run(tmp_path / "s", "train.steps=20")
    assert engine_of(short) == {"backend": "numpy", **ONE_THREAD}  # never got there
    whole = run(tmp_path / "a", "train.steps=60")
    assert engine_of(whole) == {"backend": "compiled", **ONE_THREAD, "from_step": 30}
    numpy_run = run(tmp_path / "n", "train.steps=60", "engine.backend=numpy")
    for first in ("20", "45"):  # stopped before the move and after it
        half = run(tmp_path / f"b{first}", f"train.steps={first}")
        result = invoke("train", "--resume", str(half), "train.steps=60", "--json")
        assert result.exit_code == 0, result.stderr
        assert engine_of(half)["from_step"] == 30
        with np.load(whole / "checkpoint.npz") as a, np.load(half / "checkpoint.npz") as b:
            assert np.array_equal(a["theta"], b["theta"])
    with np.load(whole / "checkpoint.npz") as a, np.load(numpy_run / "checkpoint.npz") as b:
        assert not np.array_equal(a["theta"], b["theta"])  # the kernels did run
        assert rel(a["theta"], b["theta"]) < 1e-9


def test_a_resume_follows_the_plan_its_run_started_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step a run moves at is kept in its checkpoint: a later rnncli with another
    step, a checkpoint written before it was kept (then the kernels ran from step 0),
    and a resume stopped before its first step all keep the run's own record."""
    from rnncli.training import checkpoint, lifecycle

    def run(out: Path, *extra: str) -> Path:
        result = invoke("train", *REBER, "--out", str(out), "--json", *extra)
        assert result.exit_code == 0, result.stderr
        return Path(json.loads(result.stdout)["run_dir"])

    def theta(run_dir: Path) -> np.ndarray:
        with np.load(run_dir / "checkpoint.npz") as z:
            return z["theta"]

    monkeypatch.setattr(compiled, "AUTO_FROM_STEP", 30)
    whole = run(tmp_path / "a", "train.steps=60")
    half = run(tmp_path / "b", "train.steps=20")
    monkeypatch.setattr(compiled, "AUTO_FROM_STEP", 1000)  # a later rnncli
    assert invoke("train", "--resume", str(half), "train.steps=60").exit_code == 0
    assert np.array_equal(theta(whole), theta(half))

    monkeypatch.setattr(compiled, "AUTO_FROM_STEP", 0)  # as auto was before the record
    legacy_whole = run(tmp_path / "c", "train.steps=60")
    legacy = run(tmp_path / "d", "train.steps=20")
    state = checkpoint.load(legacy / checkpoint.NAME)
    state.compiled_from = None
    checkpoint.save(legacy / checkpoint.NAME, state)
    monkeypatch.setattr(compiled, "AUTO_FROM_STEP", 1000)
    assert invoke("train", "--resume", str(legacy), "train.steps=60").exit_code == 0
    assert np.array_equal(theta(legacy_whole), theta(legacy))

    monkeypatch.setattr(compiled, "AUTO_FROM_STEP", 30)
    moved = run(tmp_path / "e", "train.steps=45")
    plan = lifecycle.plan_resume(moved, ["train.steps=60"])
    lifecycle.execute(plan, should_stop=lambda: True)
    summary = json.loads((moved / "run.json").read_text())["summary"]
    assert summary["steps"] == 45
    assert summary["engine"] == {"backend": "compiled", **ONE_THREAD, "from_step": 30}


def test_loading_the_kernels_is_not_training_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    real = compiled.warm

    def slow_warm(*args: Any, **kw: Any) -> float:
        time.sleep(1.0)
        return 1.0 + real(*args, **kw)

    monkeypatch.setattr(compiled, "warm", slow_warm)
    result = invoke("train", *REBER, "train.steps=20", "engine.backend=compiled", "--no-save",
                    "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["wall_s"] < 0.9


def test_compiled_for_a_model_it_cannot_run_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("train", *REBER, "train.steps=5", "engine.backend=compiled",
                    "model.layers=2", "--out", str(tmp_path))  # fmt: skip
    assert result.exit_code == 2
    assert "engine.backend=compiled runs one-layer" in result.stderr
    assert list(tmp_path.iterdir()) == []  # refused before any folder


@pytest.mark.parametrize("task", ["reber", "adding", "lag", "temporal-order", "multiplication"])
def test_every_task_feeds_the_kernels_contiguous_arrays(task: str) -> None:
    """Every array a task hands the kernels is C-ordered, so the one signature `warm`
    compiles is the only one a run needs (another would compile mid-run, for seconds)."""
    from rnncli.config import load_config
    from rnncli.engine.compiled import kernels
    from rnncli.training.loop import train

    cfg = load_config(None, {"train.task": task},
                      ["train.steps=2", "engine.backend=compiled", "train.eval_size=4",
                       "train.p=5", "train.T=20", "train.hidden=4"], training=True)  # fmt: skip
    train(cfg)
    for sig in kernels.lstm_loss_and_grads.signatures:
        assert all(", C)" in str(a) or "array" not in str(a) for a in sig), sig
