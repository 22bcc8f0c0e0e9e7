"""One-line messages: did-you-mean for unknown keys, pydantic errors with their source."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from rnncli.errors import InputError

#: A key's path in the config data (``("dims", "n_a")``); provenance maps it to its source.
KeyPath = tuple[str | int, ...]


def unknown_message(key: str, candidates: Sequence[str]) -> str:
    """``unknown key 'dims.na' (did you mean 'dims.n_a'?)``."""
    parent, _, leaf = key.rpartition(".")
    siblings = [c for c in candidates if c.rpartition(".")[0] == parent]
    guess = difflib.get_close_matches(key, siblings, n=1, cutoff=0.6)
    if not guess:  # maybe a section was forgotten: n_a -> dims.n_a
        guess = [c for c in candidates if c.rpartition(".")[2] == leaf]
    if not guess:
        guess = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    hint = f" (did you mean {guess[0]!r}?)" if guess else ""
    return f"unknown key {key!r}{hint}"


def show_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def dotted(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def source_of(loc: Sequence[Any], prov: Mapping[KeyPath, str]) -> str:
    """Where the value at ``loc`` came from: the longest recorded prefix, or a sibling."""
    loc = tuple(loc)
    for n in range(len(loc), 0, -1):
        if loc[:n] in prov:
            return prov[loc[:n]]
    parent = loc[:-1]
    siblings = [src for path, src in prov.items() if path[: len(parent)] == parent and parent]
    return siblings[-1] if siblings else "defaults"


def expected_text(err: Mapping[str, Any]) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    simple = {
        "int_type": "expected an integer",
        "float_type": "expected a number",
        "bool_type": "expected true or false",
        "string_type": "expected a string (quote it if it looks like a number)",
        "list_type": "expected a list",
        "dict_type": "expected a mapping",
        "model_type": "expected a mapping of keys",
        "finite_number": "expected a finite number",
    }
    if kind in simple:
        return simple[kind]
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}"
    for name, op in (
        ("greater_than", ">"),
        ("greater_than_equal", ">="),
        ("less_than", "<"),
        ("less_than_equal", "<="),
    ):
        if kind == name:
            bound = next(iter(ctx.values()), "?")
            return f"must be {op} {bound}"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return str(err.get("msg", kind))


def format_error(exc: ValidationError, prov: Mapping[KeyPath, str]) -> InputError:
    errors = exc.errors()
    err = errors[0]
    loc = err["loc"]
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    tail = more if len(errors) > 1 else ""
    detail = " ".join(expected_text(err).split())
    if err["type"] == "value_error":
        return InputError(f"{source_of(loc, prov)}: {dotted(loc)}: {detail}{tail}")
    value = show_value(err.get("input"))
    return InputError(f"{source_of(loc, prov)}: {dotted(loc)}={value} is invalid: {detail}{tail}")


def kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__} ({show_value(value)})"
