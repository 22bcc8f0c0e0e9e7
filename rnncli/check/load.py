"""Reading a learner's file, a .py module or a .ipynb notebook, down to its definitions.

A notebook is read as JSON (no Jupyter needed): its code cells, in order, with IPython
magics, shell escapes and ``obj?`` help lines blanked (a cell that starts with a ``%%``
cell magic is skipped whole). From a .py file and from every cell, only top-level
definitions are kept (`definitions`): imports, ``def``, ``class``, and assignments of
literal values (``n_a = 5``, ``EPS = 1e-8``, a ``lambda``); everything else, such as the
test code ``np.random.seed(1); ... print(...)``, is dropped. Line numbers are kept, so
an error can name the learner's file (and cell) and line.

`read_source` runs in rnncli's own process and refuses bad input with a one-line
`InputError` (missing file, directory, undecodable bytes, broken notebook JSON, a syntax
error as ``file:line: message``); `from_text` is what the child process runs again on the
same text.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from rnncli.errors import InputError

KINDS = {".py": "py", ".ipynb": "ipynb"}

# a line IPython handles itself: %magic, !shell, x = !shell, x = %magic, obj? / obj??
_MAGIC = re.compile(r"^\s*(?:[%!]|[\w.]+\s*=\s*[%!])|^\s*[\w.]+\?\??\s*$")


@dataclass
class Unit:
    """One piece of code run in order: a whole .py file, or one notebook cell."""

    filename: str  # given to compile(): unique, maps tracebacks back to this unit
    label: str  # "" for a .py file, "cell 7" for the 7th cell of a notebook (markdown counts)
    source: str  # the code with magics blanked (line numbers unchanged)


@dataclass
class Source:
    """A learner's file, decoded and split into units."""

    path: str  # as the user gave it
    kind: str  # "py" | "ipynb"
    units: list[Unit]
    notes: list[str] = field(default_factory=list)  # what was skipped and why

    def where(self, filename: str, lineno: int) -> str | None:
        """``line 12`` or ``cell 7, line 3`` for a frame in this file, None if it is not."""
        for unit in self.units:
            if unit.filename == filename:
                return f"{unit.label}, line {lineno}" if unit.label else f"line {lineno}"
        return None


def read_source(path: str | Path) -> tuple[Source, bytes]:
    """The file at `path`, parsed (syntax errors raised here), and its raw bytes."""
    p = Path(path)
    kind = KINDS.get(p.suffix.lower())
    if not p.exists():
        raise InputError(f"{path}: file not found")
    if p.is_dir():
        raise InputError(f"{path}: is a directory; expected a .py file or a .ipynb notebook")
    if kind is None:
        raise InputError(f"{path}: expected a .py file or a .ipynb notebook")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    source = from_text(str(path), kind, decode(str(path), kind, data))
    for unit in source.units:
        parse(source, unit)  # a syntax error anywhere is bad input, before anything runs
    return source, data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(path: str, kind: str, data: bytes) -> str:
    """Text of the file: UTF-8 for a notebook, PEP 263 (a coding cookie, else UTF-8) for .py."""
    try:
        if kind == "ipynb":
            return data.decode("utf-8-sig")
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (UnicodeDecodeError, SyntaxError, LookupError) as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise InputError(f"{path}: not valid UTF-8 text ({reason}); save it as UTF-8") from None


def from_text(path: str, kind: str, text: str) -> Source:
    """Split decoded text into units (one .py file, or the notebook's code cells)."""
    if kind == "py":
        return Source(path, kind, [Unit(path, "", text)])
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not a notebook: invalid JSON ({exc.msg})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        major = nb.get("nbformat") if isinstance(nb, dict) else None
        if isinstance(major, int) and major < 4:
            raise InputError(
                f"{path}: nbformat {major} notebooks are not supported; open and save it in "
                "a current Jupyter to upgrade it to nbformat 4"
            )
        raise InputError(f"{path}: not a Jupyter notebook (no list of cells)")
    source = Source(path, kind, [])
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        raw = cell.get("source", "")
        text = "".join(raw) if isinstance(raw, list) else raw
        if not isinstance(text, str) or not all(isinstance(s, str) for s in raw):
            raise InputError(f"{path}: cell {number} has no readable source")
        label = f"cell {number}"
        if text.lstrip().startswith("%%"):
            magic = text.lstrip().split(None, 1)[0]
            source.notes.append(f"{label}: skipped (a {magic} cell magic)")
            continue
        source.units.append(Unit(f"{path}#cell{number}", label, blank_magics(text)))
    return source


def blank_magics(text: str) -> str:
    """Each IPython-only line becomes ``pass`` at its indentation (line numbers unchanged)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _MAGIC.match(line):
            lines[i] = line[: len(line) - len(line.lstrip())] + "pass"
    return "\n".join(lines)


def parse(source: Source, unit: Unit) -> ast.Module:
    """The unit's syntax tree, or InputError ``file:line: message`` (with the cell)."""
    try:
        return ast.parse(unit.source, filename=unit.filename)
    except SyntaxError as exc:
        line = exc.lineno or 1
        where = (
            f"{source.path}: {unit.label}, line {line}" if unit.label else f"{source.path}:{line}"
        )
        raise InputError(f"{where}: {exc.msg}") from None
    except ValueError as exc:  # e.g. null bytes
        raise InputError(f"{source.path}: {unit.label or 'file'}: {exc}") from None


def _literal(node: ast.expr) -> bool:
    """A value that runs no code: constants, containers and arithmetic of them, a lambda."""
    if isinstance(node, (ast.Constant, ast.Lambda)):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _literal(k) for k in node.keys) and all(
            _literal(v) for v in node.values
        )
    if isinstance(node, ast.UnaryOp):
        return _literal(node.operand)
    if isinstance(node, ast.BinOp):
        return _literal(node.left) and _literal(node.right)
    return False


def _names(target: ast.expr) -> list[str]:
    """The names a plain target binds (``n_a``, ``n_x, n_a``), [] for anything else."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        names = [_names(e) for e in target.elts]
        return [n for ns in names for n in ns] if all(names) else []
    return []


def _keeps(stmt: ast.stmt) -> bool:
    """True for a top-level statement that only defines something."""
    if isinstance(
        stmt,
        (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef),
    ):
        return True
    if isinstance(stmt, ast.Assign):
        return all(_names(t) for t in stmt.targets) and _literal(stmt.value)
    if isinstance(stmt, ast.AnnAssign):
        return isinstance(stmt.target, ast.Name) and (stmt.value is None or _literal(stmt.value))
    if isinstance(stmt, ast.Try):  # try: import x / except ImportError: def fallback(...)
        blocks = [stmt.body, stmt.orelse, stmt.finalbody, *(h.body for h in stmt.handlers)]
        return all(isinstance(s, ast.Pass) or _keeps(s) for block in blocks for s in block)
    return False


def definitions(source: Source) -> tuple[list[tuple[Unit, ast.stmt]], dict[str, str]]:
    """The statements to run, in order, and the names only dropped statements assign.

    The second result maps such a name to where it is assigned (``cell 9, line 20``), so
    that a NameError for it can say the test code defining it is not run.
    """
    kept: list[tuple[Unit, ast.stmt]] = []
    skipped: dict[str, str] = {}
    for unit in source.units:
        for stmt in parse(source, unit).body:
            if _keeps(stmt):
                kept.append((unit, stmt))
                continue
            where = f"{unit.label}, line {stmt.lineno}" if unit.label else f"line {stmt.lineno}"
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    skipped.setdefault(node.id, where)
    defined = {name for _, stmt in kept for name in _bound(stmt)}
    return kept, {k: v for k, v in skipped.items() if k not in defined}


def _bound(stmt: ast.stmt) -> list[str]:
    """Names a kept statement binds."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [n for t in stmt.targets for n in _names(t)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in stmt.names]
    if isinstance(stmt, ast.Try):
        blocks = [stmt.body, stmt.orelse, stmt.finalbody, *(h.body for h in stmt.handlers)]
        return [n for block in blocks for s in block for n in _bound(s)]
    return []
