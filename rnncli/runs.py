"""Run folders: every command that produces results gets its own, and nothing is lost.

A run lives in ``<root>/<YYYY-MM-DD>/<HH-MM-SS>-<command>-<cell>[-N]/`` and holds
``config.yaml`` (the resolved config), ``overrides.yaml`` (what the user typed), ``run.json``
(argv, status, times, seed, environment) and whatever the command writes. Folders are never
reused, and every file is written atomically (temp file in the same directory, fsync,
``os.replace``), so a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import numpy as np
import yaml

# --------------------------------------------------------------------------- atomic writes


def _atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write via a temp file in the same directory, fsync it, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_name: str | None = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as tmp:
            tmp_name = tmp.name
            write(tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
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


def append_jsonl(path: str | Path, obj: Any) -> None:
    """Append ``obj`` as one JSON line and fsync, for metrics that grow during a run."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = to_json(obj, indent=None) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


# --------------------------------------------------------------------------- run folders

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def new_run_dir(root: str | Path, command: str, cell: str, now: datetime | None = None) -> Path:
    """Create ``root/<date>/<time>-<command>-<cell>/``, adding ``-2``, ``-3``... if taken.

    ``mkdir(exist_ok=False)`` decides, so two processes starting in the same second still
    get different folders.
    """
    now = now or datetime.now()
    day = Path(root) / now.strftime("%Y-%m-%d")
    day.mkdir(parents=True, exist_ok=True)
    base = "-".join(
        [now.strftime("%H-%M-%S"), _UNSAFE.sub("_", command) or "run", _UNSAFE.sub("_", cell)]
    ).rstrip("-")
    n = 1
    while True:
        candidate = day / (base if n == 1 else f"{base}-{n}")
        try:
            candidate.mkdir(exist_ok=False)
            return candidate
        except FileExistsError:
            n += 1


# --------------------------------------------------------------------------- environment


def _version() -> str:
    try:
        return metadata.version("rnncli")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _blas_info() -> dict[str, Any]:
    try:
        config: Any = np.show_config(mode="dicts")  # numpy >= 1.26
        deps = config["Build Dependencies"]
        out = {}
        for lib in ("blas", "lapack"):
            info = deps.get(lib, {})
            out[lib] = {k: info.get(k) for k in ("name", "version", "openblas configuration")}
        return out
    except Exception:  # older NumPy prints instead of returning; keep it minimal
        return {"blas": None, "lapack": None}


def _git(args: Sequence[str], cwd: Path) -> str | None:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        result = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=2,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_info(directory: str | Path | None = None) -> dict[str, Any] | None:
    """``{commit, dirty}`` of the checkout holding the rnncli sources, None if there is none.

    Read-only git commands only (``--no-optional-locks``: no index refresh); ``commit`` is
    None in a repository without commits; ``dirty`` ignores untracked files.
    """
    where = Path(directory) if directory else Path(__file__).resolve().parent
    if _git(["rev-parse", "--is-inside-work-tree"], where) != "true":
        return None
    commit = _git(["rev-parse", "HEAD"], where)
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    return {"commit": commit or None, "dirty": None if status is None else bool(status)}


def environment_info() -> dict[str, Any]:
    """Versions and machine facts for ``run.json``; never raises."""
    info: dict[str, Any] = {
        "rnncli": _version(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "executable": sys.executable,
    }
    info["blas"] = _blas_info()
    try:
        info["git"] = git_info()
    except Exception:
        info["git"] = None
    return info


# --------------------------------------------------------------------------- runs


def now_iso() -> str:
    """The local time with its UTC offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _yaml_text(obj: Any) -> str:
    return yaml.safe_dump(jsonable(obj), sort_keys=False, default_flow_style=False)


@dataclass
class Run:
    """One run folder; create it with :meth:`start`, close it with :meth:`finish`."""

    path: Path
    info: dict[str, Any]
    _t0: float = field(default_factory=time.monotonic, repr=False)

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
    ) -> Run:
        """Create the folder and write ``config.yaml``, ``overrides.yaml`` and ``run.json``."""
        t0 = time.monotonic()
        path = new_run_dir(root, command, cell, now)
        run = cls.start_at(path, command, cell, config_dict, overrides, argv, seed, flags)
        run._t0 = t0
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
    ) -> Run:
        """Like :meth:`start`, but in exactly ``path`` (created if missing; e.g. a sweep job)."""
        t0 = time.monotonic()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path / "config.yaml", _yaml_text(config_dict))
        given = {"overrides": list(overrides), "flags": dict(flags or {})}
        write_text_atomic(path / "overrides.yaml", _yaml_text(given))
        info: dict[str, Any] = {
            "argv": list(argv),
            "command": command,
            "cell": cell,
            "status": "running",
            "start_time": now_iso(),
            "seed": seed,
            "path": str(path),
            "environment": environment_info(),
        }
        run = cls(path=path, info=info, _t0=t0)
        run.write_json("run.json", info)
        return run

    @classmethod
    def reopen(cls, path: str | Path, argv: Sequence[str] = ()) -> Run:
        """Continue an existing run folder (``train --resume``): status back to running."""
        path = Path(path)
        info = cls.load_json(path)
        info["status"] = "running"
        info.setdefault("resumed", []).append({"time": now_iso(), "argv": list(argv)})
        run = cls(path=path, info=info)
        run.write_json("run.json", info)
        return run

    def finish(self, status: str, **extra: Any) -> Path:
        """Rewrite ``run.json`` with the final status, end time, duration and ``extra``."""
        self.info.update(
            status=status,
            end_time=now_iso(),
            duration_s=round(time.monotonic() - self._t0, 6),
            **extra,
        )
        return self.write_json("run.json", self.info)

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

    def append_jsonl(self, name: str, obj: Any) -> None:
        """Append one JSON line to ``<run>/<name>`` (e.g. ``metrics.jsonl``)."""
        append_jsonl(self._file(name), obj)

    @staticmethod
    def load_json(path: str | Path) -> Any:
        """Read a JSON file; given a run folder, read its ``run.json``."""
        p = Path(path)
        if p.is_dir():
            p = p / "run.json"
        return json.loads(p.read_text(encoding="utf-8"))


__all__ = [
    "Run",
    "append_jsonl",
    "environment_info",
    "git_info",
    "jsonable",
    "new_run_dir",
    "save_npz_atomic",
    "to_json",
    "write_json_atomic",
    "write_text_atomic",
]
