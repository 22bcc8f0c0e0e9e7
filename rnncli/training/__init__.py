"""Training: tasks as problems, optimisers, the loop with checkpoints and exact resume,
and the one lifecycle of a run (`lifecycle`: plan, then execute) that the command line,
sweeps and the Python API share.

Names load on first use, so that a module of the package (a checkpoint reader, say)
can be imported without the whole lifecycle."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_NAMES = {
    "Outcome": "lifecycle",
    "Plan": "lifecycle",
    "execute": "lifecycle",
    "start_or_resume": "lifecycle",
    "Result": "loop",
    "prepare": "loop",
    "train": "loop",
}

__all__ = ["Outcome", "Plan", "Result", "execute", "prepare", "start_or_resume", "train"]


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module 'rnncli.training' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rnncli.training.{_NAMES[name]}"), name)


if TYPE_CHECKING:
    from rnncli.training.lifecycle import Outcome, Plan, execute, start_or_resume
    from rnncli.training.loop import Result, prepare, train
