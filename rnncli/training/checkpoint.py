"""Checkpoints: everything a run needs to continue bit for bit, in a plain .npz.

Holds the flat parameter vector, the optimiser state, the training data stream's RNG
state (as JSON text), counters, and the carried hidden state of the text task. Written
atomically and read with ``allow_pickle=False``: no object arrays, ever.

The parameter vector and the optimiser state are in the engine's layout, so a checkpoint
records `LAYOUT_VERSION`; `upgrade` rearranges one written under an older layout (one
without the entry is layout 1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.engine.layout import LAYOUT_VERSION, upgrade_flat
from rnncli.errors import InputError
from rnncli.runs import save_npz_atomic

NAME = "checkpoint.npz"


@dataclass
class TrainState:
    """The mutable state of a training run between two updates."""

    step: int
    sequences: int
    theta: np.ndarray  # flat parameters (engine layout)
    opt_t: int
    opt_state: dict[str, np.ndarray]
    rng_state: Mapping[str, Any]  # numpy bit generator state
    stream_state: int  # text position
    loss_sum: float  # training loss accumulated since the last evaluation
    loss_count: int
    solved_sequences: int  # -1 while unsolved
    wall_s: float  # training time so far, over all sessions
    carry: tuple[np.ndarray, ...] = ()  # text: the model state carried into the next chunk
    layout: int = LAYOUT_VERSION  # of theta and opt_state


def save(path: Path, s: TrainState) -> None:
    arrays: dict[str, np.ndarray] = {
        "theta": s.theta,
        "counters": np.array(
            [s.step, s.sequences, s.opt_t, s.stream_state, s.loss_count, s.solved_sequences],
            dtype=np.int64,
        ),
        "floats": np.array([s.loss_sum, s.wall_s], dtype=np.float64),
        "rng_state": np.array(json.dumps(s.rng_state)),
        "layout": np.array(s.layout, dtype=np.int64),
    }
    for name, value in s.opt_state.items():
        arrays["opt_" + name] = value
    for i, a in enumerate(s.carry):
        arrays[f"carry_{i}"] = a
    save_npz_atomic(path, arrays)


def load(path: Path) -> TrainState:
    if not path.is_file():
        raise InputError(f"{path}: no checkpoint to resume from")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable checkpoint ({err})") from None
    try:
        step, sequences, opt_t, stream, count, solved = (int(v) for v in data["counters"])
        loss_sum, wall_s = (float(v) for v in data["floats"])
        return TrainState(
            step=step,
            sequences=sequences,
            theta=data["theta"],
            opt_t=opt_t,
            opt_state={k[4:]: v for k, v in data.items() if k.startswith("opt_")},
            rng_state=json.loads(str(data["rng_state"])),
            stream_state=stream,
            loss_sum=loss_sum,
            loss_count=count,
            solved_sequences=solved,
            wall_s=wall_s,
            carry=_carry(data),
            layout=int(data["layout"]) if "layout" in data else 1,
        )
    except (KeyError, ValueError) as err:
        raise InputError(f"{path}: checkpoint is missing or has bad entries ({err})") from None


def _carry(data: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """The carried state: carry_0, carry_1, ... (older checkpoints: carry_a, carry_c)."""
    if "carry_a" in data:
        return tuple(data[k] for k in ("carry_a", "carry_c") if k in data)
    return tuple(data[f"carry_{i}"] for i in range(len(data)) if f"carry_{i}" in data)


def upgrade(
    path: Path, s: TrainState, cell: str, n_x: int, n_a: int, n_y: int,
    layers: int = 1, directions: int = 1,
) -> None:  # fmt: skip
    """Bring `s` (read from `path`) to the current parameter layout, in place, and check
    that its parameter vector fits the model (cell, n_x, n_a, n_y, layers, directions)."""
    shape = (layers, directions)
    try:
        s.theta = upgrade_flat(cell, n_x, n_a, n_y, s.theta, s.layout, *shape)
        s.opt_state = {
            k: upgrade_flat(cell, n_x, n_a, n_y, v, s.layout, *shape)
            for k, v in s.opt_state.items()
        }
    except ValueError as err:
        raise InputError(f"{path}: does not fit this run's {cell} model ({err})") from None
    s.layout = LAYOUT_VERSION
