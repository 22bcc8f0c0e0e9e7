"""rnncli: recurrent neural networks from scratch in NumPy, as a command-line tool.

The notebook's functions (``rnn_cell_forward`` ... ``gru_backward``) are the readable
reference; ``loss_and_grads`` runs the whole model on the fast engine.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("rnncli")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

from rnncli.engine import loss_and_grads  # noqa: E402

__all__ = ["__version__", "loss_and_grads"]
