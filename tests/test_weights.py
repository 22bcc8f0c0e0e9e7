"""Weights files read by --init-from and --params: every tensor's dtype and shape checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnncli import weights
from rnncli.engine.layout import expected_shapes
from rnncli.errors import InputError


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize("reader", [weights.load_for, weights.named_for])
def test_integer_tensors_of_the_right_shape_are_refused(
    tmp_path: Path, suffix: str, reader: object
) -> None:
    shapes = expected_shapes("rnn", 3, 5, 2, 1, 1)
    named = {k: np.ones(s, dtype=np.int64) for k, s in shapes.items()}
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        st = pytest.importorskip("safetensors.numpy")
        st.save_file(named, str(path))
    else:
        np.savez(path, **named)
    with pytest.raises(InputError) as err:
        reader(path, "rnn", 3, 5, 2, "float64")  # type: ignore[operator]
    assert "\n" not in str(err.value)
    assert "int64" in str(err.value) or "not a float array" in str(err.value)


def test_float_tensors_of_the_right_shape_load(tmp_path: Path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    shapes = expected_shapes("rnn", 3, 5, 2, 1, 1)
    st.save_file({k: np.full(s, 0.5) for k, s in shapes.items()}, str(tmp_path / "w.safetensors"))
    named = weights.named_for(tmp_path / "w.safetensors", "rnn", 3, 5, 2, "float64")
    assert all(v.dtype == np.float64 and np.all(v == 0.5) for v in named.values())
