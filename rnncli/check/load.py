"""Reading a learner's file, a .py module or a .ipynb notebook, down to its definitions.

A notebook is read as JSON (no Jupyter needed): its code cells, in order, with IPython
magics, shell escapes and ``obj?`` help lines blanked (a cell that starts with a ``%%``
cell magic is skipped whole). From a .py file and from every cell, only top-level
definitions are kept (`definitions`): imports, ``def``, ``class``, and assignments of
literal values (``n_a = 5``, ``EPS = 1e-8``, a ``lambda``) or of values built from what
is already defined (``DTYPE = np.float64``); everything else, such as the test code
``np.random.seed(1); ... print(...)``, is dropped. A notebook cell that does not parse is
skipped (its functions get that as their verdict), and so is a .py file's top-level
chunk that does not; shell and magic lines are blanked, with a note. Line numbers are kept, so
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
# automagic: a shell command without % or ! (Colab's ``cd '/content/drive'``)
_SHELL = re.compile(r"^\s*(?:cd|ls|ll|pwd|pip|conda|mkdir|rm|cp|mv|cat|wget|unzip|ldir)\b")
_DEF = re.compile(r"^def\s+(\w+)\s*\(", re.M)
# a line that starts a top-level statement (not a continuation, comment or closing bracket)
_TOP = re.compile(r"^(?!(?:else|elif|except|finally)\b)[A-Za-z_@]")


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
    broken: dict[str, str] = field(default_factory=dict)  # function -> why it did not parse

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
        return _py_source(path, text)
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
        if text.lstrip().startswith("%%"):
            magic = text.lstrip().split(None, 1)[0]
            source.notes.append(f"cell {number}: skipped (a {magic} cell magic)")
            continue
        unit = _cell_unit(source, number, text)
        if unit is not None:
            source.units.append(unit)
    return source


def _py_source(path: str, text: str) -> Source:
    """A .py file as one unit; one that does not parse, as its top-level chunks (each
    ``def``, ``class``, statement), leaving out those that do not parse, with a note."""
    source = Source(path, "py", [Unit(path, "", text)])
    try:
        ast.parse(text, filename=path)
        return source
    except (SyntaxError, ValueError):
        source.units = []
    lines = text.split("\n")
    starts = [
        i
        for i, line in enumerate(lines)
        if _TOP.match(line) and not (i and lines[i - 1].startswith("@"))
    ]
    for a, b in zip([0, *starts], [*starts, len(lines)], strict=True):
        if a == b:
            continue
        chunk = "\n" * a + "\n".join(lines[a:b])
        try:
            ast.parse(chunk, filename=path)
        except (SyntaxError, ValueError) as exc:
            why = f"line {getattr(exc, 'lineno', None) or a + 1}: {getattr(exc, 'msg', exc)}"
            source.notes.append(f"lines {a + 1}-{b}: skipped, they do not parse ({why})")
            for name in _DEF.findall(chunk):
                source.broken.setdefault(name, f"does not parse ({why})")
            continue
        source.units.append(Unit(path, "", chunk))
    return source


def _automagic(line: str) -> bool:
    """``cd '/content/drive'``, ``pip install x``: a shell command IPython runs without a
    ``%`` or ``!`` (automagic), which is not Python on its own."""
    if not _SHELL.match(line):
        return False
    try:
        ast.parse(line.strip())
    except SyntaxError:
        return True
    return False


def blank_magics(text: str, skipped: list[int] | None = None) -> str:
    """Each IPython-only line becomes ``pass`` at its indentation (line numbers unchanged);
    `skipped` collects the line numbers of shell commands among them."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _MAGIC.match(line) or _automagic(line):
            lines[i] = line[: len(line) - len(line.lstrip())] + "pass"
            if skipped is not None:
                skipped.append(i + 1)
    return "\n".join(lines)


def _cell_unit(source: Source, number: int, text: str) -> Unit | None:
    """A notebook cell as a unit, or None (with a note) for one that does not parse; the
    notebook functions it tried to define get that as their verdict (`Source.broken`)."""
    label = f"cell {number}"
    shell: list[int] = []
    unit = Unit(f"{source.path}#cell{number}", label, blank_magics(text, shell))
    if shell:
        lines = ", ".join(map(str, shell))
        source.notes.append(f"{label}: skipped shell or magic line{'s' * (len(shell) > 1)} {lines}")
    try:
        ast.parse(unit.source, filename=unit.filename)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        why = f"{label}, line {line}: {getattr(exc, 'msg', None) or exc}"
        source.notes.append(f"{label}: skipped, it does not parse ({why})")
        for name in _DEF.findall(unit.source):
            source.broken.setdefault(name, f"does not parse ({why})")
        return None
    return unit


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


_NOT_RUN = {"random", "seed", "load", "loadtxt", "open", "read", "print", "input", "exec", "eval"}


def _literal(node: ast.expr, names: frozenset[str] = frozenset()) -> bool:
    """A value that runs no test code: constants, containers and arithmetic of them, a
    lambda; and values built from `names` (what imports and definitions before it bound):
    ``np.float64``, ``np.dtype("float64")``, ``sigmoid``; never a random draw or I/O."""
    if isinstance(node, (ast.Constant, ast.Lambda)):
        return True
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Attribute):
        return node.attr not in _NOT_RUN and _literal(node.value, names)
    if isinstance(node, ast.Call):  # a module's function: np.dtype("float64"), not test code
        args = [*node.args, *(k.value for k in node.keywords)]
        root = node.func
        while isinstance(root, ast.Attribute):
            root = root.value
        module = isinstance(root, ast.Name) and f"import {root.id}" in names
        return module and _literal(node.func, names) and all(_literal(a, names) for a in args)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_literal(e, names) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _literal(k, names) for k in node.keys) and all(
            _literal(v, names) for v in node.values
        )
    if isinstance(node, ast.UnaryOp):
        return _literal(node.operand, names)
    if isinstance(node, ast.BinOp):
        return _literal(node.left, names) and _literal(node.right, names)
    return False


def _names(target: ast.expr) -> list[str]:
    """The names a plain target binds (``n_a``, ``n_x, n_a``), [] for anything else."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        names = [_names(e) for e in target.elts]
        return [n for ns in names for n in ns] if all(names) else []
    return []


def _keeps(stmt: ast.stmt, names: frozenset[str] = frozenset()) -> bool:
    """True for a top-level statement that only defines something (`names`: bound so far)."""
    if isinstance(
        stmt,
        (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef),
    ):
        return True
    if isinstance(stmt, ast.Assign):
        return all(_names(t) for t in stmt.targets) and _literal(stmt.value, names)
    if isinstance(stmt, ast.AnnAssign):
        return isinstance(stmt.target, ast.Name) and (
            stmt.value is None or _literal(stmt.value, names)
        )
    if isinstance(stmt, ast.Try):  # try: import x / except ImportError: def fallback(...)
        blocks = [stmt.body, stmt.orelse, stmt.finalbody, *(h.body for h in stmt.handlers)]
        return all(isinstance(s, ast.Pass) or _keeps(s, names) for block in blocks for s in block)
    return False


def definitions(source: Source) -> tuple[list[tuple[Unit, ast.stmt]], dict[str, str]]:
    """The statements to run, in order, and the names only dropped statements assign.

    The second result maps such a name to where it is assigned (``cell 9, line 20``), so
    that a NameError for it can say the test code defining it is not run.
    """
    kept: list[tuple[Unit, ast.stmt]] = []
    skipped: dict[str, str] = {}
    bound: set[str] = set()
    for unit in source.units:
        for stmt in parse(source, unit).body:
            if _keeps(stmt, frozenset(bound)):
                kept.append((unit, stmt))
                bound.update(_bound(stmt))
                if isinstance(stmt, ast.Import):  # a module: its functions may be called
                    bound.update(f"import {n}" for n in _bound(stmt))
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


_START = re.compile(r"#+\s*START CODE HERE", re.I)
_END = re.compile(r"#+\s*END CODE HERE", re.I)


def _placeholder(unit: Unit, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The first ``x = None`` left between START CODE HERE and END CODE HERE in `fn`."""
    lines = unit.source.split("\n")
    inside, regions = False, set()
    for number, line in enumerate(lines, 1):
        if _START.search(line):
            inside = True
        elif _END.search(line):
            inside = False
        elif inside:
            regions.add(number)
    for node in ast.walk(fn):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and node.value.value is None
            and node.lineno in regions
        ):
            return (ast.get_source_segment(unit.source, node) or "= None").splitlines()[0]
    return None


def _trivial(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Its body is only a docstring, ``pass``, ``...`` or ``raise NotImplementedError``."""
    for stmt in fn.body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, ast.Raise) and "NotImplementedError" in ast.dump(stmt):
            continue
        return False
    return True


def unfinished(source: Source) -> dict[str, str]:
    """Functions (their last top-level definition) left as the notebook gave them: a body
    of ``pass``, or a ``= None`` placeholder between START CODE HERE and END CODE HERE."""
    found: dict[str, str | None] = {}
    for unit in source.units:
        for stmt in parse(source, unit).body:
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            where = f"{unit.label}, line {stmt.lineno}" if unit.label else f"line {stmt.lineno}"
            if _trivial(stmt):
                found[stmt.name] = f"its body is only pass ({where})"
            elif (left := _placeholder(unit, stmt)) is not None:
                found[stmt.name] = f"`{left}` is still the placeholder ({where})"
            else:
                found[stmt.name] = None
    return {k: v for k, v in found.items() if v is not None}


# NumPy 2 removed these aliases of Python's types; old course code still uses them
ALIASES = {"float": float, "int": int, "bool": bool, "object": object, "complex": complex,
           "str": str, "long": int, "unicode": str}  # fmt: skip
_ALIAS = re.compile(r"\bnp\.(" + "|".join(ALIASES) + r")\b(?![\w(])|\bnp\.(?:float|int|bool)\(")


def restore_numpy_aliases(source: Source) -> list[str]:
    """In the child only: put back the NumPy aliases the file uses (np.float, np.int, ...)
    so the maths beneath is checked; a note for each."""
    import numpy as np

    found = (m.group(0) for u in source.units for m in _ALIAS.finditer(u.source))
    used = sorted({text.split(".")[1].rstrip("(") for text in found})
    notes = []
    for name in used:
        if name in ALIASES and not hasattr(np, name):
            setattr(np, name, ALIASES[name])
            notes.append(
                f"np.{name} was removed from NumPy ({np.__version__} here): restored as "
                f"{ALIASES[name].__name__} for this run; write {ALIASES[name].__name__} instead"
            )
    return notes
