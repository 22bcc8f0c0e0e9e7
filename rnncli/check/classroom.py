"""``rnncli check PATH...``: a whole class, each submission checked as ``rnncli check FILE``
would check it, in parallel, resumably.

Each submission (a .py file or a .ipynb notebook, found in the folders given or given
itself) is checked by `run_check` in a worker of a process pool (one check at a time per
worker, each in its own contained child) or of a Dask cluster (`rnncli.sweep.executors`).
Its result is kept in the class folder under its content's hash,
``results/<sha256>.<kind>.json``, with the settings it was checked with: a rerun with the
same folder and settings checks only what is new or changed, and two identical files are
checked once. From the results, `rnncli.check.gradebook` writes the class's files.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnncli.check import contain, load
from rnncli.check.report import gradescope
from rnncli.check.run import run_check
from rnncli.check.spec import select
from rnncli.errors import InputError
from rnncli.runs import Run, read_json, write_json_atomic
from rnncli.runs.names import RUN_JSON

COMMAND = "check-class"
RESULTS = "results"
_SKIPPED_DIRS = {"__pycache__", "node_modules"}


@dataclass
class Submission:
    """One file of the class: ``id`` is its path as found (``class/alice.py``)."""

    id: str
    path: Path
    kind: str  # "py" | "ipynb"
    sha256: str
    data: bytes = field(repr=False)

    @property
    def key(self) -> str:
        """Its result's name in the class folder: the content's hash and its kind."""
        return f"{self.sha256}.{self.kind}"


@dataclass
class ClassRun:
    """What `check_class` did: the class folder, each submission's result record, which
    were checked now (the others came from the folder), and the time it took."""

    path: Path
    submissions: list[Submission]
    records: dict[str, dict[str, Any]]  # key -> record (`check_job`'s answer)
    checked: set[str]  # keys checked in this session
    settings: dict[str, Any]
    where: str
    seconds: float = 0.0


def _files_in(folder: Path) -> list[Path]:
    """The .py files and .ipynb notebooks under `folder`, but in hidden folders
    (``.ipynb_checkpoints``) and caches; sorted."""
    found = []
    for f in folder.rglob("*"):
        parts = f.relative_to(folder).parts
        if any(p.startswith(".") or p in _SKIPPED_DIRS for p in parts):
            continue
        if f.suffix.lower() in load.KINDS and f.is_file():
            found.append(f)
    return sorted(found)


def find_submissions(paths: Sequence[str | Path]) -> list[Submission]:
    """Every file the paths name (a folder: the files under it), once each."""
    out: list[Submission] = []
    seen: set[Path] = set()
    for given in paths:
        p = Path(given)
        if p.is_dir():
            files = _files_in(p)
            if not files:
                raise InputError(f"{p}: is a folder with no .py file or .ipynb notebook in it")
        elif not p.exists():
            raise InputError(f"{p}: file not found")
        elif p.suffix.lower() not in load.KINDS:
            raise InputError(f"{p}: expected a .py file, a .ipynb notebook or a folder of them")
        else:
            files = [p]
        for f in files:
            if f.resolve() in seen:
                continue
            seen.add(f.resolve())
            try:
                data = f.read_bytes()
            except OSError as exc:
                raise InputError(f"{f}: cannot read: {exc.strerror or exc}") from None
            kind = load.KINDS[f.suffix.lower()]
            out.append(Submission(str(f), f.resolve(), kind, load.sha256(data), data))
    return out


# --------------------------------------------------------------------------- one check

_ONE_AT_A_TIME = threading.Lock()


def _threads_may_share() -> bool:
    """Whether checks may run in several threads of one process at once: not when the
    child runs as user ``nobody`` without bubblewrap, where a sandbox kills every child of
    the process that runs as nobody (another thread's child included)."""
    if os.environ.get(contain.NO_BWRAP) != "1" and contain._bwrap() is not None:
        return True
    return contain._nobody() is None


@contextlib.contextmanager
def _turn() -> Iterator[None]:
    """In a Dask worker's thread, one check at a time per process where they must."""
    if threading.current_thread() is threading.main_thread() or _threads_may_share():
        yield
        return
    with _ONE_AT_A_TIME:
        yield


@contextlib.contextmanager
def _the_file(job: Mapping[str, Any]) -> Iterator[Path]:
    """The submission's file: where it is, if this worker sees it unchanged (so it is
    checked exactly as ``rnncli check FILE`` checks it); else its bytes, written to a
    temporary folder under its own name (a Dask worker on another machine)."""
    path = Path(job["path"])
    with contextlib.suppress(OSError):
        if load.sha256(path.read_bytes()) == job["sha256"]:
            yield path
            return
    with tempfile.TemporaryDirectory(prefix="rnncli-class-") as tmp:
        copy = Path(tmp) / path.name
        copy.write_bytes(job["data"])
        yield copy


def check_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """Check one submission (in a pool worker or a Dask worker): its check.json and its
    Gradescope results.json, or the one line saying why it could not be checked."""
    s = job["settings"]
    with _turn(), _the_file(job) as path:
        try:
            report = run_check(
                path, only=s["only"], require=s["require"], timeout=s["timeout_s"],
                memory_mib=s["memory_mib"], seed=s["seed"],
            )  # fmt: skip
        except InputError as err:
            text = str(err).replace(str(path), job["id"])
            return {"sha256": job["sha256"], "settings": dict(s), "error": text}
    report.path = job["id"]
    doc = {"sha256": job["sha256"], "settings": dict(s), "check": report.to_json()}
    doc["gradescope"] = gradescope(report)
    return doc


# --------------------------------------------------------------------------- the class


def settings_of(
    only: str | None, require: str | None, timeout: float, memory_mib: int, seed: int
) -> dict[str, Any]:
    """The settings a result depends on (a result checked with others is checked again);
    InputError for bad ones, before any folder is made."""
    try:
        select(only, "--only")
        if require is not None:
            select(require, "--require")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not (timeout > 0 and memory_mib > 0):
        raise InputError(f"check.timeout={timeout!r} and check.memory={memory_mib!r} must be > 0")
    return {"only": only, "require": require, "timeout_s": timeout,
            "memory_mib": memory_mib, "seed": seed}  # fmt: skip


def done_records(folder: Path, settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The results kept in a class folder that were checked with these settings."""
    out = {}
    for f in sorted((folder / RESULTS).glob("*.json")):
        try:
            doc = read_json(f)
        except (OSError, ValueError, InputError):
            continue  # half-written or damaged: checked again
        if isinstance(doc, dict) and doc.get("settings") == dict(settings):
            out[f.name[: -len(".json")]] = doc
    return out


def open_class(
    out: str | Path, class_dir: str | Path | None, name: str,
    meta: Mapping[str, Any], argv: Sequence[str],
) -> Run:  # fmt: skip
    """The class's run folder: a new one under `out`, or `class_dir` (created, or resumed
    when it is a class folder already)."""
    config, overrides, seed = meta["config"], meta["overrides"], meta["seed"]
    if class_dir is None:
        return Run.start(out, COMMAND, name, config, overrides, argv, seed)
    folder = Path(class_dir)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--class-dir {folder}: is a file, expected a class folder")
    if (folder / RUN_JSON).is_file():
        info = Run.load_json(folder)
        if info.get("command") != COMMAND:
            raise InputError(f"--class-dir {folder}: a run folder of {info.get('command')!r}, "
                             "not of a class check")  # fmt: skip
        return Run.reopen(folder, argv)
    if folder.is_dir() and any(folder.iterdir()):
        raise InputError(f"--class-dir {folder}: not a class folder (and not empty)")
    return Run.start_at(folder, COMMAND, name, config, overrides, argv, seed)


def run_jobs(
    todo: list[Submission], settings: Mapping[str, Any], folder: Path,
    workers: int | None, dask: str | None, dask_timeout: float,
    progress: Callable[[Submission, dict[str, Any]], None] | None = None,
) -> tuple[dict[str, dict[str, Any]], str]:  # fmt: skip
    """Check `todo` on the executor, keeping each result as it comes; (records, where)."""
    from rnncli.sweep.executors import broken_text, open_executor

    records: dict[str, dict[str, Any]] = {}
    if not todo:
        return records, "nothing to check"
    ex = open_executor(workers, dask, dask_timeout)
    try:
        pending = list(reversed(todo))
        running: dict[cf.Future[dict[str, Any]], Submission] = {}
        while pending or running:
            while pending and len(running) < ex.capacity:
                sub = pending.pop()
                job = {"id": sub.id, "path": str(sub.path), "sha256": sub.sha256,
                       "data": sub.data, "settings": dict(settings)}  # fmt: skip
                running[ex.executor.submit(check_job, job)] = sub
            done, _ = cf.wait(running, timeout=1.0, return_when=cf.FIRST_COMPLETED)
            if not done and ex.lost():
                raise InputError(f"lost the Dask scheduler at {dask}; rerun to resume")
            for fut in done:
                sub = running.pop(fut)
                try:
                    record = fut.result()
                    write_json_atomic(folder / RESULTS / f"{sub.key}.json", record)
                except cf.process.BrokenProcessPool as exc:  # not kept: checked again
                    record = {"sha256": sub.sha256, "error": broken_text(exc)}
                    ex.restart()
                records[sub.key] = record
                if progress is not None:
                    progress(sub, record)
    except BaseException:
        ex.abandon = True
        raise
    finally:
        ex.close()
    return records, ex.where


def check_class(
    paths: Sequence[str | Path], *, settings: Mapping[str, Any], meta: Mapping[str, Any],
    out: str | Path = "outputs", class_dir: str | Path | None = None, name: str | None = None,
    workers: int | None = None, dask: str | None = None, dask_timeout: float = 10.0,
    argv: Sequence[str] = (),
    progress: Callable[[Submission, dict[str, Any]], None] | None = None,
    refused: Sequence[str] = (),
) -> ClassRun:  # fmt: skip
    """Check every submission under `paths` not already done in the class folder, and
    write the class's files there (`rnncli.check.gradebook.write_class`).

    `settings` from `settings_of`; `meta`: the run's config, overrides and seed;
    `refused`: options given that do not fit a class (an InputError, after the paths)."""
    from rnncli.check.gradebook import write_class

    start = time.monotonic()
    subs = find_submissions(paths)
    if refused:
        raise InputError(f"{', '.join(refused)}: not for a class (its folder keeps each "
                         "submission's results.json)")  # fmt: skip
    if name is None:
        one = Path(paths[0]) if len(paths) == 1 else None
        name = one.resolve().name if one is not None and one.is_dir() else "class"
    with open_class(out, class_dir, name, meta, argv) as run:
        records = done_records(run.path, settings)
        todo, keys = [], set(records)
        for sub in subs:
            if sub.key not in keys:
                keys.add(sub.key)
                todo.append(sub)
        new, where = run_jobs(todo, settings, run.path, workers, dask, dask_timeout, progress)
        records.update(new)
        result = ClassRun(run.path, subs, records, set(new), dict(settings), where)
        result.seconds = time.monotonic() - start
        doc = write_class(result)
        run.finish("completed", ok=doc["ok"], **doc["summary"]["counts"])
    return result
