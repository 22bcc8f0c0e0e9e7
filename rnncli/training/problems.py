"""The training tasks as the trainer sees them: batches in, metrics out.

A `Problem` hands the trainer time-major batches ``X: (T, n_x, m)`` with targets for
its loss, evaluates a model on a fixed evaluation set drawn once from its own random
stream, and says when the task counts as solved.

    reber   next-symbol prediction on embedded Reber strings   metrics legal_acc, outer_acc
    adding  sum of the two marked values, read out at T        metric  test_mse
    text    next-character prediction, truncated BPTT          metric  val_loss
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnncli import engine
from rnncli import loss as losses
from rnncli.engine import Packed
from rnncli.errors import InputError
from rnncli.hashing import file_sha256
from rnncli.tasks import adding, reber, text


@dataclass
class Batch:
    X: np.ndarray  # (T, n_x, m) time-major inputs, or (T, m) symbol indices (< 0: none)
    targets: np.ndarray  # (T, m) ints for xent, (n_y, m) reals for mse_last
    reset: bool = True  # start from a zero state (False: carry the previous state)


@dataclass
class Problem:
    name: str
    n_x: int
    n_y: int
    loss: str
    metric: str  # the headline metric, for tables and sweeps
    meta: dict[str, Any] = field(default_factory=dict)  # saved with the checkpoint

    def batch(self, rng: np.random.Generator) -> Batch:
        raise NotImplementedError

    def evaluate(self, p: Packed) -> dict[str, float]:
        raise NotImplementedError

    has_goal = True  # False: no "solved" criterion (text), train to train.steps

    def solved(self, metrics: dict[str, float]) -> bool:
        return False

    def score(self, metrics: dict[str, float]) -> float:
        """The validation score the best checkpoint and patience go by (lower is better)."""
        return float(metrics[self.metric])

    def reported_loss(self, value: float, steps: int) -> float:
        """The training loss as metrics.jsonl records it (per sequence by default)."""
        return value

    def stream_state(self) -> int:
        """Position of a data stream that is not driven by the rng (text), for resume."""
        return 0

    def set_stream_state(self, state: int) -> None:
        pass


def _logits(p: Packed, X: np.ndarray) -> np.ndarray:
    """Output pre-activations at every step, from a zero state: (T, n_y, m)."""
    return losses.logits(p.Wy, p.by, engine.hidden(p, engine.forward(p, X)))


def _last_logits(p: Packed, X: np.ndarray) -> np.ndarray:
    """Output pre-activations of the readout at the last step: (n_y, m)."""
    out: np.ndarray = p.Wy @ engine.last_hidden(p, engine.forward(p, X)) + p.by
    return out


class Reber(Problem):
    EVAL_GROUP = 64  # evaluation strings per forward pass, grouped by length

    def __init__(self, batch_size: int, eval_rng: np.random.Generator, eval_size: int, dtype: Any):
        super().__init__("reber", reber.N_SYMBOLS, reber.N_SYMBOLS, "xent", "outer_acc")
        self.batch_size = batch_size
        self.dtype = dtype
        self.eval_strings = reber.generate(eval_rng, eval_size)
        self.eval_mask = reber.legal_mask(self.eval_strings)
        # Sorted by length, so that a group is padded only to its own longest string.
        seqs = [[reber.INDEX[c] for c in s] for s in self.eval_strings]
        order = np.argsort([len(s) for s in seqs], kind="stable")
        self.eval_groups = [
            (rows, reber.indices([seqs[j] for j in rows])[0])
            for rows in np.array_split(order, -(-len(order) // self.EVAL_GROUP))
        ]

    def batch(self, rng: np.random.Generator) -> Batch:
        X, targets = reber.indices(reber.generate_indices(rng, self.batch_size))
        return Batch(X, targets)

    def evaluate(self, p: Packed) -> dict[str, float]:
        pred = np.zeros(self.eval_mask.shape[:2], dtype=np.int64)  # (m, T_max)
        for rows, X in self.eval_groups:
            pred[rows, : X.shape[0]] = _logits(p, X).argmax(axis=1).T
        return reber.evaluate(pred, self.eval_strings, self.eval_mask)

    def solved(self, metrics: dict[str, float]) -> bool:
        return metrics["legal_acc"] >= 0.999 and metrics["outer_acc"] == 1.0

    def score(self, metrics: dict[str, float]) -> float:
        return -(metrics["outer_acc"] + metrics["legal_acc"])  # both accuracies count


class Adding(Problem):
    def __init__(
        self, batch_size: int, T: int, eval_rng: np.random.Generator, eval_size: int, dtype: Any
    ):
        super().__init__("adding", 2, 1, "mse_last", "test_mse", {"T": T})
        self.batch_size, self.T, self.dtype = batch_size, T, dtype
        x, self.eval_y = adding.generate(eval_rng, eval_size, T, dtype=dtype)
        self.eval_X = engine.to_time_major(x)

    def batch(self, rng: np.random.Generator) -> Batch:
        x, y = adding.generate(rng, self.batch_size, self.T, dtype=self.dtype)
        return Batch(engine.to_time_major(x), y)

    def evaluate(self, p: Packed) -> dict[str, float]:
        y_hat = _last_logits(p, self.eval_X)  # linear read-out at the last step
        return {"test_mse": float(np.mean((y_hat - self.eval_y) ** 2))}

    def solved(self, metrics: dict[str, float]) -> bool:
        return metrics["test_mse"] < adding.SOLVED_MSE


class Text(Problem):
    """Character model on a file; the vocabulary is built from the whole file."""

    def __init__(self, path: str, batch_size: int, bptt: int, eval_size: int, dtype: Any):
        content = text.load_text(path)
        self.vocab = text.Vocab.from_text(content)
        super().__init__("text", self.vocab.size, self.vocab.size, "xent", "val_loss")
        train_text, val_text = text.split(content)
        V = self.vocab.size
        self.stream = text.TextStream(
            self.vocab.encode(train_text), V, batch_size, bptt, path, dtype
        )
        val_batch = max(1, min(16, (len(val_text) - 1) // bptt))
        try:
            self.val = text.TextStream(self.vocab.encode(val_text), V, val_batch, bptt, path, dtype)
        except InputError:
            raise InputError(
                f"{path}: the validation part (last 10%, {len(val_text)} characters) is shorter "
                f"than one training sequence (bptt {bptt} + 1); use a longer file or a smaller "
                "train.bptt"
            ) from None
        self.val_chunks = min(self.val.chunks_per_epoch, max(1, eval_size // val_batch))
        self.first_char = train_text[0]  # where samples start
        self.meta = {"vocab": self.vocab.to_list(), "path": str(path),
                     "sha256": file_sha256(path), "first_char": self.first_char}  # fmt: skip
        self.dtype = dtype

    def batch(self, rng: np.random.Generator) -> Batch:
        x, targets = self.stream.next_chunk()
        return Batch(engine.to_time_major(x), np.ascontiguousarray(targets.T), self.stream.wrapped)

    def evaluate(self, p: Packed) -> dict[str, float]:
        """Mean cross-entropy per character on the validation text, state carried."""
        self.val.set_state(0)
        state: tuple[np.ndarray, ...] | None = None
        total, count = 0.0, 0
        for _ in range(self.val_chunks):
            x, targets = self.val.next_chunk()
            X = engine.to_time_major(x)
            cache = engine.forward(p, X, state)
            H = engine.hidden(p, cache)
            value, _, _, _ = losses.xent(p.Wy, p.by, H, np.ascontiguousarray(targets.T))
            total += value * self.val.batch  # xent averages over the batch only
            count += targets.size
            state = engine.final_state(p, cache)
        return {"val_loss": total / count}

    has_goal = False

    def reported_loss(self, value: float, steps: int) -> float:
        """Per character, comparable with val_loss."""
        return value / steps

    def stream_state(self) -> int:
        return self.stream.state()

    def set_stream_state(self, state: int) -> None:
        self.stream.set_state(state)


def make_problem(cfg: Any, eval_rng: np.random.Generator) -> Problem:
    """The Problem for ``cfg.train`` (a validated config)."""
    t = cfg.train
    dtype = np.dtype(cfg.dtype)
    if t.task == "reber":
        return Reber(t.batch, eval_rng, t.eval_size, dtype)
    if t.task == "adding":
        return Adding(t.batch, t.T, eval_rng, t.eval_size, dtype)
    if t.data is None:
        raise InputError("train.task=text needs a text file: pass --data PATH or train.data=PATH")
    data = Path(t.data)
    if data.exists() and not data.is_file() and not data.is_dir():
        raise InputError(f"{t.data}: not a regular file (a device or a pipe?)")
    return Text(t.data, t.batch, t.bptt, t.eval_size, dtype)
