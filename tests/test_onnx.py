"""``rnncli export --format onnx``: ONNX's own RNN/LSTM/GRU operators run in ONNX Runtime
give rnncli's forward, for every cell, stacked and bidirectional, with the output layer
as the task reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rnncli import api, weights
from rnncli.cli import app
from rnncli.errors import InputError
from rnncli.tasks.problem import last_logits, logits, softmax

ort = pytest.importorskip("onnxruntime", reason="the [onnx] extra (onnxruntime) is not installed")
pytest.importorskip("onnx", reason="the [onnx] extra (onnx) is not installed")

CELLS = ["rnn", "lstm", "gru", "torch-gru"]
SHAPES = {"1 layer": (1, False), "2 layers": (2, False), "bidirectional": (1, True)}
#: copy: softmax at every step (xent), adding: a regression read at the last step
#: (mse_last), temporal-order: a softmax at the last step (xent_last)
TASKS = {
    "copy": {"T": 6},
    "adding": {"T": 5},
    "temporal-order": {},
}


def _train(root: Path, cell: str, task: str, layers: int, bidi: bool, dtype: str) -> Path:
    cfg = {
        "cell": cell, "dtype": dtype, "seed": 3,
        "model": {"layers": layers, "bidirectional": bidi},
        "train": {"task": task, "steps": 3, "hidden": 3, "batch": 2, "eval_every": 3,
                  "eval_size": 4, **TASKS[task]},
    }  # fmt: skip
    result = api.train(cfg, out=root)
    assert result.status == "completed", result.message
    assert result.run_dir is not None
    return result.run_dir


def _cases() -> list[Any]:
    out = []
    tasks = list(TASKS)
    for j, cell in enumerate(CELLS):
        for i, shape in enumerate(SHAPES):
            task = tasks[(i + j) % len(tasks)]  # every cell and every shape meets every task
            out.append(pytest.param(cell, shape, task, id=f"{cell}-{shape}-{task}"))
    return out


def _session(path: Path) -> Any:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _reference(p: Any, X: np.ndarray, task: str) -> dict[str, np.ndarray]:
    """rnncli's forward, laid out as the graph's outputs: (T, batch, n_y) or (batch, n_y)."""
    if task == "copy":
        z = logits(p, X)  # (T, n_y, m)
        return {"logits": z.transpose(0, 2, 1), "probs": softmax(z, 1).transpose(0, 2, 1)}
    z = last_logits(p, X)  # (n_y, m)
    out = {"logits": z.T}
    if task == "temporal-order":
        out["probs"] = softmax(z, 0).T
    return out


@pytest.mark.parametrize(("cell", "shape", "task"), _cases())
def test_onnx_runtime_computes_rnncli_forward(
    tmp_path: Path, cell: str, shape: str, task: str
) -> None:
    layers, bidi = SHAPES[shape]
    run = _train(tmp_path, cell, task, layers, bidi, "float32")
    done = weights.export(run, "onnx", None, None)
    assert done.path == run / "model.onnx" and done.card == run / "model_card.json"
    assert done.notes == ()  # a float32 run needs no cast
    p, _, _ = weights.packed_from_run(run)
    rng = np.random.default_rng(0)
    T, m = 7, 3
    X = rng.standard_normal((T, p.n_x, m)).astype(np.float32)
    sess = _session(done.path)
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(None, {"x": np.ascontiguousarray(X.transpose(0, 2, 1))})
    got = dict(zip(names, outs, strict=True))
    want = _reference(p, X, task)
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, atol=1e-5, rtol=0, err_msg=name)


def test_a_float64_run_is_cast_to_float32_and_says_so(tmp_path: Path) -> None:
    run = _train(tmp_path, "lstm", "adding", 1, False, "float64")
    result = CliRunner().invoke(app, ["export", str(run), "--format", "onnx"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "float32" in line]
    assert len(lines) == 1 and "float64" in lines[0]
    p, _, _ = weights.packed_from_run(run)
    X = np.random.default_rng(1).standard_normal((5, 2, 4))
    got = _session(run / "model.onnx").run(None, {"x": X.transpose(0, 2, 1).astype(np.float32)})
    np.testing.assert_allclose(got[0], last_logits(p, X).T, atol=1e-5)


def test_the_json_document_names_the_card_and_the_notes(tmp_path: Path) -> None:
    run = _train(tmp_path, "gru", "adding", 1, False, "float64")
    out = tmp_path / "net.onnx"
    result = CliRunner().invoke(app, ["export", str(run), "--format", "onnx", "--out", str(out),
                                      "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "rnncli.export/2" and doc["names"] == "onnx"
    assert doc["card"] == str(tmp_path / "net_card.json") and len(doc["notes"]) == 1
    card = json.loads((tmp_path / "net_card.json").read_text())
    assert card["file"] == "net.onnx" and card["onnx"]["operator"] == "GRU"
    assert card["metrics"]["final"] and card["config"]["cell"] == "gru"


def test_every_export_writes_a_model_card(tmp_path: Path) -> None:
    run = _train(tmp_path, "rnn", "adding", 1, False, "float64")
    done = weights.export(run, "npz", "notebook", tmp_path / "w.npz")
    card = json.loads(done.card.read_text())
    assert done.card == tmp_path / "w_card.json"
    assert card["file_format"] == "npz" and card["names"] == "notebook"
    assert card["task"]["task"] == "adding" and card["metrics"]["metric"] == "test_mse"
    assert card["model"] == {"cell": "rnn", "n_x": 2, "hidden": 3, "n_y": 1, "layers": 1,
                             "bidirectional": False, "dtype": "float64"}  # fmt: skip


def test_a_text_model_card_holds_its_vocabulary(tmp_path: Path) -> None:
    data = tmp_path / "t.txt"
    data.write_text("abcab cab " * 40)
    cfg = {"cell": "gru", "train": {"task": "text", "data": str(data), "steps": 2, "hidden": 4,
                                    "bptt": 8, "batch": 2, "eval_every": 2}}  # fmt: skip
    result = api.train(cfg, out=tmp_path / "runs")
    assert result.run_dir is not None, result.message
    done = weights.export(result.run_dir, "onnx", None, None)
    card = json.loads(done.card.read_text())
    assert "".join(card["vocabulary"]["vocab"]) == " abc"
    assert "one-hot" in card["onnx"]["inputs"] and "vocab" not in card["task"]
    sess = _session(done.path)
    assert [o.name for o in sess.get_outputs()] == ["logits", "probs"]


def test_a_users_cell_and_names_are_refused_with_one_line(tmp_path: Path) -> None:
    run = _train(tmp_path, "rnn", "adding", 1, False, "float64")
    with pytest.raises(InputError, match="--names") as err:
        weights.export(run, "onnx", "torch", None)
    assert "\n" not in str(err.value)
    from rnncli import onnx_export
    from rnncli.cells import get

    spec = get("rnn")
    assert onnx_export.onnx_of(spec).op == "RNN"
    user = type("Spec", (), {"onnx": None, "label": "Mine"})()
    with pytest.raises(InputError, match="no ONNX operator"):
        onnx_export.onnx_of(user)  # type: ignore[arg-type]
