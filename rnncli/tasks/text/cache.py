"""The text cache: encoded texts on disk, keyed by the file's content, mapped by later runs.

Where: ``$RNNCLI_CACHE``, else ``$XDG_CACHE_HOME/rnncli``, else ``~/.cache/rnncli``; the
entries live in its ``text/`` folder, two files each, named by the SHA-256 of the text
file's bytes and the vocabulary setting that changes the encoding::

    <sha256>-k<vocab_min_count>.npy    the indices: a 1-D uint8/uint16/uint32 .npy array
    <sha256>-k<vocab_min_count>.json   what they are: format, source hash and size, number
                                       of characters, dtype, vocabulary (and its hash),
                                       unknown symbol, the .npy's size and CRC-32

Both are written atomically (a temporary file, then a rename), the .npy first, so a
reader sees a whole old file or a whole new one. Before an entry is memory-mapped, its
JSON is checked against the key and against itself (vocabulary hash), and the .npy
against the JSON (size, CRC-32 of every byte, read in pieces so that checking costs
no memory; then dtype and length from its header). An entry that fails any check is
never used: it is rebuilt, with a one-line notice. Deleting the folder is always safe;
`listing` and `remove` are what ``rnncli cache`` shows and cleans. An entry's JSON gets
its modification time set each time a run uses the entry ("last used").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from rnncli.cachedir import cache_dir
from rnncli.runs import write_file_atomic, write_json_atomic
from rnncli.tasks.text.vocab import Vocab

FORMAT = 1
PIECE = 1 << 20  # bytes read at a time when checking an entry


def text_dir(root: Path | None = None) -> Path:
    """The text task's folder in the cache (under `root`, default `cache_dir()`)."""
    return (root or cache_dir()) / "text"


def vocab_sha256(vocab: Vocab) -> str:
    """A hash of the vocabulary (characters in index order and the unknown symbol)."""
    doc = json.dumps({"chars": vocab.to_list(), "unknown": vocab.unknown}, ensure_ascii=True)
    return hashlib.sha256(doc.encode("ascii")).hexdigest()


class BadEntry(Exception):
    """A cache entry that must not be used; the message says why."""


@dataclass
class Entry:
    """One cache entry: the encoding of the text with content hash `sha256` under
    ``train.vocab_min_count = min_count``."""

    root: Path
    sha256: str
    min_count: int

    @property
    def stem(self) -> Path:
        return text_dir(self.root) / f"{self.sha256}-k{self.min_count}"

    @property
    def npy(self) -> Path:
        return self.stem.with_suffix(".npy")

    @property
    def meta(self) -> Path:
        return self.stem.with_suffix(".json")

    def exists(self) -> bool:
        return self.npy.exists() or self.meta.exists()

    def open(self) -> tuple[np.ndarray, dict[str, Any], Vocab]:
        """The memory-mapped indices, the side JSON and the vocabulary, after every check
        in the module docstring; BadEntry saying what is wrong otherwise."""
        meta = self._read_meta()
        vocab = _vocab(meta)
        size = _file_size(self.npy)
        if size != meta["npy_bytes"]:
            raise BadEntry(f"{size} bytes where {meta['npy_bytes']} were written: truncated?")
        if _crc32(self.npy) != meta["crc32"]:
            raise BadEntry("its contents do not match their checksum")
        try:
            data = np.load(self.npy, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise BadEntry(f"not a readable .npy file ({err})") from None
        if data.dtype != np.dtype(meta["dtype"]) or data.shape != (meta["characters"],):
            raise BadEntry(f"holds {data.dtype} {data.shape}, its JSON says otherwise")
        return data, meta, vocab

    def touch(self) -> None:
        """Mark the entry used now (its JSON's modification time); a read-only cache
        stays as it is."""
        with contextlib.suppress(OSError):
            os.utime(self.meta)

    def _read_meta(self) -> dict[str, Any]:
        if not self.npy.exists() or not self.meta.exists():
            raise BadEntry("incomplete (one of its two files is missing)")
        try:
            meta = json.loads(self.meta.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise BadEntry(f"unreadable JSON ({err})") from None
        types = {"format": int, "source_sha256": str, "vocab_min_count": int, "characters": int,
                 "dtype": str, "vocab": list, "vocab_sha256": str, "npy_bytes": int,
                 "crc32": int}  # fmt: skip
        if not isinstance(meta, dict) or any(
            not isinstance(meta.get(k), t) for k, t in types.items()
        ):
            raise BadEntry("its JSON lacks a field or has a wrong type")
        if meta["format"] != FORMAT:
            raise BadEntry(f"format {meta['format']}, this rnncli writes {FORMAT}")
        if (meta["source_sha256"], meta["vocab_min_count"]) != (self.sha256, self.min_count):
            raise BadEntry("its JSON describes another text or setting")
        if meta["dtype"] not in ("uint8", "uint16", "uint32") or meta["characters"] < 1:
            raise BadEntry("its JSON has an impossible dtype or length")
        return meta

    def write(self, write_npy: Any, vocab: Vocab, characters: int, extra: dict[str, Any]) -> None:
        """Write the entry: `write_npy(fh)` writes the .npy (header and indices) to a binary
        file; the JSON records it with the vocabulary and `extra`. Raises WriteError."""
        crc = _Crc()

        def write(fh: IO[bytes]) -> None:
            write_npy(_Tee(fh, crc))

        write_file_atomic(self.npy, write)
        meta = {
            "format": FORMAT, "source_sha256": self.sha256, "vocab_min_count": self.min_count,
            "characters": characters, "dtype": vocab.dtype.name, "vocab": vocab.to_list(),
            "unknown": vocab.unknown, "vocab_sha256": vocab_sha256(vocab),
            "npy_bytes": crc.size, "crc32": crc.value, **extra,
        }  # fmt: skip
        write_json_atomic(self.meta, meta)


BUSY_S = 600.0
_NAME = re.compile(r"([0-9a-f]{64})-k(\d+)")  # an entry
_FILE = re.compile(r"([0-9a-f]{64}-k\d+)\.(?:npy|json)")  # one of its two files
_TEMP = re.compile(r"\.[0-9a-f]{64}-k\d+\.(?:npy|json)\..+\.tmp")  # an atomic write's


def listing(root: Path | None = None) -> list[dict[str, Any]]:
    """The entries under `root` (default `cache_dir()`), most recently used first: name,
    source file name, characters, dtype, bytes on disk, last used (seconds since the
    epoch) and, for one that could not be used, why (its JSON only is read: listing a
    large cache costs no reading of its indices). A temporary file of an atomic write is
    a row of its own, so that cleaning removes it too; so is every other file, which is
    not rnncli's. `removable` is false for those, and for a temporary file or an
    incomplete entry written to in the last `BUSY_S` seconds (a write under way)."""
    folder = text_dir(root)
    if not folder.is_dir():
        return []
    groups: dict[str, dict[Path, os.stat_result]] = {}
    for path in folder.iterdir():
        try:  # a run may rename or remove a file meanwhile
            st = path.stat()
        except FileNotFoundError:
            continue
        if not path.is_file():
            continue
        part = _FILE.fullmatch(path.name)
        key = part.group(1) if part else path.name
        groups.setdefault(key, {})[path] = st
    rows = [_row(folder, key, files) for key, files in groups.items()]
    rows.sort(key=lambda r: r["last_used"], reverse=True)
    return rows


def _row(folder: Path, key: str, files: dict[Path, os.stat_result]) -> dict[str, Any]:
    stamped = [st for f, st in files.items() if f.suffix == ".json"] or list(files.values())
    row: dict[str, Any] = {
        "name": key, "files": sorted(str(f) for f in files), "source": None,
        "characters": None, "dtype": None, "bytes": sum(st.st_size for st in files.values()),
        "last_used": max(st.st_mtime for st in stamped),  # `touch` sets the JSON's
        "problem": None, "removable": True,
    }  # fmt: skip
    entry = _NAME.fullmatch(key)
    if entry is None:
        temp = _TEMP.fullmatch(key) is not None
        row["problem"] = ("temporary file: an interrupted write, or one under way" if temp
                          else "not rnncli's")  # fmt: skip
        row["removable"] = temp and unused_for(row) >= BUSY_S
        return row
    try:
        meta = Entry(folder.parent, entry.group(1), int(entry.group(2)))._read_meta()
    except BadEntry as err:
        row["problem"] = str(err)
        if len(files) == 1:  # the .npy is written first: its JSON may be on its way
            row["removable"] = unused_for(row) >= BUSY_S
    else:
        row.update(source=meta.get("source_name"), characters=meta["characters"],
                   dtype=meta["dtype"])  # fmt: skip
    return row


def remove(row: dict[str, Any]) -> None:
    """Delete a `listing` row's files (a run that has the indices mapped keeps reading
    them: the operating system frees the space when the mapping closes)."""
    for name in row["files"]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def unused_for(row: dict[str, Any]) -> float:
    """Seconds since the row's entry was last used."""
    return time.time() - float(row["last_used"])


def _vocab(meta: dict[str, Any]) -> Vocab:
    try:
        vocab = Vocab.from_list(meta["vocab"], meta.get("unknown"))
    except Exception as err:  # any malformed list: InputError, TypeError, ...
        raise BadEntry(f"its vocabulary is malformed ({err})") from None
    if vocab_sha256(vocab) != meta["vocab_sha256"] or vocab.dtype.name != meta["dtype"]:
        raise BadEntry("its vocabulary does not match its hash or dtype")
    return vocab


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as err:
        raise BadEntry(f"cannot read it ({err.strerror or err})") from None


def _crc32(path: Path) -> int:
    crc = 0
    try:
        with path.open("rb") as fh:
            for piece in iter(lambda: fh.read(PIECE), b""):
                crc = zlib.crc32(piece, crc)
    except OSError as err:
        raise BadEntry(f"cannot read it ({err.strerror or err})") from None
    return crc


class _Crc:
    def __init__(self) -> None:
        self.value = 0
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self.value = zlib.crc32(data, self.value)
        self.size += memoryview(data).nbytes  # (len() of a uint16 array's view counts items)


class _Tee:
    """A binary file that also feeds what is written to a checksum."""

    def __init__(self, fh: IO[bytes], crc: _Crc) -> None:
        self.fh, self.crc = fh, crc

    def write(self, data: bytes | memoryview) -> int:
        self.crc.update(data)
        return self.fh.write(data)
