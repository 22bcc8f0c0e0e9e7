"""Runs you can continue, find and compare: extending a finished run bit for bit, refusing
changes that would change the model or the data, fine-tuning from another run, the best
checkpoint and early stops, `latest` and prefixes, `rnncli runs` at scale, `compare`,
`show`, and the Python API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import rnncli
from rnncli.cli import app
from rnncli.runs import store
from rnncli.training import checkpoint as ckpt

ADDING = ["--task", "adding", "train.T=12", "train.hidden=8", "train.eval_every=10",
          "train.checkpoint_every=20", "train.eval_size=32"]  # fmt: skip
REBER = ["--task", "reber", "train.hidden=8", "train.eval_every=10", "train.eval_size=32"]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"NO_COLOR": "1"}, catch_exceptions=False)


def train(out: Path, *args: str) -> Path:
    result = invoke("train", *args, "--out", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    return Path(json.loads(result.stdout)["run_dir"])


def metrics(run_dir: Path) -> list[dict[str, Any]]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


def state(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / ckpt.NAME, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def folder_bytes(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}


@pytest.mark.parametrize("task", ["adding", "text"])
def test_extending_a_finished_run_equals_training_longer(tmp_path: Path, task: str) -> None:
    args = list(ADDING)
    if task == "text":
        corpus = tmp_path / "corpus.txt"
        corpus.write_text("the quick brown fox jumps over the lazy dog. " * 40)
        args = ["--data", str(corpus), "train.hidden=8", "train.bptt=8", "train.eval_every=10",
                "train.checkpoint_every=20", "train.eval_size=16"]  # fmt: skip
    short = train(tmp_path / "a", *args, "train.steps=40")
    assert json.loads((short / "run.json").read_text())["summary"]["steps"] == 40
    result = invoke("train", "--resume", str(short), "train.steps=80", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "completed" and doc["steps"] == 80
    long = train(tmp_path / "b", *args, "train.steps=80")
    a, b = state(short), state(long)
    assert np.array_equal(a["theta"], b["theta"])
    for key in a:
        if key != "floats":
            assert np.array_equal(a[key], b[key]), key
    assert metrics(short) == metrics(long)
    info = json.loads((short / "run.json").read_text())
    (entry,) = info["resumed"]
    assert entry["step"] == 40 and entry["changes"] == {"train.steps": [40, 80]}
    assert "steps: 80" in (short / "config.yaml").read_text()


def test_resume_refuses_model_changes_and_leaves_the_folder_alone(tmp_path: Path) -> None:
    run = train(tmp_path, *ADDING, "train.steps=20")
    before = folder_bytes(run)
    for key in ("train.hidden=16", "train.T=20", "cell=gru", "seed=5", "train.batch=7"):
        result = invoke("train", "--resume", str(run), key, "train.steps=40")
        assert result.exit_code == 2, result.stdout
        err = result.stderr.strip()
        assert "\n" not in err and key.split("=")[0] in err and "cannot change" in err
    assert folder_bytes(run) == before


def test_nothing_to_do_says_so_in_one_line(tmp_path: Path) -> None:
    run = train(tmp_path, *ADDING, "train.steps=20")
    before = folder_bytes(run)
    result = invoke("train", "--resume", str(run))
    assert result.exit_code == 0
    line = result.stderr.strip()
    assert "\n" not in line and "nothing to do" in line and "train.steps=N" in line
    assert folder_bytes(run) == before


def test_a_solved_run_trains_on_past_its_solution(tmp_path: Path) -> None:
    run = train(tmp_path, *REBER, "train.steps=3000")
    doc = json.loads((run / "run.json").read_text())["summary"]
    assert doc["solved"] and doc["stopped_by"] == "solved"
    solved_at = doc["steps"]
    result = invoke("train", "--resume", str(run), "train.steps=3000")
    assert result.exit_code == 0 and "solved its task" in result.stderr
    result = invoke("train", "--resume", str(run), "train.stop_on_solve=false",
                    f"train.steps={solved_at + 20}", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["steps"] == solved_at + 20


def test_fine_tuning_from_another_run(tmp_path: Path) -> None:
    base = train(tmp_path, *ADDING, "train.steps=20")
    tuned = train(tmp_path, *ADDING, "train.T=20", "train.steps=20", "--init-from", str(base))
    info = json.loads((tuned / "run.json").read_text())
    assert info["init_from"]["path"] == str(base.resolve())
    first = rnncli.load_run(base).params
    # step 0 of the new run is the old run's last parameters: retrain 0 steps to see them
    again = train(tmp_path / "zero", *ADDING, "train.T=20", "train.steps=1", "train.lr=1e-300",
                  "--init-from", str(base))  # fmt: skip
    assert first is not None
    np.testing.assert_allclose(rnncli.load_run(again).params["Wf"], first["Wf"], rtol=0,
                               atol=1e-12)  # fmt: skip
    result = invoke("train", *ADDING, "train.hidden=9", "--init-from", str(base), "--out",
                    str(tmp_path))  # fmt: skip
    assert result.exit_code == 2
    assert "Wf has shape (8, 10), the model needs (9, 11)" in result.stderr
    result = invoke("train", *ADDING, "--cell", "gru", "--init-from", str(base), "--no-save")
    assert result.exit_code == 2 and "has no Wz" in result.stderr


def test_best_checkpoint_and_patience(tmp_path: Path) -> None:
    run = train(tmp_path, *ADDING, "train.steps=1000", "train.patience=3", "train.lr=0.05",
                "train.stop_on_solve=false")  # fmt: skip
    info = json.loads((run / "run.json").read_text())
    summary = info["summary"]
    rows = metrics(run)
    best_row = min(rows, key=lambda r: r["test_mse"])
    assert summary["best"]["step"] == best_row["step"]
    with np.load(run / ckpt.BEST, allow_pickle=False) as z:
        assert int(z["step"]) == best_row["step"]
    assert summary["steps"] < 1000 and summary["stopped_by"] == "patience"
    assert all(r["test_mse"] > best_row["test_mse"] for r in rows[-3:])  # 3 without a gain
    assert rows[-4]["test_mse"] == best_row["test_mse"]
    params = rnncli.load_run(run, which="best").params
    assert params is not None and set(params) >= {"Wf", "Wy"}


def test_latest_and_prefixes(tmp_path: Path) -> None:
    first = train(tmp_path, *ADDING, "train.steps=10", "--name", "alpha")
    time.sleep(1.1)  # a new second: a new folder name
    second = train(tmp_path, *ADDING, "train.steps=10", "--name", "beta")
    assert first.name.endswith("-train-adding-lstm-alpha")
    assert store.resolve("latest", tmp_path).resolve() == second.resolve()
    assert store.resolve(first.name[:8], tmp_path) == first
    assert store.resolve(str(first)[:-3], tmp_path) == first
    with pytest.raises(rnncli.errors.InputError, match="2 run folders start so"):
        store.resolve(first.name[:3], tmp_path)
    with pytest.raises(rnncli.errors.InputError, match="no such run folder"):
        store.resolve("nope", tmp_path)
    result = invoke("train", "--resume", "latest", "--out", str(tmp_path), "train.steps=20")
    assert result.exit_code == 0, result.stderr
    assert json.loads((second / "run.json").read_text())["summary"]["steps"] == 20


def _fake_run(root: Path, i: int) -> None:
    day = root / f"2026-11-{1 + i % 28:02d}"
    run = day / f"{i % 24:02d}-{i % 60:02d}-00-train-reber-lstm-{i}"
    run.mkdir(parents=True)
    status = ("completed", "interrupted", "diverged")[i % 3]
    info = {
        "command": "train", "cell": "lstm", "task": "reber", "status": status,
        "start_time": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+00:00",
        "duration_s": 1.0 + i, "summary": {"steps": i, "metric": "outer_acc",
                                           "final": {"outer_acc": 0.5}, "solved": False},
    }  # fmt: skip
    (run / "run.json").write_text(json.dumps(info))


def test_runs_lists_thousands_fast(tmp_path: Path) -> None:
    for i in range(2000):
        _fake_run(tmp_path, i)
    start = time.perf_counter()
    result = invoke("runs", "--out", str(tmp_path), "--json")
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0
    rows = json.loads(result.stdout)["runs"]
    assert len(rows) == 2000 and elapsed < 2.0, elapsed
    assert rows[0]["time"] >= rows[-1]["time"]  # newest first
    result = invoke("runs", "--out", str(tmp_path), "--status", "diverged", "--json")
    assert {r["status"] for r in json.loads(result.stdout)["runs"]} == {"diverged"}


def test_runs_clean_is_careful(tmp_path: Path) -> None:
    for i in range(6):
        _fake_run(tmp_path, i)
    stray = tmp_path / "2026-11-01" / "not-a-run"
    stray.mkdir(parents=True)
    result = invoke("runs", "--out", str(tmp_path), "--clean")
    assert result.exit_code == 2 and "--status" in result.stderr
    result = invoke("runs", "--out", str(tmp_path), "--clean", "--status", "interrupted")
    assert result.exit_code == 2 and "--yes" in result.stderr  # not a terminal: never asks
    result = invoke("runs", "--out", str(tmp_path), "--clean", "--status", "interrupted", "--yes")
    assert result.exit_code == 0 and "removed 2 runs" in result.stderr
    left = {json.loads(p.read_text())["status"] for p in tmp_path.glob("*/*/run.json")}
    assert left == {"completed", "diverged"}
    assert stray.is_dir()


def test_compare_runs_and_a_sweep(tmp_path: Path) -> None:
    a = train(tmp_path, *ADDING, "train.steps=20")
    b = train(tmp_path, *ADDING, "train.steps=20", "train.lr=0.02")
    result = invoke("compare", str(a), str(b), "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["differences"] == {"train.lr": [0.01, 0.02]}
    assert doc["metric"] == "test_mse" and len(doc["final"]) == 2
    assert Path(doc["figure"]).read_bytes()[:4] == b"\x89PNG"
    text = invoke("compare", str(a), str(b), "--no-save").stdout
    assert "train.lr" in text and "test_mse" in text
    sweep = tmp_path / "sw"
    result = invoke("sweep", *ADDING, "train.steps=20", "cell=rnn,lstm", "--seeds", "0-1",
                    "--out", str(sweep), "--workers", "2")  # fmt: skip
    assert result.exit_code == 0, result.stdout
    assert (sweep / "compare.png").is_file()  # the sweep draws it at the end
    result = invoke("compare", str(sweep), "--json", "--x", "steps")
    assert result.exit_code == 0, result.stderr
    assert {r["label"] for r in json.loads(result.stdout)["runs"]} == {"cell=rnn", "cell=lstm"}


def test_show(tmp_path: Path) -> None:
    run = train(tmp_path, *ADDING, "train.steps=20")
    result = invoke("show", "latest", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert "train.T" in result.stdout and "adding" in result.stdout
    assert "metrics.jsonl" in result.stdout and "test_mse over 2 evaluations" in result.stdout
    doc = json.loads(invoke("show", str(run), "--json").stdout)
    assert doc["config_changes"]["train.steps"] == 20


def test_python_api(tmp_path: Path) -> None:
    result = rnncli.train(
        {"train": {"task": "reber", "hidden": 8, "steps": 30, "eval_every": 10}}, out=tmp_path
    )
    assert result.status == "completed" and result.run_dir is not None
    assert [m["step"] for m in result.metrics] == [10, 20, 30]
    assert result.summary["final"] == {
        k: v
        for k, v in result.metrics[-1].items()
        if k not in ("step", "sequences", "lr", "wall_s")
    }
    run = rnncli.load_run("latest", out=tmp_path)
    assert run.path == result.run_dir and run.config["train"]["steps"] == 30
    assert run.params is not None and run.params["Wf"].shape == (8, 15)
    samples = rnncli.sample(result.run_dir, n=3)
    assert len(samples["samples"]) == 3
    more = rnncli.train(overrides=["train.steps=40"], resume=result.run_dir)
    assert more.status == "completed" and more.summary["steps"] == 40
    nothing = rnncli.train(resume=result.run_dir)
    assert nothing.status == "nothing-to-do" and "nothing to do" in nothing.message
    with pytest.raises(rnncli.errors.InputError, match="train.hidden"):
        rnncli.train(overrides=["train.hidden=4"], resume=result.run_dir)


def test_threads_are_chosen_by_size_given_by_flag_and_recorded(tmp_path: Path) -> None:
    small = train(tmp_path / "a", *REBER, "train.steps=10")
    engine_used = json.loads((small / "run.json").read_text())["summary"]["engine"]
    assert engine_used["threads"] == 1  # below 128 hidden units one thread is fastest
    two = train(tmp_path / "b", *REBER, "train.steps=10", "--threads", "2")
    assert json.loads((two / "run.json").read_text())["summary"]["engine"]["threads"] == 2
    # a thread count changes neither the model nor the data: a resume may change it
    result = invoke("train", "--resume", str(two), "train.steps=20", "--threads", "1", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads((two / "run.json").read_text())["summary"]["engine"]["threads"] == 1
    bad = invoke("train", "--no-save", "--threads", "0")
    assert bad.exit_code == 2


def test_a_changed_data_file_is_refused_on_resume_unless_forced_and_then_recorded(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    run = train(tmp_path / "a", "--data", str(corpus), "train.hidden=8", "train.bptt=8",
                "train.eval_size=16", "train.steps=10")  # fmt: skip
    corpus.write_text("the quick brown dog jumps over the lazy fox. " * 40)  # same letters
    refused = invoke("train", "--resume", str(run), "train.steps=20")
    assert refused.exit_code == 2 and "changed since the run started" in refused.stderr
    forced = invoke("train", "--resume", str(run), "train.steps=20", "--force", "--json")
    assert forced.exit_code == 0, forced.stderr
    (record,) = json.loads((run / "run.json").read_text())["resumed"]
    assert record["step"] == 10 and "changed since the run started" in record["forced"][0]


def test_params_runs_forward_backward_and_gradcheck_at_a_runs_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = train(tmp_path / "outputs", *REBER, "train.steps=10")
    weights = tmp_path / "w.npz"
    assert invoke("export", str(run), "--format", "npz", "--names", "notebook", "--out",
                  str(weights)).exit_code == 0  # fmt: skip
    dims = ["dims.n_x=7", "dims.n_a=8", "dims.n_y=7"]
    fwd = invoke("forward", "--params", str(weights), *dims, "--json", "--no-save")
    assert fwd.exit_code == 0, fwd.stderr
    with np.load(weights) as w:
        assert json.loads(fwd.stdout)["arrays"]["Wf"]["mean"] == pytest.approx(w["Wf"].mean())
    # a run folder, `latest` and a unique start name the same parameters
    for source in (str(run), "latest", run.name[:8]):
        again = invoke("forward", "--params", source, *dims, "--json", "--no-save")
        assert again.exit_code == 0, again.stderr
        assert json.loads(again.stdout)["arrays"] == json.loads(fwd.stdout)["arrays"]
    check = invoke("gradcheck", "--params", str(weights), "--level", "model", *dims, "--json",
                   "--out", str(tmp_path / "gc"))  # fmt: skip
    assert check.exit_code == 0, check.stderr
    doc = json.loads(check.stdout)
    assert {r["cell"] for r in doc["rows"]} == {"lstm"}
    recorded = json.loads((Path(doc["run_dir"]) / "run.json").read_text())["params"]
    assert recorded["path"] == str(weights) and len(recorded["sha256"]) == 64
    wrong = invoke("backward", "--params", str(weights), "dims.n_a=9", "--no-save")
    assert wrong.exit_code == 2
    assert "--params" in wrong.stderr and "Wf has shape (8, 15), the model needs" in wrong.stderr
    fine_tuned = invoke("train", *REBER, "train.steps=5", "--init-from", "latest", "--no-save")
    assert fine_tuned.exit_code == 0, fine_tuned.stderr
