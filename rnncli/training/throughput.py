"""Training throughput for `rnncli bench`: sequences per second on reber and the adding
problem, characters per second on text, through the real training loop (evaluation kept
out of the way), on the NumPy engine and the compiled backend."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.config import load_config
from rnncli.tasks import registry
from rnncli.training.loop import train


def _timed(overrides: list[str], flags: dict[str, Any]) -> tuple[float, int]:
    """Seconds and sequences for a run whose evaluation happens once, at the end."""
    cfg = load_config(None, flags, overrides, training=True)
    t0 = time.perf_counter()
    result = train(cfg)
    return time.perf_counter() - t0, result.state.sequences


def _corpus(n: int, seed: int = 0) -> str:
    """n characters of pseudo-words, so the vocabulary is ~30 like English text."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlucmfwypvbgkjqxz"))
    words = ["".join(rng.choice(letters, size=rng.integers(2, 8))) for _ in range(400)]
    text = " ".join(rng.choice(words, size=n // 4))
    return (text + ".\n") * 2


def _median_rate(overrides: list[str], flags: dict[str, Any], repeats: int) -> float:
    """Median over `repeats` runs of sequences per second (one run is a fraction of a
    second to a second or two: a single one is at the mercy of a noisy machine)."""
    rates = []
    for _ in range(repeats):
        seconds, sequences = _timed(overrides, flags)
        rates.append(sequences / seconds)
    return float(np.median(rates))


#: (task, unit, updates as a share of `steps`, runs per backend)
TASKS = (("reber", "sequences/s", 1.0, 5), ("adding", "sequences/s", 0.25, 3),
         ("text", "characters/s", 1.0, 3))  # fmt: skip


def measure(steps: int = 300, cell: str = "lstm") -> dict[str, Any]:
    """Training throughput with each task's defaults (reber: batch 4, hidden 16; adding:
    T = 100, batch 32, hidden 32, a quarter of `steps` updates; text: batch 16, bptt
    50, hidden 64), on each backend the machine has: the median of 5 runs (reber) or 3.
    Evaluation happens once, at the end, on a small set. Rows: task, unit, the rate per
    backend (None where it is not installed) and the backend ``auto`` picks."""
    from rnncli import engine
    from rnncli.engine import compiled

    backends = ["numpy", *(["compiled"] if compiled.available() else [])]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.txt"
        path.write_text(_corpus(200_000), encoding="utf-8")
        for task, unit, share, repeats in TASKS:
            n = max(1, int(steps * share))
            common = [f"train.steps={n}", f"train.eval_every={n}", "train.eval_size=16",
                      "train.stop_on_solve=false"]  # fmt: skip
            spec = registry.get(task)
            if spec.evaluation == "characters":
                common.append("train.eval_chars=1000")  # one small evaluation, at the end
            flags: dict[str, Any] = {"cell": cell, "train.task": task}
            if spec.data:
                flags["train.data"] = str(path)
            t = load_config(None, flags, common, training=True).train
            per = t.bptt if unit == "characters/s" else 1
            row: dict[str, Any] = {"task": task, "unit": unit, "numpy": None, "compiled": None}
            for backend in backends:
                rate = _median_rate([*common, f"engine.backend={backend}"], flags, repeats)
                row[backend] = rate * per
            row["auto"] = engine.choose_backend("auto", cell, False, t.hidden, t.batch)
            rows.append(row)
    return {"cell": cell, "steps": steps, "rows": rows}
