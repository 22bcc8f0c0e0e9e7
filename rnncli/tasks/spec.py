"""What a task is to rnncli: `TaskSpec` (and a generative task's `Sampler`). The
registry (`rnncli.tasks.registry`) holds them by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sampler:
    """How to sample from a trained model of a task (a generative task's)."""

    #: ``draw(p, task, n, temperature, prime, rng) -> result``: `task` as task.json, `n`
    #: None for the task's default count, `prime` None unless `primed`.
    draw: Callable[..., dict[str, Any]]
    #: the result as the lines of samples.txt
    lines: Callable[[dict[str, Any]], list[str]]
    saved: int  # samples a finished run writes to samples.txt
    primed: bool = False  # takes a prime (--prime): the start of the sample


@dataclass(frozen=True)
class TaskSpec:
    """One training task and everything rnncli needs to know about it."""

    name: str
    description: str  # one line, for help and listings
    #: ``problem(cfg, eval_rng, progress) -> Problem`` (`rnncli.tasks.problem`): the
    #: training-side object for a validated config; raises InputError for bad task input.
    problem: Callable[..., Any]
    #: config layers above the built-in defaults and below the user's ({"train": {...}})
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: the model predicts the next symbol: a model that reads backwards would see it
    next_symbol: bool = False
    #: what an evaluation scores: "sequences" (train.eval_size of them) or "characters"
    #: (train.eval_chars held-out characters; losses per character)
    evaluation: str = "sequences"
    criterion: str = ""  # when the task counts as solved, in words ("": train to train.steps)
    battery: bool = False  # one of the long-time-lag battery of Hochreiter & Schmidhuber (1997)
    #: trains on a text file (train.data, --data): a character model, whose sizes are the
    #: file's vocabulary
    data: bool = False
    targets: bool = False  # reads train.targets (a target at every step, or the last only)
    steps_key: str | None = None  # train.* key: steps of a training sequence (memory estimate)
    readout: str = "last"  # what the output layer is read at: "every" step or the "last"
    sampler: Sampler | None = None  # a generative task's sampling
