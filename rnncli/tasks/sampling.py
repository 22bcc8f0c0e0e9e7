"""Sampling from a trained model, one engine step at a time (``T = 1``), carrying the
hidden state; the next symbol is drawn from ``softmax(logits / temperature)``. A
generative task's sampler (`registry.Sampler`) is built on these."""

from __future__ import annotations

import numpy as np

from rnncli import engine
from rnncli import loss as losses
from rnncli.activations import softmax
from rnncli.engine import Packed


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
