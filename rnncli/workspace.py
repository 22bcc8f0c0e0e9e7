"""Scratch buffers that are reused across calls of the same shape.

A fresh multi-megabyte NumPy array is backed by pages the kernel maps on first touch,
one fault per 4 KiB page. In a virtual machine each fault costs microseconds: a first
version of the engine that allocated its temporaries per call spent about 40% of a
medium-size LSTM step in page faults. The hot path (`loss_and_grads_packed`) therefore
draws every temporary from a `Workspace` that lives as long as the shapes stay the same
(`cached`), and writes into it with ``out=``. Arrays handed back to the caller (the
gradients, ``dX``, ``da0``) are never workspace buffers.

`Workspace()` on its own is a throwaway: each `get` allocates, which is what the public
`forward` / `backward` use unless they are given a workspace.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

import numpy as np

T = TypeVar("T")

#: Workspaces kept per thread, least recently used dropped first: at most this many,
#: and no more than MAX_CACHED_BYTES in all besides the one in use.
MAX_CACHED = 8
MAX_CACHED_BYTES = 2 << 30


class Workspace:
    """Named buffers: ``get(name, shape, dtype)`` returns the same array while the shape
    and dtype stay the same, and a new uninitialised one otherwise."""

    def __init__(self) -> None:
        self.arrays: dict[Hashable, np.ndarray] = {}
        self.memo: dict[str, tuple[tuple[int, ...], tuple[object, ...], Any]] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        buf = self.arrays.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self.arrays[name] = np.empty(shape, dtype=dtype)
        return buf

    def constant(self, name: Hashable, make: Callable[[], np.ndarray]) -> np.ndarray:
        """An array built once by make() and kept; `name` must say everything it depends
        on (``("ones", 70, float64)``). Callers must not write into it."""
        buf = self.arrays.get(name)
        if buf is None:
            buf = self.arrays[name] = make()
        return buf

    def ones(self, n: int, dtype: np.dtype) -> np.ndarray:
        """A constant vector of n ones: ``M @ ones`` sums M's rows in one BLAS call, where
        ``M.sum(axis=1)`` costs a few microseconds more per call on small arrays."""
        return self.constant(("ones", n, dtype), lambda: np.ones(n, dtype=dtype))

    def views(self, name: str, buffers: tuple[object, ...], make: Callable[[], T]) -> T:
        """make(), typically the per-step views of `buffers`, kept while the same buffers
        are passed again. Making a view costs about 0.1 µs; the LSTM takes 11 per step,
        which was a fifth of its forward time at the smallest benchmark size."""
        ids = tuple(map(id, buffers))
        hit = self.memo.get(name)
        if hit is not None and hit[0] == ids:
            return cast(T, hit[2])
        made = make()
        self.memo[name] = (ids, buffers, made)  # holding the buffers keeps their ids unique
        return made

    def one(self, dtype: np.dtype) -> np.ndarray:
        """1 as a 0-d array of `dtype`: ``z += ws.one(dt)`` skips the conversion of a
        Python 1 that NumPy does on every call (0.3 µs, a tenth of a small ufunc call)."""
        return self.constant(("one", dtype), lambda: np.ones((), dtype=dtype))

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())


_local = threading.local()


def cached(key: Hashable) -> Workspace:
    """This thread's workspace for `key` (the shapes and dtype of a call)."""
    cache: OrderedDict[Hashable, Workspace] | None = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = OrderedDict()
    ws = cache.get(key)
    if ws is not None:
        cache.move_to_end(key)
        return ws
    # A new shape: drop the least recently used workspaces before this one fills up.
    # (Buffers only grow on first use, so checking on a miss keeps the bound.)
    while cache and (
        len(cache) >= MAX_CACHED or sum(w.nbytes for w in cache.values()) > MAX_CACHED_BYTES
    ):
        cache.popitem(last=False)
    ws = cache[key] = Workspace()
    return ws


def clear() -> None:
    """Drop this thread's cached workspaces (frees their memory)."""
    _local.cache = OrderedDict()


def feature_major(ws: Workspace, name: str, S: np.ndarray) -> np.ndarray:
    """Copy time-major S: (T, k, m) into ws[name] laid out (k, T, m).

    In that layout ``out[:, t0:t1].reshape(k, -1)`` is a (k, (t1 - t0) * m) matrix view,
    so a sum over steps and examples such as ``sum_t dz_t a_t^T`` is one GEMM.
    """
    out = ws.get(name, (S.shape[1], S.shape[0], S.shape[2]), S.dtype)
    np.copyto(out, S.transpose(1, 0, 2))
    return out
