"""Evaluating the members of a stack together where the task allows it.

An evaluation is a task's forward passes over its fixed evaluation set, then its
scoring. For reber (an evaluation every 5 steps, 256 strings: most of a solo run's
time) the members' forward passes run as one stacked pass per group of strings
(`rnncli.engine.batched.logits`; each member's strings padded at the end, which a
causal model does not see), and each member's predictions are scored by the task's own
`reber.evaluate`. The logits are those of the solo `Problem.evaluate`, computed by the
same kernels' per-member products. Other tasks evaluate member by member.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnncli.engine import Packed
from rnncli.engine import batched as kernels
from rnncli.tasks import reber
from rnncli.tasks.problem import Problem


def evaluate(problems: Sequence[Problem], params: Sequence[Packed]) -> list[dict[str, Any]]:
    """Each member's evaluation record (the task's metrics), in order."""
    if len(problems) > 1 and _reber_together(problems):
        return _reber(problems, params)  # type: ignore[arg-type]
    return [pr.evaluate(p) for pr, p in zip(problems, params, strict=True)]


def _reber_together(problems: Sequence[Problem]) -> bool:
    if not all(type(pr) is reber.ReberProblem for pr in problems):
        return False
    shapes = {tuple(len(rows) for rows, _ in pr.eval_groups) for pr in problems}  # type: ignore[attr-defined]
    return len(shapes) == 1


def _stack(params: Sequence[Packed]) -> kernels.Stack:
    p = params[0]
    theta = np.stack([q.flat for q in params])
    return kernels.Stack(p.spec, p.n_x, p.n_a, p.n_y, theta)


def _reber(problems: Sequence[reber.ReberProblem], params: Sequence[Packed]) -> list[dict]:
    s = _stack(params)
    preds = [np.zeros(pr.eval_mask.shape[:2], dtype=np.int64) for pr in problems]
    for j in range(len(problems[0].eval_groups)):
        Xs = [pr.eval_groups[j][1] for pr in problems]
        L = kernels.logits(s, kernels.stacked_dense(Xs, s.n_x, s.dtype))  # (T, K, n_y, m)
        for k, (pr, X) in enumerate(zip(problems, Xs, strict=True)):
            rows = pr.eval_groups[j][0]
            preds[k][rows, : X.shape[0]] = L[: X.shape[0], k].argmax(axis=1).T
    return [
        reber.evaluate(pred, pr.eval_strings, pr.eval_mask)
        for pred, pr in zip(preds, problems, strict=True)
    ]
