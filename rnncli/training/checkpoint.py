"""Checkpoints: everything a run needs to continue bit for bit, in a plain .npz.

Holds the flat parameter vector, the optimiser state, the random streams' states (as JSON
text), counters, the best validation score so far, and the state the text task carries
from chunk to chunk. Written atomically and read with ``allow_pickle=False``: no object
arrays, ever. A file that is damaged in any way is refused with one line naming it.

The parameter vector and the optimiser state are in the engine's layout, so a checkpoint
records `LAYOUT_VERSION`; `upgrade` rearranges one written under an older layout. A
checkpoint that does not say its layout is refused: reading it under the wrong one would
permute the weights without a word.

``best.npz`` holds the parameters with the best validation score (``train.keep_best``),
with the step and the metrics they had.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.engine.layout import LAYOUT_VERSION, upgrade_flat
from rnncli.errors import InputError
from rnncli.runs import save_npz_atomic, to_json
from rnncli.runs.names import BEST as BEST  # the checkpoint module names its files too
from rnncli.runs.names import CHECKPOINT

NAME = CHECKPOINT


@dataclass
class TrainState:
    """The mutable state of a training run between two updates."""

    step: int
    sequences: int
    theta: np.ndarray  # flat parameters (engine layout)
    opt_t: int
    opt_state: dict[str, np.ndarray]
    rng_state: Mapping[str, Any]  # numpy bit generator state of the training data stream
    stream_state: int  # text position
    loss_sum: float  # training loss accumulated since the last evaluation
    loss_count: int
    solved_sequences: int  # -1 while unsolved
    wall_s: float  # training time so far, over all sessions
    carry: tuple[np.ndarray, ...] = ()  # text: the model state carried into the next chunk
    layout: int = LAYOUT_VERSION  # of theta and opt_state
    best_score: float = math.inf  # the best validation score so far (lower is better)
    best_step: int = -1
    evals_since_best: int = 0  # evaluations without improvement, for train.patience
    stop: str = ""  # why the run stopped last: steps, solved, patience (or "")
    dropout_state: Mapping[str, Any] = field(default_factory=dict)  # dropout mask stream
    # the step the run moves to the compiled kernels at (-1: never), fixed when it starts
    # so that a resume follows it; None in checkpoints written before it was recorded
    compiled_from: int | None = None


def save(path: Path, s: TrainState) -> None:
    meta = {
        "best_score": s.best_score if math.isfinite(s.best_score) else None,
        "best_step": s.best_step,
        "evals_since_best": s.evals_since_best,
        "stop": s.stop,
        "dropout_state": s.dropout_state,
        "compiled_from": s.compiled_from,
    }
    arrays: dict[str, np.ndarray] = {
        "theta": s.theta,
        "counters": np.array(
            [s.step, s.sequences, s.opt_t, s.stream_state, s.loss_count, s.solved_sequences],
            dtype=np.int64,
        ),
        "floats": np.array([s.loss_sum, s.wall_s], dtype=np.float64),
        "rng_state": np.array(json.dumps(s.rng_state)),
        "layout": np.array(s.layout, dtype=np.int64),
        "meta": np.array(to_json(meta, indent=None)),
    }
    for name, value in s.opt_state.items():
        arrays["opt_" + name] = value
    for i, a in enumerate(s.carry):
        arrays[f"carry_{i}"] = a
    save_npz_atomic(path, arrays)


def read_npz(path: Path, what: str = "checkpoint") -> dict[str, np.ndarray]:
    """Every array of an .npz, or InputError naming the file (missing, empty, truncated,
    damaged, or holding objects)."""
    if not path.is_file():
        raise InputError(f"{path}: no {what} to read")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file, not a {what}")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, RuntimeError) as err:
        text = " ".join(str(err).split()) or type(err).__name__
        raise InputError(f"{path}: not a readable {what} ({text[:120]})") from None


def load(path: Path) -> TrainState:
    """A checkpoint as written by `save` (or an older rnncli's, layout 1); InputError
    naming the file and the entry for anything malformed."""
    data = read_npz(path)
    try:
        f = _entries(data, path)
    except (ValueError, TypeError) as err:
        raise InputError(f"{path}: checkpoint has bad entries ({err})") from None
    if f["layout"] not in (1, LAYOUT_VERSION):
        raise InputError(
            f"{path}: unknown parameter layout {f['layout']} (this rnncli reads 1 and "
            f"{LAYOUT_VERSION}): written by a newer rnncli?"
        )
    meta = f["meta"]
    step, sequences, opt_t, stream, count, solved = f["counters"]
    best = meta.get("best_score")
    return TrainState(
        step=step,
        sequences=sequences,
        theta=f["theta"],
        opt_t=opt_t,
        opt_state={k[4:]: v for k, v in data.items() if k.startswith("opt_")},
        rng_state=f["rng_state"],
        stream_state=stream,
        loss_sum=f["floats"][0],
        loss_count=count,
        solved_sequences=solved,
        wall_s=f["floats"][1],
        carry=_carry(data),
        layout=f["layout"],
        best_score=math.inf if best is None else float(best),
        best_step=int(meta.get("best_step", -1)),
        evals_since_best=int(meta.get("evals_since_best", 0)),
        stop=str(meta.get("stop", "")),
        dropout_state=meta.get("dropout_state") or {},
        compiled_from=_optional_int(meta.get("compiled_from"), path),
    )


def _entries(data: dict[str, np.ndarray], path: Path) -> dict[str, Any]:
    """A checkpoint's entries, each checked for shape and kind (ValueError otherwise)."""

    def need(key: str) -> np.ndarray:
        if key not in data:
            raise InputError(f"{path}: checkpoint has no {key!r} entry")
        return data[key]

    layout, counters, floats = need("layout"), need("counters"), need("floats")
    if layout.shape != () or layout.dtype.kind not in "iu":
        raise ValueError(f"layout {layout!r}")
    if counters.shape != (6,) or counters.dtype.kind not in "iu":
        raise ValueError(f"counters has shape {counters.shape} and dtype {counters.dtype}")
    if floats.shape != (2,) or floats.dtype.kind != "f":
        raise ValueError(f"floats has shape {floats.shape} and dtype {floats.dtype}")
    theta = need("theta")
    if theta.ndim != 1 or theta.dtype.kind != "f":
        raise ValueError(f"theta has shape {theta.shape} and dtype {theta.dtype}")
    if not np.isfinite(theta).all():
        raise ValueError("theta has NaN or inf entries")
    rng_state = json.loads(str(need("rng_state")))
    if not isinstance(rng_state, dict):
        raise ValueError("rng_state is not a JSON object")
    meta = json.loads(str(data["meta"])) if "meta" in data else {}
    if not isinstance(meta, dict):
        raise ValueError("meta is not a JSON object")
    ints = tuple(int(v) for v in counters)
    if min(ints[:5]) < 0:
        raise ValueError("negative counters")
    return {"layout": int(layout), "counters": ints, "floats": tuple(float(v) for v in floats),
            "theta": theta, "rng_state": rng_state, "meta": meta}  # fmt: skip


def _optional_int(value: Any, path: Path) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < -1:
        raise InputError(f"{path}: checkpoint has bad entries (compiled_from {value!r})")
    return value


def _carry(data: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """The carried state: carry_0, carry_1, ... (older checkpoints: carry_a, carry_c)."""
    if "carry_a" in data:
        return tuple(data[k] for k in ("carry_a", "carry_c") if k in data)
    return tuple(data[f"carry_{i}"] for i in range(len(data)) if f"carry_{i}" in data)


def check(
    path: Path, s: TrainState, cell: str, n_x: int, n_a: int, n_y: int, dtype: str,
    optimizer_state: tuple[str, ...], layers: int = 1, directions: int = 1,
) -> None:  # fmt: skip
    """Bring `s` (read from `path`) to the current parameter layout, in place, and check
    that it fits the run: its model (cell, sizes, layers, directions), dtype and optimiser.
    InputError naming the file and what does not fit."""
    if s.theta.dtype != np.dtype(dtype):
        raise InputError(f"{path}: parameters are {s.theta.dtype} but the run is {dtype}")
    missing = [k for k in optimizer_state if k not in s.opt_state]
    if missing:
        raise InputError(f"{path}: checkpoint has no 'opt_{missing[0]}' entry for the optimiser")
    shape = (layers, directions)
    try:
        s.theta = upgrade_flat(cell, n_x, n_a, n_y, s.theta, s.layout, *shape)
        s.opt_state = {
            k: upgrade_flat(cell, n_x, n_a, n_y, v, s.layout, *shape)
            for k, v in s.opt_state.items()
            if k in optimizer_state
        }
    except ValueError as err:
        raise InputError(f"{path}: does not fit this run's model ({err})") from None
    for k, v in s.opt_state.items():
        if v.dtype != s.theta.dtype or not np.isfinite(v).all():
            raise InputError(f"{path}: optimiser state opt_{k} is damaged (dtype or NaN)")
    s.layout = LAYOUT_VERSION


def save_best(path: Path, theta: np.ndarray, step: int, record: Mapping[str, Any]) -> None:
    """best.npz: the parameters, the step and the evaluation record they scored."""
    save_npz_atomic(path, {
        "theta": theta, "step": np.array(step, dtype=np.int64),
        "layout": np.array(LAYOUT_VERSION, dtype=np.int64),
        "record": np.array(to_json(record, indent=None)),
    })  # fmt: skip


def load_params(path: Path) -> tuple[np.ndarray, int, int]:
    """(theta, step, layout) of a checkpoint or best.npz, for sampling and fine-tuning."""
    data = read_npz(path)
    theta = data.get("theta")
    if theta is None or theta.ndim != 1 or theta.dtype.kind != "f":
        raise InputError(f"{path}: has no parameter vector 'theta'")
    if "layout" not in data:
        raise InputError(f"{path}: no parameter layout recorded; refusing to guess it")
    if not np.isfinite(theta).all():
        raise InputError(f"{path}: parameters have NaN or inf entries")
    try:
        step = int(data["counters"][0]) if "counters" in data else int(data.get("step", -1))
        layout = int(data["layout"])
    except (ValueError, TypeError, IndexError) as err:
        raise InputError(f"{path}: bad step or layout entry ({err})") from None
    return theta, step, layout
