"""rnncli: recurrent neural networks from scratch in NumPy, as a command-line tool.

The notebook's functions (``rnn_cell_forward`` ... ``gru_backward``) are the readable
reference; ``loss_and_grads`` runs the whole model on the fast engine; ``train``,
``load_run``, ``sample``, ``gradcheck``, ``runs`` and ``compare`` do from Python what the
command line does (`rnncli.api`); ``check(globals())`` checks a running notebook's own
functions (`rnncli.check.inline`).

Every name is loaded on first use: ``import rnncli`` itself loads no NumPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The one place the version is written (pyproject.toml reads it from here).
__version__ = "0.2.0"

#: Each public name and the module that defines it.
_NAMES = {
    "RunData": "rnncli.api",
    "RunTable": "rnncli.api",
    "TrainResult": "rnncli.api",
    "check": "rnncli.check",  # the package, callable: rnncli.check(globals())
    "compare": "rnncli.api",
    "gradcheck": "rnncli.gradcheck",  # the package, callable: rnncli.api.gradcheck
    "load_run": "rnncli.api",
    "runs": "rnncli.runs",  # the package, callable: rnncli.api.runs
    "sample": "rnncli.api",
    "train": "rnncli.api",
    "loss_and_grads": "rnncli.engine",
    **{
        f"{cell}_{what}": "rnncli.notebook"
        for cell in ("rnn", "lstm", "gru")
        for what in ("cell_forward", "forward", "cell_backward", "backward")
    },
}

__all__ = [
    "RunData",
    "RunTable",
    "TrainResult",
    "__version__",
    "check",
    "compare",
    "gradcheck",
    "gru_backward",
    "gru_cell_backward",
    "gru_cell_forward",
    "gru_forward",
    "load_run",
    "loss_and_grads",
    "lstm_backward",
    "lstm_cell_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "rnn_backward",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "rnn_forward",
    "runs",
    "sample",
    "train",
]


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module 'rnncli' has no attribute {name!r}")
    module = importlib.import_module(_NAMES[name])
    value = module if module.__name__ == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_NAMES])


if TYPE_CHECKING:  # for type checkers and editors: the names as if imported eagerly
    from rnncli.api import (
        RunData,
        RunTable,
        TrainResult,
        compare,
        load_run,
        sample,
        train,
    )
    from rnncli.engine import loss_and_grads
    from rnncli.notebook import (
        gru_backward,
        gru_cell_backward,
        gru_cell_forward,
        gru_forward,
        lstm_backward,
        lstm_cell_backward,
        lstm_cell_forward,
        lstm_forward,
        rnn_backward,
        rnn_cell_backward,
        rnn_cell_forward,
        rnn_forward,
    )
