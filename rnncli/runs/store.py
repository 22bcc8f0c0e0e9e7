"""Finding runs: ``latest`` and unique prefixes for RUN_DIR arguments, the list behind
``rnncli runs`` (read from run.json files only, so thousands list in well under a second),
and cleaning up runs that are of no more use.

Layout of an output root::

    <root>/<YYYY-MM-DD>/<run>/run.json                  a run
    <root>/sweeps/<YYYY-MM-DD>/<sweep>/<job>/run.json   a sweep's job
    <root>/latest                                       the newest run (not sweeps)

A sweep made with ``--out DIR`` anywhere else is found by giving that DIR.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from rnncli.errors import InputError
from rnncli.runs.folder import LATEST, Lock, is_locked, read_latest
from rnncli.runs.names import CONFIG_YAML, RUN_JSON, SWEEP_JSON

ELLIPSIS = "…"  # in a name: any characters (see `short_names`)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def resolve(arg: str | Path, root: str | Path = "outputs", kind: str | None = None) -> Path:
    """A RUN_DIR argument as a folder: a path that exists (or one under `root`, as
    ``rnncli runs`` prints it), ``latest`` (the newest run under `root`; with `kind`, the
    newest run of that command, e.g. ``train``), or a unique prefix of a run's or sweep's
    folder name (``15-15-59``), or the end of its path (``reber-cells/cell=rnn,rep=1``;
    ``…`` stands for any characters, as `short_names` writes them)."""
    text = str(arg)
    root = Path(root)
    if text == LATEST and not Path(text).exists():
        return _latest(root, kind)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if not path.is_absolute() and (root / path).is_dir():
        return root / path
    if path.exists():
        raise InputError(f"{text}: not a run folder (a file)")
    pattern = pattern_of(text)
    found = sorted(p for p in path.parent.glob(path.name + "*") if p.is_dir()) if (
        "/" in text and ELLIPSIS not in text) else []
    if not found and not path.is_absolute():  # a run's name, a sweep's, its path's end
        found = sorted({
            p
            for where in ("*/", "sweeps/*/", "sweeps/*/*/")
            for p in root.glob(where + pattern_of(text + ELLIPSIS))
            if p.is_dir() and not p.is_symlink()
        })  # fmt: skip
    exact = [p for p in found if fnmatchcase(p.as_posix(), "*/" + pattern)]
    if len(exact) == 1:  # a whole name beats the names it starts (rep=1, rep=10)
        return exact[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(f"{text}: no such run folder, nor a unique start of one under {root}")
    names = ", ".join(p.name for p in found[:3]) + (", ..." if len(found) > 3 else "")
    raise InputError(f"{text}: {len(found)} run folders start so ({names}); give more of it")


def pattern_of(name: str) -> str:
    """A name as `resolve` matches it: ``…`` (as `short_names` shortens) stands for any
    characters within one folder name."""
    return re.sub(r"\*+", "*", name.replace(ELLIPSIS, "*"))


def short_names(paths: list[str], width: int | None = None) -> dict[str, str]:
    """For each root-relative run path, the shortest name `resolve` takes back to it (and
    to no other of `paths`): the run folder's name, a sweep's run as ``sweep/run``; more
    of the path where that is ambiguous. With `width`, a name longer than that is
    shortened in the middle (``…``), at a word boundary, while it stays unique."""
    parts = {p: p.split("/") for p in paths}

    def unique(name: str) -> bool:
        hits = [p for p in paths if fnmatchcase(p, pattern_of(name))
                or fnmatchcase(p, "*/" + pattern_of(name))]  # fmt: skip
        return len(hits) == 1

    out = {}
    for p, comps in parts.items():
        keep = 2 if len(comps) > 2 and comps[0] == "sweeps" else 1
        names = ["/".join(comps[-k:]) for k in range(keep, len(comps) + 1)]
        name = next((n for n in names if unique(n)), p)
        if width is not None and len(name) > width:
            name = next((c for c in _middle_cuts(name, width) if unique(c)), name)
        out[p] = name
    return out


def _middle_cuts(name: str, width: int) -> list[str]:
    """Shorter forms of `name`, longest first: words from its start, ``…``, words from
    its end (cut at ``-``, ``_`` or ``/`` only), a sweep's run name kept whole."""
    head, slash, leaf = name.rpartition("/")
    head, tail = (head, slash + leaf) if head else (name, "")
    room = width - len(tail) - 1
    cuts = [i for i, ch in enumerate(head) if ch in "-_/"]
    starts = ["", *(head[:i] for i in cuts)]
    ends = ["", *(head[j + 1 :] for j in cuts)]
    found = {f"{a}{ELLIPSIS}{b}{tail}" for a in starts for b in ends
             if len(a) + len(b) <= min(room, len(head) - 1)}  # at least a character left out
    return sorted(found, key=lambda c: (-len(c), c))


def _latest(root: Path, kind: str | None) -> Path:
    if kind is None:
        latest = read_latest(root)
        if latest is None or not latest.is_dir():
            raise InputError(f"latest: no run under {root} yet ({root / LATEST} is missing)")
        return latest
    for entry in scan(root):  # newest first
        if entry.info.get("command") == kind:
            return entry.path
    raise InputError(f"latest: no {kind} run under {root} yet")


@dataclass
class Entry:
    """One run found under a root: its folder, run.json and sweep folder (if any)."""

    path: Path
    info: dict[str, Any]
    sweep: Path | None = None

    @property
    def start(self) -> datetime | None:
        try:
            return datetime.fromisoformat(str(self.info.get("start_time")))
        except ValueError:
            return None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((path / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _children(path: Path) -> Iterator[Path]:
    try:
        with os.scandir(path) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    yield Path(e.path)
    except OSError:
        return


def scan(root: str | Path) -> list[Entry]:
    """Every run under `root` (and, if `root` is itself a sweep folder, its jobs), newest
    first. Folders whose run.json is missing or unreadable are left out."""
    root = Path(root)
    out: list[Entry] = []
    if (root / SWEEP_JSON).is_file():
        for job in _children(root):
            info = _read(job)
            if info is not None:
                out.append(Entry(job, info, root))
    else:
        for day in _children(root):
            if _DAY.match(day.name):
                for run in _children(day):
                    info = _read(run)
                    if info is not None:
                        out.append(Entry(run, info))
        sweeps = root / "sweeps"
        for day in _children(sweeps):
            for sweep in _children(day):
                for job in _children(sweep):
                    info = _read(job)
                    if info is not None:
                        out.append(Entry(job, info, sweep))
    out.sort(key=_started, reverse=True)
    return out


def _started(entry: Entry) -> tuple[str, int]:
    """When a run started: run.json's time (to the second), then its config.yaml's
    (written first, to the nanosecond) for runs started within the same second."""
    try:
        ns = (entry.path / CONFIG_YAML).stat().st_mtime_ns
    except OSError:
        ns = 0
    return str(entry.info.get("start_time", "")), ns


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``45m``, ``2w`` -> a timedelta."""
    m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    if not m:
        raise InputError(f"--older-than {text!r}: expected e.g. 30d, 12h, 45m or 2w")
    n, unit = int(m.group(1)), m.group(2)
    return {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n),
            "w": timedelta(weeks=n)}[unit]  # fmt: skip


def removable(entry: Entry) -> str:
    """Why a run must not be removed, or "" (it has a run.json and no live process)."""
    if not (entry.path / RUN_JSON).is_file():
        return "no run.json"
    if is_locked(entry.path):
        return "in use by a running process"
    return ""


def remove(entry: Entry) -> bool:
    """Delete a run folder holding its lock; False (and nothing removed) when a process
    holds it or it is no longer a run (checked again under the lock: a run resumed after
    `removable` said yes, say while a confirmation waited, is left alone)."""
    try:
        lock = Lock.acquire(entry.path)
    except InputError:  # in use by a live process
        return False
    except OSError:  # gone already, or not ours to lock
        return False
    try:
        if not (entry.path / RUN_JSON).is_file():
            return False
        shutil.rmtree(entry.path)  # the lock is held on the open .lock until it is gone
        return True
    finally:
        lock.release()


def remove_runs(entries: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """Remove each run taking its lock at that moment: (removed, skipped as in use)."""
    removed: list[Entry] = []
    skipped: list[Entry] = []
    for entry in entries:
        (removed if remove(entry) else skipped).append(entry)
    return removed, skipped
