"""``run_check``: read the learner's file, check each selected function in the sandbox.

Also the two writers: `save_run` (the run folder; the one place that knows the
`rnncli.runs.Run` API) and `write_gradescope`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rnncli.check import compare, load
from rnncli.check.report import CheckReport, gradescope, gradescope_error
from rnncli.check.results import FunctionResult
from rnncli.check.sandbox import ChildGone, Sandbox
from rnncli.check.spec import select
from rnncli.errors import InputError
from rnncli.gradcheck import DEFAULT_EPS, DEFAULT_TOL
from rnncli.runs import Run, write_bytes_atomic, write_json_atomic
from rnncli.runs.names import CHECK_JSON


def run_check(
    path: str | Path,
    only: str | None = None,
    require: str | None = None,
    timeout: float = 10.0,
    memory_mib: int = 2048,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
    scoring: str = "all-or-nothing",
    weights: Mapping[str, float] | None = None,
) -> CheckReport:
    """Check the notebook's functions found in `path` (a .py file or a .ipynb notebook).

    `only` and `require` are comma lists of function names (``notebook`` = the eight); a
    missing or unfinished function fails only when required (`_present` for the GRU).
    `scoring`, `weights`: Gradescope's (`report.points`). InputError for bad input: unknown
    names, an unreadable file, none of the functions, definitions that do not load.
    """
    selected, required = _selection(only, require)
    if not (timeout > 0 and memory_mib > 0):
        raise InputError(f"check.timeout={timeout!r} and check.memory={memory_mib!r} must be > 0")
    source, data = load.read_source(path)
    text = load.decode(source.path, source.kind, data)
    start = time.monotonic()
    results: list[FunctionResult] = []
    with Sandbox(source, text, timeout, memory_mib) as box:
        try:
            loaded = box.load()
        except ChildGone as gone:
            what = "did not finish" if gone.verdict == "timeout" else "crashed"
            raise InputError(f"{path}: loading its definitions {what} ({gone.message})") from None
        selected = _present(path, source, loaded.present, selected, required, only is None)
        left = load.unfinished(source)
        for name in selected:
            if name in loaded.present and name not in left:
                if progress is not None:
                    progress(name)
                results.append(box.check(name, seed))
            elif name in left:
                results.append(FunctionResult(name, "not-implemented", left[name]))
            else:
                broken = source.broken.get(name)
                verdict = "missing" if broken is None else "error"
                results.append(FunctionResult(name, verdict, broken or ""))
    settings = {
        "timeout_s": timeout, "memory_mib": memory_mib, "seed": seed,
        "rtol": compare.RTOL, "atol": compare.ATOL, "fd_eps": DEFAULT_EPS, "fd_tol": DEFAULT_TOL,
        "scoring": scoring, "weights": dict(weights or {}),
    }  # fmt: skip
    return CheckReport(
        path=str(path),
        kind=source.kind,
        sha256=load.sha256(data),
        size=len(data),
        functions=results,
        required=tuple(required),
        notes=loaded.notes,
        settings=settings,
        seconds=time.monotonic() - start,
    )


def _selection(only: str | None, require: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The functions to check (required ones included) and the required ones, in order."""
    try:
        selected = select(only, "--only")
        required = select(require, "--require") if require is not None else ()
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return tuple(n for n in select(None, "") if n in selected or n in required), required


def _present(
    path: str | Path,
    source: load.Source,
    present: Sequence[str],
    selected: tuple[str, ...],
    required: tuple[str, ...],
    notebook: bool,
) -> tuple[str, ...]:
    """The functions to report: InputError if the file has none of `selected`; for the
    notebook's eight (`notebook`), the GRU only when the file has one or it is required."""
    todo = {*source.broken, *present}
    if not any(n in todo for n in selected):
        names = "the notebook's functions" if notebook else "the selected functions"
        unparsed = [n for n in source.notes if "does not parse" in n or "do not parse" in n]
        why = f"; {unparsed[0]}" if unparsed else ""
        raise InputError(f"{path}: defines none of {names} ({', '.join(selected)}){why}")
    if not notebook:
        return selected
    return tuple(n for n in selected if not n.startswith("gru_") or n in todo or n in required)


def save_run(
    report: CheckReport,
    out: str | Path,
    argv: Sequence[str],
    config: Mapping[str, Any],
    overrides: Sequence[str],
    seed: int,
    keep_source: bool = False,
) -> Path:
    """Write the run folder: check.json (with the file's hash); a copy of the file itself
    only with `keep_source`, and only if it is still the file that was checked."""
    data = Path(report.path).read_bytes() if keep_source else b""
    if keep_source and load.sha256(data) != report.sha256:
        raise InputError(f"{report.path}: changed while it was checked; not keeping a copy")
    run = Run.start(out, "check", Path(report.path).stem, config, overrides, argv, seed)
    run.write_json(CHECK_JSON, report.to_json())
    if keep_source:
        write_bytes_atomic(run.path / "source" / Path(report.path).name, data)
    present = report.present
    run.finish(
        "completed" if report.ok else "failed",
        passed=sum(f.verdict == "pass" for f in present),
        failed=len(report.failing),
        sha256=report.sha256,
    )
    return run.path


def write_gradescope(report: CheckReport | InputError, path: str | Path) -> Path:
    """Gradescope's results.json at `path`, atomically; for an InputError (a file that
    could not be checked), a score of 0 and the one-line reason."""
    if isinstance(report, InputError):
        return write_json_atomic(path, gradescope_error(str(report)))
    return write_json_atomic(path, gradescope(report))
