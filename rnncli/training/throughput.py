"""Training throughput for `rnncli bench`: sequences per second on reber, characters
per second on text, through the real training loop (evaluation kept out of the way)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.config import load_config
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


def measure(steps: int = 300, cell: str = "lstm") -> dict[str, Any]:
    """Training throughput with the task defaults (reber: batch 4, hidden 16; text:
    batch 16, bptt 50, hidden 64), `steps` updates each; the median of 5 runs (reber)
    and 3 runs (text)."""
    # reber: never "solved" mid-measurement, one evaluation at the end
    common = [f"train.steps={steps}", f"train.eval_every={steps}", "train.eval_size=16"]
    out: dict[str, Any] = {
        "cell": cell,
        "steps": steps,
        "reber_sequences_per_s": _median_rate(common, {"cell": cell, "train.task": "reber"}, 5),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.txt"
        path.write_text(_corpus(200_000), encoding="utf-8")
        flags = {"cell": cell, "train.task": "text", "train.data": str(path)}
        rate = _median_rate([*common, "train.eval_chars=1000"], flags, 3)
        bptt = load_config(None, flags, training=True).train.bptt
        out["text_chars_per_s"] = rate * bptt
    return out
