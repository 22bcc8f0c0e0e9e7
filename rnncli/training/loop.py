"""The training loop: batches -> engine -> clipped gradients -> optimiser, with
evaluation, metrics, checkpoints, the best parameters, exact resume and early stops.

Randomness: one root seed; `numpy.random.SeedSequence(seed)` spawns independent streams
for initialisation, training data, evaluation data and dropout masks, so changing, say,
the evaluation set size never changes the training data.

The loop stops at ``train.steps``, when the task is solved (``train.stop_on_solve``),
when the validation score has not improved for ``train.patience`` evaluations, when
``should_stop()`` says so (Ctrl-C, SIGTERM, a sweep stopping), when the loss or the
parameters stop being finite (diverged), or when a run file cannot be written (failed).
It never leaves the run folder worse than it found it: the checkpoint on disk is always
a good one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rnncli import engine
from rnncli.engine import Packed, blas, stack
from rnncli.errors import InputError
from rnncli.params import init_params
from rnncli.runs import Run, WriteError, read_jsonl, write_text_atomic
from rnncli.runs.names import BEST, METRICS_JSONL
from rnncli.tasks.problem import Problem
from rnncli.training import checkpoint
from rnncli.training.checkpoint import TrainState
from rnncli.training.optim import Optimizer, clip, learning_rate, state_names
from rnncli.training.problems import make_problem

if TYPE_CHECKING:
    from rnncli.config import Config



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
    status: str  # completed | interrupted | diverged | failed
    problem: Problem
    params: Packed
    state: TrainState
    history: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    backend: str = "numpy"  # the last step's
    threads: int = 1
    from_step: int | None = None  # where an auto run moved to the compiled kernels
    threads_why: str = ""  # why that many threads (`engine.choose_threads`)
    blas: str = "numpy"  # what ran the NumPy engine's products (engine.blas)

    @property
    def solved(self) -> bool:
        return self.state.solved_sequences >= 0

    def summary(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        metrics = {k: v for k, v in last.items() if k not in ("step", "sequences", "lr", "wall_s")}
        wall = self.state.wall_s
        s = self.state
        return {
            "status": self.status,
            "task": self.problem.name,
            "steps": s.step,
            "sequences": s.sequences,
            "stopped_by": s.stop or None,
            "solved": self.solved if self.problem.has_goal else None,
            "sequences_to_solve": s.solved_sequences if self.solved else None,
            "metric": self.problem.metric,
            "final": metrics,
            "best": {"step": s.best_step, "score": s.best_score} if s.best_step >= 0 else None,
            "wall_s": round(wall, 3),
            "sequences_per_s": round(s.sequences / wall, 1) if wall > 0 else None,
            "evaluation": self.problem.evaluation,
            "engine": {"backend": self.backend, "threads": self.threads, "blas": self.blas}
            | ({"threads_why": self.threads_why} if self.threads_why else {})
            | ({"from_step": self.from_step} if self.from_step else {}),
            "message": self.message,
        }


def streams(seed: int) -> tuple[np.random.Generator, ...]:
    """Independent (init, data, eval, dropout) generators from one root seed."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))


def model_shape(cfg: Config) -> tuple[int, int]:
    """(layers, directions) of the config's model."""
    return cfg.model.layers, 2 if cfg.model.bidirectional else 1


def _optimizer(cfg: Config, p: Packed) -> Optimizer:
    t = cfg.train
    return Optimizer(t.optimizer, p.flat.size, p.dtype, t.momentum, t.eps)


def fresh_state(
    cfg: Config, problem: Problem, theta: np.ndarray | None = None
) -> tuple[Packed, TrainState, Optimizer]:
    """A new run's parameters (drawn, or `theta` given: fine-tuning), state and optimiser."""
    init_rng, data_rng, _, dropout_rng = streams(cfg.seed)
    t = cfg.train
    layers, D = model_shape(cfg)
    if theta is None:
        params = init_params(
            cfg.cell, problem.n_x, t.hidden, problem.n_y, init_rng,
            scheme=cfg.init.scheme if cfg.init.scheme != "notebook" else "xavier",
            scale=cfg.init.scale, dtype=np.dtype(cfg.dtype), layers=layers, directions=D,
            forget_bias=cfg.init.forget_bias,
        )  # fmt: skip
        p = engine.pack(cfg.cell, params, n_x=problem.n_x, layers=layers, directions=D)
    else:
        p = Packed(cfg.cell, problem.n_x, t.hidden, problem.n_y, theta.copy(), layers, D)
    opt = _optimizer(cfg, p)
    state = TrainState(
        step=0, sequences=0, theta=p.flat, opt_t=0, opt_state=opt.state,
        rng_state=data_rng.bit_generator.state, stream_state=0, loss_sum=0.0, loss_count=0,
        solved_sequences=-1, wall_s=0.0, dropout_state=dropout_rng.bit_generator.state,
    )  # fmt: skip
    return p, state, opt


def restore(
    cfg: Config, problem: Problem, state: TrainState, path: Path
) -> tuple[Packed, Optimizer]:
    """The model and optimiser of a checkpoint read from `path`, checked against `cfg`."""
    t = cfg.train
    layers, D = model_shape(cfg)
    checkpoint.check(
        path, state, cfg.cell, problem.n_x, t.hidden, problem.n_y, cfg.dtype,
        state_names(t.optimizer), layers, D,
    )  # fmt: skip
    p = Packed(cfg.cell, problem.n_x, t.hidden, problem.n_y, state.theta, layers, D)
    opt = _optimizer(cfg, p)
    opt.t = state.opt_t
    for name in opt.state:
        opt.state[name][...] = state.opt_state[name]
    state.opt_state = opt.state
    problem.set_stream_state(state.stream_state)
    return p, opt


def kept_metrics(
    path: Path, step: int, notice: Callable[[str], None] | None = None
) -> list[dict[str, Any]]:
    """The metric lines up to the checkpoint's step (a torn last line is dropped with a
    notice); the file is rewritten without the later ones, which will be produced again."""
    kept = [r for r in read_jsonl(path, notice) if r.get("step", math.inf) <= step]
    if path.exists():
        write_text_atomic(path, "".join(engine_json(r) + "\n" for r in kept))
    return kept


def engine_json(record: dict[str, Any]) -> str:
    from rnncli.runs import to_json

    return to_json(record, indent=None)


def prepare(cfg: Config, progress: Callable[[int, int], None] | None = None) -> Problem:
    """The task with its evaluation set; raises InputError for bad task input (text files).
    `progress(done, total)` follows the encoding of a text file."""
    return make_problem(cfg, streams(cfg.seed)[2], progress)


def stop_reason(cfg: Config, state: TrainState) -> str:
    """Why a run at `state` has nothing left to do under `cfg`: "steps", "solved",
    "patience", or "" (it goes on)."""
    t = cfg.train
    if state.step >= t.steps:
        return "steps"
    if t.stop_on_solve and state.solved_sequences >= 0:
        return "solved"
    if t.patience and state.evals_since_best >= t.patience:
        return "patience"
    return ""


def _never() -> bool:
    return False


def train(
    cfg: Config,
    run: Run | None = None,
    reporter: Reporter | None = None,
    resume: bool = False,
    problem: Problem | None = None,
    should_stop: Callable[[], bool] | None = None,
    theta: np.ndarray | None = None,
    notice: Callable[[str], None] | None = None,
    backend: engine.Backend | None = None,
) -> Result:
    """Train ``cfg`` (a validated config). With `run`, write metrics, checkpoints and the
    best parameters there; with ``resume=True``, continue from ``run``'s checkpoint.
    `problem` is `prepare(cfg)`, made here when not given; `should_stop` is polled between
    updates; `theta` starts a new run from given parameters (engine layout); `backend` is
    the run's decision (`backend_for`, resumed to the checkpoint), made here when not
    given."""
    s = _Session.open(cfg, run, reporter or _Silent(), resume, problem, theta, notice, backend)
    should_stop = should_stop or _never
    status, message = "completed", ""
    s.begin()
    try:
        with np.errstate(over="ignore", invalid="ignore"), engine.limit_threads(s.threads):
            while not s.done():
                if should_stop():
                    status, message = "interrupted", f"interrupted at step {s.state.step}"
                    break
                failed = s.update()
                if failed:
                    status, message = "diverged", failed
                    break
                if s.state.step % cfg.train.checkpoint_every == 0:
                    s.save_checkpoint()
        s.state.stop = s.done() if status == "completed" else ""
        if status != "diverged":
            s.save_checkpoint()  # the end state, or where the stop request found us
    except WriteError as err:  # a full disk, a read-only folder: the last checkpoint stands
        status, message = "failed", str(err)
    finally:
        s.last_figures()
        s.reporter.stop()
    return s.result(status, message)


@dataclass
class _Session:
    """One training session: the model, its optimiser and state, and the streams, as
    `train` steps them."""

    cfg: Config
    run: Run | None
    reporter: Reporter
    problem: Problem
    p: Packed
    state: TrainState
    opt: Optimizer
    data_rng: np.random.Generator
    dropout_rng: np.random.Generator
    plan: engine.Backend
    notice: Callable[[str], None] | None
    history: list[dict[str, Any]] = field(default_factory=list)
    current: str = "numpy"  # the backend of the next step
    t_start: float = 0.0  # set when the loop starts
    last_tick: float = 0.0
    loss: float = math.nan  # the last update's
    wall0: float = 0.0
    grads: Packed = field(init=False)
    threads: int = field(init=False)
    threads_why: str = field(init=False)
    gemm: str = field(init=False)
    dropout: float = field(init=False)

    @classmethod
    def open(
        cls, cfg: Config, run: Run | None, reporter: Reporter, resume: bool,
        problem: Problem | None, theta: np.ndarray | None,
        notice: Callable[[str], None] | None, backend: engine.Backend | None,
    ) -> _Session:  # fmt: skip
        """A new session, or one resumed from `run`'s checkpoint."""
        _, data_rng, _, dropout_rng = streams(cfg.seed)
        problem = problem or prepare(cfg)
        history: list[dict[str, Any]] = []
        if resume:
            assert run is not None
            path = run.path / checkpoint.NAME
            state = checkpoint.load(path)
            p, opt = restore(cfg, problem, state, path)
            try:
                data_rng.bit_generator.state = state.rng_state
                if state.dropout_state:
                    dropout_rng.bit_generator.state = state.dropout_state
            except (ValueError, TypeError, KeyError) as err:
                raise InputError(f"{path}: checkpoint has a bad random state ({err})") from None
            history = kept_metrics(run.path / METRICS_JSONL, state.step, notice)
        else:
            p, state, opt = fresh_state(cfg, problem, theta)
        plan = _backend(cfg, backend, state, resume, notice)
        return cls(cfg, run, reporter, problem, p, state, opt, data_rng, dropout_rng, plan,
                   notice, history)  # fmt: skip

    def __post_init__(self) -> None:
        self.grads = self.p.zeros_like()
        asked, n_a = self.cfg.train.threads, self.p.n_a
        self.threads, why = engine.choose_threads(asked, n_a)
        by_load = asked is None and n_a >= engine.THREADS_FROM  # recorded when the machine chose
        self.threads_why = why if by_load else ""
        try:
            self.gemm = blas.use(self.cfg.engine.blas)
        except ValueError as exc:  # engine.blas=mkl where MKL is not installed
            raise InputError(str(exc)) from None
        if self.cfg.engine.blas == "auto" and self.threads > 1:
            self.gemm = "numpy"  # auto runs MKL on one thread only (see blas.gemm_for)
        self.dropout = self.cfg.model.dropout if self.p.layers > 1 else 0.0

    def begin(self) -> None:
        self.t_start = time.perf_counter()
        self.wall0 = self.state.wall_s
        self.last_tick = self.t_start
        self.reporter.start(self.cfg.train.steps, self.state.step)

    def done(self) -> str:
        """Why the run has nothing left to do, or ""."""
        return stop_reason(self.cfg, self.state)

    def step_backend(self) -> str:
        """Move to the compiled kernels where the plan says; loading them (seconds, the
        first time on a machine) is not training time."""
        if self.current != self.plan.at(self.state.step):
            took = self.plan.load(self.p.cell, self.p.dtype, self.notice)
            self.t_start += took
            self.last_tick += took
            self.current = "compiled"
        return self.current

    def update(self) -> str:
        """One update on a fresh batch; why the run diverged, or ""."""
        t, p, state, problem = self.cfg.train, self.p, self.state, self.problem
        b = problem.batch(self.data_rng)
        T, m = b.X.shape[0], b.X.shape[-1]  # X: (T, n_x, m), or (T, m) indices
        carry = problem.carry_state
        state0 = state.carry if carry and not b.reset and state.carry else None
        masks = (stack.dropout_masks(p, self.dropout, self.dropout_rng, T, m)
                 if self.dropout else None)  # fmt: skip
        value, final = engine.train_step(
            p, b.X, b.targets, state0, problem.loss, self.grads, masks, self.step_backend()
        )
        if not math.isfinite(value):
            return self.diverged(f"loss is {value}", state.step + 1)
        clip(self.grads.flat, t.clip, t.clip_mode)
        lr = learning_rate(t.lr, state.step, t.schedule, t.decay, t.decay_every)
        self.opt.step(p.flat, self.grads.flat, lr)
        if not np.isfinite(p.flat).all():  # never checkpoint an overflowed update
            return self.diverged("the parameters overflowed", state.step + 1)
        if carry:
            state.carry = final
        state.step += 1
        state.sequences += m
        loss = problem.reported_loss(value, T)
        state.loss_sum += loss
        state.loss_count += 1
        state.wall_s = self.wall0 + time.perf_counter() - self.t_start
        self.tick(loss)
        if state.step % t.eval_every == 0 or state.step == t.steps:
            self.evaluate(lr)
        return ""

    def tick(self, loss: float) -> None:
        """Progress, at most ten times a second, at the summary's rate: over all sessions
        so far."""
        self.loss = loss
        now = time.perf_counter()
        if now - self.last_tick > 0.1:
            self.reporter.update(self.state.step, loss, self.state.sequences / self.state.wall_s)
            self.last_tick = now

    def last_figures(self) -> None:
        """The bar's last figures: the summary's."""
        state = self.state
        if state.wall_s > 0 and math.isfinite(self.loss):
            self.reporter.update(state.step, self.loss, round(state.sequences / state.wall_s, 1))

    def evaluate(self, lr: float) -> None:
        """An evaluation: the metrics record, the solved and best marks, best.npz."""
        state, problem, run = self.state, self.problem, self.run
        record = {
            "step": state.step,
            "sequences": state.sequences,
            **problem.loss_metrics(state.loss_sum / state.loss_count),
            **problem.evaluate(self.p),
            "lr": lr,
            "wall_s": round(state.wall_s, 4),
        }
        state.loss_sum, state.loss_count = 0.0, 0
        if problem.solved(record) and state.solved_sequences < 0:
            state.solved_sequences = state.sequences
        score = problem.score(record)
        if score < state.best_score:
            state.best_score, state.best_step = score, state.step
            state.evals_since_best = 0
            if run is not None and self.cfg.train.keep_best:
                checkpoint.save_best(run.path / BEST, self.p.flat, state.step, record)
        else:
            state.evals_since_best += 1
        self.history.append(record)
        if run is not None:
            run.append_jsonl(METRICS_JSONL, record)
        self.reporter.evaluation(record)

    def save_checkpoint(self) -> None:
        if self.run is None:
            return
        state = self.state
        state.rng_state = self.data_rng.bit_generator.state
        state.dropout_state = self.dropout_rng.bit_generator.state
        state.stream_state = self.problem.stream_state()
        state.opt_t = self.opt.t
        checkpoint.save(self.run.path / checkpoint.NAME, state)

    def diverged(self, what: str, step: int) -> str:
        run = self.run
        kept = run is not None and (run.path / checkpoint.NAME).is_file()
        return f"{what} at step {step}; " + (
            "kept the last good checkpoint" if kept else "no checkpoint was saved before it"
        )

    def result(self, status: str, message: str) -> Result:
        ran, start = self.plan.ran(self.state.step)
        return Result(status, self.problem, self.p, self.state, self.history, message, ran,
                      self.threads, start, self.threads_why, self.gemm)  # fmt: skip


def backend_for(cfg: Config) -> engine.Backend:
    """The one decision of a new run's backend, from its config (``engine.backend``, the
    model, ``train.hidden`` and ``train.batch``); a resumed run then follows its
    checkpoint's record (`engine.Backend.resumed`). InputError where ``compiled`` cannot
    run."""
    layers, D = model_shape(cfg)
    t = cfg.train
    try:
        return engine.decide(cfg.engine.backend, cfg.cell, layers * D > 1, t.hidden, t.batch)
    except ValueError as err:
        raise InputError(str(err)) from None


def _backend(
    cfg: Config,
    given: engine.Backend | None,
    state: TrainState,
    resume: bool,
    notice: Callable[[str], None] | None,
) -> engine.Backend:
    """The run's backend (`given`, else decided here and resumed to the checkpoint),
    recorded in `state` so that a later resume follows the same plan."""
    plan = given
    if plan is None:
        plan = backend_for(cfg)
        if resume:
            plan = plan.resumed(state.compiled_from)
    if plan.note and notice is not None:
        notice(plan.note)
    state.compiled_from = plan.record
    return plan
