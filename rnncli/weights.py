"""A model's parameters in and out of run folders and weight files.

    named_from_run(RUN_DIR)       a trained run's parameters under notebook names
    load_named(FILE)              notebook-named arrays from an .npz weights file
    load_for(SOURCE, ...)         parameters for a new model (fine-tuning): from a run
                                  folder, its checkpoint or best.npz, or a weights file,
                                  every shape checked against the new model

Files are read with ``allow_pickle=False``; a shape that does not fit is refused with one
line naming the parameter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnncli import engine
from rnncli.config import Config, load_config
from rnncli.engine.layout import expected_shapes, upgrade_flat
from rnncli.errors import InputError
from rnncli.runs import read_json
from rnncli.training import checkpoint


def run_model(run_dir: Path) -> tuple[Config, dict[str, Any]]:
    """A train run's config and task.json, or InputError naming what is missing."""
    if not (run_dir / "config.yaml").is_file() or not (run_dir / "task.json").is_file():
        raise InputError(f"{run_dir}: not a train run folder (needs config.yaml and task.json)")
    cfg = load_config(run_dir / "config.yaml", training=True)
    task = read_json(run_dir / "task.json", "task.json")
    if not isinstance(task, dict) or not {"task", "n_x", "n_y"} <= set(task):
        raise InputError(f"{run_dir / 'task.json'}: not a readable task.json")
    return cfg, task


def packed_from_run(run_dir: Path, which: str = "last") -> tuple[engine.Packed, Config, dict]:
    """The model of a train run: its last checkpoint (``which="last"``) or its best
    parameters (``"best"``)."""
    cfg, task = run_model(run_dir)
    name = checkpoint.BEST if which == "best" else checkpoint.NAME
    theta, _, layout = checkpoint.load_params(run_dir / name)
    layers, D = cfg.model.layers, 2 if cfg.model.bidirectional else 1
    dims = (task["n_x"], cfg.train.hidden, task["n_y"])
    if theta.dtype != np.dtype(cfg.dtype):
        raise InputError(f"{run_dir / name}: parameters are {theta.dtype}, the run is {cfg.dtype}")
    try:
        theta = upgrade_flat(cfg.cell, *dims, theta, layout, layers, D)
    except ValueError as err:
        raise InputError(f"{run_dir / name}: does not fit the run's model ({err})") from None
    return engine.Packed(cfg.cell, *dims, theta, layers, D), cfg, task


def named_from_run(run_dir: Path, which: str = "last") -> dict[str, np.ndarray]:
    """A train run's parameters under notebook names (copies)."""
    return engine.unpack(packed_from_run(run_dir, which)[0])


def load_named(path: Path) -> dict[str, np.ndarray]:
    """Notebook-named float arrays from an .npz weights file."""
    data = checkpoint.read_npz(path, "weights file")
    bad = [k for k, v in data.items() if v.dtype.kind != "f"]
    if bad:
        raise InputError(f"{path}: {bad[0]} is not a float array")
    return data


def load_for(
    source: Path, cell: str, n_x: int, n_a: int, n_y: int, dtype: str, layers: int = 1,
    directions: int = 1,
) -> np.ndarray:  # fmt: skip
    """Parameters for a new model from `source` (see the module docstring), as the flat
    vector of that model in `dtype`."""
    if source.is_dir():
        named = named_from_run(source)
    elif source.suffix == ".npz" and source.name in (checkpoint.NAME, checkpoint.BEST):
        named = named_from_run(source.parent, "best" if source.name == checkpoint.BEST else "last")
    elif source.exists():
        named = load_named(source)
    else:
        raise InputError(f"--init-from {source}: no such run folder or file")
    want = expected_shapes(cell, n_x, n_a, n_y, layers, directions)
    for name, shape in want.items():
        if name not in named:
            raise InputError(f"--init-from {source}: has no {name} (the new model needs {shape})")
        if named[name].shape != shape:
            raise InputError(
                f"--init-from {source}: {name} has shape {named[name].shape}, "
                f"the new model needs {shape}"
            )
    extra = sorted(set(named) - set(want))
    if extra:
        raise InputError(f"--init-from {source}: {extra[0]} is not a parameter of the new model")
    p = engine.pack(cell, {k: named[k] for k in want}, np.dtype(dtype), n_x, layers, directions)
    if not np.isfinite(p.flat).all():
        raise InputError(f"--init-from {source}: parameters have NaN or inf entries")
    return p.flat
