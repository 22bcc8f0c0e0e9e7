"""Packages whose names are also API functions: ``rnncli.gradcheck(...)``,
``rnncli.runs(...)`` and ``rnncli.check(...)``.

Importing ``rnncli.gradcheck`` (the gradient checks), ``rnncli.runs`` (run folders) or
``rnncli.check`` (a learner's functions) makes the package the attribute of ``rnncli``,
whatever was there: so the packages themselves are callable, and ``rnncli.gradcheck`` is
the same object before and after.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any


class CallablePackage(types.ModuleType):
    """A package that, called, runs its `__call_target__`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__dict__["__call_target__"](*args, **kwargs)


def api_function(name: str) -> Callable[..., Any]:
    """`rnncli.api`'s function `name`, imported when first called."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module("rnncli.api"), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def make_callable(name: str, target: Callable[..., Any]) -> None:
    """Make the package `name` (already in sys.modules) call `target` when called."""
    module = sys.modules[name]
    module.__dict__["__call_target__"] = target
    module.__class__ = CallablePackage
