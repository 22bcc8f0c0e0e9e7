"""Stacked and bidirectional models in the whole machinery: gradcheck (that catches a
planted bug in the stack), training with dropout and exact resume, the refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rnncli import engine
from rnncli.cli import app
from rnncli.config import load_config
from rnncli.engine import stack
from rnncli.gradcheck import run_gradcheck


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"NO_COLOR": "1"}, catch_exceptions=False)


STACKED = ["model.layers=2", "model.bidirectional=true", "model.dropout=0.25"]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradcheck_covers_stacked_bidirectional_dropout(cell: str) -> None:
    report = run_gradcheck(load_config(None, {"cell": cell}, STACKED), levels=["model"])
    assert report.ok, [(r.check, r.name, r.rel_error) for r in report.failures()]
    names = {r.name for r in report.rows}
    assert {"dx", "dWy"} <= names and any(n.endswith("_l1_reverse") for n in names)


def test_gradcheck_catches_a_bug_in_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reverse direction's gradient on its input dropped: dx and the first layer's
    gradients must fail."""
    real = stack.backward

    def buggy(p: Any, cache: Any, dH: Any, grads: Any, need_dx: bool, bb: Any) -> Any:
        def drop_reverse(block: Any, c: Any, dA: Any, g: Any, nd: bool) -> Any:
            dX, da0 = bb(block, c, dA, g, nd)
            if block is p.blocks[-1] and dX is not None:
                dX = np.zeros_like(dX)
            return dX, da0

        return real(p, cache, dH, grads, need_dx, drop_reverse)

    monkeypatch.setattr(stack, "backward", buggy)
    report = run_gradcheck(load_config(None, {"cell": "lstm"}, STACKED[:2]), levels=["model"])
    failed = {r.name for r in report.failures()}
    assert "dx" in failed and "dWf_l0" in failed
    assert "dWy" not in failed and "dWf_l1_reverse" not in failed


ADDING = ["--task", "adding", "train.T=10", "train.hidden=6", "train.eval_every=10",
          "train.checkpoint_every=10", "train.eval_size=16"]  # fmt: skip


def test_stacked_training_resumes_bit_for_bit(tmp_path: Path) -> None:
    """Two layers, both directions, dropout: a run extended from 20 to 40 steps equals a
    run of 40 (the dropout stream is checkpointed too)."""
    args = ["train", *ADDING, *STACKED, "--json", "-q", "train.stop_on_solve=false"]
    a = invoke(*args, "train.steps=20", "--out", str(tmp_path / "a"))
    assert a.exit_code == 0, a.stderr
    run_a = Path(json.loads(a.stdout)["run_dir"])
    assert invoke("train", "--resume", str(run_a), "train.steps=40", "-q").exit_code == 0
    b = invoke(*args, "train.steps=40", "--out", str(tmp_path / "b"))
    run_b = Path(json.loads(b.stdout)["run_dir"])
    with np.load(run_a / "checkpoint.npz") as za, np.load(run_b / "checkpoint.npz") as zb:
        assert np.array_equal(za["theta"], zb["theta"])
        assert str(za["meta"]) == str(zb["meta"])
    cfg = load_config(run_a / "config.yaml", training=True)
    assert (cfg.model.layers, cfg.model.bidirectional) == (2, True)


@pytest.mark.parametrize("task", ["reber", "text"])
def test_bidirectional_is_refused_for_next_symbol_tasks(tmp_path: Path, task: str) -> None:
    extra = []
    if task == "text":
        corpus = tmp_path / "c.txt"
        corpus.write_text("abc " * 500)
        extra = ["--data", str(corpus)]
    result = invoke("train", "--task", task, *extra, "model.bidirectional=true", "--out",
                    str(tmp_path / "o"))  # fmt: skip
    assert result.exit_code == 2
    assert "see the next symbol" in result.stderr and "\n" not in result.stderr.strip()
    assert not (tmp_path / "o").exists()


def test_stacked_text_models_carry_every_layers_state(tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 30)
    result = invoke("train", "--data", str(corpus), "model.layers=2", "train.hidden=8",
                    "train.bptt=8", "train.steps=30", "train.eval_every=10", "--out",
                    str(tmp_path / "o"), "--json", "-q")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    run = Path(json.loads(result.stdout)["run_dir"])
    with np.load(run / "checkpoint.npz") as z:
        assert {f"carry_{i}" for i in range(4)} <= set(z.files)  # (a, c) per layer
    sample = invoke("sample", str(run), "-n", "40")
    assert sample.exit_code == 0 and len(sample.stdout) > 40


def test_dropout_masks_are_inverted_and_off_without_layers() -> None:
    p = engine.Packed.zeros("lstm", 3, 4, 2, np.float64, layers=3)
    masks = stack.dropout_masks(p, 0.5, np.random.default_rng(0), 50, 20)
    assert masks is not None and len(masks) == 2
    assert set(np.unique(masks[0])) == {0.0, 2.0}
    assert abs(masks[0].mean() - 1.0) < 0.1
    one = engine.Packed.zeros("lstm", 3, 4, 2, np.float64)
    assert stack.dropout_masks(one, 0.5, np.random.default_rng(0), 5, 2) is None
