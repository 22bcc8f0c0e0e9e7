"""The GEMM the kernels call: NumPy's (its BLAS, OpenBLAS in the wheels), or MKL's
``cblas_sgemm`` / ``cblas_dgemm`` through ctypes when the ``mkl`` wheel is installed.

Why: on the per-step shapes of the medium LSTM (a (512, 193) weight block times a
(193, 32) batch) OpenBLAS's sgemm measured 1.45-1.68x slower than MKL's on this
machine's Xeon, and the per-step product is the largest part of a training step.

``engine.blas`` (config) or `use` chooses: ``numpy``, ``mkl`` (ValueError where it is
not installed), or ``auto``: MKL where it loads and measured faster (products of
`AUTO_MIN_MACS` and more, on one thread: see `gemm_for`), else NumPy. The choice is
process-wide, like BLAS threads; `active` says whether MKL is in use.

Kernels get a `Gemm` for their dtype from `gemm_for` and either call it on arrays
(``g(A, B, C)``: C = A @ B, every operand a 2-d matrix whose rows or columns are
contiguous) or bind a product once (``g.bind(A, B, C)``) and call the bound product in
their time loop: the bound form is a ctypes call with every argument prepared, about
1 µs, as much as NumPy's ``dot``. Where MKL is off, `Gemm` is NumPy's ``dot`` /
``matmul`` and the results are NumPy's, bit for bit.

MKL's threads: threadpoolctl sees the loaded MKL, so `rnncli.engine.limit_threads`
(the run's BLAS threads) limits MKL's threads as well as OpenBLAS's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.engine.fastcall import dot as np_dot

CHOICES = ("auto", "numpy", "mkl")
_ROW, _N, _T = 101, 111, 112  # CblasRowMajor, CblasNoTrans, CblasTrans
HINT = "MKL is not installed: pip install 'rnncli[mkl]' (the mkl wheel)"

#: Under ``auto``, products of fewer multiply-adds (M N K) than this stay on NumPy: at
#: small sizes MKL measured 0.75-0.95x NumPy (small LSTM: 250k-540k; from 1M up 1.3-2.3x).
AUTO_MIN_MACS = 600_000

_lib: ctypes.CDLL | None = None
_tried = False
_choice: str | None = None  # what was asked for (None: not yet, which is numpy)
_active = "numpy"


def _candidates() -> list[str]:
    names = ["libmkl_rt.so.3", "libmkl_rt.so.2", "libmkl_rt.so", "libmkl_rt.dylib"]
    dirs = {Path(sys.prefix) / "lib", Path(sys.base_prefix) / "lib"}
    found = [str(d / n) for d in dirs for n in names if (d / n).exists()]
    lib = ctypes.util.find_library("mkl_rt")
    return found + ([lib] if lib else [])


def load() -> ctypes.CDLL | None:
    """MKL's runtime library, loaded once (None where it is not installed)."""
    global _lib, _tried
    if _tried:
        return _lib
    _tried = True
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            lib.cblas_sgemm  # noqa: B018 (the symbol must be there)
        except (OSError, AttributeError):
            continue
        for fn, real in ((lib.cblas_sgemm, ctypes.c_float), (lib.cblas_dgemm, ctypes.c_double)):
            fn.restype = None
            ptr, i = ctypes.c_void_p, ctypes.c_int
            fn.argtypes = [i] * 6 + [real, ptr, i, ptr, i, real, ptr, i]
        lib.MKL_Get_Max_Threads.restype = ctypes.c_int
        _lib = lib
        break
    return _lib


def available() -> bool:
    return load() is not None


def use(choice: str) -> str:
    """Make `choice` (``auto``, ``numpy`` or ``mkl``) the process's GEMM; return what
    runs (``numpy`` or ``mkl``). ValueError for ``mkl`` where MKL is not installed."""
    global _active, _choice
    if choice not in CHOICES:
        raise ValueError(f"engine.blas={choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "mkl" and not available():
        raise ValueError(f"engine.blas=mkl: {HINT}")
    _choice = choice
    _active = "mkl" if choice != "numpy" and available() else "numpy"
    return _active


def active() -> str:
    """What runs the kernels' products now: ``numpy`` or ``mkl`` (``numpy``, the default,
    until `use` says otherwise)."""
    if _choice is None:
        use("numpy")
    return _active


def choice() -> str:
    """What was asked for: ``numpy`` (the default), ``auto`` or ``mkl``."""
    return _choice or "numpy"


def _layout(M: np.ndarray) -> tuple[int, int] | None:
    """(transpose flag, leading dimension) of a 2-d matrix for row-major cblas, or None
    if neither its rows nor its columns are contiguous."""
    s0, s1 = M.strides
    item = M.itemsize
    if s1 == item and s0 % item == 0 and s0 >= item * max(1, M.shape[1]):
        return _N, s0 // item
    if s0 == item and s1 % item == 0 and s1 >= item * max(1, M.shape[0]):
        return _T, s1 // item
    return None


class Gemm:
    """C = A @ B for one dtype, on MKL (`mkl` True) or NumPy."""

    def __init__(self, dtype: np.dtype, mkl: bool, min_macs: int = 0) -> None:
        lib = load() if mkl else None
        self.min_macs = min_macs
        self.fn: Any = None
        if lib is not None:
            self.fn = lib.cblas_sgemm if dtype == np.float32 else lib.cblas_dgemm
        self.mkl = self.fn is not None

    def args(self, A: np.ndarray, B: np.ndarray, C: np.ndarray, beta: float = 0.0) -> tuple | None:
        """The cblas arguments of C = A @ B (+ beta C), or None if MKL cannot take them
        (or, under ``auto``, the product is too small to pay: the cheap checks first)."""
        if self.fn is None:
            return None
        (M, K), N = A.shape, B.shape[1]
        if min(M, N, K) == 0 or self.min_macs > M * N * K:
            return None
        la, lb, lc = _layout(A), _layout(B), _layout(C)
        if la is None or lb is None or lc is None or lc[0] != _N:
            return None
        return (_ROW, la[0], lb[0], M, N, K, 1.0, A.ctypes.data, la[1],
                B.ctypes.data, lb[1], beta, C.ctypes.data, lc[1])  # fmt: skip

    def __call__(self, A: np.ndarray, B: np.ndarray, C: np.ndarray) -> None:
        a = self.args(A, B, C)
        if a is None:
            np.matmul(A, B, out=C)
        else:
            self.fn(*a)

    def call(self, A: np.ndarray, B: np.ndarray, C: np.ndarray) -> tuple[Any, tuple]:
        """(function, arguments) of C = A @ B for a time loop, ``f(*args)``: MKL's cblas
        call with every argument prepared, or NumPy's ``dot`` on the arrays (the arrays
        must stay alive and in place while it is used; the workspace's buffers do)."""
        a = self.args(A, B, C)
        return (np_dot, (A, B, C)) if a is None else (self.fn, a)

    def bind(self, A: np.ndarray, B: np.ndarray, C: np.ndarray) -> Callable[[], Any]:
        """C = A @ B as a call without arguments, for a time loop (the arrays must stay
        alive and in place while it is used; the workspace's buffers do)."""
        a = self.args(A, B, C)
        if a is None:
            return lambda: np_dot(A, B, C)
        fn = self.fn
        return lambda: fn(*a)


_gemms: dict[tuple[str, bool, str], Gemm] = {}


def gemm_for(dtype: np.dtype) -> Gemm:
    """The active GEMM for `dtype` (float32 or float64; other dtypes get NumPy's).

    Under ``auto`` MKL runs only while its thread limit is one (as `rnncli train` sets it
    on a busy machine, see `rnncli.engine.threads_for`, or ``--threads 1``): on two
    threads of a shared 2-core machine MKL's OpenMP threads measured 0.14-0.7x NumPy's."""
    mkl = _active == "mkl" and np.dtype(dtype) in (np.float32, np.float64)
    if mkl and choice() == "auto" and _lib is not None and _lib.MKL_Get_Max_Threads() > 1:
        mkl = False
    key = (np.dtype(dtype).str, mkl, choice())
    g = _gemms.get(key)
    if g is None:
        g = _gemms[key] = Gemm(np.dtype(dtype), mkl, AUTO_MIN_MACS if choice() == "auto" else 0)
    return g
