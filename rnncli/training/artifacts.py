"""What a finished training run leaves in its folder besides metrics and checkpoint:
``task.json`` (what the model reads and predicts), ``loss.png`` (or a text plot when
matplotlib is missing) and ``samples.txt`` for the generative tasks. Shared by
``rnncli train`` and every job of ``rnncli sweep``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnncli import plot
from rnncli.runs import Run
from rnncli.training import sampling
from rnncli.training.loop import Result
from rnncli.training.problems import Problem


def write_task(run: Run, problem: Problem) -> None:
    """task.json: the task, the model's input and output sizes, and e.g. the vocabulary."""
    run.write_json(
        "task.json", {"task": problem.name, "n_x": problem.n_x, "n_y": problem.n_y, **problem.meta}
    )


def write_results(
    result: Result, run: Run, temperature: float = 1.0, notice: Callable[[str], None] = print
) -> None:
    """loss.png (or a text plot through `notice`) and samples.txt."""
    if result.history:
        if plot.have_matplotlib():
            problem = result.problem
            plot.save_loss_plot(result.history, problem.metric, run.path / "loss.png",
                                problem.loss_unit, problem.metric_is_loss)  # fmt: skip
        else:
            notice("matplotlib is not installed (pip install 'rnncli[plot]'): no loss.png")
            notice(plot.text_plot([r["loss"] for r in result.history]))
    rng = np.random.default_rng(0)
    problem = result.problem
    if problem.name == "reber":
        s = sampling.sample_reber(result.params, 20, temperature, rng)
        lines = [
            f"{x}  {'ok' if ok else 'not in grammar'}"
            for x, ok in zip(s["samples"], s["accepted"], strict=True)
        ]
        lines.append(f"accept rate {s['accept_rate']:.2f}")
        run.write_text("samples.txt", "\n".join(lines) + "\n")
    elif problem.name == "text":
        vocab = problem.vocab  # type: ignore[attr-defined]
        s = sampling.sample_text(result.params, vocab, 400, temperature, problem.first_char, rng)  # type: ignore[attr-defined]
        run.write_text("samples.txt", s["text"] + "\n")
