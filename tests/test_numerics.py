"""Extreme pre-activations: no warning, no overflow, no NaN, in the engine and the notebook."""

from __future__ import annotations

import numpy as np
import pytest

import rnncli
from rnncli.params import init_params


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huge_weights_and_inputs_stay_finite_and_silent(cell: str, dtype: type) -> None:
    rng = np.random.default_rng(0)
    params = {
        k: v * 1000 for k, v in init_params(cell, 3, 5, 2, rng, "normal", dtype=dtype).items()
    }
    x = (rng.standard_normal((3, 4, 6)) * 1000).astype(dtype)
    a0 = np.zeros((5, 4), dtype=dtype)
    targets = {
        "xent": rng.integers(0, 2, (4, 6)),
        "mse_last": rng.standard_normal((2, 4)).astype(dtype),
    }
    with np.errstate(all="raise", under="ignore"):  # underflow to 0 is the right answer
        for loss, t in targets.items():
            value, grads = rnncli.loss_and_grads(cell, params, x, t, a0, loss=loss)
            assert np.isfinite(value)
            for name, g in grads.items():
                assert np.isfinite(g).all(), name
                assert g.dtype == dtype, name
        a, y, *_ = getattr(rnncli, f"{cell}_forward")(x, a0, params)
        assert np.isfinite(a).all() and np.isfinite(y).all()
