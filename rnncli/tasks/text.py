"""Character-level language modelling on a user's text file.

`load_text` reads and checks the file, `Vocab` maps characters to indices (and is saved
into checkpoints as a plain list of strings), `split` cuts off a validation part, and
`TextStream` serves consecutive chunks for truncated BPTT with the hidden state carried
from one chunk to the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from rnncli.errors import InputError

PathLike = str | Path


def _name(path: PathLike | None) -> str:
    """The path as it appears in a one-line message."""
    if path is None:
        return "text"
    name = str(path)
    return repr(name) if ("\n" in name or "\r" in name) else name


# ------------------------------------------------------------------------- loading


def load_text(path: PathLike) -> str:
    """The contents of a UTF-8 text file, exactly as stored (no newline translation).

    A leading UTF-8 byte-order mark is dropped. Raises InputError naming `path` if the
    file is missing, is a directory, cannot be read, is empty, looks binary (contains
    NUL bytes) or is not valid UTF-8.
    """
    p = Path(path)
    name = _name(path)
    if p.is_dir():
        raise InputError(f"{name}: is a directory, expected a text file")
    if not p.exists():
        raise InputError(f"{name}: text file not found")
    try:
        data = p.read_bytes()
    except OSError as err:
        raise InputError(f"{name}: cannot read text file ({err.strerror or err})") from None
    if not data:
        raise InputError(f"{name}: text file is empty")
    if b"\x00" in data:
        raise InputError(f"{name}: looks like a binary file (contains NUL bytes), expected text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not valid UTF-8 (bad byte at offset {err.start})") from None
    if not text:
        raise InputError(f"{name}: text file is empty")
    return text


def split(text: str, frac: float = 0.9) -> tuple[str, str]:
    """Split into (train, validation): the first ``int(len(text) * frac)`` characters
    and the rest. Either part may be too short for a `TextStream`, which then says so.
    """
    if not 0.0 < frac < 1.0:
        raise InputError(f"text: train fraction must be in (0, 1), got {frac}")
    cut = int(len(text) * frac)
    return text[:cut], text[cut:]


# --------------------------------------------------------------------------- vocab


class Vocab:
    """A character vocabulary: index i is the character ``chars[i]``."""

    def __init__(self, chars: Sequence[str]) -> None:
        chars = tuple(chars)
        if not chars:
            raise InputError("vocab: needs at least one character")
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise InputError(f"vocab: entries must be single characters, got {bad[0]!r}")
        if len(set(chars)) != len(chars):
            raise InputError("vocab: characters must be unique")
        self.chars = chars
        codes = np.array([ord(c) for c in chars], dtype=np.int64)
        self._order = np.argsort(codes, kind="stable")  # sorted position -> index
        self._sorted = codes[self._order]

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        """The sorted unique characters of `text`."""
        return cls(sorted(set(text)))

    @classmethod
    def from_list(cls, chars: Sequence[str]) -> Vocab:
        """Inverse of `to_list` (e.g. read back from a checkpoint's JSON)."""
        return cls(chars)

    def to_list(self) -> list[str]:
        """The characters in index order, a JSON-serialisable list."""
        return list(self.chars)

    @property
    def size(self) -> int:
        """Number of characters V."""
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.chars == other.chars

    def __hash__(self) -> int:
        return hash(self.chars)

    def __repr__(self) -> str:
        return f"Vocab(size={self.size})"

    def encode(self, text: str) -> np.ndarray:
        """Indices of the characters of `text`, int64 ``(len(text),)``.

        Raises InputError naming the first character that is not in the vocabulary.
        """
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        codes = codes.astype(np.int64)
        pos = np.clip(np.searchsorted(self._sorted, codes), 0, len(self._sorted) - 1)
        known = self._sorted[pos] == codes
        if not known.all():
            c = text[int(np.argmin(known))]
            raise InputError(f"vocab: character {c!r} is not in the vocabulary")
        return self._order[pos].astype(np.int64)

    def decode(self, indices: Iterable[int] | np.ndarray) -> str:
        """The string for a sequence of indices (each in ``[0, size)``)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.size):
            raise ValueError(f"vocab: index out of range [0, {self.size})")
        return "".join(self.chars[i] for i in idx.tolist())


# -------------------------------------------------------------------------- stream


class TextStream:
    """Consecutive (input, target) chunks for truncated BPTT over an encoded text.

    Layout ("batchify"): with n characters, let ``L = (n - 1) // batch``. Track j reads
    inputs ``data[j*L : (j+1)*L]`` and targets one character later,
    ``data[j*L + 1 : (j+1)*L + 1]``. Each call to `next_chunk` returns the next `bptt`
    steps of every track; the stream holds ``L // bptt`` chunks per pass (the last
    ``L % bptt`` steps of each track are skipped) and then wraps to the start.

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
        data = np.asarray(data)
        name = _name(path)
        if batch < 1 or bptt < 1:
            raise InputError(f"{name}: batch and bptt must be >= 1, got {batch} and {bptt}")
        if data.ndim != 1 or not np.issubdtype(data.dtype, np.integer):
            raise ValueError(f"text stream: data must be a 1-D integer array, got {data.dtype}")
        if data.size and (data.min() < 0 or data.max() >= vocab_size):
            raise ValueError(f"text stream: indices outside [0, {vocab_size})")
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
        self._inputs = data[: batch * track].astype(np.int64).reshape(batch, track)
        self._targets = data[1 : batch * track + 1].astype(np.int64).reshape(batch, track)
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
        start, stop = k * self.bptt, (k + 1) * self.bptt
        idx = self._inputs[:, start:stop]  # (m, T)
        x = np.zeros((self.vocab_size, self.batch, self.bptt), dtype=self.dtype)
        x[idx, np.arange(self.batch)[:, None], np.arange(self.bptt)[None, :]] = 1
        targets = self._targets[:, start:stop].copy()
        self.wrapped = k == 0
        self._served += 1
        return x, targets
