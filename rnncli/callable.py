"""Two packages whose names are also API functions: ``rnncli.gradcheck(...)`` and
``rnncli.runs(...)`` call `rnncli.api.gradcheck` and `rnncli.api.runs`.

Importing ``rnncli.gradcheck`` (the gradient checks) or ``rnncli.runs`` (run folders)
makes the package the attribute of ``rnncli``, whatever was there: so the packages
themselves are callable, and ``rnncli.gradcheck`` is the same object before and after.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class CallablePackage(types.ModuleType):
    """A package that, called, runs the `rnncli.api` function of its own name."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        api = importlib.import_module("rnncli.api")
        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


def make_callable(name: str) -> None:
    """Make the package `name` (already in sys.modules) a `CallablePackage`."""
    sys.modules[name].__class__ = CallablePackage
