"""Which backend a training run's steps run on, decided once per run.

`decide` makes the decision from the model and the request (``engine.backend``: numpy,
compiled or auto); a resumed run then follows what its checkpoint recorded
(`Backend.resumed`). The decision travels with the run: the training loop asks it which
backend a step runs on (`Backend.at`), loads the kernels through it when the run moves
to them (`Backend.load`), and reports what ran (`Backend.ran`) in run.json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from rnncli import cells
from rnncli.cells import CellSpec


def choose_backend(requested: str, cell: str | CellSpec, stacked: bool, n_a: int, m: int) -> str:
    """The backend a training step of a `cell` model with `n_a` hidden units on batches of
    `m` runs on: ``numpy`` or ``compiled``. ``auto`` picks the compiled kernels where they
    are installed and, by measurement, faster: one-layer built-in cells with
    n_a * m <= `compiled.COMPILED_UP_TO`. Asking for ``compiled`` where it cannot run
    raises ValueError naming why."""
    from rnncli.engine import compiled

    if requested == "numpy":
        return "numpy"
    runs = not stacked and bool(cells.kernel_of(cell))  # a fused cell has compiled kernels
    if requested == "compiled":
        if not compiled.available():
            raise ValueError(f"engine.backend=compiled: {compiled.HINT}")
        if not runs:
            raise ValueError(
                "engine.backend=compiled runs one-layer, one-direction rnn, lstm and gru "
                "models; use engine.backend=auto or numpy for this one"
            )
        return "compiled"
    fits = runs and n_a * m <= compiled.COMPILED_UP_TO
    return "compiled" if fits and compiled.available() else "numpy"


@dataclass(frozen=True)
class Backend:
    """A run's backend: NumPy until `from_step`, the compiled kernels from there."""

    chosen: str  # "numpy" | "compiled": what this installation can run the model on
    from_step: int | None  # the first step on the compiled kernels; None: never
    record: int  # what the checkpoint keeps: the run's own plan (-1: never)
    note: str = ""  # why a resumed run cannot follow its record (said when it starts)

    def resumed(self, recorded: int | None) -> Backend:
        """This decision for a run resumed from a checkpoint that recorded `recorded` (the
        step it moves at, -1 never, None for a checkpoint written before the record, when
        a chosen compiled backend ran from step 0): a resume follows its own plan."""
        if recorded is None:
            start = 0 if self.chosen == "compiled" else None
            return replace(self, from_step=start, record=-1 if start is None else start)
        if recorded < 0:
            return replace(self, from_step=None, record=recorded)
        if self.chosen != "compiled":  # the kernels are gone from this installation
            note = (
                f"this run moved to the compiled kernels at step {recorded:,}; "
                "without them it goes on with NumPy (equal to ~1e-15, not bit for bit)"
            )
            return replace(self, from_step=None, record=recorded, note=note)
        return replace(self, from_step=recorded, record=recorded)

    def at(self, step: int) -> str:
        """The backend of the step after `step` steps: ``numpy`` or ``compiled``."""
        return "compiled" if self.from_step is not None and step >= self.from_step else "numpy"

    def load(self, cell: str | CellSpec, dtype: Any, notice: Callable[[str], None] | None) -> float:
        """Load (or compile) the kernels before the first compiled step; the seconds it
        took, which are not training time."""
        from rnncli.engine import compiled

        return compiled.warm(cell if isinstance(cell, str) else cell.name, dtype, notice)

    def ran(self, steps: int) -> tuple[str, int | None]:
        """What run.json reports after `steps` steps: the backend of the last step, and the
        step the run moved to the compiled kernels at (None: from the start, or never)."""
        if self.from_step is None or steps <= self.from_step:
            return "numpy", None
        return "compiled", self.from_step or None


def decide(requested: str, cell: str | CellSpec, stacked: bool, n_a: int, m: int) -> Backend:
    """The one decision of a new run's backend (`choose_backend`), with the step it moves
    to the compiled kernels at: step 0 when ``compiled`` is asked for,
    `compiled.AUTO_FROM_STEP` when ``auto`` chose them. ValueError as `choose_backend`."""
    from rnncli.engine import compiled

    chosen = choose_backend(requested, cell, stacked, n_a, m)
    if chosen != "compiled":
        return Backend(chosen, None, -1)
    start = 0 if requested == "compiled" else compiled.AUTO_FROM_STEP
    return Backend(chosen, start, start)
