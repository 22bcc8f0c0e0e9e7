"""A text file as vocabulary indices: encoded once, in two streaming passes, into the
text cache; memory-mapped from there by every later run.

    open_corpus(path, min_count)   the cache entry of the file (built if missing or bad)
    encode_file(path, min_count)   the same indices in memory, without the cache

Pass 1 reads the file in pieces (`read.decoded`: UTF-8 checks with byte offsets), counts
every character (`np.bincount` on code points) and gives the vocabulary; pass 2 reads it
again and maps each piece's code points to indices through a lookup table, writing them
straight to the cache file. Memory: a piece's temporaries (about 1 MiB for 64 KiB
pieces) and the count table (at most one int64 per Unicode code point, 8.9 MiB), never
the text. Each pass hashes what it reads: a file that changes while it is being encoded
is refused, not cached under the wrong key.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from rnncli.errors import InputError
from rnncli.hashing import file_sha256
from rnncli.runs import WriteError
from rnncli.tasks.text.cache import BadEntry, Entry, cache_dir
from rnncli.tasks.text.read import (
    PathLike,
    Progress,
    cannot_read,
    check_file,
    decoded,
    name_of,
    size_text,
)
from rnncli.tasks.text.vocab import Vocab

Notice = Callable[[str], None]


@dataclass
class Corpus:
    """An encoded text file."""

    path: str
    sha256: str  # of the file's bytes
    size: int  # bytes
    data: np.ndarray  # (n,) indices into `vocab`, uint8/uint16/uint32; memory-mapped or not
    vocab: Vocab
    rare: int  # distinct characters mapped to the unknown symbol (vocab_min_count)
    unknown_count: int  # characters of the text mapped to it
    entry: Path | None  # the cache file the indices are mapped from (None: in memory)

    @property
    def characters(self) -> int:
        return len(self.data)


def _codes(text: str) -> np.ndarray:
    """The code points of `text`: uint8 for ASCII (a copy of its bytes), else uint32."""
    if text.isascii():  # O(1) in CPython, and most pieces of most texts are ASCII
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


def _verify(path: PathLike, digest: Any, sha256: str) -> None:
    if digest.hexdigest() != sha256:
        raise InputError(f"{name_of(path)}: the file changed while it was being encoded; run again")


@dataclass
class _Scan:
    """What pass 1 learns: the vocabulary and the code point -> index lookup table."""

    characters: int
    vocab: Vocab
    rare: int
    unknown_count: int
    table: np.ndarray  # table[c]: the index of code point c (for every c the text has)


def _scan(path: PathLike, sha256: str, min_count: int, progress: Progress | None) -> _Scan:
    """Pass 1: count every character, then choose the vocabulary."""
    counts = np.zeros(128, dtype=np.int64)
    n = 0
    digest = hashlib.sha256()
    for text in decoded(path, progress, digest, total=2 * check_file(path)):
        codes = _codes(text)
        c = np.bincount(codes)
        if len(c) > len(counts):
            counts = np.concatenate([counts, np.zeros(len(c) - len(counts), dtype=np.int64)])
        counts[: len(c)] += c
        n += len(codes)
    _verify(path, digest, sha256)
    vocab, rare, unknown_count = Vocab.from_counts(counts, min_count)
    table = np.zeros(len(counts), dtype=vocab.dtype)
    present = np.flatnonzero(counts)
    idx, known = vocab.lookup(present)
    if vocab.unknown is not None:
        idx = np.where(known, idx, vocab.chars.index(vocab.unknown))
    table[present] = idx
    return _Scan(n, vocab, rare, unknown_count, table)


def _indices(
    path: PathLike, sha256: str, scan: _Scan, progress: Progress | None
) -> Iterator[np.ndarray]:
    """Pass 2: the indices of the text, a piece at a time."""
    digest = hashlib.sha256()
    size = check_file(path)
    seen = 0
    for text in decoded(path, progress, digest, done=size, total=2 * size):
        codes = _codes(text)
        seen += len(codes)
        if seen > scan.characters or int(codes.max()) >= len(scan.table):
            break  # not the text pass 1 read: _verify says so
        yield scan.table[codes]
    _verify(path, digest, sha256)
    if seen != scan.characters:
        raise InputError(f"{name_of(path)}: the file changed while it was being encoded; run again")


def _in_memory(path: PathLike, sha256: str, scan: _Scan, progress: Progress | None) -> np.ndarray:
    data = np.empty(scan.characters, dtype=scan.vocab.dtype)
    at = 0
    for piece in _indices(path, sha256, scan, progress):
        data[at : at + len(piece)] = piece
        at += len(piece)
    return data


def _sha256(path: PathLike) -> str:
    try:
        return file_sha256(path)
    except OSError as err:
        raise cannot_read(path, err) from None


def encode_file(path: PathLike, min_count: int = 1, progress: Progress | None = None) -> Corpus:
    """The file's indices in memory (one array of n uint8/uint16/uint32), no cache."""
    size = check_file(path)
    sha256 = _sha256(path)
    scan = _scan(path, sha256, min_count, progress)
    data = _in_memory(path, sha256, scan, progress)
    return Corpus(str(path), sha256, size, data, scan.vocab, scan.rare, scan.unknown_count, None)


def open_corpus(
    path: PathLike,
    min_count: int = 1,
    cache: Path | None = None,
    notice: Notice | None = None,
    progress: Progress | None = None,
) -> Corpus:
    """The encoded text of the file at `path`, memory-mapped from its cache entry under
    `cache` (default `cache_dir()`), which is built first if it is missing, and rebuilt if
    it fails a check (see `rnncli.tasks.text.cache`). `notice` gets one line saying which
    happened; `progress(done, total)` follows the bytes of both encoding passes. If the
    cache cannot be written, the indices are kept in memory for this run (with a notice).
    """
    say = notice or (lambda _: None)
    name = name_of(path)
    size = check_file(path)
    sha256 = _sha256(path)
    entry = Entry(cache or cache_dir(), sha256, min_count)
    if entry.exists():
        try:
            data, meta, vocab = entry.open()
        except BadEntry as err:
            say(f"text cache: {entry.npy} is damaged ({err}); rebuilding it")
        else:
            entry.touch()
            say(f"text cache: using {entry.npy} ({len(data):,} characters, {vocab.size} "
                f"symbols, {data.dtype})")  # fmt: skip
            return Corpus(str(path), sha256, size, data, vocab, meta.get("rare", 0),
                          meta.get("unknown_count", 0), entry.npy)  # fmt: skip
    t0 = time.perf_counter()
    scan = _scan(path, sha256, min_count, progress)
    vocab = scan.vocab

    def write_npy(fh: IO[bytes]) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(vocab.dtype), "fortran_order": False,
                  "shape": (scan.characters,)}  # fmt: skip
        np.lib.format.write_array_header_1_0(fh, header)
        for piece in _indices(path, sha256, scan, progress):
            fh.write(piece.data)

    extra = {"source_bytes": size, "source_name": Path(path).name, "rare": scan.rare,
             "unknown_count": scan.unknown_count}  # fmt: skip
    try:
        entry.write(write_npy, vocab, scan.characters, extra)
    except WriteError as err:
        say(f"text cache: {err}; keeping the encoded text in memory for this run")
        data = _in_memory(path, sha256, scan, progress)
        return Corpus(str(path), sha256, size, data, vocab, scan.rare, scan.unknown_count, None)
    try:
        data = np.load(entry.npy, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:  # removed or replaced by another process just now
        raise InputError(f"text cache: cannot read {entry.npy} back ({err})") from None
    say(f"text cache: encoded {name} ({size_text(size)}, {scan.characters:,} characters, "
        f"{vocab.size} symbols, {vocab.dtype}) in {time.perf_counter() - t0:.1f} s into "
        f"{entry.npy}")  # fmt: skip
    return Corpus(str(path), sha256, size, data, vocab, scan.rare, scan.unknown_count, entry.npy)
