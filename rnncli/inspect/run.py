"""What inspect looks at: a model (`Subject`: a trained run's, or an untrained one made
from a config as ``rnncli train`` would initialise it) and the data it reads (`Sample`).

Data: the run's own task through its `Problem` (``problem.batch(rng)`` with
``rng = np.random.default_rng(seed)``, `BATCH_SEED` by default, `BATCH` sequences), so
any task the trainer knows works here. Text models read one passage instead (m = 1):
``--text``, a ``--data`` file, or by default the validation part of the run's own file
(its last 10%, which the model never trained on), at most `TEXT_LENGTH` characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnncli import engine
from rnncli.config import Config
from rnncli.engine import Packed
from rnncli.errors import InputError
from rnncli.runs.names import BEST
from rnncli.tasks import registry
from rnncli.tasks import text as text_task

BATCH = 32  # sequences drawn from the task
BATCH_SEED = 0  # the batch's random stream: np.random.default_rng(BATCH_SEED)
TEXT_LENGTH = 1000  # characters of a passage
CONTEXT = 20_000  # at most this much of the text before a passage, for its features


@dataclass
class Subject:
    """A model to inspect and where it comes from."""

    p: Packed
    cfg: Config
    task: dict[str, Any]  # as task.json: task, n_x, n_y (text: vocab, path)
    label: str  # for tables and legends
    run_dir: Path | None  # None: untrained, from a config
    which: str  # "last", "best", "untrained" or "params" (a weights file's)
    params: Path | None = None  # that file (or run folder)

    @property
    def cell(self) -> str:
        return self.p.spec.label

    @property
    def is_text(self) -> bool:
        """A character model on a text file (its task's `data`): it reads passages."""
        spec = registry.find(self.task.get("task"))
        return spec is not None and spec.data


@dataclass
class Sample:
    """The inputs a model reads, with the targets of its loss.

    X: (T, n_x, m) time-major; targets as the loss wants them ((T, m) ints for xent,
    (n_y, m) for mse_last, (m,) for xent_last); mask: (T, m), the steps that carry a
    target (padding excluded); text: a text model's passage, the T characters it reads.
    """

    X: np.ndarray
    targets: np.ndarray
    loss: str
    mask: np.ndarray
    source: str  # in words, for headers: "adding batch: 32 sequences, seed 0"
    seed: int | None = None
    text: str | None = None
    context: str = ""  # the text before the passage, if it comes from inside a file

    @property
    def T(self) -> int:
        return int(self.X.shape[0])

    @property
    def m(self) -> int:
        return int(self.X.shape[2])


def _check_model(p: Packed, where: str) -> None:
    if p.stacked:
        raise InputError(
            f"{where}: inspect looks at one-layer models; this one has {p.layers} layers "
            f"and {p.directions} direction(s)"
        )


def from_run(run_dir: Path, which: str = "last") -> Subject:
    """A train run's model: its last checkpoint or (``which="best"``) best.npz."""
    from rnncli.training import checkpoint
    from rnncli.weights import packed_from_run

    if which == "best" and not (run_dir / BEST).is_file():
        raise InputError(f"{run_dir}: has no {BEST} (train.keep_best was off?)")
    if which == "last" and not (run_dir / checkpoint.NAME).is_file():
        raise InputError(f"{run_dir}: has no {checkpoint.NAME}: not a train run")
    p, cfg, task = packed_from_run(run_dir, which)
    _check_model(p, str(run_dir))
    label = f"{p.spec.label} · {run_dir.name}" + (" (best)" if which == "best" else "")
    return Subject(p, cfg, dict(task), label, run_dir, which)


def from_config(cfg: Config, params: Path | None = None) -> Subject:
    """The model of `cfg` (a training config): untrained, initialised as ``rnncli train``
    initialises it (same seed, same parameters), or at the parameters of `params` (a
    weights file in notebook or PyTorch names, or a run folder; every shape checked)."""
    from rnncli import weights
    from rnncli.training.lifecycle import check_model
    from rnncli.training.loop import fresh_state, model_shape, prepare

    check_model(cfg)
    problem = prepare(cfg)
    theta = None
    if params is not None:
        layers, D = model_shape(cfg)
        theta = weights.load_for(params, cfg.cell, problem.n_x, cfg.train.hidden, problem.n_y,
                                 cfg.dtype, layers, D, flag="--params")  # fmt: skip
    p, _, _ = fresh_state(cfg, problem, theta)
    _check_model(p, "this config")
    task = {"task": problem.name, "n_x": problem.n_x, "n_y": problem.n_y, **problem.meta}
    if params is None:
        label = f"{p.spec.label} · untrained (seed {cfg.seed})"
        return Subject(p, cfg, task, label, None, "untrained")
    return Subject(p, cfg, task, f"{p.spec.label} · {params.name}", None, "params", params)


def valid_steps(loss: str, targets: np.ndarray, T: int, m: int) -> np.ndarray:
    """(T, m) bools: the steps a loss reads a target at (xent: target >= 0; the
    last-step losses: every step counts, the model reads them all)."""
    if loss == "xent":
        return np.asarray(targets >= 0)
    return np.ones((T, m), dtype=bool)


def task_batch(subject: Subject, m: int = BATCH, seed: int = BATCH_SEED) -> Sample:
    """A batch of m sequences of the subject's task, drawn by its `Problem`."""
    from rnncli.training.problems import make_problem

    t = subject.cfg.train.model_copy(update={"batch": m, "eval_size": 1})
    cfg = subject.cfg.model_copy(update={"train": t})
    problem = make_problem(cfg, np.random.default_rng(seed))
    if (problem.n_x, problem.n_y) != (subject.p.n_x, subject.p.n_y):
        raise InputError(f"{subject.label}: the task's sizes do not match the model any more")
    b = problem.batch(np.random.default_rng(seed))
    X = engine.dense(b.X, problem.n_x, subject.p.dtype)  # inspection reads dense inputs
    T, _, got = X.shape
    mask = valid_steps(problem.loss, b.targets, T, got)
    source = f"{problem.name} batch: {got} sequences of {T} steps, seed {seed}"
    return Sample(X, b.targets, problem.loss, mask, source, seed)


def text_sample(subject: Subject, text: str, source: str, context: str = "") -> Sample:
    """One passage (m = 1) for a text model: it reads text[:-1] and predicts text[1:]
    (`context`: what comes before it in its file, for the text's features).

    Characters outside the model's vocabulary are refused, all of them named (a model
    with an unknown symbol, ``train.vocab_min_count``, reads them as that)."""
    vocab = text_task.Vocab.from_list(subject.task["vocab"], subject.task.get("unknown"))
    unknown = sorted(set(text) - set(vocab.chars))
    if unknown and vocab.unknown is None:
        shown = ", ".join(repr(c) for c in unknown[:12]) + (" ..." if len(unknown) > 12 else "")
        raise InputError(f"{source}: characters the model never saw: {shown}")
    if len(text) < 2:
        raise InputError(f"{source}: needs at least 2 characters (read one, predict the next)")
    codes = vocab.encode(text)
    T, V = len(codes) - 1, vocab.size
    X = np.zeros((T, V, 1), dtype=subject.p.dtype)
    X[np.arange(T), codes[:-1], 0] = 1
    targets = np.ascontiguousarray(codes[1:, None])
    mask = np.ones((T, 1), dtype=bool)
    return Sample(X, targets, "xent", mask, f"{source}: {T} characters", None, text[:-1], context)


def default_passage(subject: Subject, length: int = TEXT_LENGTH) -> tuple[str, str, str]:
    """A text model's own passage: the start of the validation part of its data file.
    Returns (text, source, the text before it: up to `CONTEXT` characters, from the first
    blank line in them, where quotes close).

    Read from the file's entry in the text cache (built if missing, as training does), so
    a big file costs its hash and the passage, not its text."""
    path = subject.task.get("path") or subject.cfg.train.data
    if not path or not Path(path).is_file():
        raise InputError(
            f"{subject.label}: its text file {path} is not there; give --data FILE or --text"
        )
    corpus = text_task.open_corpus(path, subject.cfg.train.vocab_min_count)
    cut = text_task.split_point(corpus.characters)
    decode = corpus.vocab.decode
    before = decode(corpus.data[max(0, cut - CONTEXT) : cut])
    if cut > CONTEXT and "\n\n" in before:
        before = before[before.index("\n\n") + 2 :]
    passage = decode(corpus.data[cut : cut + length + 1])
    return passage, f"{Path(path).name} (validation part)", before


def read_passage(path: Path, length: int = TEXT_LENGTH) -> tuple[str, str, str]:
    """The first `length` + 1 characters of a UTF-8 file (read length, predict the next),
    reading no more of it than that."""
    return text_task.head(path, length + 1), str(path), ""


def sample_for(
    subject: Subject,
    text: str | None = None,
    data: Path | None = None,
    length: int = TEXT_LENGTH,
    m: int = BATCH,
    seed: int = BATCH_SEED,
) -> Sample:
    """What `subject` reads: a passage for a text model, a task batch otherwise."""
    if not subject.is_text:
        if text is not None or data is not None:
            raise InputError(
                f"{subject.label}: --text and --data are for text models; this one is a "
                f"{subject.task.get('task')} model"
            )
        return task_batch(subject, m, seed)
    if text is not None:
        return text_sample(subject, text[: length + 1], "--text")
    passage, source, context = (
        read_passage(data, length) if data else default_passage(subject, length)
    )
    return text_sample(subject, passage, source, context)


def hidden_states(p: Packed, X: np.ndarray) -> tuple[Any, np.ndarray]:
    """The traced forward pass from a zero state: (cache, H: (T, n_a, m))."""
    cache = engine.forward(p, X, None, trace=True)
    return cache, engine.hidden(p, cache)
