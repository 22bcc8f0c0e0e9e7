"""Run folders: naming without overwriting, atomic writes, run.json bookkeeping."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest
import yaml

from rnncli import runs
from rnncli.config import dump_yaml, load_config, to_dict
from rnncli.runs import (
    Run,
    append_jsonl,
    environment_info,
    git_info,
    jsonable,
    new_run_dir,
    save_npz_atomic,
    write_json_atomic,
    write_text_atomic,
)

NOW = datetime(2024, 5, 6, 7, 8, 9)


def strict_json(text: str) -> Any:
    def refuse(token: str) -> Any:
        raise ValueError(f"non-strict JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def only(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ----------------------------------------------------------------- run folders


def test_new_run_dir_naming_and_no_overwrite(tmp_path: Path) -> None:
    root = tmp_path / "outputs" / "deep"
    first = new_run_dir(root, "forward", "lstm", NOW)
    assert first == root / "2024-05-06" / "07-08-09-forward-lstm"
    assert first.is_dir()
    (first / "keep.txt").write_text("precious")
    second = new_run_dir(root, "forward", "lstm", NOW)
    third = new_run_dir(root, "forward", "lstm", NOW)
    assert second.name == "07-08-09-forward-lstm-2"
    assert third.name == "07-08-09-forward-lstm-3"
    assert (first / "keep.txt").read_text() == "precious"
    assert new_run_dir(root, "train", "gru", NOW).name == "07-08-09-train-gru"


def test_new_run_dir_sanitises_names(tmp_path: Path) -> None:
    path = new_run_dir(tmp_path, "../evil", "a/b", NOW)
    assert path.parent == tmp_path / "2024-05-06"
    assert "/" not in path.name and ".." not in path.name.split("-")


def test_new_run_dir_is_unique_under_concurrency(tmp_path: Path) -> None:
    made: list[Path] = []
    lock = threading.Lock()

    def work() -> None:
        p = new_run_dir(tmp_path, "sweep", "rnn", NOW)
        with lock:
            made.append(p)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 8


# ----------------------------------------------------------------- atomic writes


def test_write_text_atomic_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "notes.txt"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two ✓")
    assert target.read_text(encoding="utf-8") == "two ✓"
    assert only(target.parent) == ["notes.txt"]


def test_failed_write_keeps_the_old_file_and_removes_the_temp(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    write_text_atomic(target, "old")

    def boom(fh: IO[bytes]) -> None:
        fh.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        runs.files._atomic_write(target, boom)
    assert target.read_text() == "old"
    assert only(tmp_path) == ["data.bin"]


def test_failed_replace_removes_the_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r.json"
    write_json_atomic(target, {"a": 1})

    def fail(src: Any, dst: Any) -> None:
        raise OSError("no")

    monkeypatch.setattr(runs.files.os, "replace", fail)
    with pytest.raises(runs.WriteError, match="cannot write .*r.json"):
        write_json_atomic(target, {"a": 2})
    with pytest.raises(runs.WriteError, match="x.npz"):
        save_npz_atomic(tmp_path / "x.npz", {"a": np.zeros(3)})
    monkeypatch.undo()
    assert strict_json(target.read_text()) == {"a": 1}
    assert only(tmp_path) == ["r.json"]


def test_write_json_handles_numpy_and_non_finite(tmp_path: Path) -> None:
    obj = {
        "i": np.int64(3),
        "f": np.float32(0.5),
        "b": np.bool_(True),
        "a": np.arange(4).reshape(2, 2),
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "ninf": -float("inf"),
        "path": Path("x/y"),
        "t": (1, 2),
        7: "int key",
    }
    path = write_json_atomic(tmp_path / "m.json", obj)
    text = path.read_text()
    assert "\n  " in text  # indent 2
    got = strict_json(text)
    assert got == {
        "i": 3,
        "f": 0.5,
        "b": True,
        "a": [[0, 1], [2, 3]],
        "nan": "NaN",
        "inf": "Infinity",
        "ninf": "-Infinity",
        "path": "x/y",
        "t": [1, 2],
        "7": "int key",
    }
    assert jsonable(np.array([np.nan])) == ["NaN"]


def test_save_npz_atomic_round_trip(tmp_path: Path) -> None:
    arrays: dict[str, np.ndarray] = {
        "Wax": np.random.default_rng(0).normal(size=(5, 3)),
        "b": np.ones(2, np.float32),
    }
    path = save_npz_atomic(tmp_path / "params.npz", arrays)
    assert only(tmp_path) == ["params.npz"]
    with np.load(path) as loaded:
        assert set(loaded.files) == {"Wax", "b"}
        np.testing.assert_array_equal(loaded["Wax"], arrays["Wax"])
        assert loaded["b"].dtype == np.float32


def test_append_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "m" / "metrics.jsonl"
    append_jsonl(path, {"step": 1, "loss": np.float64(2.5)})
    append_jsonl(path, {"step": 2, "loss": float("nan")})
    lines = path.read_text().splitlines()
    assert [strict_json(line) for line in lines] == [
        {"step": 1, "loss": 2.5},
        {"step": 2, "loss": "NaN"},
    ]


# ----------------------------------------------------------------- environment


def test_environment_info_fields() -> None:
    info = environment_info()
    assert info["numpy"] == np.__version__
    assert isinstance(info["rnncli"], str) and info["rnncli"]
    assert info["python"].count(".") == 2
    assert "blas" in info and "git" in info
    assert info["git"] is None or set(info["git"]) == {"commit", "dirty"}
    strict_json(json.dumps(jsonable(info)))


def test_git_info_outside_a_checkout(tmp_path: Path) -> None:
    assert git_info(tmp_path) is None


def test_environment_info_survives_missing_git(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_git(*args: Any, **kwargs: Any) -> Any:
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    assert environment_info()["git"] is None


def test_git_info_timeout_is_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*args: Any, **kwargs: Any) -> Any:
        raise subprocess.TimeoutExpired(cmd="git", timeout=2)

    monkeypatch.setattr(subprocess, "run", slow)
    assert git_info() is None


# ----------------------------------------------------------------- Run


def start(tmp_path: Path, **kwargs: Any) -> Run:
    cfg = load_config(overrides=["dims.n_a=4"])
    args: dict[str, Any] = {
        "root": tmp_path / "outputs",
        "command": "forward",
        "cell": cfg.cell,
        "config_dict": to_dict(cfg),
        "overrides": ["dims.n_a=4"],
        "argv": ["rnncli", "forward", "dims.n_a=4"],
        "seed": cfg.seed,
        "flags": {"cell": None, "seed": 1},
        "now": NOW,
    }
    args.update(kwargs)
    return Run.start(**args)


def test_run_start_writes_the_bookkeeping_files(tmp_path: Path) -> None:
    run = start(tmp_path)
    assert run.path == tmp_path / "outputs" / "2024-05-06" / "07-08-09-forward-lstm"
    assert only(run.path) == [".lock", "config.yaml", "overrides.yaml", "run.json"]
    assert (run.path.parent.parent / "latest").resolve() == run.path.resolve()

    cfg = load_config(overrides=["dims.n_a=4"])
    assert load_config(run.path / "config.yaml") == cfg
    assert (run.path / "config.yaml").read_text() == dump_yaml(cfg)
    given = yaml.safe_load((run.path / "overrides.yaml").read_text())
    assert given == {"overrides": ["dims.n_a=4"], "flags": {"cell": None, "seed": 1}}

    info = Run.load_json(run.path)
    assert info["status"] == "running"
    assert info["argv"] == ["rnncli", "forward", "dims.n_a=4"]
    assert info["command"] == "forward" and info["seed"] == 1
    assert datetime.fromisoformat(info["start_time"]).tzinfo is not None
    assert info["environment"]["numpy"] == np.__version__
    assert "end_time" not in info


def test_run_finish_and_outputs(tmp_path: Path) -> None:
    run = start(tmp_path)
    run.write_json("result.json", {"a[4][1]": np.float64(0.25)})
    run.write_text("report.txt", "ok\n")
    npz = run.save_arrays("arrays", {"a": np.zeros((2, 3))})
    run.append_jsonl("metrics.jsonl", {"step": 1})
    assert npz.name == "arrays.npz"
    run.finish("ok", final_loss=np.float32(0.5), best={"step": 3})

    info = Run.load_json(run.path / "run.json")
    assert info["status"] == "ok" and info["final_loss"] == 0.5 and info["best"] == {"step": 3}
    assert info["duration_s"] >= 0
    end = datetime.fromisoformat(info["end_time"])
    assert end >= datetime.fromisoformat(info["start_time"])
    assert Run.load_json(run.path / "result.json") == {"a[4][1]": 0.25}
    assert not [p for p in os.listdir(run.path) if p.startswith(".") and p != ".lock"]


def test_two_runs_in_the_same_second_get_two_folders(tmp_path: Path) -> None:
    a, b = start(tmp_path), start(tmp_path)
    assert a.path != b.path and b.path.name.endswith("-2")
    assert (a.path / "run.json").exists() and (b.path / "run.json").exists()


def test_run_file_names_stay_inside_the_run(tmp_path: Path) -> None:
    run = start(tmp_path)
    for bad in ["../escape.txt", "/etc/passwd", ""]:
        with pytest.raises(ValueError):
            run.write_text(bad, "x")
    run.write_text("sub/dir/x.txt", "ok")
    assert (run.path / "sub" / "dir" / "x.txt").read_text() == "ok"


def test_remove_runs_takes_each_lock_and_skips_a_run_in_use(tmp_path: Path) -> None:
    from rnncli.runs import store
    from rnncli.runs.folder import Lock

    done = [runs.Run.start(tmp_path, "train", f"r{i}", {}, [], [], 0) for i in range(3)]
    for run in done:
        run.finish("interrupted")
        run.release()
    entries = sorted(store.scan(tmp_path), key=lambda e: e.path.name)
    assert len(entries) == 3 and all(not store.removable(e) for e in entries)
    held = Lock.acquire(entries[1].path)  # resumed after the listing said removable
    try:
        removed, skipped = store.remove_runs(entries)
    finally:
        held.release()
    assert [e.path for e in removed] == [entries[0].path, entries[2].path]
    assert [e.path for e in skipped] == [entries[1].path]
    assert not entries[0].path.exists() and not entries[2].path.exists()
    assert (entries[1].path / "run.json").is_file()
    assert store.remove_runs(entries) == ([entries[1]], [entries[0], entries[2]])
