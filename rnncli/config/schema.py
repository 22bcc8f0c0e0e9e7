"""The strict pydantic schema, the training and per-task defaults, and the schema's keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from rnncli import samples as samples_mod
from rnncli.config.errors import unknown_message
from rnncli.config.source import parse_seeds
from rnncli.tasks import registry

NOTEBOOK_CELLS = (
    "rnn_cell_forward",
    "rnn_forward",
    "lstm_cell_forward",
    "lstm_forward",
    "rnn_cell_backward",
    "rnn_backward",
    "lstm_cell_backward",
    "lstm_backward",
)

#: Defaults of the training commands (train, sweep), below the task defaults: a model to
#: train starts from a scaled init, while forward/backward draw N(0, 1) like the notebook.
TRAINING_DEFAULTS: dict[str, Any] = {"init": {"scheme": "xavier"}}

#: Per-task defaults, merged above the built-in defaults and below everything the user gives:
#: each task's own (`TaskSpec.defaults`), as a live view of the task registry.
TASK_DEFAULTS: Mapping[str, Mapping[str, Any]] = registry.Table(lambda spec: spec.defaults)

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

Scalar = bool | int | float | str | None


def _check_sample(expr: str) -> str:
    samples_mod.parse(expr)
    return expr


class Dims(BaseModel):
    """Sizes for forward/backward/gradcheck: inputs, hidden, outputs, batch, time steps.

    ``dims.*`` describes the notebook's single-pass arrays (x: (n_x, m, T_x), a0: (n_a,
    m), y: (n_y, m, T_x)). ``dims.n_a`` and ``train.hidden`` are one size under two keys:
    the hidden units n_a of a cell, ``dims.n_a`` for a single pass, ``train.hidden`` for a
    trained model (train, inspect; there the task sets n_x and n_y). Both go through the
    one memory estimator, `rnncli.config.memory.peak_bytes`.
    """

    model_config = _STRICT
    n_x: int = Field(default=3, gt=0)
    n_a: int = Field(default=5, gt=0)
    n_y: int = Field(default=2, gt=0)
    m: int = Field(default=10, gt=0)
    T_x: int = Field(default=7, gt=0)


class Init(BaseModel):
    """Parameter initialisation; ``notebook`` replays a notebook test cell's draw order."""

    model_config = _STRICT
    scheme: Literal["normal", "xavier", "orthogonal", "notebook"] = "normal"
    scale: float = Field(default=1.0, gt=0)
    forget_bias: float | None = None  # every forget-gate bias (bf) starts here; lstm only
    cell: str | None = Field(default=None, validate_default=True)

    @field_validator("cell")
    @classmethod
    def _cell_iff_notebook(cls, v: str | None, info: ValidationInfo) -> str | None:
        scheme = info.data.get("scheme")
        allowed = ", ".join(NOTEBOOK_CELLS)
        if scheme == "notebook" and v is None:
            raise ValueError(f"required when init.scheme is 'notebook' (one of: {allowed})")
        if scheme != "notebook" and v is not None and scheme is not None:
            raise ValueError("only used with init.scheme=notebook; remove it or set the scheme")
        if v is not None and v not in NOTEBOOK_CELLS:
            raise ValueError(f"expected one of: {allowed}")
        return v


class Model(BaseModel):
    """The network around the cell: stacked layers, both directions, dropout between."""

    model_config = _STRICT
    layers: int = Field(default=1, ge=1, le=64)
    bidirectional: bool = False
    dropout: float = Field(default=0.0, ge=0, lt=1)


class Engine(BaseModel):
    """How the engine runs a training step: NumPy, compiled kernels (the [fast] extra), or
    the faster of the two for the model's size (auto)."""

    model_config = _STRICT
    backend: Literal["auto", "numpy", "compiled"] = "auto"
    # The NumPy engine's matrix products: NumPy's BLAS (the default: the reference's
    # summation order), MKL's (the mkl wheel, through ctypes), or auto: MKL where it is
    # installed, for products where it pays (see benchmarks/RESULTS.md, round 4).
    blas: Literal["auto", "numpy", "mkl"] = "numpy"


class Backward(BaseModel):
    """Where the upstream gradient of the backward pass comes from."""

    model_config = _STRICT
    upstream: Literal["random", "loss"] = "random"


class Gradcheck(BaseModel):
    """Finite-difference gradient check settings."""

    model_config = _STRICT
    eps: float = Field(default=1e-5, gt=0)  # measured: see tests/test_gradcheck.py
    tol: float | None = Field(default=None, gt=0)
    mode: Literal["auto", "full", "fast"] = "auto"
    directions: int = Field(default=4, ge=1)
    full_limit: int = Field(default=2000, ge=1)


class Check(BaseModel):
    """`rnncli check`: limits for the child process that runs a learner's code."""

    model_config = _STRICT
    timeout: float = Field(default=10.0, gt=0)  # seconds per function
    memory: int = Field(default=2048, gt=0)  # MiB of address space
    # Gradescope: a function scores its weight when it passes (all-or-nothing), or its
    # weight times the share of its checks that pass (share); weights default to 1
    scoring: Literal["all-or-nothing", "share"] = "all-or-nothing"
    weights: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)

    @field_validator("weights")
    @classmethod
    def _known_functions(cls, v: dict[str, float]) -> dict[str, float]:
        for name in v:
            if not re.fullmatch(r"(rnn|lstm|gru)_(cell_)?(forward|backward)", name):
                raise ValueError(f"unknown function {name!r} (e.g. rnn_forward: 2)")
        return v


class Train(BaseModel):
    """Training on a synthetic or text task."""

    model_config = _STRICT
    task: str = "reber"  # a registered task (`rnncli.tasks.registry`)
    steps: int = Field(default=5000, gt=0)
    batch: int = Field(default=4, gt=0, le=1_000_000)
    hidden: int = Field(default=16, gt=0, le=1_000_000)  # n_a of a trained model: see Dims
    optimizer: Literal["sgd", "adagrad", "adam"] = "adam"
    lr: float = Field(default=0.02, gt=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    schedule: Literal["constant", "step"] = "constant"
    decay: float = Field(default=0.5, gt=0)
    decay_every: int = Field(default=1000, gt=0)
    clip: float = Field(default=5.0, ge=0)
    clip_mode: Literal["norm", "value"] = "norm"
    eps: float = Field(default=1e-8, gt=0)
    bptt: int = Field(default=50, gt=0)
    T: int = Field(default=100, gt=0)  # adding, multiplication, copy: the time lag
    p: int = Field(default=100, gt=0, le=100_000)  # lag, lag-noise: the time lag / alphabet
    q: int = Field(default=100, ge=0, le=100_000)  # lag-noise: distractors before the end
    targets: Literal["all", "last"] = "all"  # lag: a target at every step, or the last only
    eval_every: int = Field(default=5, gt=0)
    eval_size: int = Field(default=256, ge=1, le=1_000_000)  # reber strings, adding sequences
    eval_chars: int = Field(default=100_000, ge=1, le=10**9)  # text: held-out characters scored
    checkpoint_every: int = Field(default=200, gt=0)
    data: str | None = None
    vocab_min_count: int = Field(default=1, ge=1)  # text: rarer characters share one symbol
    temperature: float = Field(default=1.0, gt=0)
    keep_best: bool = True
    stop_on_solve: bool = True
    patience: int = Field(default=0, ge=0)
    threads: int | None = Field(default=None, ge=1, le=1024)  # BLAS threads; None: by size
    tensorboard: bool = False
    """Also write TensorBoard event files into the run folder (metrics as scalars, the
    config as text, the run's hyperparameters; needs the ``[tensorboard]`` extra)."""

    @field_validator("task")
    @classmethod
    def _known_task(cls, v: str) -> str:
        if registry.find(v) is None:
            raise PydanticCustomError("literal_error", "Input should be {expected}",
                                      {"expected": registry.choices()})  # fmt: skip
        return v


class Sweep(BaseModel):
    """A grid over dotted config keys, repeated for every seed."""

    model_config = _STRICT
    grid: dict[str, list[Scalar]] = Field(default_factory=dict)
    seeds: list[int] | str = "0"
    name: str | None = None
    dask_timeout: float = Field(default=10.0, gt=0, le=3600)
    batch_members: Literal["auto", "on", "off"] = "auto"
    """auto: jobs that share a model shape (seeds, learning rates, init scales, ...)
    train as one stacked model where that pays, each still its own run folder; on: at
    every size; off: one job a run."""

    @field_validator("grid", mode="before")
    @classmethod
    def _grid_keys(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v  # the type check reports it
        known = leaf_keys()
        for key, values in v.items():
            if not isinstance(key, str) or key not in known or key.startswith("sweep."):
                raise ValueError(
                    unknown_message(str(key), [k for k in known if not k.startswith("sweep.")])
                )
            if isinstance(values, list) and not values:
                raise ValueError(f"{key!r} has an empty list of values")
        return v

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            v = [v]
        if isinstance(v, str):
            parse_seeds(v)
            return v
        if isinstance(v, list) and v:
            parse_seeds(v)
            return v
        raise ValueError("expected a seed list such as '0-9', '0,2,5-7' or [0, 1, 2]")

    @field_validator("batch_members", mode="before")
    @classmethod
    def _off(cls, v: Any) -> Any:
        return {False: "off", True: "on"}.get(v, v) if isinstance(v, bool) else v  # YAML: off

    def seed_list(self) -> list[int]:
        """The seeds as a list of ints."""
        return parse_seeds(self.seeds)


class Config(BaseModel):
    """Everything a command needs; see :mod:`rnncli.config` for the layering."""

    model_config = _STRICT
    cell: str = "lstm"  # a built-in or a user's cell, resolved by the loader
    seed: int = Field(default=1, ge=0)
    dtype: Literal["float64", "float32"] = "float64"
    dims: Dims = Field(default_factory=Dims)
    model: Model = Field(default_factory=Model)
    engine: Engine = Field(default_factory=Engine)
    init: Init = Field(default_factory=Init)
    level: Literal["cell", "sequence"] = "sequence"
    samples: list[Annotated[str, AfterValidator(_check_sample)]] | None = None
    backward: Backward = Field(default_factory=Backward)
    gradcheck: Gradcheck = Field(default_factory=Gradcheck)
    check: Check = Field(default_factory=Check)
    train: Train = Field(default_factory=Train)
    sweep: Sweep = Field(default_factory=Sweep)


def section_model(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    """The nested model class of field ``name`` (a section), or None for a value field."""
    ann = model.model_fields[name].annotation
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def takes_mapping(model: type[BaseModel], name: str) -> bool:
    ann = model.model_fields[name].annotation
    return ann is dict or getattr(ann, "__origin__", None) is dict


def leaf_keys(model: type[BaseModel] | None = None, prefix: str = "") -> list[str]:
    """All dotted value keys of the schema, in schema order (``cell``, ``dims.n_x``, ...)."""
    model = model or Config
    out: list[str] = []
    for name in model.model_fields:
        sub = section_model(model, name)
        out += leaf_keys(sub, f"{prefix}{name}.") if sub else [prefix + name]
    return out


def all_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted names of every field and section, for did-you-mean."""
    out: list[str] = []
    for name in model.model_fields:
        out.append(prefix + name)
        sub = section_model(model, name)
        if sub:
            out += all_keys(sub, f"{prefix}{name}.")
    return out
