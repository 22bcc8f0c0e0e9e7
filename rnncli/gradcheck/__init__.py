"""Finite-difference gradient checks of every cell at every level: ``rnncli gradcheck``.

Three levels, each a scalar objective f of some arrays whose gradient the code under test
claims to compute:

``cell``      one step of ``notebook.<cell>_cell_forward``; f = Σ da_next⊙a_next
              (+ Σ dc_next⊙c_next for the LSTM) with random upstream da_next, dc_next.
              Checks ``notebook.<cell>_cell_backward``: dxt, da_prev (dc_prev), dW*, db*.
``sequence``  ``notebook.<cell>_forward`` over T_x steps; f = Σ da⊙a with a random da.
              Checks ``notebook.<cell>_backward``: dx, da0, dW*, db*.
``model``     the whole model under the ``xent`` and the ``mse_last`` loss. Checks
              ``engine.loss_and_grads`` (the fused engine): dx, da0 and every parameter
              including the output layer. The numeric side runs the notebook's forward.

Functions are looked up through their modules at call time, so a monkeypatched
``notebook.lstm_cell_backward`` or ``loss.xent`` is what gets checked.

Method: central differences (f(θ+εe) − f(θ−εe)) / 2ε, in float64 on random problems of
size ``cfg.dims`` drawn from ``cfg.seed``. Per gradient array ("row"):

    rel  = ‖g − ĝ‖ / max(‖g‖ + ‖ĝ‖, tiny)                          compared with tol
    elem = max_i |g_i − ĝ_i| / max(|g_i| + |ĝ_i|, floor)            reported
           floor = ELEMENT_FLOOR · max_i (|g_i| + |ĝ_i|)

A row passes when rel ≤ tol, or when ‖g − ĝ‖ is below the rounding noise of the numeric
gradient, NOISE_FACTOR · u · s / ε (u the dtype's epsilon, s = Σ|terms| of the objective
at the perturbed points). The second case only matters for gradients that have all but
vanished (a0 under ``mse_last`` over many steps): there rel measures rounding, not code.

Modes: ``full`` perturbs every entry. ``fast`` compares directional derivatives ⟨g, v⟩
with (f(θ+εv) − f(θ−εv)) / 2ε for ``directions`` random unit vectors v per array, at a
cost independent of the array's size (as HIPS/autograd ``check_grads`` and PyTorch's
``gradcheck(fast_mode=True)``). ``auto`` runs a check in full mode while its entry count
(every checked array of that cell and level, inputs included) is ≤ ``full_limit``.

Every objective is a sum over batch columns, f = Σ_j f_j, and a perturbation of an input
(xt, a_prev, c_prev, x, a0) only moves its own column's f_j. So all perturbations of an
input are evaluated in one forward call on a batch of perturbed single columns, two per
entry. ``evals`` counts perturbed copies evaluated (a single column or a whole parameter
set each); ``calls`` counts forward calls.

Defaults (eps, tol) come from the measured sweep in ``tests/test_gradcheck.py``,
reproducible with `eps_sweep`.

Modules: `checks` (the objectives of each level), `numeric` (central differences),
`compare` (errors and verdict per gradient), `report` (rows, JSON, table), `run`
(`run_gradcheck` and its input validation), `sweep` (`eps_sweep`).
"""

from rnncli.gradcheck.checks import CELLS, LEVELS, Problem, init_scale, problems
from rnncli.gradcheck.compare import Settings, check_problem
from rnncli.gradcheck.numeric import Tally
from rnncli.gradcheck.report import Report, render
from rnncli.gradcheck.run import DEFAULT_EPS, DEFAULT_TOL, run_gradcheck
from rnncli.gradcheck.sweep import EpsSweep, eps_sweep

__all__ = [
    "CELLS",
    "DEFAULT_EPS",
    "DEFAULT_TOL",
    "LEVELS",
    "EpsSweep",
    "Problem",
    "Report",
    "Settings",
    "Tally",
    "check_problem",
    "eps_sweep",
    "init_scale",
    "problems",
    "render",
    "run_gradcheck",
]

from rnncli.callable import api_function, make_callable  # noqa: E402

make_callable(__name__, api_function("gradcheck"))  # rnncli.gradcheck(...): rnncli.api's
