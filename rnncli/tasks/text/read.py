"""Reading a text file in fixed-size pieces, with every check a file gets.

`decoded` yields the file's text as strings of about `CHUNK` bytes each, decoded by an
incremental UTF-8 decoder, so a file of any size is read in bounded memory. It refuses
(InputError naming the path) a missing file, a directory, an unreadable, empty or binary
file (NUL bytes), and invalid UTF-8 with the byte offset of the first bad byte in the
file. `head` is the start of a file; `load_text` the whole text as one string, for small
files and tests.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from rnncli.errors import InputError

PathLike = str | Path

#: Bytes read at a time. Small pieces keep memory flat: each piece's temporaries (its
#: text, code points, indices: a few times its size, varying with its characters) are
#: then too small for glibc to keep freed ones in a heap that fragments. Measured, both
#: encoding passes over non-ASCII text: 29, 31 and 33 MB resident for 100 MB, 300 MB and
#: 1 GB at 64 KiB; 217 and 391 MB for 100 and 300 MB at 1 MiB; the same speed.
CHUNK = 1 << 16

BOM = b"\xef\xbb\xbf"

#: progress(done, total): bytes read so far of the bytes to read.
Progress = Callable[[int, int], None]


def name_of(path: PathLike | None) -> str:
    """The path as it appears in a one-line message."""
    if path is None:
        return "text"
    name = str(path)
    return repr(name) if ("\n" in name or "\r" in name) else name


def check_file(path: PathLike) -> int:
    """The size in bytes of the text file at `path`; InputError if it is missing, a
    directory or cannot be read."""
    p, name = Path(path), name_of(path)
    if p.is_dir():
        raise InputError(f"{name}: is a directory, expected a text file")
    if not p.exists():
        raise InputError(f"{name}: text file not found")
    try:
        return p.stat().st_size
    except OSError as err:
        raise InputError(f"{name}: cannot read text file ({err.strerror or err})") from None


def cannot_read(path: PathLike, err: OSError) -> InputError:
    return InputError(f"{name_of(path)}: cannot read text file ({err.strerror or err})")


def decoded(
    path: PathLike,
    progress: Progress | None = None,
    digest: Any = None,
    chunk: int = CHUNK,
    done: int = 0,
    total: int | None = None,
) -> Iterator[str]:
    """The text of the file at `path`, in pieces of about `chunk` bytes (never empty).

    A leading UTF-8 byte-order mark is dropped; line endings are kept as stored. Every
    byte read is fed to `digest` (a hashlib object) when given. `progress` is called after
    each piece with ``(done + bytes read, total)`` (total: the file size by default).
    Raises InputError naming `path` (see the module docstring); a bad byte's offset counts
    from the start of the file, BOM included.
    """
    size = check_file(path)
    total = size if total is None else total
    produced = 0
    try:
        with Path(path).open("rb") as fh:
            for offset, text in _pieces(fh, name_of(path), chunk, digest):
                if progress is not None:
                    progress(done + offset, total)
                if text:
                    produced += len(text)
                    yield text
    except OSError as err:
        raise cannot_read(path, err) from None
    if not produced:
        raise InputError(f"{name_of(path)}: text file is empty")


def _pieces(fh: BinaryIO, name: str, chunk: int, digest: Any) -> Iterator[tuple[int, str]]:
    """(bytes read so far, their new text) for each block of the open file `fh`."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    while True:
        block = fh.read(chunk if offset else max(chunk, len(BOM)))  # the BOM in one piece
        if digest is not None:
            digest.update(block)
        if b"\x00" in block:
            raise InputError(
                f"{name}: looks like a binary file (contains NUL bytes), expected text"
            )
        skip = len(BOM) if offset == 0 and block.startswith(BOM) else 0
        pending = len(decoder.getstate()[0])  # bytes of a character cut by the last block
        try:
            text = decoder.decode(block[skip:] if skip else block, final=not block)
        except UnicodeDecodeError as err:  # err.start counts from the pending bytes
            at = offset + skip - pending + err.start
            raise InputError(f"{name}: not valid UTF-8 (bad byte at offset {at})") from None
        offset += len(block)
        yield offset, text
        if not block:
            return


def head(path: PathLike, n: int) -> str:
    """The first `n` characters of the file (fewer if it is shorter), reading only the
    pieces they are in. Refuses what `decoded` refuses in those pieces."""
    pieces: list[str] = []
    have = 0
    for text in decoded(path):
        pieces.append(text)
        have += len(text)
        if have >= n:
            break
    return "".join(pieces)[:n]


def load_text(path: PathLike) -> str:
    """The contents of a UTF-8 text file, exactly as stored (no newline translation).

    A leading UTF-8 byte-order mark is dropped. Raises InputError naming `path` if the
    file is missing, is a directory, cannot be read, is empty, looks binary (contains
    NUL bytes) or is not valid UTF-8. The whole text is held in memory: the training
    task reads files through `rnncli.tasks.text.corpus` instead.
    """
    return "".join(decoded(path))


def split(text: str, frac: float = 0.9) -> tuple[str, str]:
    """Split into (train, validation): the first ``int(len(text) * frac)`` characters
    and the rest. Either part may be too short for a `TextStream`, which then says so.
    """
    cut = split_point(len(text), frac)
    return text[:cut], text[cut:]


def split_point(n: int, frac: float = 0.9) -> int:
    """Where the held-out part of n characters starts: ``int(n * frac)``."""
    if not 0.0 < frac < 1.0:
        raise InputError(f"text: train fraction must be in (0, 1), got {frac}")
    return int(n * frac)


def size_text(size: int) -> str:
    """``104.9 MB``-style file sizes (decimal units, as file managers show them)."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"
