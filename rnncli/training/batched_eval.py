"""Evaluating the members of a stack together where the task allows it.

An evaluation is a task's forward passes over its fixed evaluation set, then its
scoring. For reber (an evaluation every 5 steps on 256 strings: most of a solo run's
time) the stack evaluates every member's strings at once, and each distinct prefix only
once: a model's prediction after a prefix depends on that prefix alone, and embedded
Reber strings share most of theirs (256 strings of ~2,800 steps have ~570 distinct
prefixes, and the solo evaluation's padded groups take ~3,700 column-steps). The prefix
tree is walked level by level for all members (`rnncli.engine.batched.cell_step`, the
same operations as the kernels' time loop), and each member's predictions are scored by
the task's own `reber.evaluate`. The logits are the solo evaluation's up to the BLAS
products' column blocking (the tests find them equal); a prediction could only differ
where two logits tie to the last bit. Other tasks evaluate member by member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncli.engine import Packed
from rnncli.engine import batched as kernels
from rnncli.tasks import reber
from rnncli.tasks.problem import Problem

_TREES: dict[tuple[int, ...], tuple[Any, Trees]] = {}
_MEMBER: dict[int, tuple[Any, Tree]] = {}


def evaluate(problems: Sequence[Problem], params: Sequence[Packed]) -> list[dict[str, Any]]:
    """Each member's evaluation record (the task's metrics), in order."""
    if problems and all(type(pr) is reber.ReberProblem for pr in problems):
        return _reber(problems, params)  # type: ignore[arg-type]
    return [pr.evaluate(p) for pr, p in zip(problems, params, strict=True)]


@dataclass
class Tree:
    """One member's prefix tree and how its predictions are scored (`reber.evaluate`:
    ``legal_acc`` over every step of every string, ``outer_acc`` at each string's
    closing outer letter; both are exact counts over a count, as there)."""

    symbols: list[list[int]]  # per level t >= 1: its nodes' last symbols
    parents: list[list[int]]  # per level: each node's parent at level t-1
    level: np.ndarray  # per prediction (every string's every step): its node's level
    node: np.ndarray  # ... and index there
    legal: np.ndarray  # (predictions, n_symbols): which symbol the grammar allows
    outer: np.ndarray  # per string: the prediction at its closing outer letter
    outer_true: np.ndarray  # ... and that letter


@dataclass
class Trees:
    """The members' trees level by level, padded to the widest member."""

    symbols: list[np.ndarray]  # per level: (K, W_t) the node's last symbol (-1: pad)
    parents: list[np.ndarray]  # per level: (K, W_t) the parent's index at level t-1
    nodes: list[np.ndarray]  # per member: its predictions' columns in the levels' nodes


def _tree(pr: reber.ReberProblem) -> Tree:
    """A member's tree (kept while its problem lives): step t of a string is predicted
    after the prefix s[:t+1]."""
    hit = _MEMBER.get(id(pr))
    if hit is not None and hit[0] is pr:
        return hit[1]
    index: list[dict[str, int]] = [{"": 0}]
    syms: list[list[int]] = []
    parents: list[list[int]] = []
    preds, outer = [], []
    for s in pr.eval_strings:
        for t in range(1, len(s)):
            if len(index) <= t:
                index.append({})
                syms.append([])
                parents.append([])
            node = index[t].get(s[:t])
            if node is None:
                node = index[t][s[:t]] = len(index[t])
                syms[t - 1].append(reber.INDEX[s[t - 1]])
                parents[t - 1].append(index[t - 1][s[: t - 1]])
            preds.append((t, node))
        outer.append(len(preds) - 2)  # step len - 3: the closing outer letter
    cols = pr.eval_mask.shape[1]
    at = [i * cols + t for i, s in enumerate(pr.eval_strings) for t in range(len(s) - 1)]
    level, node = np.array(preds).T
    tree = Tree(syms, parents, level, node, pr.eval_mask.reshape(-1, reber.N_SYMBOLS)[at],
                np.array(outer), np.array([reber.INDEX[s[-2]] for s in pr.eval_strings]))
    if len(_MEMBER) > 256:
        _MEMBER.clear()
    _MEMBER[id(pr)] = (pr, tree)
    return tree


def _trees(problems: Sequence[reber.ReberProblem]) -> Trees:
    key = tuple(id(pr) for pr in problems)
    hit = _TREES.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], problems, strict=True)):
        return hit[1]
    made = [_tree(pr) for pr in problems]
    depth = max(len(t.symbols) for t in made)
    K = len(problems)
    symbols, parents, offsets, total = [], [], [0], 0
    for lv in range(depth):
        width = max((len(t.symbols[lv]) if lv < len(t.symbols) else 0) for t in made)
        sym = np.full((K, width), -1, dtype=np.intp)
        par = np.zeros((K, width), dtype=np.intp)
        for k, t in enumerate(made):
            if lv < len(t.symbols):
                sym[k, : len(t.symbols[lv])] = t.symbols[lv]
                par[k, : len(t.parents[lv])] = t.parents[lv]
        symbols.append(sym)
        parents.append(par)
        total += width
        offsets.append(total)
    start = np.array(offsets)
    trees = Trees(symbols, parents, [start[t.level - 1] + t.node for t in made])
    if len(_TREES) > 64:
        _TREES.clear()
    _TREES[key] = (list(problems), trees)
    return trees


def _reber(problems: Sequence[reber.ReberProblem], params: Sequence[Packed]) -> list[dict]:
    p = params[0]
    s = kernels.Stack(p.spec, p.n_x, p.n_a, p.n_y, np.stack([q.flat for q in params]))
    trees = _trees(problems)
    K, n, dt = s.K, s.n_a, s.dtype
    state = [np.zeros((n, K, 1), dtype=dt) for _ in range(2 if s.spec.has_c else 1)]
    members = np.arange(K)[:, None]
    preds = []
    for sym, par in zip(trees.symbols, trees.parents, strict=True):
        prev = [a[:, members, par] for a in state]
        X = np.zeros((s.n_x, K, sym.shape[1]), dtype=dt)
        member, col = np.nonzero(sym >= 0)
        X[sym[member, col], member, col] = 1
        state = kernels.cell_step(s, prev, X)
        logits = np.matmul(s.Wy, state[0].transpose(1, 0, 2))
        logits += s.by
        preds.append(logits.argmax(axis=1))
    nodes = np.concatenate(preds, axis=1)  # (K, every level's nodes)
    out = []
    for k, pr in enumerate(problems):
        tree, pred = _tree(pr), nodes[k, trees.nodes[k]]
        legal = tree.legal[np.arange(pred.size), pred]
        out.append({"legal_acc": float(legal.mean()),
                    "outer_acc": float(np.mean(pred[tree.outer] == tree.outer_true))})  # fmt: skip
    return out
