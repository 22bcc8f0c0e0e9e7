"""What a check finds, as plain data: per array, per check, per function.

rnncli's process builds these from the plain numbers the child returns (`wire`);
`FunctionResult.from_json` rebuilds one from JSON (a saved check.json), accepting only
the expected fields and types.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("pass", "fail", "error", "skip")
VERDICTS = ("pass", "fail", "error", "missing", "not-implemented", "timeout", "crashed")
NOT_THERE = ("missing", "not-implemented")  # not checked; a failure only where required


@dataclass
class ArrayDiff:
    """One returned array against rnncli's: whole-array errors and the first mismatch."""

    name: str  # "dWaa", "a_next", "cache"
    ok: bool
    max_abs: float = math.nan  # max |got - expected|
    max_rel: float = math.nan  # max_abs / max |expected|
    where: str = ""  # the first mismatching entry, "dWaa[1,2]" (or "cache[4][0,3]")
    note: str = ""  # why it could not be compared: "shape (3, 10), expected (5, 10)"
    multiple: float | None = None  # got = multiple * expected, when it is (0.1 for 1/m)
    zero: bool = False  # got is all zeros while expected is not
    shape: list[int] | None = None  # got's shape, when it is not the expected one
    expected_shape: list[int] | None = None


@dataclass
class CheckResult:
    """One row of the table: a check of one function."""

    name: str  # "contract", "notebook test", "m = 1", "vs your forward", ...
    status: str  # "pass" | "fail" | "error" | "skip"
    max_abs: float = math.nan  # of the worst array
    max_rel: float = math.nan
    where: str = ""
    note: str = ""  # one line: which arrays are wrong, or the error
    arrays: list[ArrayDiff] = field(default_factory=list)
    profile: list[float] | None = None  # sequence backward: dx's error per time step

    @property
    def counted(self) -> bool:
        return self.status != "skip"


@dataclass
class Diagnosis:
    """What is most likely wrong: a stable id, a hint in plain words, and the evidence."""

    id: str
    hint: str
    evidence: str


@dataclass
class FunctionResult:
    """Everything found about one function."""

    name: str
    verdict: str  # one of VERDICTS
    message: str = ""  # one line: the error, or why it timed out or crashed
    checks: list[CheckResult] = field(default_factory=list)
    diagnosis: list[Diagnosis] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(c.status == "pass" for c in self.checks)

    @property
    def total(self) -> int:
        return sum(c.counted for c in self.checks)

    @property
    def score(self) -> float:
        """Checks passed / checks run (0 for a function that could not be checked)."""
        return self.passed / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(score=round(self.score, 4), passed=self.passed, total=self.total)
        return _finite(doc)

    @classmethod
    def from_json(cls, doc: Any) -> FunctionResult:
        """Rebuild from the child's JSON; ValueError for anything malformed."""
        d = _fields(doc, cls, {"checks", "diagnosis"})
        if d["verdict"] not in VERDICTS:
            raise ValueError(f"unknown verdict {d['verdict']!r}")
        checks = []
        for c in _list(doc.get("checks", [])):
            cd = _fields(c, CheckResult, {"arrays"})
            if cd["status"] not in STATUSES:
                raise ValueError(f"unknown status {cd['status']!r}")
            arrays = [ArrayDiff(**_fields(a, ArrayDiff, set())) for a in _list(c.get("arrays", []))]
            checks.append(CheckResult(**cd, arrays=arrays))
        diagnosis = [
            Diagnosis(**_fields(x, Diagnosis, set())) for x in _list(doc.get("diagnosis", []))
        ]
        return cls(**d, checks=checks, diagnosis=diagnosis)


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "bool": (bool,),
    "float": (float, int, type(None)),  # NaN travels as null
    "float | None": (float, int, type(None)),
    "list[float] | None": (list, type(None)),
    "list[int] | None": (list, type(None)),
}


def _fields(doc: Any, cls: type, nested: set[str]) -> dict[str, Any]:
    """The dataclass fields of `cls` from `doc`, type-checked; nested lists are left out."""
    if not isinstance(doc, dict):
        raise ValueError(f"expected an object for {cls.__name__}")
    out: dict[str, Any] = {}
    for name, f in cls.__dataclass_fields__.items():  # type: ignore[attr-defined]
        if name in nested or name not in doc:
            continue
        value = doc[name]
        kinds = _TYPES.get(str(f.type), ())
        if kinds and not isinstance(value, kinds):
            raise ValueError(f"{cls.__name__}.{name}: unexpected {type(value).__name__}")
        if str(f.type) == "float":
            value = math.nan if value is None else float(value)
        if str(f.type) == "list[float] | None" and value is not None:
            value = [math.nan if v is None else float(v) for v in value]
        if str(f.type) == "list[int] | None" and value is not None:
            value = [int(v) for v in value]
        out[name] = value
    return out


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    return value


def _finite(obj: Any) -> Any:
    """NaN and inf become None (strict JSON)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
