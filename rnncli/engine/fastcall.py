"""The cheapest ways to call NumPy in a time-step loop.

At the smallest sizes a step's arithmetic takes less time than calling NumPy, so the
call itself is what the kernels optimise (measured on NumPy 2.4, 2-core VM):

* ``out`` given positionally: ``np.add(a, b, a)`` skips keyword parsing, ~0.15 µs (a
  fifth of a small ufunc call) less than ``out=a``; ``a += b`` costs about the same
  as the keyword form.
* `dot` below: ``np.dot`` first calls a Python dispatcher that looks for
  ``__array_function__`` overrides; the kernels only ever pass plain ndarrays, so they
  call the implementation behind it directly (~0.15 µs less per call). NEP 18 exposes
  it as ``_implementation``; if a NumPy version lacks it, this is plain ``np.dot``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

dot: Callable[..., Any] = getattr(np.dot, "_implementation", np.dot)
