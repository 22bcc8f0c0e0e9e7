"""rnncli check: correct code never fails, every function gets its verdict, and the output
(terminal, -q, Gradescope's scoring) is dependable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from rnncli.check import run_check
from rnncli.check.report import CheckReport, gradescope, render
from rnncli.cli import app
from rnncli.config import load_config

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "check"
OK = (FIXTURES / "learner_ok.py").read_text()
OK = OK[: OK.index("# the learner's own quick test")]
RNN = "rnn_cell_forward,rnn_forward,rnn_cell_backward,rnn_backward"


def invoke(args: list[str]) -> Any:
    return CliRunner().invoke(app, args, env={"NO_COLOR": "1", "COLUMNS": "80"})


def verdicts(report: CheckReport) -> dict[str, str]:
    return {f.name: f.verdict for f in report.functions}


def test_module_constants_built_from_imports_run(tmp_path: Path) -> None:
    constants = "DTYPE = np.float64\nrelu = lambda z: np.maximum(z, 0)\nEPS = np.finfo(DTYPE).eps\n"
    text = OK.replace("import numpy as np\n", "import numpy as np\n" + constants, 1)
    text = text.replace("a = np.zeros((n_a, m, T_x))\n", "a = np.zeros((n_a, m, T_x), DTYPE)\n")
    path = tmp_path / "hw.py"
    path.write_text(text + "x = np.random.randn(3, 10, 4)\nprint(rnn_forward)\n")
    report = run_check(path, only=RNN)
    assert set(verdicts(report).values()) == {"pass"} and report.notes == []


def test_shell_lines_and_removed_numpy_aliases_in_a_notebook(tmp_path: Path) -> None:
    code = OK.replace("    y_pred = np.zeros((n_y, m, T_x))\n",
                      "    y_pred = np.zeros((n_y, m, T_x), dtype=np.float)\n")  # fmt: skip
    cells = [
        {"cell_type": "code", "source": "cd '/content/drive/MyDrive'\n!ls\n%cd /tmp\n"},
        {"cell_type": "code", "source": code},
    ]
    path = tmp_path / "hw.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": cells}))
    report = run_check(path, only=RNN)
    assert set(verdicts(report).values()) == {"pass"}
    assert report.notes[0] == "cell 1: skipped shell or magic lines 1, 2, 3"
    assert report.notes[1].startswith("np.float was removed from NumPy")


def test_an_unfinished_function_is_not_implemented_and_fails_only_when_required(
    tmp_path: Path,
) -> None:
    text = OK.replace(
        "def rnn_backward(da, caches):\n",
        "def rnn_backward(da, caches):\n    ### START CODE HERE ### (≈ 1 line)\n"
        "    dx = None\n    ### END CODE HERE ###\n    return dx\n\n\ndef _old(da, caches):\n",
    ).replace("def lstm_backward(da, caches):\n", "def lstm_backward(da, caches):\n    pass\n\n\n"
              "def _old2(da, caches):\n")  # fmt: skip
    path = tmp_path / "hw.py"
    path.write_text(text)
    report = run_check(path, only="notebook")
    found = {f.name: f for f in report.functions}
    assert found["rnn_backward"].verdict == "not-implemented"
    assert found["rnn_backward"].message.startswith("`dx = None` is still the placeholder")
    assert found["lstm_backward"].message.startswith("its body is only pass")
    assert report.ok and "2 not implemented" in report.summary()
    required = run_check(path, only="rnn_backward", require="rnn_backward")
    assert not required.ok
    assert gradescope(required)["tests"][0]["score"] == 0.0


def test_a_right_backward_is_not_failed_by_a_forward_of_the_wrong_dtype(tmp_path: Path) -> None:
    text = OK.replace("    cache = (a_next, a_prev, xt, parameters)\n",
                      "    a_next = a_next.astype(np.float32)\n"
                      "    cache = (a_next, a_prev, xt, parameters)\n")  # fmt: skip
    path = tmp_path / "hw.py"
    path.write_text(text)
    report = run_check(path, only="rnn_cell_forward,rnn_cell_backward")
    found = {f.name: f for f in report.functions}
    assert found["rnn_cell_forward"].verdict == "fail"
    backward = found["rnn_cell_backward"]
    assert backward.verdict == "pass", [(r.name, r.status, r.note) for r in backward.checks]
    fd = next(r for r in backward.checks if r.name == "vs your forward")
    assert "of rnncli's rnn_cell_forward" in fd.note


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> CheckReport:
    """rnn_cell_backward with a missing transpose; the other seven right; no GRU."""
    path = tmp_path_factory.mktemp("mixed") / "hw.py"
    text = OK[: OK.index("def gru_cell_forward")]
    path.write_text(text.replace("da_prev = Waa.T @ dz", "da_prev = Waa @ dz"))
    return run_check(path)


def test_the_gru_is_not_reported_missing_for_the_notebooks_eight(mixed: CheckReport) -> None:
    assert [f.name for f in mixed.functions][-1] == "lstm_backward"
    assert "missing" not in mixed.summary()
    path = Path(mixed.path)
    report = run_check(path, only="rnn_cell_forward", require="gru")
    assert verdicts(report)["gru_forward"] == "missing" and not report.ok


def test_gradescope_scores_all_or_nothing_by_default(mixed: CheckReport) -> None:
    tests = {t["name"]: t for t in gradescope(mixed)["tests"]}
    assert tests["rnn_cell_backward"]["score"] == 0.0
    assert all(t["score"] == t["max_score"] == 1.0 for n, t in tests.items()
               if n != "rnn_cell_backward")  # fmt: skip
    assert gradescope(mixed)["score"] == 7.0


def test_gradescope_share_and_weights_come_from_the_config(mixed: CheckReport) -> None:
    cfg = load_config(None, {}, ["check.scoring=share", "check.weights={rnn_cell_backward: 2}"])
    assert cfg.check.scoring == "share" and cfg.check.weights == {"rnn_cell_backward": 2.0}
    mixed.settings.update(scoring="share", weights=dict(cfg.check.weights))
    try:
        (t,) = [t for t in gradescope(mixed)["tests"] if t["name"] == "rnn_cell_backward"]
        f = next(f for f in mixed.functions if f.name == "rnn_cell_backward")
        assert t["max_score"] == 2.0 and t["score"] == pytest.approx(2 * f.score, abs=1e-4)
    finally:
        mixed.settings.update(scoring="all-or-nothing", weights={})
    with pytest.raises(Exception, match="unknown function"):
        load_config(None, {}, ["check.weights={rnn_fwd: 2}"])


def test_the_terminal_shows_failing_functions_first_and_a_line_per_pass(mixed: CheckReport) -> None:
    console = Console(width=80, record=True, color_system=None)
    render(mixed, console)
    lines = console.export_text().splitlines()
    assert lines[0].startswith("rnn_cell_backward · FAIL")
    assert any(ln.startswith("  missing-transpose da_prev looks like it misses") for ln in lines)
    passing = [ln for ln in lines if ": PASS, " in ln]
    assert len(passing) == 7 and len(lines) < 40
    quiet = Console(width=80, record=True, color_system=None)
    render(mixed, quiet, quiet=True)
    out = quiet.export_text().splitlines()
    assert len(out) == 8 + 1  # a line per function, and the summary
    assert out[0].startswith("rnn_cell_backward: FAIL,") and out[0].endswith("[missing-transpose]")


def test_json_and_gradescope_print_one_document_whatever_happens(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("import numpy as np\n")
    for fmt in ("json", "gradescope"):
        result = invoke(["check", str(tmp_path / "empty.py"), "--format", fmt, "--no-save"])
        assert result.exit_code == 2
        json.loads(result.stdout)


def test_a_function_that_does_not_parse_gets_that_as_its_verdict(tmp_path: Path) -> None:
    """And the rest of the file is checked: a scratch cell that does not parse is skipped."""
    path = tmp_path / "syntax.py"
    path.write_text("import numpy as np\n\ndef rnn_forward(x, a0, parameters)\n    pass\n")
    result = invoke(["check", str(path), "--no-save"])
    assert result.exit_code == 1
    assert "rnn_forward: ERROR; does not parse (line 3: expected ':')" in result.stdout
    nb = json.loads((FIXTURES / "notebook_fixed.ipynb").read_text())
    nb["cells"].append({"cell_type": "code", "source": "def scratch(:\n", "metadata": {}})
    path = tmp_path / "hw.ipynb"
    path.write_text(json.dumps(nb))
    report = run_check(path)
    assert report.ok and sum(f.verdict == "pass" for f in report.functions) == 7
    cell = len(nb["cells"])
    assert report.notes[-1] == f"cell {cell}: skipped, it does not parse (cell {cell}, line 1: " \
        "invalid syntax)"  # fmt: skip
