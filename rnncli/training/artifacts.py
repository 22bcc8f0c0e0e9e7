"""What a finished training run leaves in its folder besides metrics and checkpoint:
``task.json`` (what the model reads and predicts), ``loss.png`` (or a text plot when
matplotlib is missing) and ``samples.txt`` for the generative tasks. Shared by
``rnncli train`` and every job of ``rnncli sweep``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rnncli import plot
from rnncli.runs import Run
from rnncli.runs.names import LOSS_PNG, SAMPLES_TXT, TASK_JSON
from rnncli.tasks import registry
from rnncli.tasks.problem import Problem
from rnncli.training.loop import Result


def task_json(problem: Problem) -> dict[str, Any]:
    """The task, the model's input and output sizes, and e.g. the vocabulary."""
    return {"task": problem.name, "n_x": problem.n_x, "n_y": problem.n_y, **problem.meta}


def write_task(run: Run, problem: Problem) -> None:
    """task.json: `task_json`."""
    run.write_json(TASK_JSON, task_json(problem))


def write_results(
    result: Result, run: Run, temperature: float = 1.0, notice: Callable[[str], None] = print
) -> None:
    """loss.png (or a text plot through `notice`) and samples.txt."""
    if result.history:
        if plot.have_matplotlib():
            problem = result.problem
            plot.save_loss_plot(result.history, problem.metric, run.path / LOSS_PNG,
                                problem.loss_unit, problem.metric_is_loss)  # fmt: skip
        else:
            notice("matplotlib is not installed (pip install 'rnncli[plot]'): no loss.png")
            notice(plot.text_plot([r["loss"] for r in result.history]))
    rng = np.random.default_rng(0)
    problem = result.problem
    sampler = registry.get(problem.name).sampler
    if sampler is not None:  # a generative task: samples.txt
        s = sampler.draw(result.params, task_json(problem), sampler.saved, temperature, None, rng)
        run.write_text(SAMPLES_TXT, "\n".join(sampler.lines(s)) + "\n")
