"""The trainer's way to a task's problem: `make_problem` asks the task registry
(`rnncli.tasks.registry`) for the task of a config and builds its `Problem`.

    reber   next-symbol prediction on embedded Reber strings   metrics legal_acc, outer_acc
    adding  sum of the two marked values, read out at T        metric  test_mse
    text    next-character prediction, truncated BPTT          metrics val_loss, val_bpc

and the long-time-lag battery of Hochreiter & Schmidhuber (1997), each judged by the
paper's criterion (`BATTERY`; each task's module has its definition).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from rnncli.errors import InputError
from rnncli.tasks import registry
from rnncli.tasks.problem import Problem

if TYPE_CHECKING:
    from rnncli.config import Config

#: The battery's tasks by name (a live view of the registry).
BATTERY = registry.Table(keep=lambda spec: spec.battery)


def make_problem(
    cfg: Config,
    eval_rng: np.random.Generator,
    progress: Callable[[int, int], None] | None = None,
) -> Problem:
    """The Problem for ``cfg.train`` (a validated config). `progress(done, total)` follows
    the encoding of a text file."""
    t = cfg.train
    spec = registry.get(t.task)
    if t.targets != "all" and not spec.targets:
        takers = " or ".join(f"train.task={n}" for n in registry.names()
                             if registry.get(n).targets)  # fmt: skip
        raise InputError(f"train.targets={t.targets} applies to {takers} only")
    problem: Problem = spec.problem(cfg, eval_rng, progress)
    problem.has_goal = bool(spec.criterion)
    return problem
