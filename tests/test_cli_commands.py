"""The gradcheck and sweep commands through the CLI: exit codes, JSON, run folders."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from rnncli import notebook
from rnncli.cli import app


def invoke(args: list[str]) -> Any:
    return CliRunner().invoke(app, args, env={"NO_COLOR": "1"}, catch_exceptions=False)


def test_gradcheck_passes_and_writes_its_table(tmp_path: Path) -> None:
    result = invoke(["gradcheck", "--cell", "gru", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["failed"] == 0 and doc["checks"] == len(doc["rows"]) > 0
    assert {r["cell"] for r in doc["rows"]} == {"gru"}
    run_dir = Path(doc["run_dir"])
    saved = json.loads((run_dir / "gradcheck.json").read_text())
    assert saved["checks"] == doc["checks"]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    assert (run_dir / "config.yaml").is_file()


def test_gradcheck_table_names_every_parameter() -> None:
    result = invoke(["gradcheck", "--cell", "lstm", "--level", "cell", "--no-save"])
    assert result.exit_code == 0, result.stderr
    for name in ("dxt", "da_prev", "dc_prev", "dWf", "dbf", "dWi", "dWc", "dWo", "dbo"):
        assert name in result.stdout
    assert "PASS" in result.stdout and "forward evaluations" in result.stdout


def test_coarse_eps_fails_with_exit_1() -> None:
    result = invoke(["gradcheck", "--no-save", "gradcheck.eps=1e-2"])
    assert result.exit_code == 1
    assert "gradcheck failed" in result.stderr
    assert "FAIL" in result.stdout


def test_a_planted_bug_fails_naming_the_parameter(monkeypatch: Any) -> None:
    real = notebook.rnn_cell_backward

    def buggy(da_next: Any, cache: Any) -> Any:
        grads = real(da_next, cache)
        grads["dWaa"] = -grads["dWaa"]  # a wrong sign
        return grads

    monkeypatch.setattr(notebook, "rnn_cell_backward", buggy)
    result = invoke(["gradcheck", "--no-save", "--cell", "rnn", "--level", "cell"])
    assert result.exit_code == 1
    assert "rnn cell dWaa" in result.stderr


def test_gradcheck_bad_input_exits_2() -> None:
    for args in (["dtype=float32"], ["gradcheck.eps=0"], ["gradcheck.tol=-1"], ["--cell", "foo"]):
        result = invoke(["gradcheck", "--no-save", *args])
        assert result.exit_code == 2, args
        assert result.stderr.count("\n") == 1 and "rnncli: error:" in result.stderr


def test_sweep_command_runs_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = ["sweep", "--task", "reber", "cell=rnn,lstm", "--seeds", "0-1", "--workers", "2",
            "--out", str(out), "--json", "train.steps=10", "train.eval_every=5"]  # fmt: skip
    first = invoke(args)
    assert first.exit_code == 0, first.stderr
    doc = json.loads(first.stdout)
    assert (doc["jobs"], doc["completed"], doc["failed"]) == (4, 4, 0)
    assert (out / "summary.csv").is_file() and (out / "sweep.json").is_file()
    again = json.loads(invoke(args).stdout)
    assert (again["skipped"], again["completed"]) == (4, 0)


def test_sweep_without_dask_installed_is_a_usage_error(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    result = invoke(["sweep", "--task", "reber", "--dask", "tcp://127.0.0.1:1", "train.steps=5"])
    assert result.exit_code == 2
    assert "pip install 'rnncli[dask]'" in result.stderr
