"""The corpus of learner bugs (tests/fixtures/bugs/corpus.py): every bug fails its function,
no correct function beside it fails, and the diagnosis id is the right one.

The cases the rules were written from must get their expected id. The held-out cases
measure precision: the id given must be the expected one or ``no-known-pattern`` (an
honest "don't know"), never another id; the share that gets its exact id is printed too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import bug_corpus

from rnncli.check import IDS, run_check
from rnncli.check.results import FunctionResult
from rnncli.check.spec import SPECS

HERE = Path(__file__).resolve().parent
corpus = bug_corpus()
BUGS = {b.name: b for b in corpus.BUGS}
LEARNER_OK = (HERE / "fixtures/check/learner_ok.py").read_text()

_results: dict[str, dict[str, FunctionResult]] = {}


def _family(function: str) -> str:
    family = SPECS[function].family
    return ",".join(n for n in SPECS if n.startswith(family + "_"))


def checked(name: str, tmp: Path) -> dict[str, FunctionResult]:
    if name not in _results:
        bug = BUGS[name]
        path = tmp / f"{name.replace('-', '_')}.py"
        path.write_text(corpus.mutate(LEARNER_OK, bug))
        report = run_check(path, only=_family(bug.function))
        _results[name] = {f.name: f for f in report.functions}
    return _results[name]


def given(f: FunctionResult) -> str:
    return f.diagnosis[0].id if f.diagnosis else "(none)"


def test_the_corpus_is_a_third_held_out_and_names_known_ids() -> None:
    held = [b for b in BUGS.values() if b.held_out]
    assert len(BUGS) >= 50 and len(held) / len(BUGS) >= 0.3
    assert {b.expected for b in BUGS.values()} <= set(IDS)


@pytest.mark.parametrize("name", sorted(BUGS))
def test_a_bug_fails_its_function_only(name: str, tmp_path: Path) -> None:
    bug = BUGS[name]
    found = checked(name, tmp_path)
    f = found[bug.function]
    assert f.verdict in ("fail", "error"), (f.verdict, [(r.name, r.note) for r in f.checks])
    wrong = [g.name for g in found.values() if g.name != bug.function and g.verdict != "pass"]
    assert wrong == []
    if not bug.held_out:
        assert given(f) == bug.expected, [(d.id, d.evidence) for d in f.diagnosis]


def test_precision_on_the_held_out_bugs(tmp_path: Path) -> None:
    held = [b for b in BUGS.values() if b.held_out]
    lines, fitting, exact = [], 0, 0
    for bug in held:
        got = given(checked(bug.name, tmp_path)[bug.function])
        fits = got in (bug.expected, "no-known-pattern")
        fitting += fits
        exact += got == bug.expected
        lines.append(f"{'ok ' if fits else 'BAD'} {bug.name}: {got} (expected {bug.expected})")
    print("\n".join(lines))
    print(f"precision {fitting}/{len(held)}; exact id {exact}/{len(held)}")
    assert fitting == len(held), "\n".join(lines)
