"""Training K runs of one model shape as one stacked model (`rnncli.engine.batched`).

Each member is an ordinary run: planned by the lifecycle (`start_or_resume`), with its
own folder, config, random streams, metrics, checkpoints, best parameters and stop
rule; only the training step is shared. Per step every active member draws its own
batch from its own stream, the stack runs one forward and backward pass, and each
member clips, updates (`StackOptimizer`), evaluates and checkpoints as the training
loop (`rnncli.training.loop.train`) does alone. A member that is done (solved,
patience, its steps) or diverged leaves the stack: its folder is finished there and
then, with the status a solo run would have, and the others go on.

Equality: a member's gradients and updates are those of its solo run bit for bit on
the same parameters (see `rnncli.engine.batched`), as far as BLAS computes a product
of the same shapes the same way on the ``np.matmul`` and ``np.dot`` paths (it does in
the tests; where a library sums in another order, the difference is a last bit that
training then carries along). A member never depends on the others in its stack, so a
batched run is reproducible bit for bit, in any grouping, and so is its resume.

Where a member and its solo run part: (1) a solo run with ``engine.backend: auto`` of a
small model moves to the compiled kernels at step 1,000 (`compiled.AUTO_FROM_STEP`),
which sum in their own order (equal to ~1e-15); a member stays on NumPy. (2) A BLAS
that sums a product of strided operands (the stack's, leading dimension K*m) in another
order than a contiguous one gives last-bit differences from the first step. Either
difference then grows as training amplifies it (chaotically, over thousands of steps);
the first 100 steps agree to far better than 1e-10 (the tests: exactly).

Files: a member writes what a solo run writes, with one difference in timing: its
metric lines are fsynced, and its best parameters written, at its checkpoints (and at
its end) rather than at every evaluation. Each fsync costs milliseconds on a VM's disk,
a solo reber run has about 130 of them, and in a stack they would queue behind each
other; the checkpoint on disk still never runs ahead of the metrics and best.npz.

A member's checkpoint records that it ran on NumPy (``compiled_from`` -1): resumed
alone (``rnncli train --resume MEMBER``) it goes on with the solo NumPy engine, and
from the same state computes the same numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnncli import engine
from rnncli.config import Config
from rnncli.engine import Packed
from rnncli.engine import batched as kernels
from rnncli.errors import InputError
from rnncli.runs import Run, WriteError
from rnncli.runs.files import fsync_file
from rnncli.runs.names import BEST, METRICS_JSONL
from rnncli.tasks import registry
from rnncli.training import batched_eval, checkpoint
from rnncli.training.batched_optim import StackOptimizer
from rnncli.training.checkpoint import TrainState
from rnncli.training.lifecycle import (
    Outcome,
    Plan,
    failed_run,
    finish_run,
    open_folder,
    prepare_folder,
)
from rnncli.training.loop import (
    Result,
    fresh_state,
    kept_metrics,
    restore,
    stop_reason,
    streams,
)
from rnncli.training.optim import clip, learning_rate

Notice = Callable[[str], None]

#: Config keys members of one stack may differ in: they change neither the model's
#: shape nor the way batches are drawn (each member draws from its own seed).
PER_MEMBER = (
    "seed", "init.scheme", "init.scale", "init.forget_bias", "train.lr", "train.momentum",
    "train.eps", "train.clip", "train.clip_mode", "train.schedule", "train.decay",
    "train.decay_every", "train.steps", "train.eval_every", "train.eval_size",
    "train.checkpoint_every", "train.keep_best", "train.stop_on_solve", "train.patience",
    "train.temperature", "train.targets", "train.tensorboard", "train.eval_chars",
)  # fmt: skip


#: ``sweep.batch_members: auto`` stacks models up to this many hidden units x batch
#: columns (`train.hidden` x `train.batch`). Stacking saves NumPy's cost per call, about
#: a microsecond, once for K members; it pays where a solo step is mostly that cost
#: (reber, 16 x 4: x2 a sweep; lag, 16 x 16). At 32 x 32 (adding, temporal-order) a call
#: is several microseconds of arithmetic, which a stack does not save, and K members'
#: step buffers leave the cache: measured x0.9 (benchmarks/BATCHED.md). ``on`` stacks
#: them anyway.
STACK_UP_TO = 256


def why_not(cfg: Config, mode: str = "on") -> str:
    """Why a run of `cfg` cannot train in a stack (one line), or "" if it can; with
    `mode` ``auto``, also why it would not pay (`STACK_UP_TO`)."""
    size = cfg.train.hidden * cfg.train.batch
    if mode == "auto" and size > STACK_UP_TO and kernels.supports(cfg.cell):
        return (
            f"train.hidden x train.batch = {size} > {STACK_UP_TO}: a stack does not pay at "
            "this size (sweep.batch_members=on stacks it anyway)"
        )
    if not kernels.supports(cfg.cell):
        return f"cell {cfg.cell}: stacked kernels run the built-in rnn, lstm and gru"
    if cfg.model.layers > 1 or cfg.model.bidirectional:
        return "a stacked or bidirectional model"
    if registry.get(cfg.train.task).data:
        return f"train.task={cfg.train.task} carries its state from batch to batch"
    if cfg.engine.backend == "compiled":
        return "engine.backend=compiled asks for the compiled kernels"
    return ""


def group_key(config: dict[str, Any]) -> str:
    """What members of one stack share: the config without the `PER_MEMBER` keys."""
    import json

    flat: dict[str, Any] = {}

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict) and k != "grid":
                walk(v, prefix + k + ".")
            elif prefix + k not in PER_MEMBER and not (prefix + k).startswith("sweep."):
                flat[prefix + k] = v

    walk(config, "")
    return json.dumps(flat, sort_keys=True, default=str)


@dataclass
class Member:
    """One run of the stack: its plan, folder, state and record."""

    plan: Plan
    run: Run | None
    p: Packed
    state: TrainState
    data_rng: np.random.Generator
    dropout_rng: np.random.Generator
    history: list[dict[str, Any]] = field(default_factory=list)
    status: str = "completed"
    message: str = ""
    wall0: float = 0.0
    best: tuple[np.ndarray, int, dict[str, Any]] | None = None  # not written yet


    @property
    def cfg(self) -> Config:
        return self.plan.cfg

    def done(self) -> str:
        """Why the run has nothing left to do, or "" (as the training loop says)."""
        return stop_reason(self.cfg, self.state)

    def flush(self) -> None:
        """Write the best parameters kept since the last checkpoint and make the metric
        lines durable: at a checkpoint, everything up to it is on disk."""
        if self.run is None:
            return
        if self.best is not None:
            checkpoint.save_best(self.run.path / BEST, *self.best)
            self.best = None
        fsync_file(self.run.path / METRICS_JSONL)

    def save_checkpoint(self) -> None:
        if self.run is None:
            return
        self.flush()
        s = self.state
        s.rng_state = self.data_rng.bit_generator.state
        s.dropout_state = self.dropout_rng.bit_generator.state
        s.stream_state = self.plan.problem.stream_state()
        checkpoint.save(self.run.path / checkpoint.NAME, s)

    def diverged(self, what: str) -> None:
        kept = self.run is not None and (self.run.path / checkpoint.NAME).is_file()
        self.status = "diverged"
        self.message = f"{what} at step {self.state.step + 1}; " + (
            "kept the last good checkpoint" if kept else "no checkpoint was saved before it"
        )


def _member(plan: Plan, run: Run | None, notice: Notice) -> Member:
    """A member's parameters, state and streams: fresh, or from its checkpoint."""
    cfg, problem = plan.cfg, plan.problem
    _, data_rng, _, dropout_rng = streams(cfg.seed)
    history: list[dict[str, Any]] = []
    if plan.mode == "resume":
        assert run is not None
        path = run.path / checkpoint.NAME
        state = checkpoint.load(path)
        p, _ = restore(cfg, problem, state, path)
        try:
            data_rng.bit_generator.state = state.rng_state
            if state.dropout_state:
                dropout_rng.bit_generator.state = state.dropout_state
        except (ValueError, TypeError, KeyError) as err:
            raise InputError(f"{path}: checkpoint has a bad random state ({err})") from None
        history = kept_metrics(run.path / METRICS_JSONL, state.step, notice)
    else:
        p, state, _ = fresh_state(cfg, problem, plan.theta)
    state.compiled_from = -1  # this run's steps are NumPy's (a solo resume stays there)
    return Member(plan, run, p, state, data_rng, dropout_rng, history, wall0=state.wall_s)


def batchable(plan: Plan) -> str:
    """Why a planned run cannot join a stack, or ""; a run that began on the solo engine
    with the compiled kernels in its plan goes on alone."""
    why = why_not(plan.cfg)
    if why or plan.mode != "resume" or plan.run_dir is None:
        return why
    state = checkpoint.load(plan.run_dir / checkpoint.NAME)
    if state.compiled_from is not None and state.compiled_from >= 0:
        return "its checkpoint plans the compiled kernels"
    return ""


class Group:
    """The active members' stacked parameters, gradients and optimiser state."""

    def __init__(self, members: list[Member]) -> None:
        first = members[0].p
        self.cell, self.sizes = first.spec, (first.n_x, first.n_a, first.n_y)
        self.kind = members[0].cfg.train.optimizer
        self.loss = members[0].plan.problem.loss
        self.members = members
        theta = np.stack([m.state.theta for m in members])
        self.opt = StackOptimizer(self.kind, theta.shape, theta.dtype)
        for name, rows in self.opt.state.items():
            for k, m in enumerate(members):
                rows[k] = m.state.opt_state[name]
        self._bind(theta)

    def _bind(self, theta: np.ndarray) -> None:
        """Point every member's parameters and optimiser state at its rows."""
        self.stack = kernels.Stack(self.cell, *self.sizes, theta)
        self.grads = self.stack.like(np.zeros_like(theta))
        for k, m in enumerate(self.members):
            m.p = self.stack.members[k]
            m.state.theta = m.p.flat
            m.state.opt_state = {name: rows[k] for name, rows in self.opt.state.items()}

    def leave(self, gone: Sequence[Member]) -> None:
        """Take members out of the stack: they keep copies of their parameters."""
        for m in gone:
            m.p = m.p.like(m.p.flat.copy())
            m.state.theta = m.p.flat
            m.state.opt_state = {k: v.copy() for k, v in m.state.opt_state.items()}
        keep = [k for k, m in enumerate(self.members) if m not in gone]
        self.members = [self.members[k] for k in keep]
        if not self.members:
            return
        theta = np.ascontiguousarray(self.stack.theta[keep])
        self.opt.take(keep)
        self._bind(theta)

    def step(self) -> list[tuple[float, int, int]]:
        """One update of every member: (its loss, its batch's steps T, its batch's size)."""
        ms = self.members
        batches = [m.plan.problem.batch(m.data_rng) for m in ms]
        X = kernels.stacked_dense([b.X for b in batches], self.sizes[0], self.stack.dtype)
        lengths = [b.X.shape[0] for b in batches]
        values = kernels.train_step(self.stack, X, lengths, [b.targets for b in batches],
                                    self.loss, self.grads)  # fmt: skip
        lrs = []
        for k, m in enumerate(ms):
            t = m.cfg.train
            clip(self.grads.theta[k], t.clip, t.clip_mode)
            lrs.append(learning_rate(t.lr, m.state.step, t.schedule, t.decay, t.decay_every))
            m.state.opt_t += 1
        self.opt.step(
            self.stack.theta, self.grads.theta, lrs, [m.cfg.train.momentum for m in ms],
            [m.cfg.train.eps for m in ms], [m.state.opt_t for m in ms],
        )  # fmt: skip
        return [(v, n, b.X.shape[-1]) for v, n, b in zip(values, lengths, batches, strict=True)]


def _due(m: Member) -> bool:
    """Whether the member evaluates after its next update."""
    step, t = m.state.step + 1, m.cfg.train
    return step % t.eval_every == 0 or step == t.steps


def _record(
    m: Member, value: float, T: int, size: int, lr: float, wall: float,
    metrics: dict[str, Any] | None,
) -> None:  # fmt: skip
    """A member's bookkeeping after an update, as the training loop keeps it; `metrics`:
    its evaluation, when due."""
    problem, s, t = m.plan.problem, m.state, m.cfg.train
    s.step += 1
    s.sequences += size
    loss = problem.reported_loss(value, T)
    s.loss_sum += loss
    s.loss_count += 1
    s.wall_s = m.wall0 + wall
    if metrics is not None:
        record = {
            "step": s.step, "sequences": s.sequences,
            **problem.loss_metrics(s.loss_sum / s.loss_count), **metrics,
            "lr": lr, "wall_s": round(s.wall_s, 4),
        }  # fmt: skip
        s.loss_sum, s.loss_count = 0.0, 0
        if problem.solved(record) and s.solved_sequences < 0:
            s.solved_sequences = s.sequences
        score = problem.score(record)
        if score < s.best_score:
            s.best_score, s.best_step, s.evals_since_best = score, s.step, 0
            if m.run is not None and t.keep_best:  # written at the next checkpoint
                m.best = (m.p.flat.copy(), s.step, record)
        else:
            s.evals_since_best += 1
        m.history.append(record)
        if m.run is not None:
            m.run.append_jsonl(METRICS_JSONL, record, sync=False)  # synced at the checkpoint
    if s.step % t.checkpoint_every == 0:
        m.save_checkpoint()


def _update(group: Group, t_start: float) -> list[Member]:
    """One update of the group; the members that must leave it (diverged, or a run file
    that cannot be written: failed)."""
    lrs = [
        learning_rate(m.cfg.train.lr, m.state.step, m.cfg.train.schedule, m.cfg.train.decay,
                      m.cfg.train.decay_every)
        for m in group.members
    ]  # fmt: skip
    out = group.step()
    finite = np.isfinite(group.stack.theta).all(axis=1)
    ok = [math.isfinite(v) and bool(finite[k]) for k, (v, _, _) in enumerate(out)]
    due = [m for k, m in enumerate(group.members) if ok[k] and _due(m)]
    evals = batched_eval.evaluate([m.plan.problem for m in due], [m.p for m in due])
    metrics = {id(m): e for m, e in zip(due, evals, strict=True)}
    wall = time.perf_counter() - t_start
    gone = []
    for k, (m, (value, T, size)) in enumerate(zip(group.members, out, strict=True)):
        if not math.isfinite(value):
            m.diverged(f"loss is {value}")
        elif not finite[k]:
            m.diverged("the parameters overflowed")
        else:
            try:
                _record(m, value, T, size, lrs[k], wall, metrics.get(id(m)))
            except WriteError as err:
                m.status, m.message = "failed", str(err)
        if m.status != "completed":
            gone.append(m)
    return gone


def _quiet(message: str) -> None:
    pass


@dataclass
class _Session:
    """What the members of one `execute_group` call share: how to stop and to tell."""

    should_stop: Callable[[], bool]
    notice: Notice
    threads: int = 1
    outcomes: dict[int, Outcome] = field(default_factory=dict)

    def finish(self, i: int, m: Member) -> None:
        """End member `i` where it stands: its checkpoint, results and run.json."""
        s = m.state
        s.stop = m.done() if m.status == "completed" else ""
        try:
            if m.status not in ("diverged", "failed"):
                m.save_checkpoint()  # the end state, or where the stop request found it
            elif m.status == "diverged":
                m.flush()
        except WriteError as err:
            m.status, m.message = "failed", str(err)
        result = Result(m.status, m.plan.problem, m.p, s, m.history, m.message, "numpy",
                        self.threads)  # fmt: skip
        try:
            self.outcomes[i] = finish_run(m.plan, m.run, result, self.should_stop, self.notice)
        finally:
            if m.run is not None:
                m.run.release()


def _open(plans: Sequence[Plan], session: _Session) -> dict[int, Member]:
    """Open every member's folder; those that cannot start are outcomes already."""
    members: dict[int, Member] = {}
    for i, plan in enumerate(plans):
        if plan.nothing_to_do:
            session.outcomes[i] = Outcome("nothing-to-do", {}, plan.run_dir, None,
                                          plan.nothing_to_do)  # fmt: skip
            continue
        run = None
        try:
            plan.extra.setdefault("batched", {"members": len(plans)})
            run = open_folder(plan)
            prepare_folder(run, plan, session.notice)
            members[i] = _member(plan, run, session.notice)
        except WriteError as err:
            session.outcomes[i] = failed_run(run, err)
            if run is not None:
                run.release()
        except BaseException:
            if run is not None:
                run.release()
            raise
    return members


def execute_group(
    plans: Sequence[Plan],
    should_stop: Callable[[], bool] | None = None,
    notice: Notice = _quiet,
) -> list[Outcome]:
    """Train the planned runs (one model shape: `group_key`, `why_not`) as one stack;
    each member's folder is written as `lifecycle.execute` writes a solo run's. The
    outcomes in the order of `plans`."""
    from rnncli.config import to_dict

    why = sorted({why_not(p.cfg) for p in plans} - {""})
    if not why and len({group_key(to_dict(p.cfg)) for p in plans}) > 1:
        why = ["they differ in more than the per-member keys (PER_MEMBER)"]
    if why:
        raise ValueError(f"these runs cannot train as one stack: {why[0]}")
    session = _Session(should_stop or (lambda: False), notice)
    members = _open(plans, session)
    try:
        if members:
            first = next(iter(members.values()))
            session.threads = engine.threads_for(first.cfg.train.threads, first.p.n_a)
            _train(members, session)
    finally:
        for i, m in members.items():
            if i not in session.outcomes and m.run is not None:
                m.run.release()
    return [session.outcomes[i] for i in range(len(plans))]


def _train(members: dict[int, Member], session: _Session) -> None:
    index = {id(m): i for i, m in members.items()}
    group = Group(list(members.values()))

    def leave(gone: list[Member]) -> None:
        group.leave(gone)
        for m in gone:
            session.finish(index[id(m)], m)

    t_start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"), engine.limit_threads(session.threads):
        while group.members:
            done = [m for m in group.members if m.done()]
            if done:
                leave(done)
                continue
            if session.should_stop():
                for m in group.members:
                    m.status, m.message = "interrupted", f"interrupted at step {m.state.step}"
                leave(list(group.members))
                break
            gone = _update(group, t_start)
            if gone:
                leave(gone)
