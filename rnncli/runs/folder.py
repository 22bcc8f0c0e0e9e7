"""Run folders: every command that produces results gets its own, and nothing is lost.

A run lives in ``<root>/<YYYY-MM-DD>/<HH-MM-SS>-<command>-<what>[-N]/`` (``what``: the
task and cell of a training run, ``train-reber-lstm``, and its ``--name``) and holds
``config.yaml`` (the resolved config), ``overrides.yaml`` (what the user typed),
``run.json`` (argv, status, times, seed, environment) and whatever the command writes.
Folders are never reused; every file is written atomically (`rnncli.runs.files`).
``<root>/latest`` points at the newest run (a symlink, or a one-line file where the OS
has none).

One process at a time: a run folder is locked (an advisory ``flock`` on ``.lock``, which
the OS releases when the process dies, so kill -9 leaves no stale lock) by whoever
writes into it; a second process gets an InputError naming the holder's PID.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from rnncli.errors import InputError
from rnncli.runs.environment import environment_info
from rnncli.runs.files import (
    append_jsonl,
    jsonable,
    read_json,
    remove_temp_files,
    save_npz_atomic,
    write_error,
    write_json_atomic,
    write_text_atomic,
)
from rnncli.runs.names import CONFIG_YAML, LATEST, LOCK_FILE, OVERRIDES_YAML, RUN_JSON
from rnncli.schemas import schema_id

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no locking
    fcntl = None  # type: ignore[assignment]


# --------------------------------------------------------------------------- run folders

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def folder_name(*parts: str | None) -> str:
    """``07-08-09-train-reber-lstm``: the parts made filesystem-safe, empty ones left out."""
    clean = [_UNSAFE.sub("_", p).strip("_.") for p in parts if p]
    return "-".join(p for p in clean if p) or "run"


def new_run_dir(
    root: str | Path, command: str, what: str | Sequence[str], now: datetime | None = None
) -> Path:
    """Create ``root/<date>/<time>-<command>-<what>/``, adding ``-2``, ``-3``... if taken.

    ``mkdir(exist_ok=False)`` decides, so two processes starting in the same second still
    get different folders.
    """
    now = now or datetime.now()
    day = Path(root) / now.strftime("%Y-%m-%d")
    parts = [what] if isinstance(what, str) else list(what)
    base = folder_name(now.strftime("%H-%M-%S"), command or "run", *parts)
    try:
        day.mkdir(parents=True, exist_ok=True)
        n = 1
        while True:
            candidate = day / (base if n == 1 else f"{base}-{n}")
            try:
                candidate.mkdir(exist_ok=False)
                return candidate
            except FileExistsError:
                n += 1
    except OSError as exc:
        raise write_error(day, exc) from None


def check_out(root: str | Path) -> None:
    """Refuse an --out that cannot hold run folders, before any work is done."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InputError(f"--out {root}: is a file, expected a folder for run folders")
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"--out {root}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"--out {root}: {probe} is not writable")


def point_latest(root: str | Path, run_dir: Path) -> None:
    """Make ``root/latest`` name `run_dir` (best effort: a run never fails for it)."""
    root = Path(root)
    link = root / LATEST
    target = os.path.relpath(run_dir, root)
    tmp = root / f".{LATEST}.{os.getpid()}.tmp"
    with contextlib.suppress(OSError):
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        try:
            os.symlink(target, tmp)
        except (OSError, NotImplementedError):
            tmp.write_text(target + "\n", encoding="utf-8")
        os.replace(tmp, link)


def read_latest(root: str | Path) -> Path | None:
    """The run folder ``root/latest`` names, or None."""
    link = Path(root) / LATEST
    if link.is_symlink():
        return (Path(root) / os.readlink(link)).resolve() if link.exists() else None
    if link.is_file():
        text = link.read_text(encoding="utf-8").strip()
        return (Path(root) / text).resolve() if text else None
    return None


# --------------------------------------------------------------------------- locks


@dataclass
class Lock:
    """An advisory lock on a folder (``flock`` on ``<folder>/.lock``), held until `release`
    or the death of the process."""

    path: Path
    fd: int | None = None

    @classmethod
    def acquire(cls, folder: Path, what: str = "run folder") -> Lock:
        lock = cls(folder / LOCK_FILE)
        if fcntl is None:  # pragma: no cover
            return lock
        try:
            fd = os.open(lock.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise write_error(lock.path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise InputError(
                f"{folder}: this {what} is in use by process {holder}; wait for it to end"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        lock.fd = fd
        return lock

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def is_locked(folder: Path) -> bool:
    """Whether a live process holds the folder's lock."""
    path = folder / LOCK_FILE
    if fcntl is None or not path.exists():
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- runs


class Sink(Protocol):
    """Somewhere else a run's JSON lines go as they are written (TensorBoard's event
    files): `write` gets the file's name and the record, `close` ends it."""

    label: str

    def write(self, name: str, obj: Any) -> None: ...

    def close(self) -> None: ...


def now_iso() -> str:
    """The local time with its UTC offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _yaml_text(obj: Any) -> str:
    return yaml.safe_dump(jsonable(obj), sort_keys=False, default_flow_style=False)


@dataclass
class Run:
    """One run folder; create it with :meth:`start`, close it with :meth:`finish`.
    A run made by `start`, `start_at` or `reopen` holds the folder's lock until
    `release` (or the end of the process). Used as a context manager it is one session::

        with Run.start(out, "compare", ...) as run:
            run.write_json("compare.json", doc)
            run.finish("completed")

    which releases the lock on leaving, and marks a run the block did not finish failed
    (or interrupted).

    `sinks` get every line `append_jsonl` writes, after the file has it; a sink that
    raises is dropped with one line to `on_sink_error` (and in run.json's
    ``sink_errors``), and never fails the run. They are closed at `finish` and
    `release`."""

    path: Path
    info: dict[str, Any]
    _t0: float = field(default_factory=time.monotonic, repr=False)
    lock: Lock | None = field(default=None, repr=False)
    _before: float = field(default=0.0, repr=False)  # earlier sessions' running time
    sinks: list[Sink] = field(default_factory=list, repr=False)
    on_sink_error: Callable[[str], None] | None = field(default=None, repr=False)

    @classmethod
    def start(
        cls,
        root: str | Path,
        command: str,
        cell: str,
        config_dict: Mapping[str, Any],
        overrides: Sequence[str],
        argv: Sequence[str],
        seed: int,
        flags: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        what: Sequence[str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Run:
        """Create the folder and write ``config.yaml``, ``overrides.yaml`` and ``run.json``;
        ``root/latest`` then names it. `what`: the folder name's parts after the command
        (default: the cell); `extra`: more run.json entries."""
        t0 = time.monotonic()
        path = new_run_dir(root, command, list(what) if what else cell, now)
        run = cls.start_at(
            path, command, cell, config_dict, overrides, argv, seed, flags, extra=extra
        )
        run._t0 = t0
        point_latest(root, path)
        return run

    @classmethod
    def start_at(
        cls,
        path: str | Path,
        command: str,
        cell: str,
        config_dict: Mapping[str, Any],
        overrides: Sequence[str],
        argv: Sequence[str],
        seed: int,
        flags: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Run:
        """Like :meth:`start`, but in exactly ``path`` (created if missing; e.g. a sweep job)."""
        t0 = time.monotonic()
        path = Path(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(path, exc) from None
        lock = Lock.acquire(path)
        write_text_atomic(path / CONFIG_YAML, _yaml_text(config_dict))
        given = {"overrides": list(overrides), "flags": dict(flags or {})}
        write_text_atomic(path / OVERRIDES_YAML, _yaml_text(given))
        info: dict[str, Any] = {
            "schema": schema_id("run"),
            "argv": list(argv),
            "command": command,
            "cell": cell,
            "status": "running",
            "start_time": now_iso(),
            "seed": seed,
            "path": str(path),
            **dict(extra or {}),
            "environment": environment_info(),
        }
        run = cls(path=path, info=info, _t0=t0, lock=lock)
        run.write_json(RUN_JSON, info)
        return run

    @classmethod
    def reopen(
        cls, path: str | Path, argv: Sequence[str] = (), entry: Mapping[str, Any] | None = None
    ) -> Run:
        """Continue an existing run folder (``train --resume``): lock it, clear the temp
        files a kill left behind, and set its status back to running (recording `entry`
        with the time and argv under ``resumed``)."""
        path = Path(path)
        lock = Lock.acquire(path)
        try:
            info = cls.load_json(path)
            remove_temp_files(path)
            info["status"] = "running"
            info["schema"] = schema_id("run")  # rewritten in today's format
            record = {"time": now_iso(), "argv": list(argv), **dict(entry or {})}
            info.setdefault("resumed", []).append(record)
            before = info.get("duration_s")
            run = cls(path=path, info=info, lock=lock)
            run._before = float(before) if isinstance(before, (int, float)) else 0.0
            run.write_json(RUN_JSON, info)
        except BaseException:
            lock.release()
            raise
        return run

    def release(self) -> None:
        """Close the sinks and let other processes have the folder."""
        self.close_sinks()
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        """The session's end: a run the block did not finish is marked failed (or
        interrupted, for Ctrl-C), and the folder's lock is released either way."""
        try:
            if self.info.get("status") == "running":
                status = "interrupted" if kind is KeyboardInterrupt else "failed"
                error = {"error": str(exc)} if exc is not None and status == "failed" else {}
                with contextlib.suppress(OSError, InputError):
                    self.finish(status, **error)
        finally:
            self.release()

    def finish(self, status: str, **extra: Any) -> Path:
        """Rewrite ``run.json`` with the final status, end time, durations and ``extra``:
        ``duration_s``, the time running summed over every session (a resume adds its
        own), and ``elapsed_s``, the wall time from the start to now."""
        end = datetime.now().astimezone()
        try:
            elapsed = (end - datetime.fromisoformat(str(self.info["start_time"]))).total_seconds()
        except (KeyError, ValueError, TypeError):
            elapsed = None
        self.info.update(
            status=status,
            end_time=end.isoformat(timespec="seconds"),
            duration_s=round(self._before + time.monotonic() - self._t0, 6),
            elapsed_s=None if elapsed is None else round(elapsed, 3),
            **extra,
        )
        self.close_sinks()
        return self.write_json(RUN_JSON, self.info)

    def _file(self, name: str) -> Path:
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise ValueError(f"run file name {name!r} must be a plain relative path")
        return self.path / rel

    def write_json(self, name: str, obj: Any) -> Path:
        """Atomically write ``obj`` as JSON to ``<run>/<name>``."""
        return write_json_atomic(self._file(name), obj)

    def write_text(self, name: str, text: str) -> Path:
        """Atomically write ``text`` to ``<run>/<name>``."""
        return write_text_atomic(self._file(name), text)

    def save_arrays(self, name: str, arrays: Mapping[str, np.ndarray]) -> Path:
        """Atomically save ``arrays`` to ``<run>/<name>`` (``.npz`` is added if missing)."""
        if not name.endswith(".npz"):
            name += ".npz"
        return save_npz_atomic(self._file(name), arrays)

    def append_jsonl(self, name: str, obj: Any, sync: bool = True) -> None:
        """Append one JSON line to ``<run>/<name>`` (e.g. ``metrics.jsonl``); ``sync=False``:
        not fsynced yet (see `files.append_jsonl`)."""
        append_jsonl(self._file(name), obj, sync)
        for sink in list(self.sinks):
            try:
                sink.write(name, obj)
            except Exception as err:
                self._drop(sink, err)

    def close_sinks(self) -> None:
        """Close every sink (an error becomes one notice, as for writes)."""
        sinks, self.sinks = self.sinks, []
        for sink in sinks:
            try:
                sink.close()
            except Exception as err:
                self._sink_failed(sink, err)

    def _drop(self, sink: Sink, err: Exception) -> None:
        """A sink failed: stop using it and say so once; the run goes on."""
        self.sinks.remove(sink)
        with contextlib.suppress(Exception):
            sink.close()
        self._sink_failed(sink, err)

    def _sink_failed(self, sink: Sink, err: Exception) -> None:
        """Say so (`on_sink_error`), and keep it for run.json's ``sink_errors``."""
        line = f"{sink.label}: {type(err).__name__}: {err}; no longer writing to it " \
               "(the run goes on)"  # fmt: skip
        self.info.setdefault("sink_errors", []).append(line)
        if self.on_sink_error is not None:
            with contextlib.suppress(Exception):
                self.on_sink_error(line)

    @staticmethod
    def load_json(path: str | Path) -> Any:
        """Read a JSON file; given a run folder, read its ``run.json`` (which must be a
        JSON object). InputError naming the file otherwise."""
        p = Path(path)
        if p.is_dir():
            p = p / RUN_JSON
            info = read_json(p, RUN_JSON)
            if not isinstance(info, dict):
                raise InputError(f"{p}: not a readable run.json (not a JSON object)")
            return info
        return read_json(p)
