"""Bring your own cell: the protocol a class follows to run everywhere a built-in cell runs.

A cell is a class with a few methods; rnncli supplies the time loop, the output layer,
the losses, the optimisers, gradcheck, training, sampling, sweeps and the benchmark.
Point rnncli at it as ``path/to/file.py:ClassName`` or ``package.module:ClassName``
(``cell: my_cells.py:PeepholeLSTM`` in YAML, ``--cell`` on the command line, or a sweep
grid ``cell=lstm,my_cells.py:PeepholeLSTM``), or register it from an installed package
under the entry-point group ``rnncli.cells``::

    [project.entry-points."rnncli.cells"]
    mgu = "mypkg.cells:MGU"

Loading a cell runs its file's code, as a test runner runs a ``conftest.py``.

Layout: a batch of m examples is a column each, as in the notebook.
``xt: (n_x, m)`` is one step's input and every state array is ``(n_a, m)``.

Required
--------
``states``
    Class attribute: the names of the recurrent state, e.g. ``("a",)`` or ``("a", "c")``.
    ``states[0]`` is the hidden state the output layer reads and the next layer takes.
    Every state starts at zero (``a`` from ``a0`` where a command gives one).
``shapes(self, n_x, n_a) -> dict[str, tuple[int, ...]]``
    The cell's parameters and their shapes, in the order tables report them, e.g.
    ``{"Wf": (n_a, n_a + n_x), "bf": (n_a, 1), ...}``. Names are identifiers; ``Wy``,
    ``Wya`` and ``by`` are the output layer's and cannot be used.
``step_forward(self, params, xt, state) -> (new_state, cache)``
    One step. ``params`` maps the names of `shapes` to arrays, ``state`` is a tuple of
    arrays in `states` order. Return the new state (a tuple like ``state``) and anything
    the backward step needs.
``step_backward(self, params, dstate, cache) -> (dprev_state, dxt, dparams)``
    One step back. ``dstate`` is the gradient of the loss with respect to each array of
    the new state (a tuple like ``state``). Return the gradient with respect to each
    array of the previous state (a tuple), with respect to ``xt``, and a dict with the
    gradient of every parameter of this step (rnncli sums them over time).

Arrays come in the run's dtype (float64 by default, or float32) and must go back in it;
do not modify the arrays you are given.

Optional
--------
``init(self, n_x, n_a, rng) -> dict[str, np.ndarray]``
    Fresh float64 parameters drawn from the NumPy Generator ``rng`` (multiplied by
    ``init.scale``). Without it, a matrix is drawn from N(0, 2 / (rows + cols)) and a
    column vector (shape ``(n, 1)``, a bias) starts at zero. ``init.scheme: normal``
    always draws N(0, 1).
``gates`` and ``gate_values(self, cache) -> dict[str, np.ndarray]``
    Names of gate values (``("f", "i", "o")``) and, from a step's cache, their values
    ``(n_a, m)``, in (0, 1) for sigmoid gates: what ``rnncli inspect`` shows.
``sequence_forward(self, params, X, state0) -> (A, state_T, cache)`` and
``sequence_backward(self, params, dA, cache) -> (dX, dstate0, dparams)``
    The whole sequence at once, for speed, on time-major arrays: ``X: (T, n_x, m)``,
    ``A: (T, n_a, m)`` the hidden states a_1..a_T, ``dA: (T, n_a, m)`` the loss gradient
    on each a_t, ``state_T`` the last state, ``dX: (T, n_x, m)``. Both or neither; they
    must give what the steps give (``rnncli gradcheck`` checks both).

An example, the minimal gated unit (Zhou et al. 2016), is in ``examples/cells/``.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from rnncli.errors import InputError

REQUIRED = ("shapes", "step_forward", "step_backward")
RESERVED = ("Wy", "Wya", "by")


def default_init(
    shapes: Mapping[str, tuple[int, ...]], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Matrices ~ N(0, 2 / (rows + cols)), column vectors (biases) zero; float64."""
    out = {}
    for name, shape in shapes.items():
        if len(shape) == 2 and shape[1] == 1:
            out[name] = np.zeros(shape)
        else:
            fan = shape[0] + (shape[1] if len(shape) > 1 else 0)
            out[name] = rng.standard_normal(shape) * np.sqrt(2.0 / max(fan, 1))
    return out


def check_class(label: str, obj: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Check a cell instance's required parts; return (states, gate names).

    Raises InputError naming the cell and what is missing or malformed.
    """
    missing = [m for m in REQUIRED if not callable(getattr(obj, m, None))]
    if missing:
        raise InputError(f"cell {label}: missing method {', '.join(missing)} (see rnncli cells)")
    states = getattr(obj, "states", ("a",))
    if isinstance(states, str) or not isinstance(states, (tuple, list)) or not states:
        raise InputError(f"cell {label}: states must be a tuple of names such as ('a', 'c')")
    states = tuple(states)
    for s in states:
        if not isinstance(s, str) or not s.isidentifier() or keyword.iskeyword(s):
            raise InputError(f"cell {label}: state name {s!r} is not an identifier")
    if len(set(states)) != len(states):
        raise InputError(f"cell {label}: state names repeat: {states}")
    seq = [callable(getattr(obj, m, None)) for m in ("sequence_forward", "sequence_backward")]
    if any(seq) and not all(seq):
        raise InputError(
            f"cell {label}: define both sequence_forward and sequence_backward, or neither"
        )
    gates = getattr(obj, "gates", ())
    if gates and not callable(getattr(obj, "gate_values", None)):
        raise InputError(f"cell {label}: gates are named but gate_values(cache) is missing")
    if isinstance(gates, str) or not all(isinstance(g, str) for g in gates):
        raise InputError(f"cell {label}: gates must be a tuple of names such as ('f', 'i')")
    return states, tuple(gates)


def check_shapes(label: str, shapes: Any, n_x: int, n_a: int) -> dict[str, tuple[int, ...]]:
    """Validate what ``shapes(n_x, n_a)`` returned."""
    where = f"cell {label}: shapes({n_x}, {n_a})"
    if not isinstance(shapes, Mapping) or not shapes:
        raise InputError(f"{where} must return a non-empty dict of name -> shape")
    out = {}
    for name, shape in shapes.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InputError(f"{where}: parameter name {name!r} is not an identifier")
        if name in RESERVED:
            raise InputError(f"{where}: {name!r} is the output layer's name; rename it")
        try:
            dims = tuple(int(s) for s in shape)
            ok = bool(dims) and all(d >= 1 and d == s for d, s in zip(dims, shape, strict=True))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"{where}: {name} has shape {shape!r}, expected positive ints")
        out[name] = dims
    return out


def check_arrays(
    where: str,
    what: str,
    got: Any,
    names: tuple[str, ...],
    shape: Callable[[str], tuple[int, ...]],
    dtype: np.dtype,
) -> None:
    """Check a tuple (names = state names) or dict (names = parameter names) of arrays."""
    if isinstance(got, Mapping):
        keys = tuple(got)
        if set(keys) != set(names):
            extra, lack = sorted(set(keys) - set(names)), sorted(set(names) - set(keys))
            raise InputError(
                f"{where}: {what} has keys {list(keys)}, expected {list(names)}"
                + (f" (missing {', '.join(lack)})" if lack else "")
                + (f" (unexpected {', '.join(map(str, extra))})" if extra else "")
            )
        items = [(k, got[k]) for k in names]
    else:
        if not isinstance(got, (tuple, list)) or len(got) != len(names):
            n = len(got) if isinstance(got, (tuple, list)) else type(got).__name__
            raise InputError(f"{where}: {what} must be a tuple of {len(names)} arrays, got {n}")
        items = list(zip(names, got, strict=True))
    for name, a in items:
        if not isinstance(a, np.ndarray):
            raise InputError(f"{where}: {what} {name} is a {type(a).__name__}, not an array")
        if a.shape != shape(name):
            raise InputError(f"{where}: {what} {name} has shape {a.shape}, expected {shape(name)}")
        if a.dtype != dtype:
            raise InputError(f"{where}: {what} {name} has dtype {a.dtype}, expected {dtype}")
