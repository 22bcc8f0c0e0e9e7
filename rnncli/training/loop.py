"""The training loop: batches -> engine -> clipped gradients -> optimiser, with
evaluation, metrics, checkpoints, exact resume, Ctrl-C and divergence handling.

Randomness: one root seed; `numpy.random.SeedSequence(seed)` spawns three independent
streams for initialisation, training data and evaluation data, so changing, say, the
evaluation set size never changes the training data.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rnncli import engine
from rnncli.engine import Packed
from rnncli.params import init_params
from rnncli.runs import Run, write_text_atomic
from rnncli.training import checkpoint
from rnncli.training.checkpoint import TrainState
from rnncli.training.optim import Optimizer, clip_global_norm, learning_rate
from rnncli.training.problems import Problem, make_problem

METRICS = "metrics.jsonl"


class Reporter(Protocol):
    def start(self, total: int, done: int) -> None: ...
    def update(self, step: int, loss: float, seq_per_s: float) -> None: ...
    def evaluation(self, record: dict[str, Any]) -> None: ...
    def stop(self) -> None: ...


class _Silent:
    def start(self, total: int, done: int) -> None:
        pass

    def update(self, step: int, loss: float, seq_per_s: float) -> None:
        pass

    def evaluation(self, record: dict[str, Any]) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class Result:
    status: str  # completed | interrupted | diverged
    problem: Problem
    params: Packed
    state: TrainState
    history: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    @property
    def solved(self) -> bool:
        return self.state.solved_sequences >= 0

    def summary(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        metrics = {k: v for k, v in last.items() if k not in ("step", "sequences", "lr", "wall_s")}
        wall = self.state.wall_s
        return {
            "status": self.status,
            "task": self.problem.name,
            "steps": self.state.step,
            "sequences": self.state.sequences,
            "solved": self.solved if self.problem.has_goal else None,
            "sequences_to_solve": self.state.solved_sequences if self.solved else None,
            "metric": self.problem.metric,
            "final": metrics,
            "wall_s": round(wall, 3),
            "sequences_per_s": round(self.state.sequences / wall, 1) if wall > 0 else None,
            "message": self.message,
        }


def streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent (init, data, eval) generators from one root seed."""
    init, data, evals = np.random.SeedSequence(seed).spawn(3)
    return np.random.default_rng(init), np.random.default_rng(data), np.random.default_rng(evals)


def model_shape(cfg: Any) -> tuple[int, int]:
    """(layers, directions) of the config's model."""
    return cfg.model.layers, 2 if cfg.model.bidirectional else 1


def fresh_state(cfg: Any, problem: Problem) -> tuple[Packed, TrainState, Optimizer]:
    init_rng, data_rng, _ = streams(cfg.seed)
    t = cfg.train
    layers, D = model_shape(cfg)
    params = init_params(
        cfg.cell, problem.n_x, t.hidden, problem.n_y, init_rng,
        scheme=cfg.init.scheme if cfg.init.scheme != "notebook" else "xavier",
        scale=cfg.init.scale, dtype=np.dtype(cfg.dtype), layers=layers, directions=D,
    )  # fmt: skip
    p = engine.pack(cfg.cell, params, n_x=problem.n_x, layers=layers, directions=D)
    opt = Optimizer(t.optimizer, p.flat.size, p.dtype, t.momentum)
    state = TrainState(
        step=0, sequences=0, theta=p.flat, opt_t=0, opt_state=opt.state,
        rng_state=data_rng.bit_generator.state, stream_state=0, loss_sum=0.0, loss_count=0,
        solved_sequences=-1, wall_s=0.0,
    )  # fmt: skip
    return p, state, opt


def restore(cfg: Any, problem: Problem, state: TrainState) -> tuple[Packed, Optimizer]:
    p = Packed(cfg.cell, problem.n_x, cfg.train.hidden, problem.n_y, state.theta, *model_shape(cfg))
    opt = Optimizer(cfg.train.optimizer, p.flat.size, p.dtype, cfg.train.momentum)
    opt.t = state.opt_t
    for name in opt.state:
        opt.state[name][...] = state.opt_state[name]
    state.opt_state = opt.state
    problem.set_stream_state(state.stream_state)
    return p, opt


@contextmanager
def _sigint_flag() -> Iterator[threading.Event]:
    """Turn Ctrl-C into a flag the loop checks between updates (main thread only)."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: Any) -> None:
        flag.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _truncate_metrics(path: Path, step: int) -> list[dict[str, Any]]:
    """Drop metric lines written after the checkpoint; they will be produced again."""
    if not path.exists():
        return []
    kept = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    kept = [r for r in kept if r["step"] <= step]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


def prepare(cfg: Any) -> Problem:
    """The task with its evaluation set; raises InputError for bad task input (text files)."""
    return make_problem(cfg, streams(cfg.seed)[2])


def train(
    cfg: Any,
    run: Run | None = None,
    reporter: Reporter | None = None,
    resume: bool = False,
    problem: Problem | None = None,
) -> Result:
    """Train ``cfg`` (a validated config). With `run`, write metrics and checkpoints there;
    with ``resume=True``, continue from ``run``'s checkpoint. `problem` is `prepare(cfg)`,
    made here when not given."""
    reporter = reporter or _Silent()
    t = cfg.train
    _, data_rng, _ = streams(cfg.seed)
    if problem is None:
        problem = prepare(cfg)
    history: list[dict[str, Any]] = []
    if resume:
        assert run is not None
        state = checkpoint.load(run.path / checkpoint.NAME)
        checkpoint.upgrade(
            run.path / checkpoint.NAME, state, cfg.cell, problem.n_x, t.hidden, problem.n_y,
            *model_shape(cfg),
        )  # fmt: skip
        p, opt = restore(cfg, problem, state)
        data_rng.bit_generator.state = state.rng_state
        history = _truncate_metrics(run.path / METRICS, state.step)
    else:
        p, state, opt = fresh_state(cfg, problem)
    grads = p.zeros_like()
    carry_state = problem.name == "text"

    def save_checkpoint() -> None:
        if run is None:
            return
        state.rng_state = data_rng.bit_generator.state
        state.stream_state = problem.stream_state()
        state.opt_t = opt.t
        checkpoint.save(run.path / checkpoint.NAME, state)

    def diverged(what: str, step: int) -> str:
        kept = run is not None and (run.path / checkpoint.NAME).is_file()
        return f"{what} at step {step}; " + (
            "kept the last good checkpoint" if kept else "no checkpoint was saved before it"
        )

    status, message = "completed", ""
    t_start = time.perf_counter()
    wall0 = state.wall_s
    last_tick, last_seq = t_start, state.sequences
    reporter.start(t.steps, state.step)
    with _sigint_flag() as interrupted, np.errstate(over="ignore", invalid="ignore"):
        while state.step < t.steps and state.solved_sequences < 0:
            if interrupted.is_set():
                status, message = "interrupted", f"interrupted at step {state.step}"
                break
            b = problem.batch(data_rng)
            m = b.X.shape[2]
            state0 = state.carry if carry_state and not b.reset and state.carry else None
            value, final = engine.train_step(p, b.X, b.targets, state0, problem.loss, grads)
            if not math.isfinite(value):
                status, message = "diverged", diverged(f"loss is {value}", state.step + 1)
                break
            clip_global_norm(grads.flat, t.clip)
            opt.step(
                p.flat,
                grads.flat,
                learning_rate(t.lr, state.step, t.schedule, t.decay, t.decay_every),
            )
            if not np.isfinite(p.flat).all():  # never checkpoint an overflowed update
                status, message = "diverged", diverged("the parameters overflowed", state.step + 1)
                break
            if carry_state:
                state.carry = final
            state.step += 1
            state.sequences += m
            state.loss_sum += problem.reported_loss(value, b.X.shape[0])
            state.loss_count += 1
            state.wall_s = wall0 + time.perf_counter() - t_start

            now = time.perf_counter()
            if now - last_tick > 0.1:
                reporter.update(state.step, value, (state.sequences - last_seq) / (now - last_tick))
                last_tick, last_seq = now, state.sequences
            if state.step % t.eval_every == 0 or state.step == t.steps:
                record = {
                    "step": state.step,
                    "sequences": state.sequences,
                    "loss": state.loss_sum / state.loss_count,
                    **problem.evaluate(p),
                    "lr": learning_rate(t.lr, state.step - 1, t.schedule, t.decay, t.decay_every),
                    "wall_s": round(state.wall_s, 4),
                }
                state.loss_sum, state.loss_count = 0.0, 0
                if problem.solved(record):
                    state.solved_sequences = state.sequences
                history.append(record)
                if run is not None:
                    run.append_jsonl(METRICS, record)
                reporter.evaluation(record)
            if state.step % t.checkpoint_every == 0:
                save_checkpoint()
    if status != "diverged":
        save_checkpoint()  # the end state, or where Ctrl-C stopped us
    reporter.stop()
    return Result(status, problem, p, state, history, message)
