"""Files that survive crashes: atomic replacement, appends that never leave half a line
behind, and strict JSON.

Every whole file is written to a temporary file in the same directory, flushed, fsynced
and renamed over the target (``os.replace``), so a crash leaves either the old file or
the new one. Temporary files get the mode a plain ``open`` would give (0666 less the
umask), so results in a shared folder stay readable. An append (``metrics.jsonl``)
writes one whole line with one ``write`` and cuts the file back to its old length if
that fails (a full disk), so the file never ends in a torn line; readers still skip a
torn last line left by a crash of the machine itself (`read_jsonl`).

Errors a user can do something about (a full disk, a read-only folder) are raised as
`WriteError`: one line naming the path.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from rnncli.errors import InputError

_UMASK = os.umask(0o022)  # read once, at import (single-threaded): os.umask can only swap
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


class WriteError(InputError):
    """A run file could not be written (full disk, read-only folder, ...): exit 2."""


def write_error(path: str | Path, exc: OSError) -> WriteError:
    why = exc.strerror or type(exc).__name__
    return WriteError(f"cannot write {path}: {why}")


def _atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write via a temp file in the same directory, fsync it, then ``os.replace``."""
    path = Path(path)
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as tmp:
            tmp_name = tmp.name
            os.fchmod(tmp.fileno(), FILE_MODE)
            write(tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from None
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable where the OS allows it (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_temp_files(directory: Path) -> list[Path]:
    """Delete the leftovers of atomic writes interrupted by a kill (``.<name>.*.tmp``)."""
    gone = []
    for tmp in directory.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            gone.append(tmp)
    return gone


def write_file_atomic(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Atomically replace ``path`` with what ``write`` writes to the binary file it is
    given (for files too large to build in memory first)."""
    return _atomic_write(path, write)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``."""

    def write(fh: IO[bytes]) -> None:
        fh.write(data)

    return _atomic_write(path, write)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Atomically replace ``path`` with ``text`` (UTF-8)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def jsonable(obj: Any) -> Any:
    """Plain JSON data: NumPy scalars/arrays to Python; NaN/inf to "NaN"/"Infinity" strings.

    Strict JSON (``allow_nan=False``) has no NaN, so a diverged loss is kept as a string
    rather than lost or written as invalid JSON.
    """
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj


def _json_default(obj: Any) -> Any:
    """``json.dumps`` hook for anything ``jsonable`` left (e.g. custom objects)."""
    converted = jsonable(obj)
    if converted is obj:
        return str(obj)
    return converted


def to_json(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text (never NaN) for ``obj``."""
    return json.dumps(jsonable(obj), indent=indent, allow_nan=False, default=_json_default)


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Atomically write ``obj`` as indented, strict JSON."""
    return write_text_atomic(path, to_json(obj) + "\n")


def save_npz_atomic(path: str | Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """Atomically write ``arrays`` with ``np.savez`` to exactly ``path``."""
    named: dict[str, Any] = dict(arrays)
    return _atomic_write(path, lambda fh: np.savez(fh, **named))


def append_jsonl(path: str | Path, obj: Any, sync: bool = True) -> None:
    """Append ``obj`` as one JSON line and fsync, for metrics that grow during a run.

    The line goes out in one ``write``; if that fails (a full disk), the file is cut back
    to its old length, so it never ends in half a line, and `WriteError` names the path.
    ``sync=False`` leaves the fsync to a later `fsync_file` (a caller that makes its
    appends durable together with its checkpoint).
    """
    path = Path(path)
    data = (to_json(obj, indent=None) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(28, "No space left on device (short write)")
            if sync:
                os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise write_error(path, exc) from None
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    """Make what was written to `path` durable (nothing if it does not exist)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        os.fsync(fd)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        os.close(fd)


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    """The JSON in `path`; InputError naming the file if it is missing or not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({exc})") from None
    except ValueError as exc:
        raise InputError(f"{path}: not a readable {what} ({exc})") from None


def read_jsonl(path: Path, notice: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """The records of a JSON-lines file. A torn last line (a crash mid-append) is skipped
    with a notice; a bad line elsewhere is an InputError naming the file and line."""
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({exc})") from None
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            if i == len(lines) - 1:
                if notice is not None:
                    notice(f"{path}: ignoring a torn last line ({len(line)} characters)")
                break
            raise InputError(f"{path}:{i + 1}: not a JSON record ({exc})") from None
        out.append(record)
    return out
