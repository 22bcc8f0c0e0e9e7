"""Training data: the embedded Reber grammar, the adding problem, character-level text, and
the long-time-lag battery of Hochreiter & Schmidhuber (1997) plus the copy task.

Pure NumPy; all randomness comes from a passed-in ``np.random.Generator``. Arrays use
the notebook layout ``x: (n_x, m, T_x)`` (features, batch, time).
"""

from __future__ import annotations

from rnncli.tasks import (
    adding,
    copy_task,
    lag,
    lag_noise,
    multiplication,
    reber,
    temporal_order,
    text,
)

__all__ = [
    "adding",
    "copy_task",
    "lag",
    "lag_noise",
    "multiplication",
    "reber",
    "temporal_order",
    "text",
]
