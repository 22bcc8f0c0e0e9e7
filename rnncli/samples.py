"""Notebook-style index expressions such as ``a[4][1]`` or ``gradients["dWax"][3][1]``.

Users list the entries they want printed in the config's ``samples:``. The expressions are
*parsed* by a tiny hand-written scanner and then looked up in a mapping of arrays; nothing is
ever evaluated, so ``__import__('os')`` is just a syntax error.

Grammar (whitespace allowed around tokens)::

    sample := NAME key? index+          key only after a keyed name (gradients, parameters)
    key    := '[' (IDENT | 'str' | "str") ']'
    index  := '[' INT (',' INT)* ']'    INT is an optional '-' and ASCII digits
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncli.errors import InputError

#: Names whose first bracket may hold a dictionary key (``gradients[dWax]``).
KEYED_NAMES = frozenset({"gradients", "parameters"})

_MAX_LEN = 200
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"-?[0-9]+")
_QUOTED = re.compile(r"'([^'\\]*)'|\"([^\"\\]*)\"")


@dataclass(frozen=True)
class Sample:
    """A parsed expression: ``gradients["dWax"][3][1]`` -> name, key ``dWax``, index (3, 1)."""

    text: str
    name: str
    key: str | None
    index: tuple[int, ...]

    def __str__(self) -> str:
        return self.text


class _Scanner:
    """Cursor over the expression text with helpers that skip whitespace."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_ws()
        return self.pos >= len(self.text)

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        self.skip_ws()
        m = pattern.match(self.text, self.pos)
        if m:
            self.pos = m.end()
        return m

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end"
            raise _Syntax(f"expected {what} at position {self.pos + 1}, found {found}")
        self.pos += 1


class _Syntax(Exception):
    """Internal: a syntax problem, turned into an InputError naming the expression."""


def parse(expr: str) -> Sample:
    """Parse one index expression; raise InputError naming it if it is anything else."""
    if not isinstance(expr, str):
        raise InputError(f"sample expression {expr!r} must be a string like 'a[4][1]'")
    text = expr.strip()
    shown = text if len(text) <= 60 else text[:57] + "..."
    if not text:
        raise InputError("empty sample expression: write something like 'a[4][1]'")
    if len(text) > _MAX_LEN:
        raise InputError(f"sample expression {shown!r} is too long (max {_MAX_LEN} characters)")
    try:
        return _parse(text)
    except _Syntax as exc:
        raise InputError(
            f"bad sample expression {shown!r}: {exc} (write e.g. a[4][1] or gradients[dWax][3][1])"
        ) from None


def _parse(text: str) -> Sample:
    s = _Scanner(text)
    name_m = s.match(_IDENT)
    if not name_m:
        raise _Syntax("it must start with an array name")
    name = name_m.group()
    key: str | None = None
    index: list[int] = []
    first = True
    while not s.at_end():
        s.expect("[", "'['")
        if s.peek() in ("'", '"'):
            key = _read_key(s, name, first, quoted=True)
        elif _IDENT.match(s.text, s.pos):
            key = _read_key(s, name, first, quoted=False)
        else:
            index.extend(_read_ints(s))
        s.expect("]", "']'")
        first = False
    if key is None and not index:
        raise _Syntax("it needs at least one index, e.g. " + name + "[0]")
    return Sample(text=text, name=name, key=key, index=tuple(index))


def _read_key(s: _Scanner, name: str, first: bool, quoted: bool) -> str:
    m = s.match(_QUOTED if quoted else _IDENT)
    if not m:
        raise _Syntax(f"unterminated string at position {s.pos + 1}")
    key = (m.group(1) if m.group(1) is not None else m.group(2)) if quoted else m.group()
    if name not in KEYED_NAMES or not first:
        if quoted:
            raise _Syntax(f"only {'/'.join(sorted(KEYED_NAMES))}[...] takes a name key")
        raise _Syntax(f"index {key!r} must be an integer")
    if not key:
        raise _Syntax("empty key")
    return key


def _read_ints(s: _Scanner) -> list[int]:
    out: list[int] = []
    while True:
        m = s.match(_INT)
        if not m:
            c = s.peek()
            if c == ":":
                raise _Syntax("slices are not supported")
            found = repr(c) if c else "the end"
            raise _Syntax(f"expected an integer index at position {s.pos + 1}, found {found}")
        out.append(int(m.group()))
        c = s.peek()
        if c == ",":
            s.pos += 1
            continue
        if c == ":":
            raise _Syntax("slices are not supported")
        return out


def _available(mapping: Mapping[str, Any] | None) -> str:
    names = sorted(mapping) if mapping else []
    return ", ".join(names) if names else "none"


def resolve(
    sample: Sample | str,
    arrays: Mapping[str, Any],
    gradients: Mapping[str, Any] | None = None,
) -> float | np.ndarray:
    """Look the sample up with chained indexing; return a float or whatever array remains.

    ``gradients[dWax][3][1]`` reads ``gradients["dWax"]`` (or ``arrays["gradients"]["dWax"]``,
    or plain ``arrays["dWax"]``); a plain name is read from ``arrays``, then ``gradients``.
    """
    if isinstance(sample, str):
        sample = parse(sample)
    where = f"sample {sample.text!r}"
    label = sample.name
    if sample.key is not None:
        value = _lookup_key(sample, arrays, gradients)
        label = f"{sample.name}[{sample.key}]"
    elif sample.name in arrays:
        value = arrays[sample.name]
    elif gradients is not None and sample.name in gradients:
        value = gradients[sample.name]
    else:
        known = _available(arrays)
        if gradients:
            known += f"; gradients: {_available(gradients)}"
        raise InputError(f"{where}: no array named {sample.name!r} (available: {known})")

    shape = np.shape(value) if isinstance(value, np.ndarray) else None
    for axis, i in enumerate(sample.index):
        if isinstance(value, np.generic):
            value = np.asarray(value)
        if isinstance(value, np.ndarray):
            if value.ndim == 0:
                raise InputError(
                    f"{where}: too many indices for {label!r} with shape {shape} "
                    f"({len(sample.index)} given)"
                )
            n = value.shape[0]
            if not -n <= i < n:
                raise InputError(
                    f"{where}: index {i} is out of range for axis {axis} of {label!r} "
                    f"with shape {shape}"
                )
            value = value[i]
        elif isinstance(value, (list, tuple)):
            if not -len(value) <= i < len(value):
                raise InputError(
                    f"{where}: index {i} is out of range for {label!r} "
                    f"at depth {axis} (length {len(value)})"
                )
            value = value[i]
        else:
            raise InputError(f"{where}: {label!r} cannot be indexed at depth {axis}")
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return value
    if isinstance(value, (np.ndarray, np.generic, int, float)) and not isinstance(value, bool):
        return float(np.asarray(value))
    if isinstance(value, np.ndarray):  # a 0-d array of an odd dtype
        return value
    raise InputError(f"{where}: the result is a {type(value).__name__}, not a number or array")


def _lookup_key(
    sample: Sample, arrays: Mapping[str, Any], gradients: Mapping[str, Any] | None
) -> Any:
    """Find ``name[key]`` in the gradients mapping, a nested mapping, or plain ``arrays``."""
    assert sample.key is not None
    containers: list[Mapping[str, Any]] = []
    if sample.name == "gradients" and gradients is not None:
        containers.append(gradients)
    nested = arrays.get(sample.name)
    if isinstance(nested, Mapping):
        containers.append(nested)
    for container in containers:
        if sample.key in container:
            return container[sample.key]
    if sample.key in arrays and not isinstance(arrays[sample.key], Mapping):
        return arrays[sample.key]
    pool = containers[0] if containers else None
    raise InputError(
        f"sample {sample.text!r}: no {sample.name} entry named {sample.key!r} "
        f"(available: {_available(pool)})"
    )


def _expr(name: str, index: tuple[int, ...], key: str | None = None) -> str:
    head = f"{name}[{key}]" if key is not None else name
    return head + "".join(f"[{i}]" for i in index)


def _pick(array: np.ndarray, name: str, per_array: int, seed: int) -> list[tuple[int, ...]]:
    """The first entry plus pseudo-random distinct ones, reproducible per (seed, name)."""
    if array.ndim == 0 or array.size == 0 or per_array <= 0:
        return []
    picks = [(0,) * array.ndim]
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    want = min(per_array, array.size)
    for _ in range(20 * per_array):
        if len(picks) >= want:
            break
        flat = int(rng.integers(array.size))
        idx = tuple(int(i) for i in np.unravel_index(flat, array.shape))
        if idx not in picks:
            picks.append(idx)
    return picks


def default_samples(
    arrays: Mapping[str, Any],
    per_array: int = 2,
    seed: int = 0,
    gradients: Mapping[str, Any] | None = None,
) -> list[str]:
    """Pick a few entries of every array deterministically, as expressions like ``a[4][1][2]``.

    Arrays are taken in mapping order; each gets its first entry and ``per_array - 1``
    pseudo-random ones from ``np.random.default_rng([seed, crc32(name)])``. Gradients (if
    given) come out as ``gradients[dWax][3][1]``. Non-arrays and 0-d arrays are skipped.
    """
    out: list[str] = []
    for name, value in arrays.items():
        if isinstance(value, np.ndarray):
            out += [_expr(name, idx) for idx in _pick(value, name, per_array, seed)]
    for key, value in (gradients or {}).items():
        if isinstance(value, np.ndarray) and _IDENT.fullmatch(key):
            picks = _pick(value, "gradients." + key, per_array, seed)
            out += [_expr("gradients", idx, key) for idx in picks]
    return out


def to_jsonable(value: Any) -> Any:
    """Plain Python for JSON: arrays to nested lists, NumPy scalars to int/float/bool."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value
