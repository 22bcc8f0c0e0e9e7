"""Serving an encoded text to the model: `TextStream` for training (consecutive chunks
for truncated BPTT, the hidden state carried from one chunk to the next) and `HeldOut`
for evaluation (the same held-out characters every time, in many parallel streams).

Both read an index array (uint8/uint16/uint32, usually memory-mapped from the text cache)
one window at a time and never copy it whole.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from rnncli.errors import InputError
from rnncli.tasks.text.read import name_of

PathLike = str | Path


def one_hot(idx: np.ndarray, vocab_size: int, dtype: DTypeLike) -> np.ndarray:
    """One-hot inputs ``x: (V, m, T)`` for indices ``idx: (m, T)``."""
    m, T = idx.shape
    x = np.zeros((vocab_size, m, T), dtype=dtype)
    x[idx, np.arange(m)[:, None], np.arange(T)[None, :]] = 1
    return x


#: Chunks served between two releases of the memory map's pages (see TextStream).
RELEASE_EVERY = 1024


def mapping(data: np.ndarray) -> mmap.mmap | None:
    """The file mapping `data` is a view of (``np.load(..., mmap_mode="r")`` and its
    slices), or None for an array in memory."""
    base: object = data
    while isinstance(base, np.ndarray):
        base = base.base
    return base if isinstance(base, mmap.mmap) else None


def _check_indices(data: np.ndarray, vocab_size: int) -> np.ndarray:
    """`data` as a 1-D integer array with every entry in ``[0, vocab_size)``. A memory-mapped
    array is not scanned (that would read the whole file into memory): the text cache
    checked it when it opened it."""
    mapped = mapping(data) is not None
    data = np.asarray(data)
    if data.ndim != 1 or not np.issubdtype(data.dtype, np.integer):
        raise ValueError(f"text stream: data must be a 1-D integer array, got {data.dtype}")
    if not mapped and data.size and (data.min() < 0 or data.max() >= vocab_size):
        raise ValueError(f"text stream: indices outside [0, {vocab_size})")
    return data


class TextStream:
    """Consecutive (input, target) chunks for truncated BPTT over an encoded text.

    Layout ("batchify"): with n characters, let ``L = (n - 1) // batch``. Track j reads
    inputs ``data[j*L : (j+1)*L]`` and targets one character later,
    ``data[j*L + 1 : (j+1)*L + 1]``. Each call to `next_chunk` returns the next `bptt`
    steps of every track; the stream holds ``L // bptt`` chunks per pass (the last
    ``L % bptt`` steps of each track are skipped) and then wraps to the start.

    `data` is read in place (the tracks are views of it): a memory-mapped text costs
    only the pages of the chunks served. Those pages would stay mapped, and count as the
    process's resident memory, until the whole file had been read once; every
    `RELEASE_EVERY` chunks the stream hands them back (``madvise(MADV_DONTNEED)``: the
    data stays in the page cache and the next chunks map their pages again), so resident
    memory stays bounded on any file.

    Requirement: ``n >= batch * bptt + 1`` characters (at least one full chunk);
    otherwise InputError names `path`, the length and the required length.

    After each `next_chunk`, `wrapped` is True iff the chunk starts at the beginning of
    the tracks (the first chunk of every pass, including the very first), i.e. the
    hidden state carried from the previous chunk must be reset to zero.

    The position is one plain int, the number of chunks served so far (`state` /
    `set_state`); ``epoch = state // chunks_per_epoch``. Restoring it reproduces the
    following chunks exactly.
    """

    def __init__(
        self,
        data: np.ndarray,
        vocab_size: int,
        batch: int,
        bptt: int,
        path: PathLike | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        name = name_of(path)
        if batch < 1 or bptt < 1:
            raise InputError(f"{name}: batch and bptt must be >= 1, got {batch} and {bptt}")
        data = _check_indices(data, vocab_size)
        n, need = len(data), batch * bptt + 1
        if n < need:
            raise InputError(
                f"{name}: text has {n} characters, but batch {batch} x bptt {bptt} "
                f"needs at least {need}"
            )
        self.vocab_size = vocab_size
        self.batch = batch
        self.bptt = bptt
        self.dtype = np.dtype(dtype)
        track = (n - 1) // batch
        self.track_length = track
        self.chunks_per_epoch = track // bptt
        mapped = mapping(data) if hasattr(mmap, "MADV_DONTNEED") else None
        self._release = getattr(mapped, "madvise", None)  # (Python >= 3.8, POSIX)
        self._inputs = data[: batch * track].reshape(batch, track)  # views, no copy
        self._targets = data[1 : batch * track + 1].reshape(batch, track)
        self._served = 0
        self.wrapped = False

    @property
    def epoch(self) -> int:
        """Completed passes over the text."""
        return self._served // self.chunks_per_epoch

    def state(self) -> int:
        """The position: number of chunks served so far."""
        return self._served

    def set_state(self, served: int) -> None:
        """Restore a position returned by `state`."""
        if isinstance(served, bool) or int(served) != served or served < 0:
            raise InputError(f"text stream: position must be an int >= 0, got {served!r}")
        self._served = int(served)

    def next_chunk(self) -> tuple[np.ndarray, np.ndarray]:
        """The next chunk: one-hot ``x: (V, m, T)`` in `dtype`, ``targets: (m, T)`` int64.

        Sets `wrapped` (see the class docstring) and advances the position by one.
        """
        k = self._served % self.chunks_per_epoch
        if self._release is not None and self._served % RELEASE_EVERY == 0:
            self._release(mmap.MADV_DONTNEED)
        start, stop = k * self.bptt, (k + 1) * self.bptt
        x = one_hot(self._inputs[:, start:stop], self.vocab_size, self.dtype)
        targets = self._targets[:, start:stop].astype(np.int64)
        self.wrapped = k == 0
        self._served += 1
        return x, targets


class HeldOut:
    """The held-out characters an evaluation scores: the same ones every time.

    Of the held-out part ``data[first:]``, the model reads ``data[first : first + chars]``
    and predicts each next character, ``data[first + 1 : first + chars + 1]``, where
    ``chars = streams * length`` is `cap` (or the whole held-out part less its last
    character, if shorter) rounded down to a multiple of `streams`. The characters are
    cut into `streams` consecutive segments of `length`, read side by side as the
    columns of one batch, each from a zero state with the state carried along its
    segment, `chunk` steps at a time: one evaluation is a few hundred calls of the
    engine, whatever the number of characters.

    Streams: one per `segment` characters (at least 1, at most `max_streams`), so each
    segment gives the model a long context. (Measured on 2 cores: evaluating took as long
    with 16, 32, 64 or 128 columns on one BLAS thread; with two, 64 and more columns made
    OpenBLAS split each step's small products over both threads, which stall when another
    process holds a core, 3-20x slower on a busy machine.) A chunk holds
    ``chunk * streams * V`` one-hot entries (and as many logits): `chunk` is shortened to
    keep that within `max_entries` for a large vocabulary. The window is copied out of
    `data` once (``chars + 1`` indices), so evaluating never touches the rest of the text.
    """

    def __init__(
        self,
        data: np.ndarray,
        first: int,
        cap: int,
        vocab_size: int,
        chunk: int,
        dtype: DTypeLike = np.float64,
        max_streams: int = 32,
        segment: int = 1000,
        max_entries: int = 1 << 22,
    ) -> None:
        available = len(data) - first - 1
        if available < 1 or cap < 1 or chunk < 1:
            raise ValueError(f"held-out: nothing to score ({available} characters, cap {cap})")
        wanted = min(cap, available)
        self.streams = max(1, min(max_streams, wanted // segment))
        self.length = wanted // self.streams
        self.chars = self.streams * self.length
        self.first = first
        self.available = available
        self.cap = cap
        self.chunk = max(1, min(chunk, max_entries // (self.streams * vocab_size)))
        self.vocab_size = vocab_size
        self.dtype = np.dtype(dtype)
        window = _check_indices(np.array(data[first : first + self.chars + 1]), vocab_size)
        S, L = self.streams, self.length
        self._inputs = window[: S * L].reshape(S, L)
        self._targets = window[1 : S * L + 1].reshape(S, L).astype(np.int64)

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One-hot ``x: (V, streams, T)`` and ``targets: (streams, T)`` int64 for
        consecutive steps of every segment (T = `chunk`, the last one shorter)."""
        for start in range(0, self.length, self.chunk):
            stop = min(start + self.chunk, self.length)
            x = one_hot(self._inputs[:, start:stop], self.vocab_size, self.dtype)
            yield x, self._targets[:, start:stop]

    def describe(self) -> dict[str, int]:
        """What is scored, for task.json and run.json."""
        return {
            "first": self.first, "characters": self.chars, "held_out": self.available + 1,
            "cap": self.cap, "streams": self.streams, "stream_length": self.length,
        }  # fmt: skip
