"""The task registry: every training task is one `TaskSpec`, registered by name.

A task's module holds its generator, its problem (what the trainer runs: batches, loss,
evaluation, criterion), its defaults and its `TaskSpec`; `rnncli.tasks.builtin` registers
the built-in ones, one line each. A user's task registers the same way, from any module
imported before the config is loaded::

    from rnncli.tasks.registry import TaskSpec, register
    register(TaskSpec("parity", "the parity of a bit string", ParityProblem, defaults={...}))

The config's task choices and defaults, the 1997 battery and every per-task property the
rest of rnncli asks about (`next_symbol`, `data`, ...) come from here.

This module imports only `rnncli.tasks.spec` at import time; the built-in tasks
(`rnncli.tasks.builtin`) are imported on the first question asked of the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from rnncli.tasks.spec import Sampler, TaskSpec

__all__ = ["Sampler", "TaskSpec", "Table", "battery", "choices", "data_task", "find",
           "generative", "get", "names", "register", "unregister"]  # fmt: skip


_TASKS: dict[str, TaskSpec] = {}
_loaded = False


def _builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from rnncli.tasks.builtin import TASKS  # on the first question: imports every task

        for spec in TASKS:
            _add(spec)


def register(spec: TaskSpec) -> TaskSpec:
    """Add `spec` under its name (after the built-in tasks); a name is taken once."""
    _builtins()
    return _add(spec)


def _add(spec: TaskSpec) -> TaskSpec:
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
