"""The long-time-lag battery of Hochreiter & Schmidhuber (1997) as problems: one generic
`BatteryProblem` over a task module's ``generate``, ``generate_eval``, ``metrics``,
``solved``, ``check_params`` and ``sizes``, and `spec`, which makes a battery task's
`TaskSpec`. Each task's module registers its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from rnncli import engine
from rnncli.engine import Packed
from rnncli.tasks.problem import Batch, Problem, last_logits, logits, softmax
from rnncli.tasks.spec import TaskSpec

if TYPE_CHECKING:
    from rnncli.config import Config


@dataclass(frozen=True)
class BatteryTask:
    """How the trainer runs one task of the battery: its module, loss, headline metric
    (lower is better) and the task parameters it takes from ``train``."""

    module: Any
    loss: str
    metric: str
    params: tuple[str, ...]  # train.* keys, passed by name
    fixed: tuple[tuple[str, Any], ...] = ()  # parameters the task name fixes


class BatteryProblem(Problem):
    """A task of the 1997 battery: batches from its generator (the lengths of a batch
    may differ from the next one's), evaluation on a fixed test set grouped by length,
    scored by the paper's criterion."""

    last_only = False  # a target at the last step only (lag: train.targets=last)

    def __init__(self, name: str, task: BatteryTask, cfg: Config, eval_rng: np.random.Generator,
                 progress: Any = None):  # fmt: skip
        t, dtype = cfg.train, np.dtype(cfg.dtype)
        kw = {k: getattr(t, k) for k in task.params} | dict(task.fixed)
        task.module.check_params(**kw)
        n_x, n_y = task.module.sizes(**kw)
        metric, meta = self.headline(task, t), {"params": kw} | self.extra_meta(t)
        super().__init__(name, n_x, n_y, task.loss, metric, meta)
        self.task, self.kw, self.batch_size, self.dtype = task, kw, t.batch, dtype
        self.eval_groups = task.module.generate_eval(eval_rng, t.eval_size, **kw, dtype=dtype)

    def headline(self, task: BatteryTask, t: Any) -> str:
        """The headline metric under the config's ``train``."""
        return task.metric

    def extra_meta(self, t: Any) -> dict[str, Any]:
        """More of task.json than the parameters."""
        return {}

    def batch(self, rng: np.random.Generator) -> Batch:
        x, y = self.task.module.generate(rng, self.batch_size, **self.kw, dtype=self.dtype)
        if self.loss == "xent":  # targets (m, T) -> (T, m)
            y = np.ascontiguousarray(y.T)
            if self.last_only:
                y[:-1] = -1  # no target before the last step
        return Batch(engine.to_time_major(x), y)

    def evaluate(self, p: Packed) -> dict[str, float]:
        outs, ys = [], []
        for x, y in self.eval_groups:
            X = engine.to_time_major(x)
            if self.loss == "xent":  # every step: (T, n_y, m) -> (n_y, m, T)
                outs.append(softmax(logits(p, X), axis=1).transpose(1, 2, 0))
            elif self.loss == "xent_last":
                outs.append(softmax(last_logits(p, X), axis=0))
            else:
                outs.append(last_logits(p, X))
            ys.append(y)
        y_all = np.concatenate(ys, axis=1 if ys[0].ndim == 2 and self.loss == "mse_last" else 0)
        return dict(self.task.module.metrics(np.concatenate(outs, axis=1), y_all))

    def solved(self, metrics: dict[str, float]) -> bool:
        return bool(self.task.module.solved(metrics))


def spec(
    name: str,
    description: str,
    task: BatteryTask,
    defaults: Mapping[str, Any],
    criterion: str,
    problem: Callable[..., BatteryProblem] = BatteryProblem,
    **flags: Any,
) -> TaskSpec:
    """The `TaskSpec` of a battery task run by `problem` (a `BatteryProblem` class)."""
    return TaskSpec(name, description, partial(problem, name, task), defaults,
                    criterion=criterion, battery=True, **flags)  # fmt: skip
