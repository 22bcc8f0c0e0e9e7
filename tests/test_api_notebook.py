"""docs/api.ipynb runs top to bottom (nbclient, a fresh kernel), and the Python API's
objects show as one line and as HTML."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

import rnncli

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "api.ipynb"


def test_the_api_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed ([dev] extra)")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed ([dev] extra)")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed ([dev] extra)")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    root = str(Path(rnncli.__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert len(html) >= 5  # train results, gradcheck, runs, compare show as tables


def test_reprs_are_one_line_and_the_calls_return_the_commands_objects(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    cfg = {"train": {"task": "adding", "steps": 4, "hidden": 3, "eval_every": 2, "T": 5}}
    first, second = rnncli.train(cfg, out=out), rnncli.train(cfg, ["seed=2"], out=out)
    run = rnncli.load_run(first.run_dir, out=out)
    for obj in (first, run):
        text = repr(obj)
        assert "\n" not in text and len(text) < 200, text
        assert "train adding lstm" in text and "completed" in text and "test_mse=" in text
        assert str(first.run_dir) in text and "<table>" in obj._repr_html_()
    table = rnncli.runs(out, task="adding")
    assert sorted(r["path"] for r in table) == sorted(str(p.relative_to(out)) for p in
                                                      (second.run_dir, first.run_dir))  # fmt: skip
    assert table.to_json()["runs"] == list(table) and "2 runs" in repr(table)
    both = rnncli.compare(first.run_dir, second.run_dir, out=out)
    assert both.labels == ["A", "B"] and both.metric == "test_mse" and "seed" in repr(both)
    assert both.figure is None  # nothing written unless save=True
    check = rnncli.gradcheck(cells="rnn", levels="cell")
    assert check.result.ok and repr(check).startswith("GradcheckJob(ok: ")
    assert "<table>" in check._repr_html_() and check.to_json()["failed"] == 0


def test_train_notices_go_to_the_rnncli_logger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from rnncli import plot

    monkeypatch.setattr(plot, "have_matplotlib", lambda: False)
    cfg = {"train": {"task": "adding", "steps": 2, "hidden": 3, "eval_every": 2, "T": 5}}
    with caplog.at_level(logging.INFO, logger="rnncli"):
        rnncli.train(cfg, out=tmp_path)
    said = [r.getMessage() for r in caplog.records if r.name == "rnncli"]
    assert any("matplotlib is not installed" in m for m in said)
