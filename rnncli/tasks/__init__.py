"""Training data: the embedded Reber grammar, the adding problem, character-level text.

Pure NumPy; all randomness comes from a passed-in ``np.random.Generator``. Arrays use
the notebook layout ``x: (n_x, m, T_x)`` (features, batch, time).
"""

from __future__ import annotations

from rnncli.tasks import adding, reber, text

__all__ = ["adding", "reber", "text"]
