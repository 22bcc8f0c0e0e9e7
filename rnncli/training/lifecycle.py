"""One run's life, in one place: plan it (check everything, write nothing), then execute
it (open the folder, train, write the results, close the folder). ``rnncli train``, every
sweep job and ``rnncli.train()`` go through here.

    start_or_resume(cfg, out=...)     a new run (or a sweep job's exact folder, run_dir=)
    start_or_resume(None, resume=RUN_DIR, overrides=...)
                                      continue a run, or extend a finished one
    execute(plan, reporter, should_stop)

Extending: ``--resume RUN_DIR train.steps=N`` (and the other `RESUMABLE` keys, which
change neither the model nor the data stream) continues a finished run; the changes are
recorded in run.json with the step they took effect at. A finished run extended to N
steps ends exactly where a run started with N steps ends (the loop is a pure function of
the config and the checkpoint). Any other changed key is refused, naming it; a run with
nothing left to do says so (`Plan.nothing_to_do`).

Fine-tuning: ``init_from`` (another run's folder, its ``best.npz``, or a weights file)
starts a new run from those parameters; every shape must match.

A planned run has passed every check that can fail on input: a refused resume leaves the
folder exactly as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnncli import cells, engine
from rnncli.config import Config, check_training_memory, dump_yaml, load_config, to_dict
from rnncli.config.memory import format_bytes
from rnncli.errors import InputError
from rnncli.hashing import file_sha256
from rnncli.runs import Run, WriteError, check_out, now_iso, read_json, read_jsonl
from rnncli.runs.names import CONFIG_YAML, METRICS_JSONL, RUN_JSON, TASK_JSON
from rnncli.tasks import registry
from rnncli.tasks.problem import Problem
from rnncli.training import artifacts, checkpoint, tensorboard
from rnncli.training.loop import (
    Reporter,
    Result,
    backend_for,
    model_shape,
    prepare,
    restore,
    train,
)

#: Keys a resume may change: they change neither the model nor the data stream.
RESUMABLE = (
    "train.steps", "train.eval_every", "train.eval_size", "train.checkpoint_every",
    "train.lr", "train.schedule", "train.decay", "train.decay_every", "train.momentum",
    "train.eps", "train.clip", "train.clip_mode", "train.patience", "train.keep_best",
    "train.stop_on_solve", "train.temperature", "train.threads", "train.eval_chars",
    "train.tensorboard",
)  # fmt: skip

Notice = Callable[[str], None]
Progress = Callable[[int, int], None]  # (done, total) bytes of a text being encoded


@dataclass
class Plan:
    """A checked, not yet started training run."""

    cfg: Config
    problem: Problem
    mode: str  # "new" (a fresh folder under `out`), "at" (exactly `run_dir`), "resume"
    out: Path | None = None
    run_dir: Path | None = None
    name: str | None = None
    argv: list[str] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    changes: dict[str, list[Any]] = field(default_factory=dict)  # key: [old, new]
    forced: list[str] = field(default_factory=list)  # changed files --force let through
    theta: np.ndarray | None = None  # parameters to start from (fine-tuning)
    init_from: dict[str, Any] | None = None  # where they come from, for run.json
    extra: dict[str, Any] = field(default_factory=dict)  # more run.json entries
    nothing_to_do: str = ""  # a finished run with nothing to extend: why
    step: int = 0  # where a resume starts
    backend: engine.Backend | None = None  # decided once, here (`check_model`)


@dataclass
class Outcome:
    """What `execute` did."""

    status: str  # completed | interrupted | diverged | failed | nothing-to-do
    summary: dict[str, Any]
    run_dir: Path | None
    result: Result | None
    message: str = ""
    write_error: bool = False  # a run file could not be written (exit 2)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = prefix + k
        if isinstance(v, Mapping) and k != "grid":
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def check_model(cfg: Config) -> engine.Backend:
    """Refusals that depend on the model and the task together; the run's backend, decided
    here once (`backend_for`: it refuses ``engine.backend=compiled`` where it cannot run)."""
    if cfg.model.bidirectional and registry.get(cfg.train.task).next_symbol:
        raise InputError(
            f"model.bidirectional=true cannot train on train.task={cfg.train.task}: a model that "
            "reads the sequence backwards would see the next symbol it is asked to predict"
        )
    cells.check_dtype(cells.get(cfg.cell), cfg.dtype)
    if cfg.train.tensorboard:
        tensorboard.require()
    return backend_for(cfg)


def check(cfg: Config, notice: Notice | None = None, progress: Progress | None = None) -> Problem:
    """Every refusal a new run can meet before it starts (model and task together, the
    task's data, memory); the task's problem. `progress` follows the encoding of a text
    file, whose vocabulary sets the model's size: the memory check comes after it
    (encoding allocates only bounded buffers). `notice` gets the task's lines (what the
    text cache did, what a large vocabulary costs) once every check has passed."""
    return _check(cfg, notice, progress)[0]


def _check(
    cfg: Config, notice: Notice | None, progress: Progress | None
) -> tuple[Problem, engine.Backend]:
    backend = check_model(cfg)
    problem = prepare(cfg, progress)  # bad task input fails here, before any folder exists
    need = check_training_memory(cfg, problem.n_x, problem.n_y, eval_shape=problem.eval_shape)
    if notice is not None:
        for line in problem.notices:
            notice(line)
        if line := problem.size_notice(format_bytes(need)):
            notice(line)
    return problem, backend


def plan_new(
    cfg: Config,
    out: Path | None,
    run_dir: Path | None = None,
    name: str | None = None,
    argv: Sequence[str] = (),
    flags: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    init_from: Path | None = None,
    extra: Mapping[str, Any] | None = None,
    notice: Notice | None = None,
    progress: Progress | None = None,
) -> Plan:
    """A new run under `out` (None: no folder, as --no-save), or exactly at `run_dir`.
    `notice` and `progress` follow the encoding of a text file."""
    problem, backend = _check(cfg, notice, progress)
    if out is not None:
        check_out(out)
    plan = Plan(
        cfg, problem, "at" if run_dir is not None else "new", out=out, run_dir=run_dir,
        name=name, argv=list(argv), flags=dict(flags or {}), overrides=list(overrides),
        extra=dict(extra or {}), backend=backend,
    )  # fmt: skip
    if init_from is not None:
        plan.theta, plan.init_from = parameters_from(init_from, cfg, problem)
    return plan


def start_or_resume(
    cfg: Config | None,
    resume: Path | None = None,
    out: Path | None = None,
    overrides: Sequence[str] = (),
    force: bool = False,
    notice: Notice | None = None,
    progress: Progress | None = None,
    **new: Any,
) -> Plan:
    """The one place a run is planned: `resume` continues (or, with `overrides` of
    `RESUMABLE` keys, extends) that run folder; else a new run of `cfg` under `out` (the
    other keywords as `plan_new` takes them)."""
    if resume is None:
        assert cfg is not None
        return plan_new(cfg, out, overrides=overrides, notice=notice, progress=progress, **new)
    return plan_resume(resume, overrides, new.get("argv", ()), force, notice, progress)


def _run_files(run_dir: Path) -> None:
    """Refuse a folder that is not a resumable training run, naming what is missing."""
    if not run_dir.exists():
        raise InputError(f"{run_dir}: no such run folder")
    if not (run_dir / CONFIG_YAML).is_file():
        raise InputError(f"{run_dir}: not a run folder (no config.yaml)")
    if not (run_dir / RUN_JSON).is_file() or not (run_dir / checkpoint.NAME).is_file():
        raise InputError(f"{run_dir}: not a train run with a checkpoint to resume from")
    if not (run_dir / TASK_JSON).is_file():
        raise InputError(f"{run_dir}: not a train run (no task.json)")


def plan_resume(
    run_dir: Path,
    overrides: Sequence[str] = (),
    argv: Sequence[str] = (),
    force: bool = False,
    notice: Notice | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Continue (or extend, with `overrides` of `RESUMABLE` keys) the run in `run_dir`.
    Reads only (a text's cache entry may be rebuilt); refuses a damaged folder, a changed
    cell or data file (unless `force`), and any change to another key, each with one line.
    `notice` and `progress` as for `check`."""
    _run_files(run_dir)
    info = Run.load_json(run_dir)
    if info.get("command") != "train":
        raise InputError(f"{run_dir}: a {info.get('command')} run, not a train run")
    saved = load_config(run_dir / CONFIG_YAML, training=True)
    cfg = load_config(run_dir / CONFIG_YAML, {}, list(overrides), training=True)
    before, after = _flatten(to_dict(saved)), _flatten(to_dict(cfg))
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    for key in changes:
        if key not in RESUMABLE:
            raise InputError(
                f"{key} cannot change when a run continues (it changes the model or the data); "
                f"resumable: {', '.join(k.split('.', 1)[1] for k in RESUMABLE)}; "
                "or start a new run from it with --init-from"
            )
    spec = cells.get(cfg.cell)
    why = cells.source_changes(info.get("cell_source"), spec)
    if why and not force:
        raise InputError(f"{why}; --force continues anyway")
    forced = [why] if why else []
    backend = check_model(cfg)
    task = read_json(run_dir / TASK_JSON, TASK_JSON)
    if not isinstance(task, dict):
        raise InputError(f"{run_dir / TASK_JSON}: not a JSON object")
    data_why = _check_data(cfg, task, run_dir, force)
    forced += [data_why] if data_why else []
    problem = prepare(cfg, progress)
    if (task.get("n_x"), task.get("n_y")) != (problem.n_x, problem.n_y):
        raise InputError(f"{run_dir / TASK_JSON}: sizes do not match the task any more")
    state = checkpoint.load(run_dir / checkpoint.NAME)
    restore(cfg, problem, state, run_dir / checkpoint.NAME)  # checks it fits, writes nothing
    read_jsonl(run_dir / METRICS_JSONL)  # a damaged line (but a torn last one) is refused here
    plan = Plan(
        cfg, problem, "resume", run_dir=run_dir, argv=list(argv), overrides=list(overrides),
        changes=changes, step=state.step, forced=forced,
        backend=backend.resumed(state.compiled_from),
    )  # fmt: skip
    plan.nothing_to_do = _finished(cfg, state, info)
    if notice is not None:
        for line in problem.notices:
            notice(line)
    return plan


def _check_data(cfg: Config, task: Mapping[str, Any], run_dir: Path, force: bool) -> str:
    """The text a run trains on must be the file it started with; returns what `force`
    let through ("" if nothing)."""
    if not registry.get(cfg.train.task).data:
        return ""
    path = Path(cfg.train.data or "")
    if not path.is_file():
        raise InputError(f"data file {path} is missing (the run {run_dir} trains on it)")
    recorded = task.get("sha256")
    if recorded and file_sha256(path) != recorded:
        why = f"data file {path} changed since the run started (its content hash differs)"
        if not force:
            raise InputError(f"{why}; --force continues anyway")
        return why
    return ""


def _finished(cfg: Config, state: checkpoint.TrainState, info: Mapping[str, Any]) -> str:
    """Why a run has nothing left to do under `cfg`, or ""."""
    t = cfg.train
    where = f"{info.get('path', '')}"
    if t.stop_on_solve and state.solved_sequences >= 0:
        return (
            f"run {where} solved its task after {state.solved_sequences} sequences; nothing to "
            "do (train past it with train.stop_on_solve=false)"
        )
    if state.step >= t.steps:
        return (
            f"run {where} has done its {state.step} steps; nothing to do "
            f"(extend it with train.steps=N, N > {state.step})"
        )
    if t.patience and state.evals_since_best >= t.patience:
        return (
            f"run {where} stopped: no improvement in {state.evals_since_best} evaluations; "
            "nothing to do (raise train.patience, or 0 for none)"
        )
    return ""


def parameters_from(source: Path, cfg: Config, problem: Problem) -> tuple[np.ndarray, dict]:
    """Parameters (engine layout) for a new run from another run's folder (its checkpoint),
    a checkpoint or best.npz, or a weights file with notebook or PyTorch names; every
    shape is checked against the new run's model."""
    from rnncli import weights

    layers, D = model_shape(cfg)
    theta = weights.load_for(source, cfg.cell, problem.n_x, cfg.train.hidden, problem.n_y,
                             cfg.dtype, layers, D)  # fmt: skip
    record: dict[str, Any] = {"path": str(source.resolve())}
    file = source / checkpoint.NAME if source.is_dir() else source
    if file.is_file():
        record["sha256"] = file_sha256(file)
    return theta, record


def _summary(result: Result, cfg: Config, run: Run | None) -> dict[str, Any]:
    summary = result.summary()
    summary["cell"] = cfg.cell
    summary["run_dir"] = str(run.path) if run else None
    return summary


def execute(
    plan: Plan,
    reporter: Reporter | None = None,
    should_stop: Callable[[], bool] | None = None,
    notice: Notice = print,
) -> Outcome:
    """Open the run folder (locked), train, write the results and close it."""
    if plan.nothing_to_do:
        return Outcome("nothing-to-do", {}, plan.run_dir, None, plan.nothing_to_do)
    run: Run | None = None
    try:
        run = open_folder(plan)
        prepare_folder(run, plan, notice)
        result = train(
            plan.cfg, run, reporter, resume=plan.mode == "resume", problem=plan.problem,
            should_stop=should_stop, theta=plan.theta, notice=notice, backend=plan.backend,
        )  # fmt: skip
        return finish_run(plan, run, result, should_stop, notice)
    except WriteError as err:
        return failed_run(run, err)
    finally:
        if run is not None:
            run.release()


def failed_run(run: Run | None, err: WriteError) -> Outcome:
    """The outcome of a run whose files could not be written (marked failed if it has a
    run.json)."""
    if run is not None:
        _finish_quietly(run, "failed", error=str(err))
    return Outcome("failed", {}, run.path if run else None, None, str(err), True)


def open_folder(plan: Plan) -> Run | None:
    """The plan's run folder, opened (locked): created with its config and run.json, or
    reopened for a resume; None without a folder (--no-save). WriteError if it cannot be
    written. `prepare_folder` then makes it ready to train in."""
    cfg, problem = plan.cfg, plan.problem
    spec = cells.get(cfg.cell)
    extra = {
        "task": problem.name, "name": plan.name, "cell_source": dict(spec.source),
        **({"init_from": plan.init_from} if plan.init_from else {}), **plan.extra,
    }  # fmt: skip
    run: Run | None = None
    if plan.mode == "resume":
        assert plan.run_dir is not None
        entry: dict[str, Any] = {"step": plan.step} if plan.changes or plan.forced else {}
        if plan.changes:
            entry["changes"] = plan.changes
        if plan.forced:
            entry["forced"] = plan.forced  # what --force let through
        run = Run.reopen(plan.run_dir, plan.argv, entry)
        if plan.changes:  # the config a later resume reads is the extended one
            run.write_text(CONFIG_YAML, dump_yaml(cfg))
    elif plan.mode == "at":
        assert plan.run_dir is not None
        run = Run.start_at(
            plan.run_dir, "train", cfg.cell, to_dict(cfg), plan.overrides, plan.argv,
            cfg.seed, plan.flags, extra=extra,
        )  # fmt: skip
    elif plan.out is not None:
        what = [problem.name, spec.label, plan.name or ""]
        run = Run.start(
            plan.out, "train", cfg.cell, to_dict(cfg), plan.overrides, plan.argv, cfg.seed,
            plan.flags, what=what, extra=extra,
        )  # fmt: skip
    return run


def prepare_folder(run: Run | None, plan: Plan, notice: Notice = print) -> None:
    """task.json (a new run) and the TensorBoard sink; the notices of the start."""
    if run is not None:
        notice(f"run folder: {run.path}")
        if plan.mode != "resume":
            artifacts.write_task(run, plan.problem)
        if plan.cfg.train.tensorboard:
            _attach_tensorboard(run, plan, notice)
    if plan.problem.evaluated:
        notice(plan.problem.evaluated)


def finish_run(
    plan: Plan,
    run: Run | None,
    result: Result,
    should_stop: Callable[[], bool] | None,
    notice: Notice,
) -> Outcome:
    """Write a trained run's results (loss.png, samples.txt) and its final run.json."""
    cfg = plan.cfg
    summary = _summary(result, cfg, run)
    write_failed = result.status == "failed"
    message = result.message
    if run is not None:
        if result.status == "completed" and not (should_stop and should_stop()):
            try:
                artifacts.write_results(result, run, cfg.train.temperature, notice)
            except WriteError as err:  # the run itself is complete; say what is missing
                write_failed, message = True, str(err)
        try:
            run.finish(result.status, summary=summary, stop=result.state.stop or None,
                       ended=now_iso())  # fmt: skip
        except WriteError as err:
            write_failed, message = True, str(err)
    return Outcome(result.status, summary, run.path if run else None, result, message,
                   write_failed)  # fmt: skip


def _attach_tensorboard(run: Run, plan: Plan, notice: Notice) -> None:
    """TensorBoard's event files beside metrics.jsonl (on a resume that switches them
    on, with the records so far); a writer that cannot start is a notice, not a failed
    run."""
    run.on_sink_error = notice
    try:
        config = to_dict(plan.cfg)
        task = {"train.task": plan.cfg.train.task}
        defaults = to_dict(load_config(None, task, training=True))
        hparams = tensorboard.hparams(config, defaults, run.info.get("sweep"))
        resume = plan.mode == "resume"
        earlier = any(run.path.glob("events.out.tfevents.*"))
        sink = tensorboard.EventSink(run.path, config, hparams, plan.step,
                                     plan.step + 1 if resume else None)  # fmt: skip
        if resume and not earlier:  # switched on at a resume: the records so far too
            for record in read_jsonl(run.path / METRICS_JSONL):
                if record.get("step", 0) <= plan.step:
                    sink.write(METRICS_JSONL, record)
    except Exception as err:
        notice(f"tensorboard: {type(err).__name__}: {err}; no event files for this run")
        return
    run.sinks.append(sink)


def _finish_quietly(run: Run, status: str, **extra: Any) -> None:
    with contextlib.suppress(WriteError):
        run.finish(status, **extra)
