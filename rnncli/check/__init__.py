"""``rnncli check``: verify a learner's own implementation of the notebook's functions.

Reads a .py file or a .ipynb notebook, runs its definitions (never its test code) in a
child process with a time limit per function and a memory cap, checks each notebook
function it finds against rnncli's (`rnncli.notebook`), and says what is most likely
wrong with a failing one.

Modules, one idea each: `spec` (the functions, their arguments and returns), `load`
(reading the file, the definitions-only filter), `problems` (the inputs: the notebook's
test cells, fresh shapes), `compare` (whole-array comparisons, the contract), `checks`
(the checks of one function, in rnncli's process), `diagnose` (evidence to a known
bug), `results` (what a check finds), `child` (the child process: it only runs the
learner's functions), `wire` (the plain numbers that come back), `contain` (bubblewrap,
or the fallback), `sandbox` (rnncli's side of it: requests, deadlines, crashes,
restarts), `report` (tables, JSON, Gradescope), `run`
(`run_check` and the run folder). `stand_in/` holds the ``rnn_utils`` the learner's code
imports. `classroom` checks a whole class (`gradebook`, `classhtml`: its files); `inline`
checks the functions of a running notebook, and makes this package callable:
``rnncli.check(globals())``.
"""

import sys
from typing import Any

from rnncli.callable import make_callable
from rnncli.check.diagnose import IDS
from rnncli.check.report import CheckReport, gradescope, render, verdict_line
from rnncli.check.results import ArrayDiff, CheckResult, Diagnosis, FunctionResult
from rnncli.check.run import run_check, save_run, write_gradescope
from rnncli.check.spec import FUNCTIONS, NOTEBOOK_FUNCTIONS

__all__ = [
    "FUNCTIONS",
    "IDS",
    "NOTEBOOK_FUNCTIONS",
    "ArrayDiff",
    "CheckReport",
    "CheckResult",
    "Diagnosis",
    "FunctionResult",
    "gradescope",
    "render",
    "run_check",
    "save_run",
    "verdict_line",
    "write_gradescope",
]


def _check(namespace: Any = None, **options: Any) -> Any:
    """``rnncli.check(globals())`` checks the notebook's functions in a namespace
    (`rnncli.check.inline.check`; the caller's globals when none is given), while
    ``rnncli.check.run_check`` and the rest stay what they are."""
    from rnncli.check.inline import check

    if namespace is None:  # the caller's: this, then the package's __call__, then theirs
        namespace = sys._getframe(2).f_globals
    return check(namespace, **options)


make_callable(__name__, _check)
