"""Memory: estimate a run's peak bytes and refuse runs that cannot fit."""

from __future__ import annotations

import os

from rnncli.config.schema import Config
from rnncli.errors import InputError
from rnncli.tasks import registry


def parameter_count(cfg: Config, n_x: int, n_a: int, n_y: int) -> int:
    """Number of scalars in the model's cells and its output layer."""
    from rnncli.engine.layout import size

    m = cfg.model
    return size(cfg.cell, n_x, n_a, n_y, m.layers, 2 if m.bidirectional else 1)


def peak_bytes(
    cfg: Config, n_x: int, n_a: int, n_y: int, columns: int, training: bool, extra: int = 0
) -> int:
    """The one memory estimator: rough peak bytes of the config's model (cell, layers,
    directions, dtype) with `n_a` hidden units over `columns` (step, example) columns.

    Per column: the inputs, state-sized buffers (10 for a pass, 12 in training, beside
    the inputs' copy next to the states) and output-sized ones (2; 3 in training: logits,
    probabilities, their gradient), so a large vocabulary counts in full. Parameters:
    the model, its gradient and a spare (3 copies), with the optimiser's two moments in
    training (5). `extra`: further scalars (a single pass's per-example arrays).
    """
    itemsize = 8 if cfg.dtype == "float64" else 4
    params = parameter_count(cfg, n_x, n_a, n_y)
    width = cfg.model.layers * (2 if cfg.model.bidirectional else 1) * n_a
    if training:
        copies, per_column = 5, 2 * n_x + 12 * width + 3 * n_y
    else:
        copies, per_column = 3, n_x + 10 * width + 2 * n_y
    return itemsize * (copies * params + per_column * columns + extra)


def estimate_bytes(cfg: Config) -> int:
    """Rough peak memory of a forward+backward pass over the whole sequence (forward,
    backward, gradcheck): `peak_bytes` at the sizes ``dims.*`` gives, n_a = ``dims.n_a``."""
    d = cfg.dims
    return peak_bytes(cfg, d.n_x, d.n_a, d.n_y, d.m * d.T_x, False, d.m * (d.n_x + d.n_a) * 8)


def available_memory() -> int | None:
    """Bytes available (MemAvailable from /proc/meminfo, else sysconf), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def format_bytes(n: float) -> str:
    """``812.3 GiB``-style sizes."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def check_memory(cfg: Config, available: int | None = None) -> int:
    """Refuse a run that cannot fit in memory; return the estimate in bytes.

    ``available`` defaults to what the system reports; if that is unknown nothing is refused.
    """
    need = estimate_bytes(cfg)
    if available is None:
        available = available_memory()
    if available is not None and need > available:
        d = cfg.dims
        raise InputError(
            f"this run needs about {format_bytes(need)} (dims n_x={d.n_x}, n_a={d.n_a}, "
            f"n_y={d.n_y}, m={d.m}, T_x={d.T_x}, cell={cfg.cell}, {cfg.dtype}) "
            f"but only {format_bytes(available)} is available"
        )
    return need


def training_bytes(
    cfg: Config, n_x: int, n_y: int, eval_shape: tuple[int, int] | None = None
) -> int:
    """Rough peak memory of a training run (train, inspect): `peak_bytes` with n_a =
    ``train.hidden`` over one batch's forward and backward and one evaluation pass
    (`eval_shape`: its steps and columns, if the task knows them; else from
    ``train.eval_size``). n_x and n_y come from the task."""
    t = cfg.train
    key = registry.get(t.task).steps_key
    steps = getattr(t, key) if key else 32
    if eval_shape is None:
        eval_shape = (steps, min(t.eval_size, 4096))
    columns = steps * t.batch + eval_shape[0] * eval_shape[1]
    return peak_bytes(cfg, n_x, t.hidden, n_y, columns, True)


def check_training_memory(
    cfg: Config,
    n_x: int,
    n_y: int,
    available: int | None = None,
    eval_shape: tuple[int, int] | None = None,
) -> int:
    """Refuse a training run that cannot fit in memory, before anything is written."""
    need = training_bytes(cfg, n_x, n_y, eval_shape)
    if available is None:
        available = available_memory()
    if available is not None and need > available:
        t = cfg.train
        spec = registry.get(t.task)
        evals = (f"train.eval_chars={t.eval_chars}" if spec.evaluation == "characters" else
                 f"train.eval_size={t.eval_size}")  # fmt: skip
        sizes = f"n_x={n_x}, n_y={n_y}, " if spec.data else ""
        raise InputError(
            f"this training run needs about {format_bytes(need)} ({sizes}"
            f"train.hidden={t.hidden}, train.batch={t.batch}, {evals}, cell={cfg.cell}, "
            f"{cfg.dtype}) but only {format_bytes(available)} is available"
        )
    return need
