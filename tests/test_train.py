"""`rnncli train` and `rnncli sample`: run folders, determinism, Ctrl-C and exact resume,
divergence, the text task and sampling.

Runs are kept small (tens of steps, small evaluation sets) so the file stays fast; the
Ctrl-C test sends a real SIGINT to a real `rnncli train` process.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rnncli import plot
from rnncli.cli import app
from rnncli.config import load_config, to_dict
from rnncli.errors import InputError
from rnncli.runs import Run
from rnncli.training import checkpoint as ckpt
from rnncli.training import prepare, train

RNNCLI = Path(sys.executable).parent / "rnncli"
SMALL = ["train.steps=60", "train.eval_every=10", "train.checkpoint_every=20", "train.eval_size=32"]
TASK_ARGS = {
    "reber": ["--task", "reber", "train.hidden=8"],
    "adding": ["--task", "adding", "train.T=12", "train.hidden=8"],
    "text": ["--task", "text", "train.hidden=16", "train.bptt=10"],
}
TASK_METRICS = {"reber": {"legal_acc", "outer_acc"}, "adding": {"test_mse"},
                "text": {"bpc", "val_loss", "val_bpc"}}  # fmt: skip
SENTENCES = (
    "the quick brown fox jumps over the lazy dog. ",
    "then the cat sat on the mat, and the dog ran off! ",
    "a bird sang in the tree while rain fell.\n",
)


def invoke(args: list[str], **env: str) -> Any:
    return CliRunner().invoke(app, args, env={"NO_COLOR": "1", **env}, catch_exceptions=False)


def write_corpus(path: Path, repeats: int = 30) -> Path:
    path.write_text("".join(SENTENCES) * repeats, encoding="utf-8")
    return path


def task_args(task: str, tmp_path: Path) -> list[str]:
    args = list(TASK_ARGS[task])
    if task == "text":
        args += ["--data", str(write_corpus(tmp_path / "corpus.txt"))]
    return args


def only_run_dir(root: Path) -> Path:
    found = [p for p in root.glob("*/*") if p.is_dir() and p.parent.name != "latest"]
    assert len(found) == 1, found
    return found[0]


def metrics(run_dir: Path, keep_wall: bool = False) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    if not keep_wall:
        for row in rows:
            del row["wall_s"]
    return rows


def load_checkpoint(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / ckpt.NAME, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def assert_same_checkpoint(a: Path, b: Path) -> None:
    """Bit-identical training state; only the wall-clock time (floats[1]) may differ."""
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    assert set(ca) == set(cb)
    for key in ca:
        if key == "floats":
            assert ca[key][0] == cb[key][0]  # training loss accumulated since the last eval
        else:
            assert np.array_equal(ca[key], cb[key]), key


def subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(NO_COLOR="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return env


# ----------------------------------------------------------------- run folders


@pytest.mark.parametrize("task", ["reber", "adding", "text"])
def test_train_run_folder_and_determinism(tmp_path: Path, task: str) -> None:
    args = ["train", *task_args(task, tmp_path), *SMALL, "--json"]
    docs, dirs = [], []
    for name in ("a", "b"):
        result = invoke([*args, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.stderr
        docs.append(json.loads(result.stdout))
        dirs.append(only_run_dir(tmp_path / name))
    doc, run_dir = docs[0], dirs[0]
    assert doc["run_dir"] == str(run_dir)
    assert re.fullmatch(rf"\d{{2}}-\d{{2}}-\d{{2}}-train-{task}-lstm", run_dir.name)
    assert doc["status"] == "completed" and doc["task"] == task and doc["cell"] == "lstm"

    names = {p.name for p in run_dir.iterdir()}
    expected = {"config.yaml", "overrides.yaml", "run.json", "metrics.jsonl", "checkpoint.npz",
                "best.npz", "task.json", "loss.png", ".lock"}  # fmt: skip
    if task in ("reber", "text"):
        expected.add("samples.txt")
    assert names == expected

    cfg = load_config(run_dir / "config.yaml", training=True)
    assert to_dict(cfg) == doc["config"]
    assert cfg.train.task == task and cfg.train.steps == 60

    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "completed" and info["command"] == "train"
    assert isinstance(info["duration_s"], float) and info["duration_s"] >= 0
    assert info["summary"]["status"] == "completed"

    rows = metrics(run_dir, keep_wall=True)
    assert rows, "no evaluation recorded"
    for i, row in enumerate(rows):
        assert {"step", "sequences", "loss", "wall_s"} | TASK_METRICS[task] <= set(row)
        assert row["step"] == 10 * (i + 1)
        assert row["sequences"] > 0 and math.isfinite(row["loss"])
        assert all(isinstance(row[k], float) for k in TASK_METRICS[task])
    last = rows[-1]
    assert doc["steps"] == last["step"]
    assert doc["final"]["loss"] == last["loss"]

    state = load_checkpoint(run_dir)
    assert int(state["counters"][0]) == doc["steps"]
    assert state["theta"].dtype == np.float64 and np.isfinite(state["theta"]).all()

    assert (run_dir / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    task_info = json.loads((run_dir / "task.json").read_text())
    assert task_info["task"] == task
    if task == "text":
        assert "".join(task_info["vocab"]) == "".join(sorted(set("".join(SENTENCES))))
    if task == "reber":
        assert (run_dir / "samples.txt").read_text().splitlines()[-1].startswith("accept rate")
    if task == "text":
        assert len((run_dir / "samples.txt").read_text()) > 100

    # the same config twice: the same numbers, bit for bit
    assert metrics(dirs[0]) == metrics(dirs[1])
    assert_same_checkpoint(dirs[0], dirs[1])


def test_without_matplotlib_a_text_plot_is_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plot, "have_matplotlib", lambda: False)
    result = invoke(["train", *task_args("adding", tmp_path), *SMALL, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert "matplotlib is not installed" in result.stderr
    assert "█" in result.stderr
    assert not (only_run_dir(tmp_path) / "loss.png").exists()


def test_train_tables_and_progress(tmp_path: Path) -> None:
    result = invoke(["train", *task_args("adding", tmp_path), *SMALL, "--no-save"])
    assert result.exit_code == 0, result.stderr
    assert "train summary" in result.stdout and "test_mse" in result.stdout
    assert "step 60/60" in result.stderr  # plain progress lines when not on a terminal


# ----------------------------------------------------------------- Ctrl-C and resume

ADDING = [
    "train", "--task", "adding", "--seed", "2", "train.T=30", "train.hidden=16",
    "train.steps=400", "train.eval_every=10", "train.checkpoint_every=20", "train.eval_size=32",
]  # fmt: skip


def test_sigint_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    env = subprocess_env()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "env": env}
    ref = subprocess.Popen([str(RNNCLI), *ADDING, "--out", str(tmp_path / "ref")], **pipes)
    proc = subprocess.Popen([str(RNNCLI), *ADDING, "--out", str(tmp_path / "int")], **pipes)
    try:
        deadline = time.monotonic() + 120
        while True:
            found = list((tmp_path / "int").glob("*/*/metrics.jsonl"))
            if found and len(found[0].read_text().splitlines()) >= 3:
                break
            assert proc.poll() is None, "training ended before it could be interrupted"
            assert time.monotonic() < deadline, "no metrics after 120 s"
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    run_dir = only_run_dir(tmp_path / "int")
    m = re.search(r"interrupted at step (\d+); resume with: rnncli train --resume (\S+)", err)
    assert m, err
    stopped = int(m.group(1))
    assert m.group(2) == str(run_dir)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    state = load_checkpoint(run_dir)
    assert int(state["counters"][0]) == stopped < 400
    assert all(row["step"] <= stopped for row in metrics(run_dir))
    assert not (run_dir / "loss.png").exists()  # results are written when a run completes

    resumed = subprocess.run(
        [str(RNNCLI), "train", "--resume", str(run_dir), "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    doc = json.loads(resumed.stdout)
    assert doc["status"] == "completed" and doc["run_dir"] == str(run_dir)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "completed" and len(info["resumed"]) == 1
    assert (run_dir / "loss.png").is_file()

    _, ref_err = ref.communicate(timeout=300)
    assert ref.returncode == 0, ref_err
    ref_dir = only_run_dir(tmp_path / "ref")
    assert doc["steps"] > stopped
    assert np.array_equal(load_checkpoint(run_dir)["theta"], load_checkpoint(ref_dir)["theta"])
    assert_same_checkpoint(run_dir, ref_dir)
    assert metrics(run_dir) == metrics(ref_dir)


def _stop_after(problem: Any, calls: int) -> Any:
    """A should_stop that asks the trainer to stop once it fetched its `calls`-th batch."""
    original = problem.batch
    count = 0

    def batch(rng: np.random.Generator) -> Any:
        nonlocal count
        count += 1
        return original(rng)

    problem.batch = batch
    return lambda: count >= calls


@pytest.mark.parametrize("task", ["text", "reber"])
def test_library_resume_mid_way_is_exact(tmp_path: Path, task: str) -> None:
    """Interrupted between evaluations (training loss half accumulated; for text, the
    carried state and the stream position after a wrap), then resumed."""
    overrides = [*SMALL, f"train.task={task}"]
    if task == "text":
        corpus = write_corpus(tmp_path / "small.txt", repeats=10)  # wraps within 60 steps
        overrides += ["train.hidden=16", "train.bptt=10", f"train.data={corpus}"]
    else:
        overrides += ["train.hidden=8"]
    cfg = load_config(None, {}, overrides, training=True)

    def start(name: str) -> Run:
        return Run.start(tmp_path / name, "train", cfg.cell, to_dict(cfg), overrides, [], cfg.seed)

    full_run = start("full")
    full = train(cfg, full_run)
    full_run.release()
    assert full.status == "completed"

    run = start("cut")
    problem = prepare(cfg)
    if task == "text":
        assert problem.stream.chunks_per_epoch < 45  # type: ignore[attr-defined]
    cut = train(cfg, run, problem=problem, should_stop=_stop_after(problem, 45))
    run.release()
    assert cut.status == "interrupted" and cut.state.step == 45
    assert cut.message == "interrupted at step 45"
    assert load_checkpoint(run.path)["floats"][0] != 0  # steps 41-45 not yet evaluated

    rest = train(cfg, Run.reopen(run.path), resume=True)
    assert rest.status == "completed"
    assert rest.state.step == full.state.step
    assert np.array_equal(rest.params.flat, full.params.flat)

    def no_wall(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in history]

    assert no_wall(rest.history) == no_wall(full.history)  # kept lines + the new ones
    full_dir = only_run_dir(tmp_path / "full")
    assert_same_checkpoint(run.path, full_dir)
    assert metrics(run.path) == metrics(full_dir)


# ----------------------------------------------------------------- divergence

DIVERGE = ["train", "--task", "adding", "--seed", "1", "train.T=10", "train.hidden=8",
           "train.batch=4", "train.steps=100", "train.eval_every=10",
           "train.checkpoint_every=20", "train.eval_size=32", "train.optimizer=sgd",
           "train.clip=0"]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        # the learning rate jumps by 1e10 every 25 steps until the loss overflows
        (["train.schedule=step", "train.decay=1e10", "train.decay_every=25"], "loss is"),
        # lr 2e308 = inf on update 40, a checkpoint step: that update must not be checkpointed
        (["train.lr=2.0", "train.schedule=step", "train.decay=1e308", "train.decay_every=39"],
         "the parameters overflowed"),
    ],
    ids=["loss", "parameters"],
)  # fmt: skip
def test_divergence_keeps_the_last_good_checkpoint(
    tmp_path: Path, extra: list[str], what: str
) -> None:
    result = invoke([*DIVERGE, *extra, "--out", str(tmp_path), "--json"])
    assert result.exit_code == 1, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "diverged"
    message = result.stderr.strip()
    assert "\n" not in message and what in message
    m = re.search(r"at step (\d+); kept the last good checkpoint", message)
    assert m, message
    bad_step = int(m.group(1))
    run_dir = only_run_dir(tmp_path)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "diverged" and "duration_s" in info
    state = load_checkpoint(run_dir)
    good_step = int(state["counters"][0])
    assert good_step % 20 == 0 and 0 < good_step < bad_step
    for key, value in state.items():
        if value.dtype.kind == "f":
            assert np.isfinite(value).all(), key
    assert not (run_dir / "loss.png").exists()


def test_divergence_before_any_checkpoint(tmp_path: Path) -> None:
    result = invoke([*DIVERGE, "train.lr=1e30", "--out", str(tmp_path)])
    assert result.exit_code == 1
    message = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"rnncli: error: loss is (nan|inf) at step \d+; no checkpoint was saved before it", message
    )
    run_dir = only_run_dir(tmp_path)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "diverged"
    assert not (run_dir / ckpt.NAME).exists()
    assert "diverged" in result.stdout  # the summary table


# ----------------------------------------------------------------- text task and sampling


def test_text_train_then_sample(tmp_path: Path) -> None:
    args = ["train", *task_args("text", tmp_path), *SMALL, "--out", str(tmp_path / "out")]
    result = invoke(args)
    assert result.exit_code == 0, result.stderr
    run_dir = only_run_dir(tmp_path / "out")

    result = invoke(["sample", str(run_dir), "--n", "50", "--prime", "th"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("th")
    doc = json.loads(
        invoke(["sample", str(run_dir), "--n", "50", "--prime", "th", "--json"]).stdout
    )
    assert doc["prime"] == "th" and doc["text"].startswith("th") and len(doc["text"]) == 52
    assert set(doc["text"]) <= set("".join(SENTENCES))
    again = invoke(["sample", str(run_dir), "--n", "50", "--prime", "th", "--json"]).stdout
    assert json.loads(again) == doc  # --seed 0 by default

    result = invoke(["sample", str(run_dir), "--n", "5", "--prime", "thZ"])
    assert result.exit_code == 2
    assert "\n" not in result.stderr.strip() and "'Z'" in result.stderr


def test_reber_with_defaults_solves_and_samples(tmp_path: Path) -> None:
    result = invoke(["train", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["task"] == "reber" and doc["solved"] is True
    assert doc["sequences_to_solve"] == doc["sequences"]
    run_dir = Path(doc["run_dir"])

    result = invoke(["sample", str(run_dir), "--n", "5"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 6
    for line in lines[:5]:
        assert re.fullmatch(r"B[BTPSXVE]*E?  (ok|not in grammar)", line), line
    assert re.fullmatch(r"accepted by the grammar: [0-9.]+%", lines[5])

    args = ["sample", str(run_dir), "--n", "100", "--temperature", "0.5", "--json"]
    doc = json.loads(invoke(args).stdout)
    assert len(doc["samples"]) == len(doc["accepted"]) == 100
    assert doc["accept_rate"] == np.mean(doc["accepted"])
    for s, ok in zip(doc["samples"], doc["accepted"], strict=True):
        assert s.startswith("B")
        if len(s) < 100:  # a string ends at its second E, the embedded string's closing E
            assert s.endswith("E") and s.count("E") == 2, s
        if ok:
            assert s[1] == s[-2] and s[1] in "TP"
    assert doc["accept_rate"] >= 0.5  # a solved model mostly writes grammatical strings


def test_sample_refuses_an_adding_model(tmp_path: Path) -> None:
    result = invoke(["train", *task_args("adding", tmp_path), *SMALL, "--out", str(tmp_path)])
    assert result.exit_code == 0
    result = invoke(["sample", str(only_run_dir(tmp_path))])
    assert result.exit_code == 2 and "adding" in result.stderr


def _text_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.txt"
    if kind == "missing":
        return path
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "binary":
        path.write_bytes(b"abc\x00def" * 100)
    elif kind == "latin1":
        path.write_bytes("caf\xe9 au lait. ".encode("latin-1") * 100)
    elif kind == "short":
        path.write_text("hello world\n")
    return path


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("missing", "not found"),
        ("directory", "directory"),
        ("empty", "empty"),
        ("binary", "binary"),
        ("latin1", "UTF-8"),
        ("short", "characters"),
    ],
)
def test_bad_text_files_exit_2_naming_the_path(tmp_path: Path, kind: str, needle: str) -> None:
    path = _text_file(tmp_path, kind)
    out = tmp_path / "out"
    result = invoke(["train", "--task", "text", "--data", str(path), "--out", str(out)])
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "\n" not in message and message.startswith("rnncli: error: ")
    assert str(path) in message and needle in message
    assert not out.exists()


def test_resume_from_a_layout_1_checkpoint(tmp_path: Path) -> None:
    """A checkpoint written under layout 1 (blocks [Wa, Wx, b, Wy, by], LSTM gates o, f, i,
    g) resumes with the same numbers; one that does not say its layout is refused."""
    from helpers import layout_v1

    from rnncli import engine
    from rnncli.engine.layout import LAYOUT_VERSION

    cfg = load_config(None, {}, [*SMALL, "train.hidden=8"], training=True)
    run = Run.start(tmp_path / "cut", "train", cfg.cell, to_dict(cfg), [], [], cfg.seed)
    problem = prepare(cfg)
    assert train(cfg, run, problem=problem, should_stop=_stop_after(problem, 25)).status == (
        "interrupted"
    )
    run.release()
    data = load_checkpoint(run.path)
    assert int(data["layout"]) == LAYOUT_VERSION
    dims = (cfg.cell, problem.n_x, 8, problem.n_y)

    def to_v1(flat: np.ndarray) -> np.ndarray:
        return layout_v1(cfg.cell, engine.unpack(engine.Packed(*dims, flat)))

    old = {k: to_v1(v) if k == "theta" or k.startswith("opt_") else v for k, v in data.items()}
    old["layout"] = np.array(1)
    np.savez(run.path / ckpt.NAME, **old)

    state = ckpt.load(run.path / ckpt.NAME)
    assert state.layout == 1
    ckpt.check(run.path / ckpt.NAME, state, *dims, "float64", ("m", "v"))
    assert np.array_equal(state.theta, data["theta"])
    assert all(np.array_equal(v, data["opt_" + k]) for k, v in state.opt_state.items())
    assert train(cfg, Run.reopen(run.path), resume=True).status == "completed"
    with pytest.raises(InputError, match="does not fit this run's model"):
        ckpt.check(run.path / ckpt.NAME, ckpt.load(run.path / ckpt.NAME), "lstm", 7, 9, 7,
                   "float64", ("m", "v"))  # fmt: skip
    del old["layout"]
    np.savez(run.path / ckpt.NAME, **old)
    with pytest.raises(InputError, match="checkpoint has no 'layout' entry"):
        ckpt.load(run.path / ckpt.NAME)
