"""The training tasks as the trainer sees them: batches in, metrics out.

A `Problem` hands the trainer time-major batches ``X: (T, n_x, m)`` with targets for
its loss, evaluates a model on a fixed evaluation set drawn once from its own random
stream, and says when the task counts as solved.

    reber   next-symbol prediction on embedded Reber strings   metrics legal_acc, outer_acc
    adding  sum of the two marked values, read out at T        metric  test_mse
    text    next-character prediction, truncated BPTT          metric  val_loss

and the long-time-lag battery of Hochreiter & Schmidhuber (1997), each judged by the
paper's criterion (`rnncli.tasks` has the definitions):

    lag               2a: two sequences, the first symbol recalled p steps later
    lag-noise         2c: the class of the first symbol after q + k distractors
    multiplication    5: the product of two marked values among ~T
    temporal-order    6a: the order of two markers among ~100 distractors (4 classes)
    temporal-order-3  6b: three markers (8 classes)
    copy              ten symbols recalled after a delay of T blanks (not in the paper)
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
from rnncli.tasks import (
    adding,
    copy_task,
    lag,
    lag_noise,
    multiplication,
    reber,
    temporal_order,
    text,
)


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


@dataclass(frozen=True)
class BatteryTask:
    """How the trainer runs one task of the long-time-lag battery: its module (generate,
    generate_eval, metrics, solved, check_params), loss, headline metric (lower is
    better) and the task parameters it takes from ``train``."""

    module: Any
    loss: str
    metric: str
    params: tuple[str, ...]  # train.* keys, passed by name
    fixed: tuple[tuple[str, Any], ...] = ()  # parameters the task name fixes

    def sizes(self, kw: dict[str, Any]) -> tuple[int, int]:
        """(n_x, n_y) of the task with parameters `kw`."""
        m = self.module
        n_x = m.N_INPUTS(kw["p"]) if callable(m.N_INPUTS) else m.N_INPUTS
        if m is temporal_order:
            return n_x, m.N_OUTPUTS(kw["markers"])
        return n_x, m.N_OUTPUTS(kw["p"]) if callable(m.N_OUTPUTS) else m.N_OUTPUTS


BATTERY: dict[str, BatteryTask] = {
    "lag": BatteryTask(lag, "xent", "max_err", ("p",)),
    "lag-noise": BatteryTask(lag_noise, "xent_last", "max_err", ("q", "p")),
    "multiplication": BatteryTask(multiplication, "mse_last", "wrong_frac", ("T",)),
    "temporal-order": BatteryTask(temporal_order, "xent_last", "max_err", (), (("markers", 2),)),
    "temporal-order-3": BatteryTask(
        temporal_order, "xent_last", "max_err", (), (("markers", 3),)
    ),  # fmt: skip
    "copy": BatteryTask(copy_task, "xent", "xent_ratio", ("T",)),
}


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    out: np.ndarray = e / e.sum(axis=axis, keepdims=True)
    return out


class Battery(Problem):
    """A task of the 1997 battery: batches from its generator (the lengths of a batch
    may differ from the next one's), evaluation on a fixed test set grouped by length,
    scored by the paper's criterion."""

    def __init__(self, name: str, t: Any, eval_rng: np.random.Generator, dtype: Any):
        task = BATTERY[name]
        kw = {k: getattr(t, k) for k in task.params} | dict(task.fixed)
        task.module.check_params(**kw)
        n_x, n_y = task.sizes(kw)
        self.last_only = name == "lag" and t.targets == "last"
        metric = "max_err_last" if self.last_only else task.metric
        meta: dict[str, Any] = {"params": kw}
        if name == "lag":
            meta["targets"] = t.targets
        super().__init__(name, n_x, n_y, task.loss, metric, meta)
        self.task, self.kw, self.batch_size, self.dtype = task, kw, t.batch, dtype
        self.eval_groups = task.module.generate_eval(eval_rng, t.eval_size, **kw, dtype=dtype)

    def batch(self, rng: np.random.Generator) -> Batch:
        x, y = self.task.module.generate(rng, self.batch_size, **self.kw, dtype=self.dtype)
        if self.loss == "xent":  # targets (m, T) -> (T, m)
            y = np.ascontiguousarray(y.T)
            if self.last_only:
                y[:-1] = -1  # the lag alone: no target before the last step
        return Batch(engine.to_time_major(x), y)

    def evaluate(self, p: Packed) -> dict[str, float]:
        outs, ys = [], []
        for x, y in self.eval_groups:
            X = engine.to_time_major(x)
            if self.loss == "xent":  # every step: (T, n_y, m) -> (n_y, m, T)
                outs.append(_softmax(_logits(p, X), axis=1).transpose(1, 2, 0))
            elif self.loss == "xent_last":
                outs.append(_softmax(_last_logits(p, X), axis=0))
            else:
                outs.append(_last_logits(p, X))
            ys.append(y)
        y_all = np.concatenate(ys, axis=1 if ys[0].ndim == 2 and self.loss == "mse_last" else 0)
        return self.task.module.metrics(np.concatenate(outs, axis=1), y_all)

    def solved(self, metrics: dict[str, float]) -> bool:
        if self.name == "lag":
            return bool(lag.solved(metrics, last_only=self.last_only))
        return bool(self.task.module.solved(metrics))


def make_problem(cfg: Any, eval_rng: np.random.Generator) -> Problem:
    """The Problem for ``cfg.train`` (a validated config)."""
    t = cfg.train
    dtype = np.dtype(cfg.dtype)
    if t.targets != "all" and t.task != "lag":
        raise InputError(f"train.targets={t.targets} applies to train.task=lag only")
    if t.task in BATTERY:
        return Battery(t.task, t, eval_rng, dtype)
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
