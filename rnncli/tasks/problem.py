"""A task as the trainer sees it: batches in, metrics out.

A `Problem` hands the trainer time-major batches ``X: (T, n_x, m)`` with targets for
its loss, evaluates a model on a fixed evaluation set drawn once from its own random
stream, and says when the task counts as solved. Each task's module defines its own
(`rnncli.tasks.registry` maps names to them).

Losses are reported in one unit each, as `loss_unit` says: per sequence, or per
character in nats for text, whose training and validation losses also come in bits per
character (``bpc = loss / ln 2``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnncli import engine
from rnncli import loss as losses
from rnncli.engine import Packed


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

    loss_unit = "per sequence"  # of the training loss (and of the metric if `metric_is_loss`)
    metric_is_loss = False  # the headline metric is a loss in `loss_unit` (text's val_loss)
    carry_state = False  # truncated BPTT: a batch starts from the previous one's state
    evaluated = ""  # what an evaluation scores, in words, when the task says (text)
    # set by a task after the dataclass's __init__:
    evaluation: dict[str, Any] | None = field(default=None, init=False)  # `evaluated`, as data
    eval_shape: tuple[int, int] | None = field(default=None, init=False)  # (steps, columns)
    notices: tuple[str, ...] = field(default=(), init=False)  # to show once all checks pass

    #: the task has a "solved" criterion (its spec's `criterion`, set by
    #: `rnncli.training.problems.make_problem`); else it trains to train.steps
    has_goal: bool = field(default=True, init=False)

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

    def size_notice(self, need: str) -> str:
        """A line about the model's size when the task's data set it (text: one unit per
        character), given `need`, the memory the run needs in words; or ""."""
        return ""


def logits(p: Packed, X: np.ndarray) -> np.ndarray:
    """Output pre-activations at every step, from a zero state: (T, n_y, m)."""
    return losses.logits(p.Wy, p.by, engine.hidden(p, engine.forward(p, X)))


def last_logits(p: Packed, X: np.ndarray) -> np.ndarray:
    """Output pre-activations of the readout at the last step: (n_y, m)."""
    out: np.ndarray = p.Wy @ engine.last_hidden(p, engine.forward(p, X)) + p.by
    return out


def softmax(z: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    out: np.ndarray = e / e.sum(axis=axis, keepdims=True)
    return out
