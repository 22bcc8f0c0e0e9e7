"""Sampling from a trained run, by its task's own sampler (`TaskSpec.sampler`:
`rnncli.tasks.reber.sample`, `rnncli.tasks.text.task.sample`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnncli.errors import InputError
from rnncli.tasks import registry


def sample_run(
    run_dir: Path,
    n: int | None = None,
    temperature: float = 1.0,
    prime: str | None = None,
    seed: int = 0,
    best: bool = False,
) -> dict[str, Any]:
    """Samples from the model trained in `run_dir` (its last parameters, or best.npz), as
    ``rnncli sample --json`` prints them (reber: ``samples``, ``accepted``,
    ``accept_rate``; text: ``prime``, ``text``); `n` None for the task's default count."""
    from rnncli.weights import packed_from_run  # weights reads checkpoints of training/

    p, _, task = packed_from_run(run_dir, "best" if best else "last")
    spec = registry.find(task["task"])
    sampler = spec.sampler if spec is not None else None
    if sampler is None:
        kinds = " or ".join(registry.generative())
        raise InputError(f"{run_dir}: sampling needs a {kinds} model, this one is {task['task']}")
    if prime is not None and not sampler.primed:
        primed = " or ".join(registry.generative(primed=True))
        raise InputError(f"--prime is for {primed} models; {run_dir} is a {task['task']} model")
    return sampler.draw(p, task, n, temperature, prime, np.random.default_rng(seed))
