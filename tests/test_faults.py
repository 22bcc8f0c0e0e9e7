"""Nothing lost under faults: a full disk, locks against a second process, SIGTERM and
SIGHUP, a double Ctrl-C, a changed data file, damaged run files, errors of the OS, size
guards and hostile YAML. Where a signal or a second process is involved, the test runs a
real `rnncli` process."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.training import checkpoint as ckpt

RNNCLI = str(Path(sys.executable).parent / "rnncli")
ADDING = ["train", "--task", "adding", "--cell", "rnn", "train.T=12", "train.hidden=8",
          "train.eval_every=10", "train.checkpoint_every=20", "train.eval_size=16"]  # fmt: skip
LONG = [*ADDING, "train.steps=200000", "train.stop_on_solve=false"]


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    out.update(NO_COLOR="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return out


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"NO_COLOR": "1"}, catch_exceptions=False)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnncli: "), text
    return lines[0]


def last_line(text: str) -> str:
    """The error line that ends a run's stderr (after its progress lines)."""
    assert "Traceback" not in text, text
    line = text.strip().splitlines()[-1]
    assert line.startswith("rnncli: "), text
    return line


def only_run(root: Path) -> Path:
    (found,) = [p for p in root.glob("*/*") if p.is_dir() and p.parent.name != "latest"]
    return found


def wait_for(predicate: Any, seconds: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def start(args: list[str], **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([RNNCLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env(), **kw)  # fmt: skip


def evaluated(root: Path, lines: int = 2) -> bool:
    found = [p for p in root.glob("*/*/metrics.jsonl") if p.parent.parent.name != "latest"]
    return bool(found) and len(found[0].read_text().splitlines()) >= lines


def info(run: Path) -> dict[str, Any]:
    return json.loads((run / "run.json").read_text())


# ------------------------------------------------------------------- a full disk


def test_a_full_disk_is_one_line_and_the_run_stays_resumable(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes every write past 64 KiB fail (EFBIG) as a full disk would."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))

    args = [*ADDING, "train.steps=3000", "train.eval_every=1", "train.stop_on_solve=false",
            "train.checkpoint_every=50", "--out", str(tmp_path)]  # fmt: skip
    proc = start(args, preexec_fn=limit)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    line = last_line(err)
    assert "cannot write" in line and "metrics.jsonl" in line
    run = only_run(tmp_path)
    assert info(run)["status"] == "failed"
    assert not list(run.glob(".*.tmp"))
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert all(json.loads(x) for x in lines)  # no torn line: the failed append was cut back
    done = subprocess.run([RNNCLI, "train", "--resume", str(run), "train.steps=700", "--json"],
                          capture_output=True, text=True, env=env(), timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["steps"] == 700
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 701))  # lines after the checkpoint were produced again


def test_a_torn_last_metrics_line_is_skipped_with_a_notice(tmp_path: Path) -> None:
    result = invoke(*ADDING, "train.steps=40", "--out", str(tmp_path))
    assert result.exit_code == 0
    run = only_run(tmp_path)
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 41, "los')  # a crash of the machine mid-append
    result = invoke("train", "--resume", str(run), "train.steps=60")
    assert result.exit_code == 0, result.stderr
    assert "ignoring a torn last line" in result.stderr
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30, 40, 50, 60]


# ------------------------------------------------------------------- locks


def test_a_second_process_cannot_resume_a_live_run(tmp_path: Path) -> None:
    proc = start([*LONG, "--out", str(tmp_path)])
    try:
        wait_for(lambda: evaluated(tmp_path), what="the first evaluation")
        run = only_run(tmp_path)
        before = (run / "run.json").read_bytes()
        second = subprocess.run([RNNCLI, "train", "--resume", str(run)], capture_output=True,
                                text=True, env=env(), timeout=60)  # fmt: skip
        assert second.returncode == 2
        line = one_line(second.stderr)
        assert f"in use by process {proc.pid}" in line
        assert (run / "run.json").read_bytes() == before
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 130


def test_two_sweeps_cannot_share_a_folder(tmp_path: Path) -> None:
    out = tmp_path / "S"
    args = ["sweep", "--task", "adding", "cell=rnn,lstm", "--seeds", "0-1", "train.T=12",
            "train.steps=200000", "train.stop_on_solve=false", "--out", str(out)]  # fmt: skip
    first = start(args)
    try:
        wait_for(lambda: (out / "sweep.json").exists(), what="the first sweep")
        second = subprocess.run([RNNCLI, *args], capture_output=True, text=True, env=env(),
                                timeout=120)  # fmt: skip
        assert second.returncode == 2
        assert f"sweep folder is in use by process {first.pid}" in one_line(second.stderr)
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)


# ------------------------------------------------------------------- signals


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_like_ctrl_c(tmp_path: Path, sig: int, code: int) -> None:
    proc = start([*LONG, "--out", str(tmp_path)])
    wait_for(lambda: evaluated(tmp_path), what="the first evaluation")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"stopped by {signal.Signals(sig).name}" in err and "resume with" in err
    run = only_run(tmp_path)
    assert info(run)["status"] == "interrupted"
    state = ckpt.load(run / ckpt.NAME)
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps and steps[-1] <= state.step


def test_a_double_ctrl_c_still_saves_and_marks_the_run(tmp_path: Path) -> None:
    proc = start([*LONG, "--out", str(tmp_path)])
    wait_for(lambda: evaluated(tmp_path), what="the first evaluation")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    run = only_run(tmp_path)
    assert info(run)["status"] == "interrupted"
    assert ckpt.load(run / ckpt.NAME).step > 0


def _children_of(pid: int) -> set[int]:
    """Every live process whose ancestry leads to pid (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out = set()
    for p in parents:
        q = p
        while q in parents and q not in (0, 1):
            q = parents[q]
            if q == pid:
                out.add(p)
                break
    return out


def _alive(pids: set[int]) -> set[int]:
    out = set()
    for p in pids:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        if "State:\tZ" not in status:
            out.add(p)
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_sweep_leaves_no_workers(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "S"
    proc = start(["sweep", "--task", "adding", "cell=rnn,lstm", "--seeds", "0", "train.T=12",
                  "train.steps=200000", "train.stop_on_solve=false", "--workers", "2",
                  "--out", str(out)])  # fmt: skip
    wait_for(lambda: len(list(out.glob("*/metrics.jsonl"))) == 2, what="two running jobs")
    workers = _children_of(proc.pid)
    assert workers, "no worker processes"
    proc.send_signal(sig)
    proc.communicate(timeout=120)
    wait_for(lambda: not _alive(workers), 15, "the workers to end")
    if sig == signal.SIGTERM:
        assert proc.returncode == 143
        doc = json.loads((out / "sweep.json").read_text())
        assert doc["status"] == "interrupted"
    for job in out.glob("*/run.json"):  # stopped cleanly or killed: either way resumable
        assert json.loads(job.read_text())["status"] in ("interrupted", "running")
        assert (job.parent / ckpt.NAME).exists()


# ------------------------------------------------------------------- changed inputs


def test_resume_refuses_a_changed_or_missing_text(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    result = invoke(
        "train",
        "--data",
        str(corpus),
        "train.hidden=8",
        "train.bptt=8",
        "train.steps=20",
        "train.eval_every=10",
        "--out",
        str(tmp_path / "o"),
    )
    assert result.exit_code == 0, result.stderr
    run = only_run(tmp_path / "o")
    corpus.write_text("a different text with different words, over and over. " * 40)
    result = invoke("train", "--resume", str(run), "train.steps=40")
    assert result.exit_code == 2 and "changed since the run started" in one_line(result.stderr)
    corpus.unlink()
    result = invoke("train", "--resume", str(run), "train.steps=40")
    assert result.exit_code == 2 and "is missing" in one_line(result.stderr)


# ------------------------------------------------------------------- damaged run files


def _corrupt(run: Path, what: str) -> None:
    path = run / ckpt.NAME
    data = dict(np.load(path, allow_pickle=False))
    if what == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif what == "bitflip":
        raw = bytearray(path.read_bytes())
        for i in range(60, len(raw), 97):
            raw[i] ^= 0xFF
        path.write_bytes(bytes(raw))
    elif what == "empty":
        path.write_bytes(b"")
    elif what == "no-opt-m":
        del data["opt_m"]
        np.savez(path, **data)
    elif what == "float32":
        data["theta"] = data["theta"].astype(np.float32)
        np.savez(path, **data)
    elif what == "rng":
        data["rng_state"] = np.array("{not json")
        np.savez(path, **data)
    elif what == "no-layout":
        del data["layout"]
        np.savez(path, **data)
    elif what == "nan":
        data["theta"][3] = np.nan
        np.savez(path, **data)
    elif what == "run.json":
        (run / "run.json").write_text("{ not json")
    elif what == "metrics":
        lines = (run / "metrics.jsonl").read_text().splitlines()
        lines[0] = "garbage"
        (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    elif what == "optimizer":
        text = (run / "config.yaml").read_text()
        (run / "config.yaml").write_text(text.replace("optimizer: adam", "optimizer: sgd"))
    elif what == "dtype":
        text = (run / "config.yaml").read_text()
        (run / "config.yaml").write_text(text.replace("dtype: float64", "dtype: float32"))
    elif what == "task.json":
        (run / "task.json").write_text("[]")
    elif what == "zip-member":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("theta.npy", b"not an npy file")


CORRUPTIONS = {
    "truncated": "not a readable checkpoint", "bitflip": "not a readable checkpoint",
    "empty": "empty file", "no-opt-m": "no 'opt_m' entry", "float32": "are float32",
    "rng": "bad entries", "no-layout": "no 'layout' entry", "nan": "NaN or inf",
    "run.json": "not a readable run.json", "metrics": "metrics.jsonl:1: not a JSON record",
    "optimizer": "no 'opt_velocity' entry", "dtype": "the run is float32",
    "task.json": "task.json", "zip-member": "checkpoint.npz",
}  # fmt: skip


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("base")
    result = invoke(*ADDING, "train.steps=40", "--out", str(root))
    assert result.exit_code == 0
    return only_run(root)


@pytest.mark.parametrize("what", list(CORRUPTIONS))
def test_damaged_run_files_are_one_line_and_nothing_changes(
    finished_run: Path, tmp_path: Path, what: str
) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / ".lock").unlink(missing_ok=True)
    _corrupt(run, what)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    result = invoke("train", "--resume", str(run), "train.steps=80")
    assert result.exit_code == 2, result.stdout
    line = one_line(result.stderr)
    assert CORRUPTIONS[what] in line, line
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert after == before


def test_sample_refuses_a_damaged_task_json(finished_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / "task.json").write_text('{"task": "reber"}')
    result = invoke("sample", str(run))
    assert result.exit_code == 2 and "task.json" in one_line(result.stderr)


def test_leftover_temp_files_are_cleaned_on_resume(finished_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / ".checkpoint.npz.abc123.tmp").write_bytes(b"half a checkpoint")
    result = invoke("train", "--resume", str(run), "train.steps=60")
    assert result.exit_code == 0, result.stderr
    assert not list(run.glob(".*.tmp"))


# ------------------------------------------------------------------- the OS, sizes, YAML


def test_out_that_cannot_hold_runs(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "sub"):
        for args in (["forward"], ["gradcheck", "--level", "cell"], [*ADDING, "train.steps=5"]):
            result = invoke(*args, "--out", str(out))
            assert result.exit_code == 2
            assert "afile" in one_line(result.stderr)


def test_a_finished_check_is_printed_even_when_it_cannot_be_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnncli import runs

    def full(*args: Any, **kwargs: Any) -> Any:
        raise runs.WriteError(f"cannot write {tmp_path}/x/run.json: No space left on device")

    monkeypatch.setattr(runs.Run, "start", full)
    result = invoke("gradcheck", "--cell", "rnn", "--level", "cell", "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["run_dir"] is None
    assert "No space left on device" in one_line(result.stderr)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([*ADDING, "train.hidden=1000000"], "this training run needs about"),
        ([*ADDING, "train.eval_size=1000000000000"], "train.eval_size"),
        (["sample", "latest", "-n", "100000000"], "-n"),
        (["sample", "latest", "--seed", "-1"], "--seed"),
        (["forward", "dims.n_a=100000", "dims.T_x=100000"], "needs about"),
    ],
)
def test_sizes_are_guarded(tmp_path: Path, args: list[str], needle: str) -> None:
    start_ = time.monotonic()
    result = invoke(*args, *(["--out", str(tmp_path)] if args[0] != "sample" else []))
    assert result.exit_code == 2, result.stdout
    assert needle in one_line(result.stderr)
    assert time.monotonic() - start_ < 5
    assert not any(tmp_path.rglob("run.json"))


BOMB = (
    "".join(
        f"{a}: &{a} [{', '.join([f'*{b}'] * 9) if b else '1, 1, 1, 1, 1, 1, 1, 1, 1'}]\n"
        for a, b in zip("abcdefgh", ["", *"abcdefg"], strict=True)
    )
    + "seed: *h\n"
)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (BOMB, "once its aliases are expanded"),
        ("x: " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
        ("seed: " + "9" * 5000 + "\n", "more than 4300 digits"),
        ("train:\n  lr: 0.1\ntrain:\n  steps: 5\n", "duplicate key 'train'"),
        ("train:\n  lr: .inf\n", "train.lr=inf is invalid: expected a finite number"),
        ("train:\n  clip: .inf\n", "train.clip"),
        ("train:\n  temperature: .nan\n", "train.temperature"),
        ("train:\n  decay: .inf\n", "train.decay"),
        ("init:\n  scale: .inf\n", "init.scale"),
    ],
)
def test_hostile_yaml_is_refused_fast(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    start_ = time.monotonic()
    result = invoke("train", "-c", str(path), "--no-save")
    assert time.monotonic() - start_ < 1.5
    assert result.exit_code == 2
    assert needle in one_line(result.stderr)


def test_special_files_are_refused() -> None:
    for args in (["train", "-c", "/dev/zero"], ["train", "--data", "/dev/zero", "--no-save"]):
        result = invoke(*args)
        assert result.exit_code == 2 and "not a regular file" in one_line(result.stderr)


def test_usage_errors_are_one_line_and_show_config_json() -> None:
    result = invoke("train", "--bogus")
    assert result.exit_code == 2
    assert "No such option: --bogus" in one_line(result.stderr)
    result = invoke("gradcheck", "--level")
    assert result.exit_code == 2 and "--level" in one_line(result.stderr)
    result = invoke("train", "--show-config", "--json")
    assert result.exit_code == 0 and set(json.loads(result.stdout)) == {
        "cell", "seed", "dtype", "model", "init", "train"
    }  # fmt: skip


# ------------------------------------------------------------------- Dask


def _http_server() -> tuple[socket.socket, int]:
    """A port that answers like a web page, not a Dask scheduler."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" * 100)

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_dask_addresses_that_are_not_schedulers(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    result = invoke(
        "sweep", "--task", "adding", "--dask", "not a url", "--out", str(tmp_path / "a")
    )
    assert result.exit_code == 2 and "not a scheduler address" in one_line(result.stderr)
    server, port = _http_server()
    try:
        start_ = time.monotonic()
        result = invoke("sweep", "--task", "adding", "--dask", f"tcp://127.0.0.1:{port}",
                        "sweep.dask_timeout=2", "--out", str(tmp_path / "b"))  # fmt: skip
        assert time.monotonic() - start_ < 20
        assert result.exit_code == 2
        line = one_line(result.stderr)
        assert f"127.0.0.1:{port}" in line
    finally:
        server.close()


@pytest.mark.slow
def test_a_lost_scheduler_is_detected_and_the_sweep_stays_resumable(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    port = 18700 + os.getpid() % 1000
    scheduler = subprocess.Popen(
        [sys.executable, "-c", (
            "from distributed import LocalCluster; import time\n"
            f"c = LocalCluster(n_workers=1, threads_per_worker=1, processes=False, "
            f"scheduler_port={port}, dashboard_address=None)\n"
            "print('up', flush=True)\ntime.sleep(3600)\n"
        )], stdout=subprocess.PIPE, text=True, env=env(),
    )  # fmt: skip
    try:
        assert scheduler.stdout is not None and scheduler.stdout.readline().strip() == "up"
        out = tmp_path / "S"
        sweep = start(["sweep", "--task", "adding", "cell=rnn,lstm", "--seeds", "0-1",
                       "train.T=12", "train.steps=200000", "train.stop_on_solve=false",
                       "--dask", f"tcp://127.0.0.1:{port}", "sweep.dask_timeout=3",
                       "--out", str(out)])  # fmt: skip
        wait_for(lambda: len(list(out.glob("*/metrics.jsonl"))) >= 1, what="a running job")
        scheduler.kill()
        start_ = time.monotonic()
        out_text, err = sweep.communicate(timeout=120)
        assert time.monotonic() - start_ < 60
        assert sweep.returncode == 1, err
        assert "lost the Dask scheduler" in out_text + err and "Traceback" not in err
        doc = json.loads((out / "sweep.json").read_text())
        assert doc["status"] == "failed"
        assert {j["status"] for j in doc["jobs"]} <= {"pending", "interrupted"}
    finally:
        scheduler.kill()


# ------------------------------------------------------------------- a dying pool worker


def test_a_dying_worker_fails_its_job_only(tmp_path: Path) -> None:
    cell = tmp_path / "dies.py"
    cell.write_text(
        (Path(__file__).parent / "fixtures" / "cells" / "flaky.py").read_text()
        .replace('raise RuntimeError("boom at n_a=3")', "os.kill(os.getpid(), 9)")
        .replace("import numpy as np", "import os\n\nimport numpy as np")
    )  # fmt: skip
    from rnncli import sweep as S

    plan = S.plan_sweep(
        None,
        {"cell": f"{cell}:Flaky"},
        ["train.hidden=3,4,5", "train.steps=30", "train.eval_every=10"],
        "0",
    )
    result = S.run_sweep(plan, out=tmp_path / "sw", workers=2)
    by_hidden = {j.point["train.hidden"]: j for j in result.jobs}
    assert by_hidden[3].status == "failed" and "worker process died" in (by_hidden[3].error or "")
    assert by_hidden[4].status == "completed" and by_hidden[5].status == "completed"
    assert result.exit_code == 1


def test_kill_9_resumes_from_the_last_checkpoint_to_the_same_bits(tmp_path: Path) -> None:
    """SIGKILL gives no chance to save: the run resumes from its last periodic checkpoint
    (the lock dies with the process) and ends where an uninterrupted run ends."""
    steps = [*ADDING, "train.steps=3000", "train.stop_on_solve=false"]
    proc = start([*steps, "--out", str(tmp_path / "killed")])
    try:
        wait_for(lambda: evaluated(tmp_path / "killed", lines=5), what="a checkpoint")
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    run = only_run(tmp_path / "killed")
    assert info(run)["status"] == "running"  # nobody could say otherwise
    with np.load(run / ckpt.NAME) as z:
        assert 0 < int(z["counters"][0]) < 3000
    resumed = subprocess.run([RNNCLI, "train", "--resume", str(run), "--json"],
                             capture_output=True, text=True, env=env(), timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    whole = subprocess.run([RNNCLI, *steps, "--out", str(tmp_path / "whole"), "--json"],
                           capture_output=True, text=True, env=env(), timeout=300)  # fmt: skip
    assert whole.returncode == 0, whole.stderr
    with (np.load(run / ckpt.NAME) as a,
          np.load(only_run(tmp_path / "whole") / ckpt.NAME) as b):  # fmt: skip
        assert np.array_equal(a["theta"], b["theta"])
