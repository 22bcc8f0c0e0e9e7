"""rnncli: recurrent neural networks from scratch in NumPy, as a command-line tool.

The notebook's functions (``rnn_cell_forward`` ... ``gru_backward``) are the readable
reference; ``loss_and_grads`` runs the whole model on the fast engine; ``train``,
``load_run`` and ``sample`` do from Python what the command line does (`rnncli.api`).
"""

from __future__ import annotations

#: The one place the version is written (pyproject.toml reads it from here).
__version__ = "0.2.0"

from rnncli.api import RunData, TrainResult, load_run, sample, train  # noqa: E402
from rnncli.engine import loss_and_grads  # noqa: E402
from rnncli.notebook import (  # noqa: E402
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

__all__ = [
    "RunData",
    "TrainResult",
    "__version__",
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
    "sample",
    "train",
]
