"""What crosses between rnncli and the child: plain numbers, never the learner's objects.

The child encodes what a learner's function returned (`encode`) as JSON: arrays as raw
little bytes with a dtype and shape header (numeric kinds ``f i u b`` only; a subclass
such as a masked array or one with its own ``__array_ufunc__`` is sent as its base
ndarray's data, never as itself), tuples, lists and dicts of them, Python numbers, and
anything else as an opaque marker that keeps only its type's name. rnncli decodes it
(`decode`) with strict validation into fresh base ndarrays, so nothing the learner wrote
can run in rnncli's process, and every comparison there computes its own error.

Containers that came from a stored reply carry where they came from (`Ref`), so rnncli
can hand the learner's own object (its cache) back to the learner's next function
without copying it through the wire.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

KINDS = "fiub"  # numeric dtypes that travel as arrays: float, int, unsigned, bool
MAX_DEPTH = 32
MAX_ITEMS = 100_000  # nodes in one value
MAX_BYTES = 64 * 2**20  # array data in one value


class WireError(ValueError):
    """A value from the child that is not one `encode` makes: a protocol violation."""


# ---------------------------------------------------------------- the child's side


def encode(value: Any) -> Any:
    """`value` as JSON-able plain data (never raises: what cannot be read is opaque)."""
    budget = [MAX_ITEMS, MAX_BYTES]
    return _enc(value, 0, budget)


def _opaque(value: Any) -> dict[str, Any]:
    try:
        name = str(type(value).__name__)[:60]
    except Exception:
        name = "object"
    return {"t": "o", "type": name}


def _enc(value: Any, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        return _opaque(value)
    try:
        if value is None or type(value) is bool:
            return value
        if type(value) is int:
            return value if abs(value) < 2**63 else {"t": "f", "v": float(value).hex()}
        if type(value) is float:
            return {"t": "f", "v": value.hex()}
        if isinstance(value, np.ndarray):
            return _enc_array(np.ndarray.view(value, np.ndarray), budget, "a")
        if isinstance(value, np.generic) and not isinstance(value, np.ndarray):
            return _enc_array(np.asarray(value), budget, "s", type(value).__name__)
        if isinstance(value, tuple):
            items = list(tuple.__iter__(value))
            return {"t": "tuple", "v": [_enc(v, depth + 1, budget) for v in items]}
        if isinstance(value, list):
            items = list(list.__iter__(value))
            return {"t": "list", "v": [_enc(v, depth + 1, budget) for v in items]}
        if isinstance(value, Mapping):
            pairs = [
                [k, _enc(value[k], depth + 1, budget)] for k in list(value.keys()) if type(k) is str
            ]
            return {"t": "dict", "v": pairs}
    except Exception:
        pass
    return _opaque(value)


def _enc_array(a: np.ndarray, budget: list[int], tag: str, cls: str = "") -> Any:
    dt = a.dtype
    if dt.kind not in KINDS or dt.fields is not None or dt.subdtype is not None:
        return {"t": "o", "type": f"ndarray of {dt}"[:60]}
    budget[1] -= a.nbytes
    if budget[1] < 0:
        return {"t": "o", "type": "oversized ndarray"}
    data = np.ascontiguousarray(a).astype(dt.newbyteorder("<"), copy=False).tobytes()
    doc = {"t": tag, "dtype": dt.newbyteorder("<").str, "shape": list(a.shape),
           "data": base64.b64encode(data).decode()}  # fmt: skip
    if cls:
        doc["cls"] = cls
    return doc


# ---------------------------------------------------------------- rnncli's side


class Opaque:
    """Something the learner returned that is not plain data; only its type's name came."""

    __slots__ = ()


_OPAQUE: dict[str, type] = {}


def opaque(name: str) -> Opaque:
    """An instance of a class named like the learner's type (messages read the same)."""
    cls = _OPAQUE.get(name)
    if cls is None:
        cls = _OPAQUE.setdefault(name, type(name, (Opaque,), {"__slots__": ()}))
    return cls()


class Ref:
    """Where a decoded container sits in a stored reply: (reply id, path of keys)."""

    __slots__ = ("key", "path")

    def __init__(self, key: int, path: tuple[Any, ...]) -> None:
        self.key, self.path = key, path

    def to_json(self) -> dict[str, Any]:
        return {"t": "ref", "id": self.key, "path": list(self.path)}


class RTuple(tuple):  # noqa: SLOT001 - carries its Ref
    ref: Ref | None = None

    def __deepcopy__(self, memo: Any) -> RTuple:
        return self  # plain data rnncli never changes


class RList(list):  # noqa: FURB189
    ref: Ref | None = None

    def __deepcopy__(self, memo: Any) -> RList:
        return self


class RDict(dict):  # noqa: FURB189
    ref: Ref | None = None

    def __deepcopy__(self, memo: Any) -> RDict:
        return self


def decode(doc: Any, key: int | None = None) -> Any:
    """The plain value `doc` encodes; WireError for anything `encode` does not make.

    With `key` (the stored reply's id), containers remember their `Ref`.
    """
    budget = [MAX_ITEMS, MAX_BYTES]
    return _dec(doc, 0, budget, key, ())


def _dec(doc: Any, depth: int, budget: list[int], key: int | None, path: tuple[Any, ...]) -> Any:
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise WireError("a value too large or too deep")
    if doc is None or type(doc) is bool:
        return doc
    if type(doc) is int:
        return doc
    if type(doc) is not dict:
        raise WireError(f"unexpected {type(doc).__name__} in a value")
    tag = doc.get("t")
    if tag == "f":
        try:
            return float.fromhex(str(doc["v"]))
        except (KeyError, ValueError, OverflowError):
            raise WireError("a malformed float") from None
    if tag == "o":
        name = doc.get("type")
        if not isinstance(name, str) or not name or len(name) > 60:
            raise WireError("a malformed opaque value")
        return opaque(name)
    if tag in ("a", "s"):
        a = _dec_array(doc, budget)
        if tag == "a":
            return a
        if a.shape != ():
            raise WireError("a scalar with a shape")
        return a[()]
    if tag in ("tuple", "list"):
        items = doc.get("v")
        if type(items) is not list:
            raise WireError("a malformed sequence")
        values = [_dec(v, depth + 1, budget, key, (*path, i)) for i, v in enumerate(items)]
        out: RTuple | RList = RTuple(values) if tag == "tuple" else RList(values)
        out.ref = Ref(key, path) if key is not None else None
        return out
    if tag == "dict":
        pairs = doc.get("v")
        if type(pairs) is not list:
            raise WireError("a malformed dict")
        d = RDict()
        for pair in pairs:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                raise WireError("a malformed dict item")
            d[pair[0]] = _dec(pair[1], depth + 1, budget, key, (*path, pair[0]))
        d.ref = Ref(key, path) if key is not None else None
        return d
    raise WireError(f"unknown value tag {str(tag)[:20]!r}")


def _dec_array(doc: dict[str, Any], budget: list[int]) -> np.ndarray:
    try:
        dt = np.dtype(str(doc["dtype"]))
        shape = doc["shape"]
        data = base64.b64decode(str(doc["data"]), validate=True)
    except (KeyError, TypeError, ValueError):
        raise WireError("a malformed array") from None
    if dt.kind not in KINDS or dt.fields is not None or dt.subdtype is not None:
        raise WireError(f"an array of dtype {dt}")
    if type(shape) is not list or not all(type(n) is int and 0 <= n < 2**31 for n in shape):
        raise WireError("an array with a malformed shape")
    if len(shape) > MAX_DEPTH:
        raise WireError("an array with too many dimensions")
    size = math.prod(shape)
    budget[1] -= len(data)
    if budget[1] < 0 or len(data) != size * dt.itemsize:
        raise WireError("an array whose data does not fit its shape")
    a = np.frombuffer(data, dtype=dt).reshape(shape).astype(dt.newbyteorder("="), copy=True)
    assert type(a) is np.ndarray
    return a


def encode_arg(value: Any) -> Any:
    """An argument rnncli sends: its own plain data, or a stored reply's container by Ref."""
    ref = getattr(value, "ref", None) if isinstance(value, (RTuple, RList, RDict)) else None
    if ref is not None:
        return ref.to_json()
    if isinstance(value, np.ndarray):
        return _enc_array(np.asarray(value), [1, MAX_BYTES], "a")
    if isinstance(value, (tuple, list)):
        return {"t": "tuple" if isinstance(value, tuple) else "list",
                "v": [encode_arg(v) for v in value]}  # fmt: skip
    if isinstance(value, Mapping):
        return {"t": "dict", "v": [[str(k), encode_arg(v)] for k, v in value.items()]}
    if isinstance(value, Opaque):
        raise WireError("an opaque value cannot be sent back")
    return _enc(value, 0, [10, MAX_BYTES])


def decode_arg(doc: Any, stored: Mapping[int, Any]) -> Any:
    """The child's side of `encode_arg`: plain arrays, or the stored object a Ref names."""
    if type(doc) is dict and doc.get("t") == "ref":
        value = stored[int(doc["id"])]
        for k in doc["path"]:
            value = value[k]
        return value
    if type(doc) is dict and doc.get("t") in ("tuple", "list"):
        items = [decode_arg(v, stored) for v in doc["v"]]
        return tuple(items) if doc["t"] == "tuple" else items
    if type(doc) is dict and doc.get("t") == "dict":
        return {k: decode_arg(v, stored) for k, v in doc["v"]}
    return decode(doc)
