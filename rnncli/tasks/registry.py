"""The task registry: every training task is one `TaskSpec`, registered by name.

A task's module holds its generator, its problem (what the trainer runs: batches, loss,
evaluation, criterion), its defaults and its `TaskSpec`; `rnncli.tasks.builtin` registers
the built-in ones, one line each. A user's task registers the same way, from any module
imported before the config is loaded::

    from rnncli.tasks.registry import TaskSpec, register
    register(TaskSpec("parity", "the parity of a bit string", ParityProblem, defaults={...}))

The config's task choices and defaults, the 1997 battery and every per-task property the
rest of rnncli asks about (`next_symbol`, `data`, ...) come from here.

This module imports nothing of rnncli's at import time; the built-in tasks are imported
on the first question asked of the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sampler:
    """How to sample from a trained model of a task (a generative task's)."""

    #: ``draw(p, task, n, temperature, prime, rng) -> result``: `task` as task.json, `n`
    #: None for the task's default count, `prime` None unless `primed`.
    draw: Callable[..., dict[str, Any]]
    #: the result as the lines of samples.txt
    lines: Callable[[dict[str, Any]], list[str]]
    saved: int  # samples a finished run writes to samples.txt
    primed: bool = False  # takes a prime (--prime): the start of the sample


@dataclass(frozen=True)
class TaskSpec:
    """One training task and everything rnncli needs to know about it."""

    name: str
    description: str  # one line, for help and listings
    #: ``problem(cfg, eval_rng, progress) -> Problem`` (`rnncli.tasks.problem`): the
    #: training-side object for a validated config; raises InputError for bad task input.
    problem: Callable[..., Any]
    #: config layers above the built-in defaults and below the user's ({"train": {...}})
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: the model predicts the next symbol: a model that reads backwards would see it
    next_symbol: bool = False
    #: what an evaluation scores: "sequences" (train.eval_size of them) or "characters"
    #: (train.eval_chars held-out characters; losses per character)
    evaluation: str = "sequences"
    criterion: str = ""  # when the task counts as solved, in words ("": train to train.steps)
    battery: bool = False  # one of the long-time-lag battery of Hochreiter & Schmidhuber (1997)
    #: trains on a text file (train.data, --data): a character model, whose sizes are the
    #: file's vocabulary
    data: bool = False
    targets: bool = False  # reads train.targets (a target at every step, or the last only)
    steps_key: str | None = None  # train.* key: steps of a training sequence (memory estimate)
    readout: str = "last"  # what the output layer is read at: "every" step or the "last"
    sampler: Sampler | None = None  # a generative task's sampling


_TASKS: dict[str, TaskSpec] = {}
_loaded = False


def _builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import rnncli.tasks.builtin  # noqa: F401  (registers the built-in tasks)


def register(spec: TaskSpec) -> TaskSpec:
    """Add `spec` under its name (after the built-in tasks); a name is taken once."""
    _builtins()
    if spec.name in _TASKS and _TASKS[spec.name] != spec:
        raise ValueError(f"task {spec.name!r} is already registered")
    if spec.evaluation not in ("sequences", "characters"):
        raise ValueError(f"task {spec.name!r}: evaluation is 'sequences' or 'characters'")
    _TASKS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a task (a test's or a plugin's); unknown names are ignored."""
    _TASKS.pop(name, None)


def names() -> list[str]:
    """The registered tasks' names, in registration order."""
    _builtins()
    return list(_TASKS)


def find(name: Any) -> TaskSpec | None:
    """The task called `name`, or None (e.g. an old run's task that is gone)."""
    _builtins()
    return _TASKS.get(name) if isinstance(name, str) else None


def get(name: str) -> TaskSpec:
    """The task called `name`; KeyError naming the known tasks if there is none."""
    spec = find(name)
    if spec is None:
        raise KeyError(f"unknown task {name!r}; expected one of {choices()}")
    return spec


def choices() -> str:
    """The known tasks for a message: ``'reber', 'adding', ... or 'copy'``."""
    quoted = [repr(n) for n in names()]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def battery() -> list[TaskSpec]:
    """The tasks of the 1997 battery, in registration order."""
    return [s for s in (get(n) for n in names()) if s.battery]


def generative(primed: bool = False) -> list[str]:
    """The tasks one can sample from (`primed`: from a given prime), in registration order."""
    return [n for n in names() if (s := get(n).sampler) and (s.primed or not primed)]


def data_task() -> str:
    """The task a text file (--data) implies: the first one that trains on a file."""
    return next(n for n in names() if get(n).data)


class Table(Mapping[str, Any]):
    """A live read-only view of the registry: ``{name: value(spec)}`` over the tasks
    `keep` selects, following later registrations."""

    def __init__(
        self,
        value: Callable[[TaskSpec], Any] = lambda s: s,
        keep: Callable[[TaskSpec], bool] = lambda s: True,
    ) -> None:
        self._value, self._keep = value, keep

    def _names(self) -> list[str]:
        return [n for n in names() if self._keep(_TASKS[n])]

    def __getitem__(self, name: str) -> Any:
        spec = find(name)
        if spec is None or not self._keep(spec):
            raise KeyError(name)
        return self._value(spec)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())
