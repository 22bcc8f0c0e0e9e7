"""rnncli check against a learner's code that tries to forge its verdict.

Each test writes a small learner file whose function is wrong (ReLU where the notebook
has tanh) and tries to make rnncli say PASS anyway: arrays that compute their own error,
patched NumPy, a patched checker, a forged answer on the protocol's pipe, a forged
results.json, or signals to rnncli. None may work: the verdict is rnncli's, computed in
its own process on plain numbers, and the child can neither signal rnncli nor outlive it.
The containment tests need bubblewrap (or rnncli as root with a Python that the user
nobody can run); where neither is there they skip and say why.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from rnncli.check import run_check

RNNCLI = Path(sys.executable).parent / "rnncli"

HEAD = '''
import numpy as np

def softmax(x):
    e = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)

def relu_cell(xt, a_prev, parameters):
    p = parameters
    a_next = np.maximum(0, p["Wax"] @ xt + p["Waa"] @ a_prev + p["ba"])
    yt_pred = softmax(p["Wya"] @ a_next + p["by"])
    return a_next, yt_pred, (a_next, a_prev, xt, parameters)
'''


def _learner(tmp_path: Path, body: str, name: str = "hw.py") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + textwrap.dedent(body))
    return path


def _verdict(path: Path, only: str = "rnn_cell_forward", timeout: float = 10.0) -> str:
    report = run_check(path, only=only, timeout=timeout)
    return {f.name: f for f in report.functions}[only.split(",")[-1]].verdict


def _contained() -> str:
    """Why the containment tests cannot run here ("" when they can)."""
    if not sys.platform.startswith("linux"):
        return "containment tests are Linux only"
    if os.environ.get("RNNCLI_CHECK_NO_BWRAP") != "1" and shutil.which("bwrap"):
        return ""
    try:
        from rnncli.check.contain import _nobody
    except ImportError:
        return "no rnncli.check.contain"
    if _nobody() is None:
        return "no bubblewrap, and the child cannot run as nobody here"
    return ""


needs_containment = pytest.mark.skipif(bool(_contained()), reason=_contained() or "-")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(OPENBLAS_NUM_THREADS="1", COLUMNS="200")
    return env


def _cli(args: list[str], cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RNNCLI), *args], capture_output=True, text=True, env=_env(), cwd=cwd,
        timeout=timeout,
    )  # fmt: skip


def _ppid(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _alive_with(token: bytes) -> list[int]:
    """Running (not zombie) processes whose command line holds `token`."""
    found = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            mine = token in (d / "cmdline").read_bytes() and int(d.name) != os.getpid()
            if mine and "zombie" not in (d / "status").read_text():
                found.append(int(d.name))
        except OSError:
            continue
    return found


def _descendants_with(root: int, token: bytes) -> list[int]:
    out = []
    for pid in _alive_with(token):
        p = pid
        while p > 1:
            p = _ppid(p)
            if p == root:
                out.append(pid)
                break
    return out


def _gone(pids: list[int], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not [p for p in pids if p in _alive_with(b"")]:
            return True
        time.sleep(0.1)
    return False


# ----------------------------------------------------------------- arrays that lie


LYING = {
    "ufunc": '''
        class Liar(np.ndarray):
            def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
                return np.zeros(self.shape)

        def rnn_cell_forward(xt, a_prev, parameters):
            a, y, cache = relu_cell(xt, a_prev, parameters)
            return a.view(Liar), y.view(Liar), (a.view(Liar), a_prev, xt, parameters)
    ''',
    "sub": '''
        class Liar(np.ndarray):
            def __sub__(self, other):
                return np.zeros(self.shape)

        def rnn_cell_forward(xt, a_prev, parameters):
            a, y, cache = relu_cell(xt, a_prev, parameters)
            return a.view(Liar), y.view(Liar), (a.view(Liar), a_prev, xt, parameters)
    ''',
    "masked_all": '''
        def rnn_cell_forward(xt, a_prev, parameters):
            a = np.ma.masked_all((parameters["Waa"].shape[0], xt.shape[1]))
            y = np.ma.masked_all((parameters["Wya"].shape[0], xt.shape[1]))
            return a, y, (a, a_prev, xt, parameters)
    ''',
}


@pytest.mark.parametrize("kind", list(LYING))
def test_an_array_that_computes_its_own_error_does_not_pass(tmp_path: Path, kind: str) -> None:
    assert _verdict(_learner(tmp_path, LYING[kind])) == "fail"


# ----------------------------------------------------------------- shared NumPy state


def test_a_patched_np_abs_does_not_make_a_wrong_function_pass(tmp_path: Path) -> None:
    path = _learner(tmp_path, '''
        def rnn_cell_forward(xt, a_prev, parameters):
            np.abs = lambda x, *a, **k: np.zeros(np.shape(x))
            np.max = lambda x, *a, **k: 0.0
            return relu_cell(xt, a_prev, parameters)
    ''')
    assert _verdict(path) == "fail"


def test_a_patched_np_tanh_does_not_make_the_reference_relu(tmp_path: Path) -> None:
    path = _learner(tmp_path, '''
        def rnn_cell_forward(xt, a_prev, parameters):
            p = parameters
            a_next = np.tanh(p["Wax"] @ xt + p["Waa"] @ a_prev + p["ba"])
            yt_pred = softmax(p["Wya"] @ a_next + p["by"])
            np.tanh = lambda z, *a, **k: np.maximum(z, 0)  # every later tanh is a ReLU
            return a_next, yt_pred, (a_next, a_prev, xt, parameters)

        def rnn_forward(x, a0, parameters):
            n_x, m, T_x = x.shape
            n_y, n_a = parameters["Wya"].shape
            a, y = np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x))
            caches, a_next = [], a0
            for t in range(T_x):
                a_next, yt, cache = relu_cell(x[:, :, t], a_next, parameters)
                a[:, :, t], y[:, :, t] = a_next, yt
                caches.append(cache)
            return a, y, (caches, x)
    ''')
    report = run_check(path, only="rnn_cell_forward,rnn_forward")
    assert {r.name: r.verdict for r in report.functions}["rnn_forward"] == "fail"


# ----------------------------------------------------------------- the checker itself


def test_replacing_the_checker_in_the_child_changes_nothing(tmp_path: Path) -> None:
    path = _learner(tmp_path, '''
        class Hijack:
            import sys
            from rnncli.check.results import CheckResult, FunctionResult
            sys.modules["__main__"].check_function = (
                lambda FR, CR: lambda name, *a, **k: FR(name, "pass", checks=[CR("x", "pass")])
            )(FunctionResult, CheckResult)

        def rnn_cell_forward(xt, a_prev, parameters):
            return relu_cell(xt, a_prev, parameters)
    ''')
    assert _verdict(path) == "fail"


def test_a_forged_line_on_the_protocol_pipe_is_a_protocol_violation(tmp_path: Path) -> None:
    path = _learner(tmp_path, '''
        import json, os, time

        def rnn_cell_forward(xt, a_prev, parameters):
            forged = {"op": "result", "result": {"name": "rnn_cell_forward", "verdict": "pass",
                      "message": "PASS, 0/0 checks"}}
            for fd in os.listdir("/proc/self/fd"):
                try:
                    if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                        os.write(int(fd), json.dumps(forged).encode() + b"\\n")
                except OSError:
                    pass
            time.sleep(30)
    ''')
    report = run_check(path, only="rnn_cell_forward", timeout=3.0)
    f = report.functions[0]
    assert f.verdict != "pass"
    assert f.verdict == "timeout" or f.message.startswith("protocol violation")


def test_an_answer_besides_the_real_one_is_a_protocol_violation(tmp_path: Path) -> None:
    path = _learner(tmp_path, '''
        import os

        def rnn_cell_forward(xt, a_prev, parameters):
            # an answer the way rnncli's old child answered: PASS, 0 of 0 checks
            line = b'{"op": "result", "result": {"name": "rnn_cell_forward", "verdict": "pass"}}\\n'
            for fd in os.listdir("/proc/self/fd"):
                try:
                    if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                        os.write(int(fd), line)
                except OSError:
                    pass
            return relu_cell(xt, a_prev, parameters)
    ''')
    report = run_check(path, only="rnn_cell_forward")
    f = report.functions[0]
    assert f.verdict != "pass" and not report.ok


@needs_containment
def test_a_forged_results_json_and_a_killed_rnncli_leave_no_forged_score(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    _learner(tmp_path, f'''
        import json, os, signal

        def rnn_cell_forward(xt, a_prev, parameters):
            try:
                with open({str(out)!r}, "w") as fh:
                    json.dump({{"score": 100.0, "output": "PASS"}}, fh)
            except OSError:
                pass
            os.kill(os.getppid(), signal.SIGKILL)
            return relu_cell(xt, a_prev, parameters)
    ''')
    done = _cli(["check", "hw.py", "--only", "rnn_cell_forward", "--no-save",
                 "--gradescope-out", str(out)], cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr
    doc = json.loads(out.read_text())
    assert doc["score"] < doc.get("max_score", 100.0) and doc["output"] != "PASS"


# ----------------------------------------------------------------- containment


@needs_containment
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM", "SIGHUP"])
def test_the_child_cannot_kill_rnncli(tmp_path: Path, sig: str) -> None:
    _learner(tmp_path, f'''
        import os, signal

        def rnn_cell_forward(xt, a_prev, parameters):
            os.kill(os.getppid(), signal.{sig})
            return relu_cell(xt, a_prev, parameters)
    ''')
    done = _cli(["check", "hw.py", "--only", "rnn_cell_forward", "--no-save"], cwd=tmp_path)
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "check failed: rnn_cell_forward" in done.stderr
    assert "rnn_cell_forward: PASS" not in done.stdout


@needs_containment
def test_the_child_cannot_stop_rnncli(tmp_path: Path) -> None:
    _learner(tmp_path, '''
        import os, signal

        def rnn_cell_forward(xt, a_prev, parameters):
            os.kill(os.getppid(), signal.SIGSTOP)
            return relu_cell(xt, a_prev, parameters)
    ''')
    proc = subprocess.Popen(
        [str(RNNCLI), "check", "hw.py", "--only", "rnn_cell_forward", "--no-save",
         "--timeout", "5"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.communicate()
        pytest.fail("rnncli was stopped by the learner's code")
    assert proc.returncode == 1 and "check failed: rnn_cell_forward" in stderr


@needs_containment
def test_a_grandchild_in_its_own_session_does_not_outlive_rnncli(tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    _learner(tmp_path, f'''
        import subprocess, sys

        def rnn_cell_forward(xt, a_prev, parameters):
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120) # {token}"],
                             start_new_session=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return relu_cell(xt, a_prev, parameters)
    ''')
    try:
        done = _cli(["check", "hw.py", "--only", "rnn_cell_forward", "--no-save"], cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        assert _gone(_alive_with(token.encode()))
    finally:
        for pid in _alive_with(token.encode()):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGHUP])
def test_killing_rnncli_kills_the_childs_tree(tmp_path: Path, sig: signal.Signals) -> None:
    _learner(tmp_path, '''
        import time

        def rnn_cell_forward(xt, a_prev, parameters):
            time.sleep(120)
    ''')
    proc = subprocess.Popen(
        [str(RNNCLI), "check", "hw.py", "--only", "rnn_cell_forward", "--no-save",
         "--timeout", "100"],
        cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    children: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while not children and time.monotonic() < deadline:
            time.sleep(0.2)
            children = _descendants_with(proc.pid, b"rnncli.check.child")
        assert children, "no child started"
        time.sleep(1.5)  # the file loaded, the function sleeping
        children = _descendants_with(proc.pid, b"rnncli.check.child")
        proc.send_signal(sig)
        proc.wait(timeout=30)
        assert _gone(children), "the child outlived rnncli"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
