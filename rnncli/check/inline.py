"""``rnncli.check(globals())``: check the notebook's functions defined in a running
notebook (or any namespace: a dict, a module), as ``rnncli check FILE`` checks a file.

The functions' source (`inspect.getsource`; IPython keeps each cell's) is written with
what it uses from the namespace (imports, its own helper functions, literal constants)
to a temporary .py file, which `run_check` checks in its child process. Where a
function's source cannot be had and IPython's input history (``In``) is there, the cells
themselves are checked instead, as a notebook (definitions only).
"""

from __future__ import annotations

import inspect
import json
import tempfile
import textwrap
import types
from dataclasses import dataclass, fields
from html import escape
from pathlib import Path
from typing import Any

from rnncli.check.report import CheckReport
from rnncli.check.run import run_check
from rnncli.check.spec import FUNCTIONS
from rnncli.errors import InputError

_LITERALS = (bool, int, float, str, type(None))


@dataclass(repr=False)
class NotebookCheck(CheckReport):
    """A `CheckReport` that shows itself in a notebook: a one-line repr, and a small table
    (function, verdict, diagnosis) as HTML."""

    def __repr__(self) -> str:
        return f"<rnncli check of {self.path}: {self.summary()}>"

    def _repr_html_(self) -> str:
        rows = []
        for f in self.functions:
            if f.verdict == "missing" and f.name not in self.required:
                continue
            color = "#2e8540" if f.verdict == "pass" else "#b3261e"
            why = "; ".join(f"{d.id}: {d.hint}" for d in f.diagnosis) or f.message
            rows.append(f"<tr><td><code>{escape(f.name)}</code></td>"
                        f'<td style="color:{color};font-weight:600">{escape(f.verdict)}</td>'
                        f"<td>{escape(why)}</td></tr>")  # fmt: skip
        head = "<tr><th>function</th><th>verdict</th><th>diagnosis</th></tr>"
        return (f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
                f"<p>{escape(self.summary())}</p>")  # fmt: skip


def _names_used(fn: types.FunctionType) -> list[str]:
    """The global names a function's code (and its nested functions' code) uses."""
    out: list[str] = []
    stack = [fn.__code__]
    while stack:
        code = stack.pop()
        out += [n for n in code.co_names if n not in out]
        stack += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return out


def _source(fn: Any) -> str | None:
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None


def _import_line(name: str, value: Any) -> str | None:
    """How the file gets `name` when it is a module, or a function or class of one."""
    if isinstance(value, types.ModuleType):
        mod = value.__name__
        return f"import {mod}" if mod == name else f"import {mod} as {name}"
    module, qual = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
    if module and module != "__main__" and qual and "." not in qual and "<" not in qual:
        return f"from {module} import {qual}" + ("" if qual == name else f" as {name}")
    return None


def notebook_source(ns: dict[str, Any]) -> tuple[str, list[str]]:
    """The file to check: the notebook's functions in `ns` and what they use; and the names
    of those whose source could not be had."""
    main = ns.get("__name__", "__main__")
    imports: list[str] = []
    constants: list[str] = []
    defs: dict[str, str] = {}
    lost: list[str] = []
    todo = [n for n in FUNCTIONS if isinstance(ns.get(n), types.FunctionType)]
    seen = set(todo)
    while todo:
        name = todo.pop(0)
        fn = ns[name]
        text = _source(fn)
        if text is None:
            lost.append(name)
            continue
        defs[name] = text
        for used in _names_used(fn):
            if used in seen or used not in ns:
                continue
            seen.add(used)
            value = ns[used]
            if isinstance(value, types.FunctionType) and value.__module__ == main:
                todo.append(used)
            elif (line := _import_line(used, value)) is not None:
                imports.append(line)
            elif isinstance(value, _LITERALS) or (
                isinstance(value, tuple) and all(isinstance(v, _LITERALS) for v in value)
            ):
                constants.append(f"{used} = {value!r}")
    order = [n for n in defs if n not in FUNCTIONS] + [n for n in FUNCTIONS if n in defs]
    parts = ["\n".join(imports), "\n".join(constants), *(defs[n] for n in order)]
    return "\n\n".join(p for p in parts if p) + "\n", lost


def _cells_notebook(cells: list[str]) -> str:
    """IPython's input history as a notebook (read with the definitions-only filter)."""
    doc = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
           "cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                      "execution_count": None, "source": c} for c in cells if c]}  # fmt: skip
    return json.dumps(doc)


def check(
    namespace: dict[str, Any] | types.ModuleType, *, only: str | None = None,
    require: str | None = None, timeout: float = 10.0, memory: int = 2048, seed: int = 1,
) -> NotebookCheck:  # fmt: skip
    """Check the notebook's functions defined in `namespace` (``globals()`` in a notebook,
    or a module) with `run_check`'s checks, in a child process; the report (`render`,
    `to_json` and `gradescope` take it as they take the command's)."""
    ns = vars(namespace) if isinstance(namespace, types.ModuleType) else namespace
    label = "this notebook" if "In" in ns else str(ns.get("__name__", "namespace"))
    text, lost = notebook_source(ns)
    history = ns.get("In")
    name = "notebook_functions.py"
    if lost and isinstance(history, list) and all(isinstance(c, str) for c in history):
        text, name = _cells_notebook(history), "notebook_cells.ipynb"
    if not any(isinstance(ns.get(n), types.FunctionType) for n in FUNCTIONS):
        raise InputError(f"{label}: defines none of the notebook's functions "
                         f"({', '.join(FUNCTIONS[:4])}, ...)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="rnncli-notebook-") as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        try:
            report = run_check(path, only=only, require=require, timeout=timeout,
                               memory_mib=memory, seed=seed)  # fmt: skip
        except InputError as err:
            raise InputError(str(err).replace(str(path), label)) from None
    values = {f.name: getattr(report, f.name) for f in fields(report)}
    values["path"] = label
    result = NotebookCheck(**values)
    if lost and name.endswith(".py"):
        result.notes.append(f"no source for {', '.join(lost)}: not checked")
    return result
