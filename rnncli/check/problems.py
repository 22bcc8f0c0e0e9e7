"""The inputs each function is checked on.

* ``notebook test``: the notebook's own test cell for that function, with its exact
  ``np.random.seed(1)`` draws (`rnncli.seed_cells`), stale arrays included. The GRU has
  no notebook cell: its ``default test`` draws the same way at the notebook's sizes.
* Fresh shapes (`FRESH`): m = 1, T_x = 1, n_x > n_a (and another n_y), n_a = 1, a long
  T_x; the T_x cases only for the sequence functions. A function written for the
  notebook's shapes fails here.
* `fd_case`: a small problem for finite differences.

Fresh and finite-difference weights are N(0, 1/fan_in) (`gradcheck.init_scale`), so the
gates stay out of saturation, where derivatives vanish and a wrong term would hide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncli import seed_cells
from rnncli.check.spec import FAMILIES, Spec, param_shapes
from rnncli.gradcheck import init_scale

Arrays = dict[str, np.ndarray]

# (label, (n_x, n_a, n_y, m, T_x)); labels with T_x only apply to sequence functions
FRESH: tuple[tuple[str, tuple[int, int, int, int, int]], ...] = (
    ("m = 1", (3, 5, 2, 1, 4)),
    ("T_x = 1", (3, 5, 2, 10, 1)),
    ("n_x > n_a", (6, 4, 3, 7, 3)),
    ("n_a = 1", (3, 1, 2, 6, 3)),
    ("T_x = 50", (2, 3, 2, 3, 50)),
)
NOTEBOOK_DIMS = (3, 5, 2, 10, 4)  # the GRU's default test
FD_DIMS = (3, 5, 2, 4, 4)


@dataclass
class Case:
    """The arguments of one call: state inputs, parameters and (backward) the upstream.

    inputs:   xt (n_x, m), a_prev (n_a, m) [, c_prev (n_a, m)]  or  x (n_x, m, T_x), a0
    upstream: da_next (n_a, m) [, dc_next (n_a, m)]  or  da (n_a, m, T_x); {} for a forward
    """

    label: str
    inputs: Arrays
    params: Arrays
    upstream: Arrays

    @property
    def m(self) -> int:
        return int(next(iter(self.inputs.values())).shape[1])


def notebook_case(spec: Spec) -> Case:
    """The notebook's test cell of `spec` (for the GRU, the same kind of draw)."""
    if spec.name not in seed_cells.CELLS:  # no notebook test cell: the GRU is rnncli's
        rng = np.random.RandomState(1)
        return _draw(spec, "default test", NOTEBOOK_DIMS, rng.randn, 1.0)
    arrays = seed_cells.draw(spec.name)
    params = seed_cells.parameters(spec.name)
    inputs = {k: arrays[k] for k in spec.state_inputs}
    if spec.name == "lstm_backward":  # the course back-propagates the first 4 of 7 steps
        inputs["x"] = inputs["x"][:, :, : arrays["da"].shape[2]]
    upstream = {k: arrays[k] for k in spec.upstream} if spec.is_backward else {}
    return Case("notebook test", inputs, params, upstream)


def fresh_cases(spec: Spec, seed: int) -> list[Case]:
    """One case per fresh shape that applies to `spec`."""
    cases = []
    for i, (label, dims) in enumerate(FRESH):
        if "T_x" in label and not spec.is_sequence:
            continue
        rng = np.random.default_rng([seed, FAMILIES.index(spec.family), i])
        scale = init_scale(dims[0], dims[1])
        cases.append(_draw(spec, label, dims, lambda *s, r=rng: r.standard_normal(s), scale))
    return cases


def fd_case(spec: Spec, seed: int) -> Case:
    """A small problem for central differences: n_x 3, n_a 5, m 4, T_x 4."""
    rng = np.random.default_rng([seed, FAMILIES.index(spec.family), len(FRESH)])
    randn = lambda *shape: rng.standard_normal(shape)  # noqa: E731 - randn's signature
    return _draw(spec, "vs your forward", FD_DIMS, randn, init_scale(3, 5))


def _draw(
    spec: Spec, label: str, dims: tuple[int, ...], randn: Callable[..., Any], scale: float
) -> Case:
    """Inputs N(0, 1) (hidden states through tanh), weights N(0, scale²), upstream N(0, 1)."""
    n_x, n_a, n_y, m, T_x = dims
    sizes = {"x": (n_x, m, T_x), "xt": (n_x, m), "a0": (n_a, m), "a_prev": (n_a, m)}
    sizes |= {"c_prev": (n_a, m), "da": (n_a, m, T_x), "da_next": (n_a, m), "dc_next": (n_a, m)}
    inputs = {k: randn(*sizes[k]) for k in spec.state_inputs}
    for k in ("a0", "a_prev"):
        if k in inputs:
            inputs[k] = np.tanh(inputs[k])  # a hidden state lies in (-1, 1)
    params = {k: scale * randn(*s) for k, s in param_shapes(spec.family, n_x, n_a, n_y).items()}
    upstream = {k: randn(*sizes[k]) for k in spec.upstream} if spec.is_backward else {}
    return Case(label, inputs, params, upstream)
