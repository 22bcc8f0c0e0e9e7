"""numba's cache of the compiled kernels lives in rnncli's cache folder (numba/), where
``rnncli cache`` lists it as "compiled kernels" and cleans it; a kernel removed is
compiled again on its next use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rnncli import cachedir
from rnncli.cli import app


def invoke(args: list[str]) -> Any:
    return CliRunner().invoke(app, args, env={"NO_COLOR": "1", "COLUMNS": "120"})


def _python(code: str, cache: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    clean.update(RNNCLI_CACHE=str(cache), **env)
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


SHOW = "import os, rnncli.engine.compiled; print(os.environ['NUMBA_CACHE_DIR'])"


def test_numba_caches_under_rnncli_cache_unless_the_user_says(tmp_path: Path) -> None:
    assert _python(SHOW, tmp_path) == str(tmp_path / "numba")
    mine = str(tmp_path / "mine")
    assert _python(SHOW, tmp_path, NUMBA_CACHE_DIR=mine) == mine


def _fake_kernel(folder: Path, name: str, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"kernels.{name}-186.py311.nbi", folder / f"kernels.{name}-186.py311.1.nbc"]
    for f in files:
        f.write_bytes(b"x" * size)
    return files


def test_cache_lists_and_cleans_the_compiled_kernels(text_cache: Path) -> None:
    where = cachedir.numba_dir() / "compiled_0a1b2c3d"
    lstm = _fake_kernel(where, "lstm_loss_and_grads", 3000)
    gru = _fake_kernel(where, "gru_loss_and_grads", 1000)
    foreign = where / "notes.txt"
    foreign.write_text("mine")
    doc = json.loads(invoke(["cache", "--json"]).stdout)
    rows = {r["source"] or r["name"]: r for r in doc["entries"]}
    assert set(rows) == {"kernels.lstm_loss_and_grads", "kernels.gru_loss_and_grads",
                         "compiled_0a1b2c3d/notes.txt"}  # fmt: skip
    assert all(r["group"] == cachedir.KERNELS for r in rows.values())
    assert rows["kernels.lstm_loss_and_grads"]["bytes"] == 6000
    assert not rows["compiled_0a1b2c3d/notes.txt"]["removable"]
    shown = invoke(["cache"]).stdout
    assert "compiled kernels:" in shown and "lstm_loss_and_grads" in shown
    assert "text cache: nothing in" in shown

    result = invoke(["cache", "--clean", "--yes"])
    assert result.exit_code == 0, result.output
    assert "removed 2 entries" in result.stderr and "1 left alone" in result.stderr
    assert not any(f.exists() for f in lstm + gru) and foreign.exists()


def test_a_removed_kernel_is_compiled_again(tmp_path: Path) -> None:
    pytest.importorskip("numba", reason="the [fast] extra (numba) is not installed")
    warm = "from rnncli.engine import compiled; compiled.warm('rnn', 'float64')"
    _python(warm, tmp_path)
    rows = cachedir.kernel_listing(tmp_path)
    assert rows and all(r["removable"] for r in rows)
    assert any("rnn_loss_and_grads" in (r["source"] or "") for r in rows)
    for r in rows:
        cachedir.remove_kernel(r)
    assert cachedir.kernel_listing(tmp_path) == []
    _python(warm, tmp_path)  # rebuilt on the next use
    again = cachedir.kernel_listing(tmp_path)
    assert any("rnn_loss_and_grads" in (r["source"] or "") for r in again)
