"""The training tasks as the trainer sees them: batches in, metrics out.

A `Problem` hands the trainer time-major batches ``X: (T, n_x, m)`` with targets for
its loss, evaluates a model on a fixed evaluation set drawn once from its own random
stream, and says when the task counts as solved.

    reber   next-symbol prediction on embedded Reber strings   metrics legal_acc, outer_acc
    adding  sum of the two marked values, read out at T        metric  test_mse
    text    next-character prediction, truncated BPTT          metrics val_loss, val_bpc

and the long-time-lag battery of Hochreiter & Schmidhuber (1997), each judged by the
paper's criterion (`rnncli.tasks` has the definitions):

    lag               2a: two sequences, the first symbol recalled p steps later
    lag-noise         2c: the class of the first symbol after q + k distractors
    multiplication    5: the product of two marked values among ~T
    temporal-order    6a: the order of two markers among ~100 distractors (4 classes)
    temporal-order-3  6b: three markers (8 classes)
    copy              ten symbols recalled after a delay of T blanks (not in the paper)

Losses are reported in one unit each, as `loss_unit` says: per sequence, or per
character in nats for text, whose training and validation losses also come in bits per
character (``bpc = loss / ln 2``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnncli import engine
from rnncli import loss as losses
from rnncli.engine import Packed, workspace
from rnncli.errors import InputError
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
    loss_unit = "per sequence"  # of the training loss (and of the metric if `metric_is_loss`)
    metric_is_loss = False  # the headline metric is a loss in `loss_unit` (text's val_loss)
    evaluated = ""  # what an evaluation scores, in words, when the task says (text)
    # set by a task after the dataclass's __init__:
    evaluation: dict[str, Any] | None = field(default=None, init=False)  # `evaluated`, as data
    eval_shape: tuple[int, int] | None = field(default=None, init=False)  # (steps, columns)
    notices: tuple[str, ...] = field(default=(), init=False)  # to show once all checks pass

    def solved(self, metrics: dict[str, float]) -> bool:
        return False

    def score(self, metrics: dict[str, float]) -> float:
        """The validation score the best checkpoint and patience go by (lower is better)."""
        return float(metrics[self.metric])

    def reported_loss(self, value: float, steps: int) -> float:
        """The training loss as metrics.jsonl records it (per sequence by default)."""
        return value

    def loss_metrics(self, loss: float) -> dict[str, float]:
        """The training loss (`reported_loss`, averaged since the last evaluation) as an
        evaluation records it."""
        return {"loss": loss}

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


LN2 = math.log(2)


def _xent_sum(p: Packed, H: np.ndarray, targets: np.ndarray) -> float:
    """Summed cross-entropy in nats of `targets: (m, T)` (ints) under the output layer on
    the hidden states ``H: (T, n_a, m)``."""
    L = losses.logits(p.Wy, p.by, H)  # (T, V, m)
    L -= L.max(axis=1, keepdims=True)  # stable: the largest logit of each column is 0
    picked = np.take_along_axis(L, targets.T[:, None, :], axis=1)[:, 0, :]  # (T, m)
    log_total = np.log(np.exp(L, out=L).sum(axis=1))  # (T, m)
    return float(np.sum(log_total - picked, dtype=np.float64))


class Text(Problem):
    """Character model on a file. The file is encoded once into the text cache and
    memory-mapped (`text.open_corpus`); training streams its first 90%, and every
    evaluation scores the same held-out characters (`text.HeldOut`: the last 10%, up to
    `eval_chars` of them). The vocabulary is built from the whole file."""

    loss_unit = "nats per character"
    metric_is_loss = True
    has_goal = False
    #: Most one-hot (and logit) entries one evaluation chunk may hold, so that a large
    #: vocabulary shortens the chunks instead of growing them (32 MiB in float64).
    EVAL_ENTRIES = 1 << 22

    def __init__(
        self,
        path: str,
        batch_size: int,
        bptt: int,
        eval_chars: int,
        dtype: Any,
        min_count: int = 1,
        progress: Callable[[int, int], None] | None = None,
    ):
        said: list[str] = []
        corpus = text.open_corpus(path, min_count, notice=said.append, progress=progress)
        self.corpus = corpus
        self.vocab = corpus.vocab
        V = self.vocab.size
        super().__init__("text", V, V, "xent", "val_loss")
        self.notices = tuple(said)  # what the cache did
        data, n = corpus.data, corpus.characters
        cut = text.split_point(n)
        self.stream = text.TextStream(data[:cut], V, batch_size, bptt, path, dtype)
        if n - cut < bptt + 1:
            raise InputError(
                f"{path}: the validation part (last 10%, {n - cut} characters) is shorter "
                f"than one training sequence (bptt {bptt} + 1); use a longer file or a smaller "
                "train.bptt"
            )
        self.held_out = text.HeldOut(data, cut, eval_chars, V, bptt, dtype,
                                     max_entries=self.EVAL_ENTRIES)  # fmt: skip
        h = self.held_out
        self.eval_shape = (h.chunk, h.streams)
        self.evaluation = h.describe()
        self.evaluated = (
            f"validation: val_loss and val_bpc score the same {h.chars:,} of the "
            f"{h.available + 1:,} held-out characters (the last 10% of the file, from character "
            f"{cut:,}) at every evaluation, in {h.streams} streams of {h.length:,}"
        )
        self.first_char = self.vocab.chars[int(data[0])]  # where samples start
        self.meta = {
            "vocab": self.vocab.to_list(), "path": str(path), "sha256": corpus.sha256,
            "first_char": self.first_char, "bytes": corpus.size, "characters": n,
            "index_dtype": str(self.vocab.dtype), "vocab_min_count": min_count,
            "unknown": self.vocab.unknown, "rare_characters": corpus.rare,
            "unknown_count": corpus.unknown_count, "evaluation": self.evaluation,
        }  # fmt: skip
        self.dtype = dtype

    def batch(self, rng: np.random.Generator) -> Batch:
        x, targets = self.stream.next_chunk()
        return Batch(engine.to_time_major(x), np.ascontiguousarray(targets.T), self.stream.wrapped)

    def evaluate(self, p: Packed) -> dict[str, float]:
        """Cross-entropy per character on the held-out characters, in nats (val_loss) and
        bits (val_bpc); one batched pass, the state carried along each stream."""
        state: tuple[np.ndarray, ...] | None = None
        total = 0.0
        for x, targets in self.held_out.chunks():
            X = engine.to_time_major(x)
            T, _, m = X.shape
            ws = workspace.cached(("text-eval", p.spec, p.n_x, p.n_a, p.n_y, p.layers,
                                   p.directions, T, m, X.dtype.str))  # fmt: skip
            cache = engine.forward(p, X, state, ws)
            total += _xent_sum(p, engine.hidden(p, cache), targets)
            state = engine.final_state(p, cache)
        loss = total / self.held_out.chars
        return {"val_loss": loss, "val_bpc": loss / LN2}

    def reported_loss(self, value: float, steps: int) -> float:
        """Per character, comparable with val_loss."""
        return value / steps

    def loss_metrics(self, loss: float) -> dict[str, float]:
        return {"loss": loss, "bpc": loss / LN2}

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


def make_problem(
    cfg: Any,
    eval_rng: np.random.Generator,
    progress: Callable[[int, int], None] | None = None,
) -> Problem:
    """The Problem for ``cfg.train`` (a validated config). `progress(done, total)` follows
    the encoding of a text file (`text.open_corpus`)."""
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
    return Text(t.data, t.batch, t.bptt, t.eval_chars, dtype, t.vocab_min_count, progress)
