"""Seed-batched training: the stacked kernels against the solo engine, a stack's members
against their solo runs, bit-for-bit reproducibility and resume, and the sweep's
grouping (`sweep.batch_members`)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnncli import engine
from rnncli import sweep as S
from rnncli.config import load_config
from rnncli.engine import batched as B
from rnncli.params import init_params
from rnncli.sweep import batched as sweep_batched
from rnncli.training import execute, start_or_resume
from rnncli.training.batched import execute_group

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["train.steps=30", "train.eval_every=5", "train.checkpoint_every=10"]


def _stack(cell: str, n_x: int, n_y: int, K: int) -> tuple[B.Stack, list[engine.Packed]]:
    packs = [
        engine.pack(cell, init_params(cell, n_x, 6, n_y, np.random.default_rng(k)), n_x=n_x)
        for k in range(K)
    ]
    return B.Stack(cell, n_x, 6, n_y, np.stack([p.flat for p in packs])), packs


def _targets(loss: str, lengths: list[int], n_y: int, m: int, rng: Any) -> list[np.ndarray]:
    if loss == "xent":
        return [rng.integers(-1, n_y, size=(T, m)) for T in lengths]
    if loss == "mse_last":
        return [rng.standard_normal((n_y, m)) for _ in lengths]
    return [rng.integers(0, n_y, size=(m,)) for _ in lengths]


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
@pytest.mark.parametrize("loss", ["xent", "mse_last", "xent_last"])
def test_stacked_step_is_each_members_solo_step(cell: str, loss: str) -> None:
    """Ragged lengths (zero-padded) and all three losses: every member's loss and
    gradients are its solo step's, and do not depend on the rest of the stack."""
    rng = np.random.default_rng(0)
    n_x, n_y, m, lengths = 5, 1 if loss == "mse_last" else 4, 3, [7, 11, 2]
    s, packs = _stack(cell, n_x, n_y, len(lengths))
    Xs = [rng.integers(-1, n_x, size=(T, m)) for T in lengths]
    tg = _targets(loss, lengths, n_y, m, rng)
    g = s.like(np.zeros_like(s.theta))
    values = B.train_step(s, B.stacked_dense(Xs, n_x, s.dtype), lengths, tg, loss, g)
    for k, p in enumerate(packs):
        gk = p.zeros_like()
        value, _ = engine.train_step(p, Xs[k], tg[k], None, loss, gk)
        np.testing.assert_allclose(values[k], value, rtol=1e-13, atol=0)
        np.testing.assert_allclose(g.theta[k], gk.flat, rtol=1e-12, atol=1e-15)
        alone = B.Stack(cell, n_x, 6, n_y, s.theta[k : k + 1].copy())
        ga = alone.like(np.zeros_like(alone.theta))
        X1 = B.stacked_dense([Xs[k]], n_x, s.dtype)
        assert B.train_step(alone, X1, [lengths[k]], [tg[k]], loss, ga) == [values[k]]
        assert np.array_equal(ga.theta[0], g.theta[k])  # bit for bit, in any stack


def _cfgs(task: str, cell: str, seeds: range, *extra: str) -> list[Any]:
    return [
        load_config(None, {"train.task": task}, [f"cell={cell}", f"seed={s}", *SHORT, *extra],
                    training=True)  # fmt: skip
        for s in seeds
    ]


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def _same_metrics(a: Path, b: Path, tol: float = 0.0) -> None:
    ra, rb = _rows(a), _rows(b)
    assert [r["step"] for r in ra] == [r["step"] for r in rb]
    for x, y in zip(ra, rb, strict=True):
        for key in x.keys() - {"wall_s"}:
            assert abs(x[key] - y[key]) <= tol, (key, x[key], y[key])


def _theta(path: Path, name: str = "checkpoint.npz") -> np.ndarray:
    with np.load(path / name) as z:
        return np.array(z["theta"])


@pytest.mark.parametrize(
    ("task", "cell"), [("reber", "lstm"), ("adding", "rnn"), ("lag", "lstm"), ("reber", "gru")]
)
def test_members_match_their_solo_runs(tmp_path: Path, task: str, cell: str) -> None:
    """Every member's metrics equal its solo run's to 1e-10 (here: exactly), with a
    member whose learning rate and steps differ from the others'."""
    extra = ["train.p=10"] if task == "lag" else ["train.T=20"] if task == "adding" else []
    cfgs = _cfgs(task, cell, range(3), *extra)
    cfgs[1] = cfgs[1].model_copy(update={"train": cfgs[1].train.model_copy(
        update={"lr": 0.003, "steps": 20})})  # fmt: skip
    plans = [start_or_resume(c, run_dir=tmp_path / f"b{i}") for i, c in enumerate(cfgs)]
    outcomes = execute_group(plans)
    assert [o.status for o in outcomes] == ["completed"] * 3
    for i, c in enumerate(cfgs):
        execute(start_or_resume(c, run_dir=tmp_path / f"s{i}"), notice=lambda _: None)
        _same_metrics(tmp_path / f"b{i}", tmp_path / f"s{i}", 1e-10)
        for name in ("checkpoint.npz", "best.npz"):
            np.testing.assert_allclose(_theta(tmp_path / f"b{i}", name),
                                       _theta(tmp_path / f"s{i}", name), rtol=1e-10)  # fmt: skip
    info = json.loads((tmp_path / "b1" / "run.json").read_text())
    assert info["status"] == "completed" and info["summary"]["steps"] == 20
    assert info["batched"] == {"members": 3}


def _stop_after(n: int) -> Any:
    calls = [0]

    def stop() -> bool:
        calls[0] += 1
        return calls[0] > n

    return stop


def test_batched_runs_are_bit_for_bit_and_resume_bit_for_bit(tmp_path: Path) -> None:
    cfgs = _cfgs("reber", "lstm", range(3))
    for name in ("a", "b"):
        execute_group([start_or_resume(c, run_dir=tmp_path / name / f"{i}")
                       for i, c in enumerate(cfgs)])  # fmt: skip
    plans = [start_or_resume(c, run_dir=tmp_path / "c" / f"{i}") for i, c in enumerate(cfgs)]
    first = execute_group(plans, _stop_after(13))
    assert {o.status for o in first} == {"interrupted"}
    again = execute_group([start_or_resume(None, resume=tmp_path / "c" / f"{i}")
                           for i in range(3)])  # fmt: skip
    assert {o.status for o in again} == {"completed"}
    for i in range(3):
        for other in ("b", "c"):
            _same_metrics(tmp_path / "a" / f"{i}", tmp_path / other / f"{i}")
            for name in ("checkpoint.npz", "best.npz"):
                assert np.array_equal(_theta(tmp_path / "a" / f"{i}", name),
                                      _theta(tmp_path / other / f"{i}", name))  # fmt: skip


def test_a_member_resumes_alone_as_a_train_run(tmp_path: Path) -> None:
    """``rnncli train --resume MEMBER`` (here extended by 10 steps) goes on with the
    solo engine from the member's checkpoint, as the stack would have."""
    cfgs = _cfgs("reber", "lstm", range(2))
    execute_group([start_or_resume(c, run_dir=tmp_path / f"m{i}") for i, c in enumerate(cfgs)])
    plan = start_or_resume(None, resume=tmp_path / "m0", overrides=["train.steps=40"])
    assert execute(plan, notice=lambda _: None).status == "completed"
    longer = [cfgs[0].model_copy(update={"train": cfgs[0].train.model_copy(
        update={"steps": 40})}), cfgs[1]]  # fmt: skip
    execute_group([start_or_resume(c, run_dir=tmp_path / f"l{i}") for i, c in enumerate(longer)])
    _same_metrics(tmp_path / "m0", tmp_path / "l0", 1e-10)


def test_sweep_groups_members_and_says_why_others_run_alone(tmp_path: Path) -> None:
    plan = S.plan_sweep(None, {"train.task": "reber"},
                        ["cell=lstm,torch-gru", "train.lr=0.01,0.02", *SHORT], "0-2")  # fmt: skip
    units, notes = sweep_batched.units(plan.jobs, 2, "auto")
    sizes = sorted(len(u) for u in units)
    assert sizes == [1] * 6 + [3, 3]  # the torch-gru jobs alone; 6 lstm jobs in two stacks
    assert notes == [
        "6 jobs run separately: cell torch-gru: stacked kernels run the built-in rnn, lstm and gru"
    ]
    assert all(len(u) == 1 for u in sweep_batched.units(plan.jobs, 2, "off")[0])
    cell = f"{ROOT / 'examples/cells/lstm1997.py'}:LSTM1997"
    user = S.plan_sweep(None, {"train.task": "reber", "cell": cell}, SHORT, "0-1")
    units, notes = sweep_batched.units(user.jobs, 1, "auto")
    assert len(units) == 2 and len(notes) == 1 and "stacked kernels run" in notes[0]


def test_batched_sweep_equals_the_separate_one(tmp_path: Path) -> None:
    args = ({"train.task": "reber"}, ["train.lr=0.01,0.03", *SHORT], "0-2")
    off = S.plan_sweep(None, *args[:1], [*args[1], "sweep.batch_members=off"], args[2])
    auto = S.plan_sweep(None, *args)
    assert (off.batch_members, auto.batch_members) == ("off", "auto")
    a = S.run_sweep(off, out=tmp_path / "off", workers=1)
    b = S.run_sweep(auto, out=tmp_path / "auto", workers=1)
    assert a.exit_code == b.exit_code == 0
    for job in auto.jobs:
        _same_metrics(tmp_path / "off" / job.id, tmp_path / "auto" / job.id, 1e-10)
        assert json.loads((tmp_path / "auto" / job.id / "run.json").read_text())["batched"]
    doc = json.loads((tmp_path / "auto" / "sweep.json").read_text())
    assert doc["batch_members"] == "auto" and doc["counts"]["completed"] == 6


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs distributed")
def test_a_group_of_members_runs_on_dask(tmp_path: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        processes=False, n_workers=1, threads_per_worker=1, host="127.0.0.1",
        protocol="tcp", dashboard_address=None,
    ) as cluster:  # fmt: skip
        plan = S.plan_sweep(None, {"train.task": "reber"}, SHORT, "0-2")
        assert [len(u) for u in sweep_batched.units(plan.jobs, 1, "auto")[0]] == [3]
        result = S.run_sweep(plan, out=tmp_path / "sw", dask=cluster.scheduler_address)
    assert (result.status, result.count("completed")) == ("completed", 3)
    for job in plan.jobs:
        info = json.loads((tmp_path / "sw" / job.id / "run.json").read_text())
        assert info["batched"]["members"] == 3 and info["status"] == "completed"
        assert info["batched"]["jobs"] == [j.id for j in plan.jobs]


def test_auto_stacks_where_it_pays_and_on_stacks_every_size() -> None:
    plan = S.plan_sweep(None, {"train.task": "adding"}, SHORT, "0-3")  # 32 hidden x 32 batch
    units, notes = sweep_batched.units(plan.jobs, 1, "auto")
    assert [len(u) for u in units] == [1] * 4 and "a stack does not pay" in notes[0]
    assert [len(u) for u in sweep_batched.units(plan.jobs, 1, "on")[0]] == [4]
    on = S.plan_sweep(None, {"train.task": "adding"}, [*SHORT, "sweep.batch_members=on"], "0")
    assert on.batch_members == "on"


def test_an_interrupted_batched_sweep_resumes_bit_for_bit(tmp_path: Path) -> None:
    """The sweep's stop file interrupts a stack part way; the same sweep run again
    continues its members from their checkpoints, in a stack, to the numbers of a sweep
    that was never interrupted."""
    import threading

    args = ({"train.task": "reber"}, ["train.steps=400", "train.checkpoint_every=20"], "0-2")
    whole = S.run_sweep(S.plan_sweep(None, *args), out=tmp_path / "whole", workers=1)
    assert whole.exit_code == 0
    out = tmp_path / "cut"
    timer = threading.Timer(1.0, lambda: (out / S.STOP_FILE).write_text("stop\n"))
    timer.start()
    S.run_sweep(S.plan_sweep(None, *args), out=out, workers=1)  # stopped after ~1 s
    timer.join()
    (out / S.STOP_FILE).unlink(missing_ok=True)
    again = S.run_sweep(S.plan_sweep(None, *args), out=out, workers=1)
    assert again.exit_code == 0
    for job in again.jobs:
        _same_metrics(tmp_path / "whole" / job.id, out / job.id)
        for name in ("checkpoint.npz", "best.npz"):
            assert np.array_equal(_theta(tmp_path / "whole" / job.id, name),
                                  _theta(out / job.id, name))  # fmt: skip


def test_runs_of_different_shapes_are_refused_as_one_stack(tmp_path: Path) -> None:
    a, b = _cfgs("reber", "lstm", range(1))[0], _cfgs("reber", "rnn", range(1))[0]
    plans = [start_or_resume(c, run_dir=tmp_path / f"{i}") for i, c in enumerate((a, b))]
    with pytest.raises(ValueError, match="per-member keys"):
        execute_group(plans)
    assert not (tmp_path / "0").exists()  # refused before any folder was made
