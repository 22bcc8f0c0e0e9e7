"""rnncli check: a learner's own functions, loaded, isolated, checked and diagnosed.

Fixtures (tests/fixtures/check/): learner_ok.py (all twelve functions, correct, written
as a learner would), one file per diagnosis id with exactly that bug planted in one
function (the family's other functions unchanged), the learner's notebook from the seed
as it is (notebook_seed.ipynb) and with its two real bugs fixed (notebook_fixed.ipynb),
and isolation.py (an infinite loop, a 3 GiB allocation, an exception, sys.exit, os._exit,
input()). Every library run starts a real child process.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
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
from helpers import bug_corpus
from rich.console import Console
from typer.testing import CliRunner

from rnncli import activations
from rnncli.check import IDS, CheckReport, run_check
from rnncli.check.load import blank_magics, definitions, from_text, read_source
from rnncli.check.report import render
from rnncli.check.spec import FUNCTIONS, NOTEBOOK_FUNCTIONS, SPECS
from rnncli.cli import app

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "check"
RNNCLI = Path(sys.executable).parent / "rnncli"

# fixture -> (the function with the planted bug, the diagnosis id it must get)
PLANTED = {
    "bias_mean": ("rnn_cell_backward", "bias-mean"),
    "wrong_state": ("rnn_cell_backward", "wrong-state"),
    "missing_transpose": ("rnn_cell_backward", "missing-transpose"),
    "dtanh": ("rnn_cell_backward", "dtanh"),
    "not_linear": ("rnn_cell_backward", "not-linear"),
    "dropped_carry": ("rnn_backward", "dropped-carry"),
    "no_upstream": ("rnn_backward", "no-upstream"),
    "modifies_input": ("rnn_backward", "modifies-input"),
    "gate_candidate": ("lstm_cell_backward", "gate-candidate"),
    "gate_forget": ("lstm_cell_backward", "gate-forget"),
    "gate_update": ("lstm_cell_backward", "gate-update"),
    "gate_output": ("lstm_cell_backward", "gate-output"),
    "dc_path": ("lstm_cell_backward", "dc-path"),
    "slice_swap": ("lstm_cell_backward", "slice-swap"),
    "dropped_carry_lstm": ("lstm_backward", "dropped-carry"),
}


def invoke(args: list[str], **env: str) -> Any:
    return CliRunner().invoke(app, args, env={"NO_COLOR": "1", **env}, catch_exceptions=False)


_cache: dict[str, CheckReport] = {}


def checked(name: str) -> CheckReport:
    """run_check on a fixture, once per test session."""
    if name not in _cache:
        _cache[name] = run_check(FIXTURES / name)
    return _cache[name]


def by_name(report: CheckReport) -> dict[str, Any]:
    return {f.name: f for f in report.functions}


def row(report: CheckReport, function: str, check: str) -> Any:
    return next(r for r in by_name(report)[function].checks if r.name == check)


# ----------------------------------------------------------------- correct code passes


def test_a_correct_learner_file_passes_everything() -> None:
    report = checked("learner_ok.py")
    assert [f.name for f in report.functions] == list(FUNCTIONS)
    for f in report.functions:
        assert f.verdict == "pass", (f.name, [(r.name, r.note) for r in f.checks])
        assert f.score == 1.0 and f.diagnosis == []
        assert all(r.status == "pass" for r in f.checks)
    assert report.ok and report.notes == []
    result = invoke(["check", str(FIXTURES / "learner_ok.py"), "--no-save"])
    assert result.exit_code == 0, result.stderr
    assert "PASS: 12 of 12 functions pass" in result.stdout


def test_the_notebooks_own_code_cells_pass() -> None:
    """The seed notebook with its two real bugs fixed (and IPython magics added)."""
    report = checked("notebook_fixed.ipynb")
    verdicts = {f.name: f.verdict for f in report.functions}
    assert verdicts == {
        **{n: "pass" for n in NOTEBOOK_FUNCTIONS if n != "lstm_backward"},
        "lstm_backward": "missing",  # the notebook has no lstm_backward
    }  # the GRU is rnncli's: not reported missing unless asked for
    assert report.ok


def test_the_seed_notebook_as_the_learner_left_it() -> None:
    """Two real bugs the notebook's own test cells hide: check finds both."""
    report = checked("notebook_seed.ipynb")
    f = by_name(report)
    passing = ["rnn_cell_forward", "rnn_forward", "rnn_cell_backward", "lstm_cell_forward",
               "lstm_forward"]  # fmt: skip
    assert all(f[n].verdict == "pass" for n in passing)
    # rnn_backward reads caches[1]: right on the notebook's 4 steps, an IndexError at T_x = 1
    rb = f["rnn_backward"]
    assert rb.verdict == "fail" and [d.id for d in rb.diagnosis] == ["notebook-shapes-only"]
    t1 = row(report, "rnn_backward", "T_x = 1")
    assert t1.status == "error"
    assert t1.note == "IndexError: list index out of range (cell 14, line 3)"
    assert [r.name for r in rb.checks if r.status != "pass"] == ["T_x = 1"]
    # lstm_cell_backward uses the test cell's global Wf instead of parameters["Wf"]
    lb = f["lstm_cell_backward"]
    assert lb.verdict == "error"
    assert lb.message == (
        "NameError: name 'Wf' is not defined (cell 16, line 29); with Wf, Wc, Wi, Wo from "
        "parameters: PASS, 11/11 checks pass"  # checked again: nothing else is wrong
    )
    assert [d.id for d in lb.diagnosis] == ["test-cell-global"]
    assert "cell 8, line 39" in lb.diagnosis[0].hint and 'parameters["Wf"]' in lb.diagnosis[0].hint
    result = invoke(["check", str(FIXTURES / "notebook_seed.ipynb"), "--no-save"])
    assert result.exit_code == 1
    assert result.stderr == (
        "rnncli: error: check failed: rnn_backward (notebook-shapes-only), "
        "lstm_cell_backward (test-cell-global)\n"
    )


def test_a_backward_is_not_blamed_for_a_wrong_forward(tmp_path: Path) -> None:
    """A right backward next to a wrong forward passes (on rnncli's cache); finite
    differences of the wrong forward say nothing about it, so that row is skipped."""
    text = (
        (FIXTURES / "learner_ok.py")
        .read_text()
        .replace(
            "a_next = np.tanh(Waa @ a_prev + Wax @ xt + ba)",
            "a_next = sigmoid(Waa @ a_prev + Wax @ xt + ba)",
        )
    )
    path = tmp_path / "wrong_forward.py"
    path.write_text(text)
    f = by_name(run_check(path, only="rnn_cell_forward,rnn_cell_backward,rnn_forward"))
    assert f["rnn_cell_forward"].verdict == "fail"
    assert [d.id for d in f["rnn_cell_forward"].diagnosis] == ["no-known-pattern"]
    assert f["rnn_cell_backward"].verdict == "pass"
    notes = {r.name: (r.status, r.note) for r in f["rnn_cell_backward"].checks}
    assert notes["notebook test"] == (
        "pass",
        "on rnncli's cache: your rnn_cell_forward differs here",
    )
    assert notes["vs your forward"][0] == "skip"
    assert f["rnn_forward"].verdict == "pass"  # it calls rnncli's cell while it is checked


# ----------------------------------------------------------------- planted bugs


@pytest.mark.parametrize("fixture", sorted(PLANTED))
def test_each_planted_bug_fails_one_function_with_its_id(fixture: str) -> None:
    function, bug_id = PLANTED[fixture]
    report = checked(f"{fixture}.py")
    failing = [f for f in report.functions if f.verdict not in ("pass", "missing")]
    assert [f.name for f in failing] == [function], [(f.name, f.verdict) for f in failing]
    (f,) = failing
    assert f.verdict == "fail"
    assert [d.id for d in f.diagnosis] == [bug_id], [(d.id, d.evidence) for d in f.diagnosis]
    family = SPECS[function].family
    others = [g for g in report.functions if g.name.startswith(family) and g.name != function]
    assert len(others) == 3 and all(g.verdict == "pass" for g in others)


def test_every_diagnosis_id_has_a_planted_bug_or_a_fixture() -> None:
    covered = {bug_id for _, bug_id in PLANTED.values()}
    covered |= {"follows-forward", "test-cell-global", "notebook-shapes-only", "no-known-pattern"}
    covered |= {b.expected for b in bug_corpus().BUGS}  # tests/test_check_bugs.py
    assert covered == set(IDS)


def _functions(path: Path) -> dict[str, str]:
    return {
        n.name: ast.dump(n)
        for n in ast.parse(path.read_text()).body
        if isinstance(n, ast.FunctionDef)
    }


@pytest.mark.parametrize("fixture", sorted(PLANTED))
def test_a_planted_fixture_differs_from_the_correct_file_in_one_function(fixture: str) -> None:
    function, _ = PLANTED[fixture]
    ok, planted = _functions(FIXTURES / "learner_ok.py"), _functions(FIXTURES / f"{fixture}.py")
    family = SPECS[function].family
    assert sorted(planted) == sorted(n for n in ok if n.startswith(family))
    assert [n for n in planted if planted[n] != ok[n]] == [function]


def test_a_backward_consistent_with_a_wrong_forward_is_reported_as_such() -> None:
    f = by_name(checked("follows_forward.py"))
    assert f["rnn_cell_forward"].verdict == "fail"
    backward = f["rnn_cell_backward"]
    assert backward.verdict == "fail"
    assert [d.id for d in backward.diagnosis] == ["follows-forward"]
    assert "fix rnn_cell_forward first" in backward.diagnosis[0].hint
    fd = next(r for r in backward.checks if r.name == "vs your forward")
    assert fd.status == "pass"  # consistent with their own (wrong) forward
    assert f["rnn_forward"].verdict == f["rnn_backward"].verdict == "pass"


def test_the_bias_mean_evidence_is_the_exact_ratio() -> None:
    f = by_name(checked("bias_mean.py"))["rnn_cell_backward"]
    assert f.diagnosis[0].evidence.startswith("dba = exactly 1/10 of the expected (m = 10)")
    main = row(checked("bias_mean.py"), "rnn_cell_backward", "notebook test")
    dba = next(a for a in main.arrays if a.name == "dba")
    assert dba.multiple == pytest.approx(0.1, abs=1e-12)
    # with one example the mean is the sum: that check passes, as it should
    assert row(checked("bias_mean.py"), "rnn_cell_backward", "m = 1").status == "pass"


def test_dropped_carry_shows_in_the_time_profile() -> None:
    main = row(checked("dropped_carry.py"), "rnn_backward", "notebook test")
    assert main.profile is not None and len(main.profile) == 4
    assert main.profile[-1] < 1e-12 and min(main.profile[:-1]) > 1e-3
    (d,) = by_name(checked("dropped_carry.py"))["rnn_backward"].diagnosis
    assert "before it is all zero" in d.evidence and "is not carried back" in d.hint


def test_every_check_has_been_seen_failing() -> None:
    """A checker is trusted once a planted bug has made it fail."""
    seen = {
        ("slice_swap.py", "lstm_cell_backward", "contract"),
        ("modifies_input.py", "rnn_backward", "inputs untouched"),
        ("wrong_state.py", "rnn_cell_backward", "notebook test"),
        ("wrong_state.py", "rnn_cell_backward", "m = 1"),
        ("wrong_state.py", "rnn_cell_backward", "n_x > n_a"),
        ("wrong_state.py", "rnn_cell_backward", "n_a = 1"),
        ("dropped_carry.py", "rnn_backward", "T_x = 50"),
        ("bias_mean.py", "rnn_cell_backward", "vs your forward"),
        ("not_linear.py", "rnn_cell_backward", "zero upstream"),
        ("not_linear.py", "rnn_cell_backward", "linear upstream"),
        ("dc_path.py", "lstm_cell_backward", "da_next only"),
        ("gate_candidate.py", "lstm_cell_backward", "dc_next only"),
        ("dropped_carry.py", "rnn_backward", "last step only"),
        ("follows_forward.py", "rnn_cell_forward", "notebook test"),
    }
    for fixture, function, check in seen:
        assert row(checked(fixture), function, check).status == "fail", (fixture, check)
    assert row(checked("notebook_seed.ipynb"), "rnn_backward", "T_x = 1").status == "error"
    names = {r.name for f in checked("learner_ok.py").functions for r in f.checks}
    assert names == {c for _, _, c in seen} | {"T_x = 1", "default test"}  # the GRU's: below


def test_a_gru_bug_is_caught_and_diagnosed(tmp_path: Path) -> None:
    path = tmp_path / "gru.py"
    path.write_text(
        (FIXTURES / "learner_ok.py")
        .read_text()
        .replace("dbh = daat.sum(axis=1, keepdims=True)", "dbh = daat.mean(axis=1, keepdims=True)")
    )
    f = by_name(run_check(path, only="gru_cell_backward,gru_backward"))
    assert f["gru_backward"].verdict == "pass"
    cell = f["gru_cell_backward"]
    assert [d.id for d in cell.diagnosis] == ["bias-mean"]
    assert next(r for r in cell.checks if r.name == "default test").status == "fail"


# ----------------------------------------------------------------- isolation


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(OPENBLAS_NUM_THREADS="1", COLUMNS="200")
    return subprocess.run(
        [str(RNNCLI), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def test_what_a_learners_code_does_becomes_that_functions_verdict(tmp_path: Path) -> None:
    out = _run(["check", str(FIXTURES / "isolation.py"), "--timeout", "2", "--json",
                "--out", str(tmp_path / "runs")], cwd=tmp_path)  # fmt: skip
    assert out.returncode == 1
    assert out.stderr.startswith("rnncli: error: check failed: rnn_cell_forward (timeout)")
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    doc = json.loads(out.stdout)
    f = {d["name"]: d for d in doc["functions"]}
    assert f["rnn_cell_forward"]["verdict"] == "timeout"
    assert f["rnn_cell_forward"]["message"] == "no answer within 2 s"
    assert f["rnn_forward"]["verdict"] == "error"
    assert f["rnn_forward"]["message"].startswith("MemoryError: Unable to allocate 3.00 GiB")
    assert f["rnn_forward"]["message"].endswith("over the 2048 MiB cap (line 16)")
    assert f["rnn_cell_backward"]["message"] == "ValueError: not implemented yet (line 22)"
    assert f["rnn_backward"]["message"] == "SystemExit: sys.exit(0) was called (line 27)"
    assert f["lstm_cell_forward"]["verdict"] == "crashed"
    assert f["lstm_cell_forward"]["message"] == "the process exited with code 3"
    assert f["lstm_forward"]["verdict"] == "pass"  # still checked, after all that
    assert f["lstm_cell_backward"]["message"] == "EOFError: EOF when reading a line (line 48)"
    # the backward of a forward that hung is fed rnncli's cache, not a hang of its own
    fd = next(c for c in f["rnn_cell_backward"]["checks"] if c["name"] == "vs your forward")
    assert fd["status"] == "skip" and "rnn_cell_forward timed out" in fd["note"]
    # the learner's print() and files went elsewhere; the run folder is intact
    run_dir = Path(doc["run_dir"])
    assert json.loads((run_dir / "check.json").read_text())["functions"] == doc["functions"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def test_an_infinite_loop_does_not_stop_the_next_function(tmp_path: Path) -> None:
    path = tmp_path / "loop.py"
    path.write_text(
        (FIXTURES / "learner_ok.py")
        .read_text()
        .replace(
            '    caches = []\n    n_x, m, T_x = x.shape\n    n_y, n_a = parameters["Wya"].shape',
            "    while True:\n        pass",
        )
    )
    start = time.monotonic()
    report = run_check(path, only="rnn_forward,rnn_cell_backward,rnn_backward", timeout=1.0)
    assert time.monotonic() - start < 8
    f = by_name(report)
    assert f["rnn_forward"].verdict == "timeout"
    assert f["rnn_cell_backward"].verdict == f["rnn_backward"].verdict == "pass"
    note = row(report, "rnn_backward", "notebook test").note
    assert note == "on rnncli's cache: your rnn_forward timed out"


def test_ctrl_c_exits_130_and_kills_the_child(tmp_path: Path) -> None:
    (tmp_path / "loop.py").write_text(
        "def rnn_forward(x, a0, parameters):\n    while True:\n        pass\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    proc = subprocess.Popen(
        [str(RNNCLI), "check", "loop.py", "--timeout", "60", "--no-save"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    child = None
    deadline = time.monotonic() + 30
    while child is None and time.monotonic() < deadline:  # wait for the child to be started
        time.sleep(0.1)
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
            except (OSError, ValueError):
                continue
            if fields.get("PPid", "").strip() != str(proc.pid):
                continue
            try:  # the sandbox's child, not a helper a library runs while importing
                cmdline = (status.parent / "cmdline").read_bytes()
            except OSError:
                continue
            if b"rnncli.check.child" in cmdline:
                child = int(status.parent.name)
    assert child is not None
    time.sleep(1.0)  # loading done, the loop running
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert stderr == "rnncli: interrupted\n"
    state = Path(f"/proc/{child}/status")
    assert not state.exists() or "zombie" in state.read_text()


# ----------------------------------------------------------------- bad input: exit 2


BAD_FILES: list[tuple[str, bytes, str]] = [
    ("nothing.py", b"import numpy as np\n\ndef helper():\n    return 1\n",
     "nothing.py: defines none of the notebook's functions"),
    ("latin1.py", "# café\ndef rnn_forward(x, a0, p):\n    pass\n".encode("latin-1"),
     "latin1.py: not valid UTF-8 text"),
    ("notes.txt", b"def rnn_forward(): pass\n", "notes.txt: expected a .py file or a .ipynb"),
    ("broken.ipynb", b'{"cells": [', "broken.ipynb:1: not a notebook: invalid JSON"),
    ("old.ipynb", b'{"nbformat": 3, "worksheets": []}', "old.ipynb: nbformat 3 notebooks"),
    ("cells.ipynb",
     json.dumps({"nbformat": 4, "cells": [
         {"cell_type": "markdown", "source": "# hi"},
         {"cell_type": "code", "source": ["x = 1\n", "def f(:\n"]}]}).encode(),
     "cells.ipynb: defines none of the notebook's functions"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "needle"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_exit_2_with_one_line(
    tmp_path: Path, name: str, data: bytes, needle: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = invoke(["check", str(path), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.stdout + result.stderr
    message = result.stderr.strip()
    assert message.startswith("rnncli: error: ") and "\n" not in message, message
    assert needle in message, message
    assert "Traceback" not in message and result.stdout == ""
    assert not (tmp_path / "runs").exists()


def test_missing_file_and_directory_exit_2(tmp_path: Path) -> None:
    # a folder is a class (test_check_class.py): an empty one is refused
    cases = ((tmp_path / "nope.py", "file not found"),
             (tmp_path, "is a folder with no .py file or .ipynb notebook in it"))  # fmt: skip
    for path, needle in cases:
        result = invoke(["check", str(path), "--no-save"])
        assert result.exit_code == 2
        assert result.stderr == f"rnncli: error: {path}: {needle}\n"


def test_bad_input_in_a_real_process_prints_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("def helper(:\n")
    out = _run(["check", "bad.py"], cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("rnncli: error: bad.py: defines none of the notebook's")
    assert out.stderr.endswith(
        "; lines 1-2: skipped, they do not parse (line 1: invalid syntax)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.py"]


def test_bad_options_exit_2(tmp_path: Path) -> None:
    ok = str(FIXTURES / "learner_ok.py")
    cases = [
        (["--only", "lstm_backwrd"], "'lstm_backwrd' (did you mean 'lstm_backward'?)"),
        (["--require", ""], "--require: no function named"),
        (["--format", "xml"], "--format 'xml': expected table, json or gradescope"),
        (["--json", "--format", "gradescope"], "--json and --format gradescope"),
        (["--keep-source", "--no-save"], "--keep-source"),
        (["check.timeout=0"], "check.timeout"),
        (["--memory", "0"], "check.memory"),
    ]  # fmt: skip
    for extra, needle in cases:
        result = invoke(["check", ok, *extra, "--out", str(tmp_path / "runs")])
        assert result.exit_code == 2, (extra, result.stderr)
        assert needle in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "runs").exists()


def test_only_and_require() -> None:
    fixed = str(FIXTURES / "notebook_fixed.ipynb")
    result = invoke(["check", fixed, "--only", "lstm_backward", "--no-save"])
    assert result.exit_code == 2
    assert "defines none of the selected functions (lstm_backward)" in result.stderr
    result = invoke(["check", fixed, "--only", "rnn_forward", "--require", "lstm_backward",
                     "--json", "--no-save"])  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr == "rnncli: error: check failed: lstm_backward (missing)\n"
    doc = json.loads(result.stdout)
    assert [(f["name"], f["verdict"], f["required"]) for f in doc["functions"]] == [
        ("rnn_forward", "pass", False),
        ("lstm_backward", "missing", True),
    ]


# ----------------------------------------------------------------- output


def test_json_is_one_document_for_autograders() -> None:
    result = invoke(["check", str(FIXTURES / "dc_path.py"), "--json", "--no-save"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["command"] == "check" and doc["ok"] is False and doc["run_dir"] is None
    assert (
        doc["file"]["sha256"] == hashlib.sha256((FIXTURES / "dc_path.py").read_bytes()).hexdigest()
    )
    assert doc["summary"]["failed"] == ["lstm_cell_backward"]
    f = {d["name"]: d for d in doc["functions"]}
    lcb = f["lstm_cell_backward"]
    assert [d["id"] for d in lcb["diagnosis"]] == ["dc-path"]
    assert lcb["score"] == round(lcb["passed"] / lcb["total"], 4) and 0 < lcb["score"] < 1
    main = next(c for c in lcb["checks"] if c["name"] == "notebook test")
    assert main["status"] == "fail" and main["where"] == "dc_prev[0,0]"
    dc_prev = next(a for a in main["arrays"] if a["name"] == "dc_prev")
    assert dc_prev["max_abs"] > 0 and dc_prev["max_rel"] > 1e-3 and not dc_prev["ok"]
    assert f["lstm_forward"]["score"] == 1.0 and f["rnn_forward"]["verdict"] == "missing"
    assert doc["settings"]["timeout_s"] == 10.0 and doc["settings"]["memory_mib"] == 2048


def test_gradescope_results(tmp_path: Path) -> None:
    target = tmp_path / "results" / "results.json"
    args = ["check", str(FIXTURES / "notebook_seed.ipynb"), "--format", "gradescope",
            "--gradescope-out", str(target), "--require", "notebook", "--no-save"]  # fmt: skip
    result = invoke(args)
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert json.loads(target.read_text()) == doc
    tests = {t["name"]: t for t in doc["tests"]}
    assert list(tests) == list(NOTEBOOK_FUNCTIONS)  # present or required: no gru tests
    for t in tests.values():
        assert {"name", "score", "max_score", "output", "status"} <= set(t)
        assert t["max_score"] == 1.0 and 0 <= t["score"] <= 1
    assert tests["rnn_forward"]["score"] == 1.0 and tests["rnn_forward"]["status"] == "passed"
    assert (
        tests["lstm_backward"]["score"] == 0
        and tests["lstm_backward"]["output"] == "lstm_backward: missing"
    )
    assert "notebook-shapes-only" in tests["rnn_backward"]["output"]
    assert doc["score"] == pytest.approx(sum(t["score"] for t in tests.values()), abs=1e-3)


def test_a_submission_that_cannot_be_checked_still_gets_its_results_json(tmp_path: Path) -> None:
    (tmp_path / "hw.py").write_text("def helper(x, a0, parameters)\n    pass\n")
    target = tmp_path / "results.json"
    result = invoke(["check", str(tmp_path / "hw.py"), "--gradescope-out", str(target)])
    assert result.exit_code == 2
    doc = json.loads(target.read_text())
    assert doc["score"] == 0.0 and doc["tests"] == []
    assert doc["output"].endswith("(line 1: expected ':')")


def test_the_run_folder_has_check_json_and_the_hash_not_the_code(tmp_path: Path) -> None:
    path = FIXTURES / "bias_mean.py"
    for keep in (False, True):
        root = tmp_path / f"keep-{keep}"
        result = invoke(
            ["check", str(path), "--out", str(root)] + (["--keep-source"] if keep else [])
        )
        assert result.exit_code == 1
        (run_dir,) = [p for p in root.glob("*/*") if p.is_dir() and p.parent.name != "latest"]
        assert run_dir.name.endswith("-check-bias_mean")
        doc = json.loads((run_dir / "check.json").read_text())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert doc["file"]["sha256"] == digest
        info = json.loads((run_dir / "run.json").read_text())
        assert (
            info["status"] == "failed" and info["sha256"] == digest and info["command"] == "check"
        )
        files = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
        expected = [".lock", "check.json", "config.yaml", "overrides.yaml", "run.json"]
        assert files == sorted(expected + (["source/bias_mean.py"] if keep else []))
        if keep:
            assert (run_dir / "source" / "bias_mean.py").read_bytes() == path.read_bytes()
        assert f"run folder: {run_dir}" in result.stderr


@pytest.mark.parametrize("width", [80, 100, 200])
def test_tables_fit_the_width_and_never_cut_a_number(width: int) -> None:
    report = checked("gate_candidate.py")
    buf = io.StringIO()
    render(report, Console(file=buf, width=width, no_color=True, highlight=False))
    text = buf.getvalue()
    assert max(len(line) for line in text.splitlines()) <= width
    assert ("┃ where" in text) == (width >= 100)
    for f in report.present:
        assert f"{f.passed}/{f.total} checks" in text
        for r in f.checks:
            if r.status == "fail":
                assert f"{r.max_rel:.1e}" in text, (width, r.name)
                assert re.search(rf"(at |│ ){re.escape(r.where)}", text), (width, r.where)


def test_the_notebook_checks_in_under_10_s(tmp_path: Path) -> None:
    start = time.monotonic()
    out = _run(["check", str(FIXTURES / "notebook_fixed.ipynb"), "--no-save"], cwd=tmp_path)
    seconds = time.monotonic() - start
    assert out.returncode == 0, out.stderr
    assert seconds < 10, seconds


# ----------------------------------------------------------------- loading


def test_only_definitions_run() -> None:
    text = (
        "import numpy as np\n"
        "from rnn_utils import *\n"
        "n_a = 5\n"
        "n_x, n_y = 3, 2\n"
        "EPS: float = 1e-8\n"
        "shape = (3, -1 * 2)\n"
        "act = lambda z: np.tanh(z)\n"
        "try:\n    import scipy\nexcept ImportError:\n    scipy = None\n"
        "try:\n    import torch\nexcept ImportError:\n    pass\n"
        "def rnn_forward(x, a0, parameters):\n    return 1\n"
        "class Helper:\n    pass\n"
        "np.random.seed(1)\n"
        "Wf = np.random.randn(5, 8)\n"
        "print(rnn_forward(1, 2, 3))\n"
        "if __name__ == '__main__':\n    main()\n"
        "n_a += 1\n"
        "for k in range(3):\n    pass\n"
    )
    source = from_text("mine.py", "py", text)
    kept, skipped = definitions(source)
    kinds = [type(stmt).__name__ for _, stmt in kept]
    assert kinds == ["Import", "ImportFrom", "Assign", "Assign", "AnnAssign", "Assign", "Assign",
                     "Try", "Try", "FunctionDef", "ClassDef"]  # fmt: skip
    assert skipped == {"Wf": "line 21", "k": "line 26"}  # n_a is defined by a kept statement


def test_notebook_magics_and_cell_magics_are_skipped() -> None:
    nb = {"nbformat": 4, "cells": [
        {"cell_type": "markdown", "source": ["# Title"]},
        {"cell_type": "code", "source": ["%matplotlib inline\n", "!pip install numpy\n",
                                         "files = !ls\n", "np.dot?\n", "import numpy as np"]},
        {"cell_type": "code", "source": "%%bash\necho hi\n"},
        {"cell_type": "code", "source": "def f(x):\n    %time y = 1\n    return x\n"},
    ]}  # fmt: skip
    source = from_text("hw.ipynb", "ipynb", json.dumps(nb))
    assert [u.label for u in source.units] == ["cell 2", "cell 4"]
    assert source.units[0].source.split("\n") == [
        "pass",
        "pass",
        "pass",
        "pass",
        "import numpy as np",
    ]
    assert source.notes == [
        "cell 2: skipped shell or magic lines 1, 2, 3, 4",
        "cell 3: skipped (a %%bash cell magic)",
        "cell 4: skipped shell or magic line 2",
    ]
    kept, _ = definitions(source)
    assert [type(s).__name__ for _, s in kept] == ["Import", "FunctionDef"]
    assert source.where("hw.ipynb#cell4", 2) == "cell 4, line 2"
    assert blank_magics("  !ls\nx = 1") == "  pass\nx = 1"


def test_a_failing_import_is_noted_and_the_rest_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "hw.py"
    path.write_text("from public_tests import *\n" + (FIXTURES / "learner_ok.py").read_text())
    report = run_check(path, only="rnn_cell_forward")
    assert by_name(report)["rnn_cell_forward"].verdict == "pass"
    assert report.notes == [
        "line 1: skipped `from public_tests import *`: ModuleNotFoundError: "
        "No module named 'public_tests'"
    ]


def test_a_pep263_coding_cookie_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    text = "# -*- coding: latin-1 -*-\n# café\n" + (FIXTURES / "learner_ok.py").read_text()
    path.write_bytes(text.encode("latin-1"))
    source, _ = read_source(path)
    assert source.units[0].source.startswith("# -*- coding: latin-1 -*-\n# café")


def test_read_source_refuses_before_running_anything(tmp_path: Path) -> None:
    marker = tmp_path / "RAN"
    path = tmp_path / "evil.py"
    path.write_text(f"open({str(marker)!r}, 'w').close()\ndef rnn_forward(:\n")
    source, _ = read_source(path)
    assert source.broken == {"rnn_forward": "does not parse (line 2: invalid syntax)"}
    report = run_check(path)
    assert by_name(report)["rnn_forward"].verdict == "error"
    assert not marker.exists()


# ----------------------------------------------------------------- rnn_utils stand-in


def test_the_rnn_utils_stand_in_has_the_notebooks_helpers() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rnncli" / "check" / "stand_in"))
    try:
        namespace: dict[str, Any] = {}
        exec("from rnn_utils import *", namespace)
    finally:
        sys.path.pop(0)
        sys.modules.pop("rnn_utils", None)
    assert {"np", "sigmoid", "softmax"} <= set(namespace)
    z = np.random.default_rng(0).standard_normal((4, 6))
    np.testing.assert_allclose(namespace["sigmoid"](z), activations.sigmoid(z), rtol=1e-15)
    np.testing.assert_allclose(namespace["softmax"](z), activations.softmax(z), rtol=1e-14)
