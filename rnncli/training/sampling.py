"""Sampling from a trained model: Reber strings (with the grammar's verdict) or text.

One engine step at a time (``T = 1``), carrying the hidden state; the next symbol is
drawn from ``softmax(logits / temperature)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnncli import engine
from rnncli import loss as losses
from rnncli.activations import softmax
from rnncli.engine import Packed
from rnncli.errors import InputError
from rnncli.tasks import reber
from rnncli.tasks.text import Vocab
from rnncli.weights import packed_from_run


class Stepper:
    """Feeds one-hot symbols through the model one step at a time, for m streams."""

    def __init__(self, p: Packed, m: int) -> None:
        self.p = p
        self.state = engine.initial_state(p, m)
        self.eye = np.eye(p.n_x, dtype=p.dtype)

    def __call__(self, symbols: np.ndarray) -> np.ndarray:
        """Feed symbols (m,) ints; return the next-symbol logits (n_y, m)."""
        X = self.eye[symbols].T[None]  # (1, n_x, m)
        cache = engine.forward(self.p, X, self.state)
        self.state = engine.final_state(self.p, cache)
        return losses.logits(self.p.Wy, self.p.by, engine.hidden(self.p, cache))[0]


def draw(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """One symbol per column of logits (n_y, m)."""
    probs = softmax(logits.astype(np.float64) / temperature)
    u = rng.random(probs.shape[1])
    return np.minimum((np.cumsum(probs, axis=0) < u).sum(axis=0), probs.shape[0] - 1)


def sample_reber(
    p: Packed, n: int, temperature: float, rng: np.random.Generator, max_len: int = 100
) -> dict[str, Any]:
    """n strings started from B, each until its second E (the embedded string's closing
    E; the first one ends the inner string) or max_len; with the grammar's verdict."""
    step = Stepper(p, n)
    symbols = np.full(n, reber.INDEX["B"])
    out = [["B"] for _ in range(n)]
    done = np.zeros(n, dtype=bool)
    ends = np.zeros(n, dtype=int)
    for _ in range(max_len - 1):
        symbols = draw(step(symbols), temperature, rng)
        for i in np.flatnonzero(~done):
            out[i].append(reber.SYMBOLS[symbols[i]])
        ends += (symbols == reber.INDEX["E"]) & ~done
        done |= ends >= 2
        if done.all():
            break
    strings = ["".join(s) for s in out]
    accepted = [reber.accepts(s) for s in strings]
    return {"samples": strings, "accepted": accepted, "accept_rate": float(np.mean(accepted))}


def sample_text(
    p: Packed, vocab: Vocab, n: int, temperature: float, prime: str, rng: np.random.Generator
) -> dict[str, Any]:
    """`prime` followed by n sampled characters. A vocabulary with an unknown symbol
    (``train.vocab_min_count``) reads characters it lacks as that symbol."""
    if not prime:
        raise InputError("--prime must not be empty for a text model")
    unknown = sorted(set(prime) - set(vocab.to_list()))
    if unknown and vocab.unknown is None:
        raise InputError(f"--prime has characters the model never saw: {''.join(unknown)!r}")
    step = Stepper(p, 1)
    codes = vocab.encode(prime)
    for code in codes[:-1]:
        step(np.array([code]))
    symbol = np.array([codes[-1]])
    generated = []
    for _ in range(n):
        symbol = draw(step(symbol), temperature, rng)
        generated.append(int(symbol[0]))
    return {"prime": prime, "text": prime + vocab.decode(generated)}


def sample_run(
    run_dir: Path,
    n: int | None = None,
    temperature: float = 1.0,
    prime: str | None = None,
    seed: int = 0,
    best: bool = False,
) -> dict[str, Any]:
    """Samples from the reber or text model trained in `run_dir` (its last parameters, or
    best.npz), as ``rnncli sample --json`` prints them: ``samples``, ``accepted`` and
    ``accept_rate`` for reber, ``text`` for text; `n` strings (default 10) or characters
    (default 400)."""
    p, _, task = packed_from_run(run_dir, "best" if best else "last")
    if task["task"] not in ("reber", "text"):
        raise InputError(
            f"{run_dir}: sampling needs a reber or text model, this one is {task['task']}"
        )
    if prime is not None and task["task"] != "text":
        raise InputError(f"--prime is for text models; {run_dir} is a {task['task']} model")
    rng = np.random.default_rng(seed)
    if task["task"] == "reber":
        return sample_reber(p, n or 10, temperature, rng)
    vocab = Vocab.from_list(task["vocab"], task.get("unknown"))
    start = prime or task.get("first_char") or vocab.to_list()[0]
    return sample_text(p, vocab, n or 400, temperature, start, rng)
