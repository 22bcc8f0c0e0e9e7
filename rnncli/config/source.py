"""The user's sources: safe YAML, the config file, ``key=value`` overrides, sweep values, seeds."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from rnncli.config.errors import kind_of
from rnncli.errors import InputError

#: Bounds on what a config may be: a file's size, and how many values it may hold once its
#: aliases are expanded (a "billion laughs" file is a few lines that expand to 10^9).
MAX_CONFIG_BYTES = 1 << 20
MAX_VALUES = 100_000


class _SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-2``/``1E3``/``-.5`` as floats (YAML 1.2)
    and refuses a key given twice in one mapping (YAML keeps only the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class says so
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (given twice)", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


_SafeLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _SafeLoader.construct_mapping
)


_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+|\.[0-9_]+(?:[eE][-+]?[0-9]+)?)$"
    ),
    list("-+0123456789."),
)


def _expanded_size(obj: Any, limit: int) -> int:
    """How many values `obj` holds with every alias expanded (counted with a memo, so a
    shared structure costs its size once), stopping early past `limit`."""
    memo: dict[int, int] = {}

    def size(o: Any) -> int:
        if isinstance(o, dict):
            items: Iterable[Any] = [*o.keys(), *o.values()]
        elif isinstance(o, list):
            items = o
        else:
            return 1
        key = id(o)
        if key not in memo:
            memo[key] = limit + 1  # a cycle, while we are inside it, counts as too big
            total = 1
            for item in items:
                total += size(item)
                if total > limit:
                    break
            memo[key] = total
        return memo[key]

    return size(obj)


def _yaml_load(text: str) -> Any:
    """Parse YAML safely: plain data only (custom tags such as ``!!python/...`` raise),
    bounded (aliases may not expand past `MAX_VALUES` values), no key given twice. Raises
    yaml.YAMLError (or ValueError for what YAML itself accepts but rnncli does not)."""
    try:
        data = yaml.load(text, Loader=_SafeLoader)  # a SafeLoader subclass: plain data only
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        text = str(exc)
        if "digits" in text:
            raise ValueError("an integer with more than 4300 digits") from None
        raise ValueError(" ".join(text.split())[:120]) from None
    if _expanded_size(data, MAX_VALUES) > MAX_VALUES:
        raise ValueError(f"more than {MAX_VALUES:,} values once its aliases are expanded")
    return data


def _yaml_error(where: str, exc: yaml.YAMLError, file: bool = True) -> InputError:
    """One line for a YAML error, with ``file:line:column`` when PyYAML knows them."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    pos = f":{mark.line + 1}:{mark.column + 1}" if mark is not None and file else ""
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["?"])[0]
    if isinstance(exc, yaml.constructor.ConstructorError) and "constructor" in str(problem):
        problem = f"unsupported YAML tag (only plain data is allowed): {problem}"
    return InputError(f"{where}{pos}: invalid YAML: {' '.join(str(problem).split())}")


def _parse_scalar(text: str, where: str) -> Any:
    try:
        return _yaml_load(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(where, exc, file=False) from None
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None


_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


def set_dotted(target: dict[str, Any], key: str, value: Any, where: str) -> None:
    parts = key.split(".")
    node = target
    for i, part in enumerate(parts[:-1]):
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            section = ".".join(parts[: i + 1])
            raise InputError(f"{where}: {section!r} was given a value, so {key!r} cannot be set")
        node = nxt
    node[parts[-1]] = value


def check_key(key: str, where: str) -> None:
    if not key:
        raise InputError(f"{where} has an empty key: write key=value, e.g. dims.n_a=64")
    if not _KEY.match(key):
        raise InputError(f"{where}: bad key {key!r}: use dotted names such as dims.n_a")


def is_reset(item: str) -> bool:
    """``~key``: the key back to its default (Hydra's delete)."""
    return isinstance(item, str) and item.startswith("~")


def _split_item(item: str) -> tuple[str, str]:
    """``key=text`` (or Hydra's ``++key=text``, the same here) as (key, text)."""
    if not isinstance(item, str) or "=" not in item:
        raise InputError(f"override {item!r} has no '=': write key=value")
    key, _, text = item.partition("=")
    key = key.strip()
    if key.startswith("++"):
        key = key[2:]
    elif key.startswith("+"):
        raise InputError(
            f"override {item!r}: rnncli's config has a fixed set of keys, so '+' (add a key) "
            f"does not apply: write {key[1:]}={text} to set it"
        )
    check_key(key, f"override {item!r}")
    return key, text


def _reset_key(item: str) -> str:
    key = item[1:].partition("=")[0].strip()  # Hydra also writes ~key=value
    check_key(key, f"override {item!r}")
    return key


def _pop_dotted(target: dict[str, Any], key: str) -> None:
    *parents, last = key.split(".")
    node: Any = target
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


def reset_keys(items: Iterable[str]) -> list[str]:
    """The keys of the ``~key`` items that no later ``key=value`` sets again."""
    resets: dict[str, None] = {}
    for item in items:
        if is_reset(item):
            resets[_reset_key(item)] = None
        else:
            resets.pop(_split_item(item)[0], None)
    return list(resets)


def drop_keys(layer: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """`layer` without the dotted `keys` (``~key``: an earlier layer's value is undone)."""
    for key in keys:
        _pop_dotted(layer, key)
    return layer


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["dims.n_a=64", "backward.upstream=loss"]`` -> ``{"dims": {"n_a": 64}, ...}``.

    Values are YAML (``1e-2`` is a float, ``true`` a bool, ``null`` None, ``[1, 2]`` a list);
    a later item wins over an earlier one. Hydra's ``++key=value`` is ``key=value``;
    ``~key`` undoes what came before for that key (see `reset_keys`).
    """
    out: dict[str, Any] = {}
    for item in items:
        if is_reset(item):
            _pop_dotted(out, _reset_key(item))
            continue
        key, text = _split_item(item)
        set_dotted(out, key, _parse_scalar(text, f"override {item!r}"), f"override {item!r}")
    return out


def _split_commas(text: str) -> list[str]:
    """Split on commas that are not inside quotes, brackets or parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


_RANGE = re.compile(r"^range\((.*)\)$")
MAX_RANGE = 100_000


def _range(part: str, where: str) -> list[Any] | None:
    """Hydra's ``range(stop)``, ``range(start,stop)`` or ``range(start,stop,step)``
    (numbers; the stop excluded), or None for any other value."""
    m = _RANGE.match(part)
    if m is None:
        return None
    args = [_parse_scalar(a.strip(), where) for a in m.group(1).split(",")]
    ok = all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
    if not ok or not 1 <= len(args) <= 3:
        raise InputError(f"{where}: range() takes 1 to 3 numbers, e.g. range(8,33,8)")
    if len(args) == 1:
        start, stop, step = 0, args[0], 1
    else:
        start, stop, step = (*args, 1)[:3]
    if step == 0:
        raise InputError(f"{where}: range() step must not be 0")
    count = math.ceil((stop - start) / step)
    if count > MAX_RANGE:
        raise InputError(f"{where}: range() gives {count:,} values, more than {MAX_RANGE:,}")
    if all(isinstance(a, int) for a in args):
        return list(range(start, stop, step))
    return [round(start + i * step, 12) for i in range(max(count, 0))]


def sweep_values(item: str) -> tuple[str, list[Any]]:
    """``"train.lr=1e-3,1e-2"`` -> ``("train.lr", [0.001, 0.01])``; ``key=v`` gives a 1-list;
    a part ``range(8,33,8)`` gives 8, 16, 24, 32 (Hydra's sweep syntax); ``~key`` gives
    ``(key, [item])``, a fixed override."""
    if is_reset(item):
        return _reset_key(item), [item]
    key, text = _split_item(item)
    values: list[Any] = []
    for part in _split_commas(text):
        where = f"sweep value {item!r}"
        if not part.strip():
            raise InputError(f"sweep value {item!r} has an empty entry: write key=v1,v2,...")
        expanded = _range(part.strip(), where)
        if expanded is not None and not expanded:
            raise InputError(f"{where}: {part.strip()} is empty")
        values += expanded if expanded is not None else [_parse_scalar(part.strip(), where)]
    return key, values


_SEED_PART = re.compile(r"^\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?$")


def parse_seeds(spec: str | int | Sequence[int]) -> list[int]:
    """``"0-9"``, ``"0,2,5-7"``, ``"3"``, ``3`` or ``[0, 1]`` -> a list of distinct seeds."""
    if isinstance(spec, bool):
        raise InputError(f"seeds {spec!r}: expected e.g. '0-9', '0,2,5-7' or '3'")
    if isinstance(spec, int):
        spec = [spec]
    if not isinstance(spec, str):
        seeds = list(spec)
        if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
            raise InputError(f"seeds {seeds!r}: expected a non-empty list of integers >= 0")
        return list(dict.fromkeys(seeds))
    out: list[int] = []
    for part in spec.split(","):
        m = _SEED_PART.match(part)
        if not m:
            raise InputError(
                f"seeds {spec!r}: bad part {part.strip()!r}; write e.g. '0-9' or '0,2,5-7'"
            )
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise InputError(f"seeds {spec!r}: range {part.strip()!r} runs backwards")
        if hi - lo > 100_000:
            raise InputError(f"seeds {spec!r}: range {part.strip()!r} is too long")
        out.extend(range(lo, hi + 1))
    return list(dict.fromkeys(out))


def read_file(path: str | Path) -> dict[str, Any]:
    where = str(path)
    p = Path(path)
    if not p.exists():
        raise InputError(f"config file {where!r} not found")
    if p.is_dir():
        raise InputError(f"config file {where!r} is a directory, not a YAML file")
    if not p.is_file():
        raise InputError(f"config file {where!r} is not a regular file (a device or a pipe?)")
    try:
        with open(p, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise InputError(f"{where}: larger than {MAX_CONFIG_BYTES >> 20} MiB: not a config")
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{where}: not a UTF-8 text file") from None
    except OSError as exc:
        raise InputError(f"cannot read config file {where!r}: {exc.strerror}") from None
    try:
        data = _yaml_load(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(where, exc) from None
    except ValueError as exc:
        raise InputError(f"{where}: invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        got = kind_of(data)
        raise InputError(f"{where}: expected a mapping of keys at the top level, got {got}")
    return data
