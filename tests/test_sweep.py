"""Sweeps: grid planning, seeds, job folders, summary, resume, failures, executors."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from rich.console import Console

from rnncli import sweep as S
from rnncli.errors import InputError
from rnncli.sweep import job as sweep_job

ROOT = Path(__file__).resolve().parents[1]
TINY = ["train.steps=20", "train.eval_every=10", "train.eval_size=16", "train.checkpoint_every=10"]
RUN_FILES = {
    "config.yaml", "overrides.yaml", "run.json", "task.json", "metrics.jsonl", "checkpoint.npz",
    "loss.png", "samples.txt",
}  # fmt: skip
# a job that cannot finish early (evaluated, so possibly solved, only at the end)
LONG = ["train.steps=200000", "train.eval_every=200000"]
HAVE_MPL = importlib.util.find_spec("matplotlib") is not None
HAVE_DASK = importlib.util.find_spec("distributed") is not None


def tiny_plan(*extra: str, seeds: str = "0-1", config: Path | None = None) -> S.SweepPlan:
    """The library form of ``rnncli sweep --task reber cell=rnn,lstm --seeds 0-1``."""
    return S.plan_sweep(config, {"train.task": "reber"}, ["cell=rnn,lstm", *TINY, *extra], seeds)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def assert_complete_runs(result: S.SweepResult) -> None:
    for job in result.jobs:
        folder = result.sweep_dir / job.id
        expected = RUN_FILES if HAVE_MPL else RUN_FILES - {"loss.png"}
        assert expected <= {p.name for p in folder.iterdir()}, job.id
        info = read_json(folder / "run.json")
        assert info["status"] == "completed" and info["command"] == "train"
        assert info["seed"] == job.seed
        assert info["sweep"] == {
            "sweep_dir": str(result.sweep_dir), "job_id": job.id, "seed_label": job.seed_label
        }  # fmt: skip
        assert info["summary"]["task"] == "reber"
        cfg = yaml.safe_load((folder / "config.yaml").read_text())
        assert cfg["seed"] == job.seed and cfg["cell"] == job.point["cell"]
        assert cfg["train"]["steps"] == 20 and cfg["sweep"]["grid"] == {}
        given = yaml.safe_load((folder / "overrides.yaml").read_text())
        assert given["overrides"][-1] == f"seed={job.seed}"
        assert given["flags"] == {"train.task": "reber"}
        assert len((folder / "metrics.jsonl").read_text().splitlines()) == 2


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


# ----------------------------------------------------------------------------- planning


def test_grid_ids_and_paired_seeds() -> None:
    plan = S.plan_sweep(
        None, {"train.task": "reber"}, ["train.T=50,100", "cell=rnn,lstm", "train.lr=0.01"], "3,5"
    )
    assert plan.grid == {"cell": ["rnn", "lstm"], "train.T": [50, 100]}  # schema order
    assert [j.id for j in plan.jobs[:3]] == [
        "cell=rnn,train.T=50,rep=3", "cell=rnn,train.T=50,rep=5", "cell=rnn,train.T=100,rep=3"
    ]  # fmt: skip
    assert len(plan.jobs) == 8 and len({j.id for j in plan.jobs}) == 8
    # the seed depends on (root seed, replicate label) only: paired across the grid
    root = plan.root_seed
    child = np.random.SeedSequence(root).spawn(6)[5]
    expected = int(child.generate_state(1, dtype=np.uint32)[0])
    assert {j.seed for j in plan.jobs if j.seed_label == 5} == {expected}
    assert S.derive_seed(root, 5) == expected != S.derive_seed(root, 3)
    job = plan.jobs[-1]
    assert job.config["seed"] == job.seed and job.config["cell"] == "lstm"
    assert job.config["train"]["T"] == 100 and job.config["train"]["lr"] == 0.01
    assert job.overrides == ["train.lr=0.01", "cell=lstm", "train.T=100", f"seed={job.seed}"]
    # a different root seed gives different seeds
    other = S.plan_sweep(None, {"seed": 7}, ["cell=rnn,lstm"], "3,5")
    assert other.root_seed == 7 and other.jobs[0].seed == S.derive_seed(7, 3) != plan.jobs[0].seed


def test_config_sweep_section_and_command_line_axes(tmp_path: Path) -> None:
    cfg = tmp_path / "base.yaml"
    cfg.write_text(
        "train: {task: reber, steps: 20}\n"
        "sweep:\n  name: mine\n  seeds: 0-2\n  grid:\n    cell: [rnn, gru, lstm]\n"
        "    train.hidden: [8, 16]\n"
    )
    plan = S.plan_sweep(cfg)
    assert plan.name == "mine" and plan.seeds == [0, 1, 2] and len(plan.jobs) == 18
    # command-line axes add to / replace the file's; a one-value override fixes a key
    plan = S.plan_sweep(cfg, None, ["train.lr=0.1,0.2", "train.hidden=4,8", "cell=gru"], "0")
    assert plan.grid == {"train.hidden": [4, 8], "train.lr": [0.1, 0.2]}
    assert {j.config["cell"] for j in plan.jobs} == {"gru"}
    assert len(plan.jobs) == 4 and plan.jobs[0].id == "train.hidden=4,train.lr=0.1,rep=0"
    # a shortcut flag fixes a key of the file's grid too
    assert "cell" not in S.plan_sweep(cfg, {"cell": "rnn"}).grid
    assert S.plan_sweep(None, None, ["cell=rnn,rnn,gru"], "0").grid == {"cell": ["rnn", "gru"]}


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["seed=1,2"], "--seeds"),
        (["dims.na=1,2"], "did you mean 'dims.n_a'"),
        (["cell=rnn,elman"], "cell"),
        (["train.steps=10,-1"], "train.steps"),
        (["sweep.name=a,b"], "cannot be swept"),
    ],
)
def test_bad_grids_are_refused(items: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        S.plan_sweep(None, None, items, "0")


def test_bad_seeds_are_refused() -> None:
    with pytest.raises(InputError, match="seeds"):
        S.plan_sweep(None, None, ["cell=rnn,gru"], "3-1")


def test_job_ids_are_filesystem_safe_and_distinct() -> None:
    a = S.job_id({"train.data": "data/a.txt"}, 0)
    b = S.job_id({"train.data": "data_a.txt"}, 0)
    assert a.startswith("train.data=data_a.txt,rep=0-") and b == "train.data=data_a.txt,rep=0"
    assert a != b and "/" not in a
    assert S.job_id({"train.lr": 1e-3, "dtype": "float32", "x": True}, 2) == (
        "train.lr=0.001,dtype=float32,x=true,rep=2"
    )
    long = S.job_id({"train.data": "x" * 400}, 0)
    assert len(long) < 200


SHIPPED = [
    ("reber-cells", "reber", {"cell": ["rnn", "gru", "lstm"]}, list(range(10))),
    (
        "adding-lstm-vs-rnn",
        "adding",
        {"cell": ["lstm", "rnn"], "train.T": [50, 100]},
        [0, 1, 2, 3, 4],
    ),
]


@pytest.mark.parametrize(("name", "task", "grid", "seeds"), SHIPPED)
def test_shipped_sweep_configs(
    name: str, task: str, grid: dict[str, Any], seeds: list[int]
) -> None:
    path = ROOT / "configs" / "sweeps" / f"{name}.yaml"
    raw = yaml.safe_load(path.read_text())
    assert raw["train"] == {"task": task}  # no training hyperparameters beyond the task
    plan = S.plan_sweep(path)
    assert plan.name == name and plan.grid == grid and plan.seeds == seeds
    assert len(plan.jobs) == len(seeds) * int(np.prod([len(v) for v in grid.values()]))
    assert {j.config["train"]["task"] for j in plan.jobs} == {task}


# ----------------------------------------------------------------------------- local pool


def test_local_pool_sweep_resume_and_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sw"
    result = S.run_sweep(tiny_plan(), out=out, workers=2, reporter=S.PlainReporter(), argv=["x"])
    assert (result.status, result.exit_code, result.sweep_dir) == ("completed", 0, out)
    doc = result.to_json()
    assert (doc["jobs"], doc["completed"], doc["failed"], doc["skipped"]) == (4, 4, 0, 0)
    assert {p.name for p in out.iterdir()} == {
        ".lock",
        "sweep.json",
        "summary.csv",
        "compare.png",
    } | {j.id for j in result.jobs}
    assert_complete_runs(result)

    sweep_json = read_json(out / "sweep.json")
    assert sweep_json["status"] == "completed" and sweep_json["grid"] == {"cell": ["rnn", "lstm"]}
    assert sweep_json["counts"]["completed"] == 4
    for rec in sweep_json["jobs"]:
        assert rec["status"] == "completed" and rec["run_dir"] == rec["id"]
        assert rec["seed"] == S.derive_seed(sweep_json["root_seed"], rec["seed_label"])
        assert rec["result"]["metric"] == "outer_acc"

    rows = read_csv(out / "summary.csv")
    assert [r["cell"] for r in rows] == ["rnn", "lstm"]
    for row in rows:
        assert (row["runs"], row["completed"], row["failed"], row["metric"]) == (
            "2",
            "2",
            "0",
            "outer_acc",
        )
        values = [
            j.result["value"] for j in result.jobs if j.point["cell"] == row["cell"] and j.result
        ]
        assert float(row["metric_mean"]) == pytest.approx(np.mean(values))
        assert float(row["metric_std"]) == pytest.approx(np.std(values, ddof=1))
        assert float(row["metric_median"]) == pytest.approx(np.median(values))
        assert float(row["wall_s_mean"]) > 0
    assert doc["summary"][0]["cell"] == "rnn" and doc["summary"][0]["runs"] == 2
    json.dumps(doc, allow_nan=False)

    err = capsys.readouterr().err
    assert "sweep: 4 jobs" in err and err.count("completed") == 4
    console = Console(record=True, width=160)
    S.render(result, console)
    text = console.export_text()
    assert "outer_acc" in text and "lstm" in text and str(out) in text

    # the same sweep again: every job is skipped, nothing is rerun
    starts = {j.id: read_json(out / j.id / "run.json")["start_time"] for j in result.jobs}
    again = S.run_sweep(tiny_plan(), out=out, workers=2)
    assert (again.count("skipped"), again.count("completed"), again.exit_code) == (4, 0, 0)
    assert {j.id: read_json(out / j.id / "run.json")["start_time"] for j in result.jobs} == starts
    assert read_csv(out / "summary.csv") == rows
    assert len(read_json(out / "sweep.json")["runs"]) == 2

    # an interrupted job continues from its checkpoint; the others stay skipped
    job = result.jobs[1]
    info = read_json(out / job.id / "run.json")
    info["status"] = "interrupted"
    (out / job.id / "run.json").write_text(json.dumps(info))
    third = S.run_sweep(tiny_plan(), out=out, workers=1)
    assert (third.count("skipped"), third.count("completed")) == (3, 1)
    info = read_json(out / job.id / "run.json")
    assert info["status"] == "completed" and len(info["resumed"]) == 1

    # a different grid, seeds or base config in the same folder is refused
    for plan in (
        S.plan_sweep(None, {"train.task": "reber"}, ["cell=rnn,gru", *TINY], "0-1"),
        tiny_plan(seeds="0-2"),
        tiny_plan("train.lr=0.5"),
    ):
        with pytest.raises(InputError, match="different sweep"):
            S.run_sweep(plan, out=out, workers=1)


FLAKY = f"{Path(__file__).parent / 'fixtures' / 'cells' / 'flaky.py'}:Flaky"


def test_input_errors_refuse_the_sweep_once(tmp_path: Path) -> None:
    """A job's bad task input (here a missing text file) is refused before anything runs."""
    missing = tmp_path / "missing.txt"
    with pytest.raises(InputError, match=r"sweep job train.task=text.*missing.txt: text file"):
        S.plan_sweep(None, None, ["train.task=text,reber", f"train.data={missing}", *TINY], "0")
    assert not (tmp_path / "outputs").exists()


def test_failures_are_reported_and_others_complete(tmp_path: Path) -> None:
    """A job that fails while it runs (the cell raises at n_a = 3) is recorded, with its
    error in run.json, and the other jobs complete."""
    plan = S.plan_sweep(None, {"cell": FLAKY}, ["train.hidden=3,4", *TINY], "0", name="mixed")
    result = S.run_sweep(plan, root=tmp_path / "outputs", workers=2)
    day = next((tmp_path / "outputs" / "sweeps").iterdir())
    assert result.sweep_dir.parent == day and result.sweep_dir.name.endswith("-mixed")
    assert (result.status, result.exit_code) == ("failed", 1)
    by_hidden = {j.point["train.hidden"]: j for j in result.jobs}
    assert by_hidden[4].status == "completed"
    failed = by_hidden[3]
    assert failed.status == "failed" and "boom at n_a=3" in (failed.error or "")
    assert "step_backward raised RuntimeError" in (failed.error or "")
    info = read_json(result.sweep_dir / failed.id / "run.json")
    assert info["status"] == "failed" and "boom at n_a=3" in info["error"]
    doc = result.to_json()
    assert (doc["completed"], doc["failed"]) == (1, 1)
    assert doc["failures"][0]["id"] == failed.id
    rows = read_csv(result.sweep_dir / "summary.csv")
    assert {r["train.hidden"]: (r["completed"], r["failed"]) for r in rows} == {
        "3": ("0", "1"), "4": ("1", "0")
    }  # fmt: skip
    console = Console(record=True, width=200)
    S.render(result, console)
    assert "boom at n_a=3" in console.export_text()


def test_fail_fast_stops_the_sweep(tmp_path: Path) -> None:
    plan = S.plan_sweep(None, {"cell": FLAKY}, ["train.hidden=3,4", *TINY], "0-1")
    result = S.run_sweep(plan, out=tmp_path / "sw", workers=1, fail_fast=True)
    assert (result.status, result.exit_code) == ("stopped", 1)
    assert [j.status for j in result.jobs] == ["failed", "pending", "pending", "pending"]
    doc = read_json(tmp_path / "sw" / "sweep.json")
    assert doc["status"] == "stopped"
    assert [j["status"] for j in doc["jobs"]] == ["failed", "pending", "pending", "pending"]
    assert not (tmp_path / "sw" / S.STOP_FILE).exists()
    assert not (tmp_path / "sw" / plan.jobs[1].id).exists()


def test_ctrl_c_cancels_pending_jobs_and_stays_resumable(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    plan = S.plan_sweep(None, {"train.task": "reber"}, ["cell=rnn,lstm", *LONG], "0")
    first = out / plan.jobs[0].id / "task.json"

    def interrupt() -> None:  # Ctrl-C once the first job is training
        deadline = time.monotonic() + 60
        while not first.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    result = S.run_sweep(plan, out=out, workers=1)
    assert (result.status, result.exit_code, result.interrupted) == ("interrupted", 130, True)
    assert [j.status for j in result.jobs] == ["interrupted", "pending"]
    info = read_json(out / plan.jobs[0].id / "run.json")
    assert info["status"] == "interrupted"  # stopped by train itself, with a checkpoint
    assert sweep_job._resumable(out / plan.jobs[0].id, plan.jobs[0].config)
    doc = read_json(out / "sweep.json")
    assert doc["status"] == "interrupted"
    assert [j["status"] for j in doc["jobs"]] == ["interrupted", "pending"]


# ----------------------------------------------------------------------------- jobs


def spec(job: S.Job, sweep_dir: Path) -> S.JobSpec:
    return S.JobSpec(
        job.id, str(sweep_dir / job.id), job.config, job.overrides, {}, [], job.seed_label,
        str(sweep_dir), str(sweep_dir / S.STOP_FILE),
    )  # fmt: skip


def test_a_job_does_nothing_once_the_sweep_is_stopping(tmp_path: Path) -> None:
    job = tiny_plan(seeds="0").jobs[0]
    (tmp_path / S.STOP_FILE).write_text("stop\n")
    assert S.run_job(spec(job, tmp_path))["status"] == "cancelled"
    assert not (tmp_path / job.id).exists()


@pytest.mark.parametrize("where", ["main thread", "worker thread"])
def test_the_stop_file_stops_a_running_job(tmp_path: Path, where: str) -> None:
    job = S.plan_sweep(None, {"train.task": "reber"}, LONG, "0").jobs[0]
    started = tmp_path / job.id / "task.json"

    def stop_soon() -> None:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        (tmp_path / S.STOP_FILE).write_text("stop\n")

    threading.Thread(target=stop_soon, daemon=True).start()
    if where == "main thread":  # a process-pool worker: train's own Ctrl-C handling
        outcome = S.run_job(spec(job, tmp_path))
    else:  # a Dask worker thread
        box: dict[str, Any] = {}
        t = threading.Thread(target=lambda: box.update(S.run_job(spec(job, tmp_path))))
        t.start()
        t.join(60)
        outcome = box
    assert outcome["status"] == "interrupted"
    assert read_json(tmp_path / job.id / "run.json")["status"] == "interrupted"
    if where == "main thread":
        assert sweep_job._resumable(tmp_path / job.id, job.config)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# ----------------------------------------------------------------------------- executors


@pytest.mark.skipif(not HAVE_DASK, reason="dask.distributed is not installed")
def test_dask_scheduler_by_address(tmp_path: Path) -> None:
    from distributed import LocalCluster

    # processes=False alone would use the in-process protocol: ask for TCP, so the sweep
    # connects by address exactly as a user would (tcp://127.0.0.1:PORT)
    with LocalCluster(
        processes=False, n_workers=1, threads_per_worker=2, host="127.0.0.1",
        protocol="tcp", dashboard_address=None,
    ) as cluster:  # fmt: skip
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        result = S.run_sweep(tiny_plan(), out=tmp_path / "sw", dask=address)
    assert (result.status, result.count("completed")) == ("completed", 4)
    assert "dask" in result.where and "2 threads" in result.where
    assert_complete_runs(result)
    assert len(read_csv(tmp_path / "sw" / "summary.csv")) == 2


def test_missing_dask_gives_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    with pytest.raises(InputError, match=r"pip install 'rnncli\[dask\]'") as info:
        S.run_sweep(tiny_plan(), out=tmp_path / "sw", dask="tcp://127.0.0.1:8786")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "sw").exists()


def test_bad_out_and_workers_are_refused(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a sweep folder"):
        S.run_sweep(tiny_plan(), out=tmp_path / "busy")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        S.run_sweep(tiny_plan(), out=tmp_path / "file")
    with pytest.raises(InputError, match="--workers"):
        S.run_sweep(tiny_plan(), out=tmp_path / "sw", workers=0)
    assert not (tmp_path / "sw").exists()


def test_reporter_choice() -> None:
    assert isinstance(S.make_reporter(json_out=True), S.SilentReporter)
    assert isinstance(S.make_reporter(console=Console(file=io.StringIO())), S.PlainReporter)
    tty = Console(file=io.StringIO(), force_terminal=True)
    assert isinstance(S.make_reporter(console=tty), S.RichReporter)


def test_rich_reporter_shows_failures(tmp_path: Path) -> None:
    buf = io.StringIO()
    rep = S.RichReporter(Console(file=buf, force_terminal=True, width=120))
    job = tiny_plan(seeds="0").jobs[0]
    counts = S.Counts(total=2, skipped=1, done=1)
    rep.start(counts, "1 worker process", tmp_path)
    job.status, job.error = "failed", "boom [with brackets]"
    counts.done, counts.failed = 2, 1
    rep.job_finished(job, counts)
    rep.stop()
    text = buf.getvalue()
    assert "1 already completed" in text and "boom [with brackets]" in text and "2/2" in text


def test_process_workers_share_the_cores_between_their_blas_pools() -> None:
    from rnncli.sweep import executors

    cores = os.cpu_count() or 1
    ex = executors.open_executor(workers=cores, dask=None)
    try:
        assert ex.executor.submit(executors.blas_threads).result(timeout=60) == 1
        assert ex.where.endswith("1 BLAS thread each")
    finally:
        ex.close()


def test_table_numbers() -> None:
    from rnncli.sweep import summary

    assert summary.count_text(15680.0) == "15,680"  # not 1.568e+04
    assert summary.count_text(None) == summary.number_text(None) == "-"
    assert summary.number_text(0.031949) == "0.03195"


def test_a_users_cells_show_by_class_name_where_that_is_unique() -> None:
    from rnncli.sweep.summary import _shown

    cells = ["lstm", "examples/cells/mgu.py:MGU", "my/cells.py:Peephole"]
    assert list(_shown("cell", cells).values()) == ["lstm", "MGU", "Peephole"]
    clash = ["a.py:Cell", "b.py:Cell"]
    assert list(_shown("cell", clash).values()) == clash  # ambiguous: the whole value
    assert list(_shown("train.lr", [0.01, 0.1]).values()) == ["0.01", "0.1"]
