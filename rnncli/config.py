"""The experiment configuration: a strict schema, layered sources and one-line errors.

Precedence, lowest first (a deep merge; validation happens once, at the end)::

    built-in defaults  <  TASK_DEFAULTS[task]  <  --config FILE  <  shortcut flags  <  key=value

In the spirit of nanoGPT's configurator, unknown keys and type changes are refused: an int
must be an int (``2.5``, ``"5"`` and ``true`` are not), a float accepts an int. Every problem
becomes an :class:`~rnncli.errors.InputError` with one line that names the source, the dotted
key, the bad value and what was expected, e.g.
``configs/x.yaml: unknown key 'dims.na' (did you mean 'dims.n_a'?)``.

YAML is read with a subclass of ``yaml.SafeLoader`` (never the unsafe loaders, never eval)
whose only change is that ``1e-2``, ``1E3`` and ``-.5`` are floats, as in YAML 1.2.
"""

from __future__ import annotations

import copy
import difflib
import enum
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from rnncli import samples as samples_mod
from rnncli.errors import InputError

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

#: Per-task defaults, merged above the built-in defaults and below everything the user gives.
#: Placeholder values: the lead tunes them.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    # the built-in train defaults are reber's (measured: 10/10 lstm seeds solve)
    "reber": {},
    # T=100: lstm solves (MSE < 0.04) within ~600 steps; rnn stays at the 0.667 baseline
    "adding": {
        "train": {
            "hidden": 32,
            "batch": 32,
            "lr": 0.01,
            "clip": 1.0,
            "steps": 2500,
            "eval_every": 50,
            "eval_size": 512,
            "checkpoint_every": 250,
        }
    },
    "text": {
        "train": {
            "hidden": 64,
            "batch": 16,
            "bptt": 50,
            "lr": 0.005,
            "steps": 1000,
            "eval_every": 50,
            "eval_size": 64,
            "checkpoint_every": 100,
        }
    },
}

_STRICT = ConfigDict(extra="forbid", strict=True)

Scalar = bool | int | float | str | None


# --------------------------------------------------------------------------- YAML


class _SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-2``/``1E3``/``-.5`` as floats (YAML 1.2)."""


_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+|\.[0-9_]+(?:[eE][-+]?[0-9]+)?)$"
    ),
    list("-+0123456789."),
)


def _yaml_load(text: str) -> Any:
    """Parse YAML safely: plain data only (custom tags such as ``!!python/...`` raise)."""
    return yaml.load(text, Loader=_SafeLoader)  # a SafeLoader subclass: plain data only


def _yaml_error(where: str, exc: yaml.YAMLError, file: bool = True) -> InputError:
    """One line for a YAML error, with ``file:line:column`` when PyYAML knows them."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    pos = f":{mark.line + 1}:{mark.column + 1}" if mark is not None and file else ""
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["?"])[0]
    if isinstance(exc, yaml.constructor.ConstructorError):
        problem = f"unsupported YAML tag (only plain data is allowed): {problem}"
    return InputError(f"{where}{pos}: invalid YAML: {' '.join(str(problem).split())}")


def _parse_scalar(text: str, where: str) -> Any:
    try:
        return _yaml_load(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(where, exc, file=False) from None


# --------------------------------------------------------------------------- schema


def _check_sample(expr: str) -> str:
    samples_mod.parse(expr)
    return expr


class Dims(BaseModel):
    """Sizes for forward/backward/gradcheck: inputs, hidden, outputs, batch, time steps."""

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


class Train(BaseModel):
    """Training on a synthetic or text task."""

    model_config = _STRICT
    task: Literal["reber", "adding", "text"] = "reber"
    steps: int = Field(default=5000, gt=0)
    batch: int = Field(default=4, gt=0)
    hidden: int = Field(default=16, gt=0)
    optimizer: Literal["sgd", "adagrad", "adam"] = "adam"
    lr: float = Field(default=0.02, gt=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    schedule: Literal["constant", "step"] = "constant"
    decay: float = Field(default=0.5, gt=0)
    decay_every: int = Field(default=1000, gt=0)
    clip: float = Field(default=5.0, ge=0)
    bptt: int = Field(default=50, gt=0)
    T: int = Field(default=100, gt=0)
    eval_every: int = Field(default=5, gt=0)
    eval_size: int = Field(default=256, ge=1)
    checkpoint_every: int = Field(default=200, gt=0)
    data: str | None = None
    temperature: float = Field(default=1.0, gt=0)


class Sweep(BaseModel):
    """A grid over dotted config keys, repeated for every seed."""

    model_config = _STRICT
    grid: dict[str, list[Scalar]] = Field(default_factory=dict)
    seeds: list[int] | str = "0"
    name: str | None = None

    @field_validator("grid", mode="before")
    @classmethod
    def _grid_keys(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v  # the type check reports it
        known = leaf_keys()
        for key, values in v.items():
            if not isinstance(key, str) or key not in known or key.startswith("sweep."):
                raise ValueError(
                    _unknown(str(key), [k for k in known if not k.startswith("sweep.")])
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

    def seed_list(self) -> list[int]:
        """The seeds as a list of ints."""
        return parse_seeds(self.seeds)


class Config(BaseModel):
    """Everything a command needs; see the module docstring for the layering."""

    model_config = _STRICT
    cell: Literal["rnn", "lstm", "gru"] = "lstm"
    seed: int = Field(default=1, ge=0)
    dtype: Literal["float64", "float32"] = "float64"
    dims: Dims = Field(default_factory=Dims)
    init: Init = Field(default_factory=Init)
    level: Literal["cell", "sequence"] = "sequence"
    samples: list[Annotated[str, AfterValidator(_check_sample)]] | None = None
    backward: Backward = Field(default_factory=Backward)
    gradcheck: Gradcheck = Field(default_factory=Gradcheck)
    train: Train = Field(default_factory=Train)
    sweep: Sweep = Field(default_factory=Sweep)


# --------------------------------------------------------------------------- schema helpers


def _section_model(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    """The nested model class of field ``name`` (a section), or None for a value field."""
    ann = model.model_fields[name].annotation
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _takes_mapping(model: type[BaseModel], name: str) -> bool:
    ann = model.model_fields[name].annotation
    return ann is dict or getattr(ann, "__origin__", None) is dict


def leaf_keys(model: type[BaseModel] | None = None, prefix: str = "") -> list[str]:
    """All dotted value keys of the schema, in schema order (``cell``, ``dims.n_x``, ...)."""
    model = model or Config
    out: list[str] = []
    for name in model.model_fields:
        sub = _section_model(model, name)
        out += leaf_keys(sub, f"{prefix}{name}.") if sub else [prefix + name]
    return out


def _unknown(key: str, candidates: Sequence[str]) -> str:
    """``unknown key 'dims.na' (did you mean 'dims.n_a'?)``."""
    parent, _, leaf = key.rpartition(".")
    siblings = [c for c in candidates if c.rpartition(".")[0] == parent]
    guess = difflib.get_close_matches(key, siblings, n=1, cutoff=0.6)
    if not guess:  # maybe a section was forgotten: n_a -> dims.n_a
        guess = [c for c in candidates if c.rpartition(".")[2] == leaf]
    if not guess:
        guess = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    hint = f" (did you mean {guess[0]!r}?)" if guess else ""
    return f"unknown key {key!r}{hint}"


def _all_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted names of every field and section, for did-you-mean."""
    out: list[str] = []
    for name in model.model_fields:
        out.append(prefix + name)
        sub = _section_model(model, name)
        if sub:
            out += _all_keys(sub, f"{prefix}{name}.")
    return out


KeyPath = tuple[str | int, ...]


def _check_layer(
    data: Mapping[Any, Any],
    source: str,
    prov: dict[KeyPath, str],
    model: type[BaseModel] = Config,
    prefix: KeyPath = (),
) -> None:
    """Refuse unknown keys and scalars given for sections; record where each key came from."""
    for key, value in data.items():
        dotted = ".".join(str(p) for p in (*prefix, key))
        if not isinstance(key, str) or key not in model.model_fields:
            raise InputError(f"{source}: {_unknown(dotted, _all_keys(Config))}")
        sub = _section_model(model, key)
        path = (*prefix, key)
        if sub is None:
            if isinstance(value, dict) and value and not _takes_mapping(model, key):
                inner = f"{dotted}.{next(iter(value))}"
                raise InputError(
                    f"{source}: unknown key {inner!r} ({dotted!r} is a value, not a section)"
                )
            prov[path] = source
        elif isinstance(value, dict):
            _check_layer(value, source, prov, sub, path)
        else:
            subkeys = ", ".join(sub.model_fields)
            raise InputError(
                f"{source}: {dotted!r} is a section, not a value (got {_show(value)}); "
                f"set its keys instead: {subkeys}"
            )


# --------------------------------------------------------------------------- merging


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``over`` merged into ``base``; mappings merge, everything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _set_dotted(target: dict[str, Any], key: str, value: Any, where: str) -> None:
    parts = key.split(".")
    node = target
    for i, part in enumerate(parts[:-1]):
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            section = ".".join(parts[: i + 1])
            raise InputError(f"{where}: {section!r} was given a value, so {key!r} cannot be set")
        node = nxt
    node[parts[-1]] = value


def _check_key(key: str, where: str) -> None:
    if not key:
        raise InputError(f"{where} has an empty key: write key=value, e.g. dims.n_a=64")
    if not _KEY.match(key):
        raise InputError(f"{where}: bad key {key!r}: use dotted names such as dims.n_a")


def _split_item(item: str) -> tuple[str, str]:
    if not isinstance(item, str) or "=" not in item:
        raise InputError(f"override {item!r} has no '=': write key=value")
    key, _, text = item.partition("=")
    key = key.strip()
    _check_key(key, f"override {item!r}")
    return key, text


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["dims.n_a=64", "backward.upstream=loss"]`` -> ``{"dims": {"n_a": 64}, ...}``.

    Values are YAML (``1e-2`` is a float, ``true`` a bool, ``null`` None, ``[1, 2]`` a list);
    a later item wins over an earlier one.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, text = _split_item(item)
        _set_dotted(out, key, _parse_scalar(text, f"override {item!r}"), f"override {item!r}")
    return out


def _split_commas(text: str) -> list[str]:
    """Split on commas that are not inside quotes or brackets."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def sweep_values(item: str) -> tuple[str, list[Any]]:
    """``"train.lr=1e-3,1e-2"`` -> ``("train.lr", [0.001, 0.01])``; ``key=v`` gives a 1-list."""
    key, text = _split_item(item)
    values = []
    for part in _split_commas(text):
        if not part.strip():
            raise InputError(f"sweep value {item!r} has an empty entry: write key=v1,v2,...")
        values.append(_parse_scalar(part.strip(), f"sweep value {item!r}"))
    return key, values


_SEED_PART = re.compile(r"^\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?$")


def parse_seeds(spec: str | int | Sequence[int]) -> list[int]:
    """``"0-9"``, ``"0,2,5-7"``, ``"3"``, ``3`` or ``[0, 1]`` -> a list of distinct seeds."""
    if isinstance(spec, bool):
        raise InputError(f"seeds {spec!r}: expected e.g. '0-9', '0,2,5-7' or '3'")
    if isinstance(spec, int):
        spec = [spec]
    if not isinstance(spec, str):
        seeds = list(spec)
        if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
            raise InputError(f"seeds {seeds!r}: expected a non-empty list of integers >= 0")
        return list(dict.fromkeys(seeds))
    out: list[int] = []
    for part in spec.split(","):
        m = _SEED_PART.match(part)
        if not m:
            raise InputError(
                f"seeds {spec!r}: bad part {part.strip()!r}; write e.g. '0-9' or '0,2,5-7'"
            )
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise InputError(f"seeds {spec!r}: range {part.strip()!r} runs backwards")
        if hi - lo > 100_000:
            raise InputError(f"seeds {spec!r}: range {part.strip()!r} is too long")
        out.extend(range(lo, hi + 1))
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- error messages


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _dotted(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _source(loc: Sequence[Any], prov: Mapping[KeyPath, str]) -> str:
    """Where the value at ``loc`` came from: the longest recorded prefix, or a sibling."""
    loc = tuple(loc)
    for n in range(len(loc), 0, -1):
        if loc[:n] in prov:
            return prov[loc[:n]]
    parent = loc[:-1]
    siblings = [src for path, src in prov.items() if path[: len(parent)] == parent and parent]
    return siblings[-1] if siblings else "defaults"


def _expected(err: Mapping[str, Any]) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    simple = {
        "int_type": "expected an integer",
        "float_type": "expected a number",
        "bool_type": "expected true or false",
        "string_type": "expected a string (quote it if it looks like a number)",
        "list_type": "expected a list",
        "dict_type": "expected a mapping",
        "model_type": "expected a mapping of keys",
    }
    if kind in simple:
        return simple[kind]
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}"
    for name, op in (
        ("greater_than", ">"),
        ("greater_than_equal", ">="),
        ("less_than", "<"),
        ("less_than_equal", "<="),
    ):
        if kind == name:
            bound = next(iter(ctx.values()), "?")
            return f"must be {op} {bound}"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return str(err.get("msg", kind))


def _format_error(exc: ValidationError, prov: Mapping[KeyPath, str]) -> InputError:
    errors = exc.errors()
    err = errors[0]
    loc = err["loc"]
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    tail = more if len(errors) > 1 else ""
    detail = " ".join(_expected(err).split())
    if err["type"] == "value_error":
        return InputError(f"{_source(loc, prov)}: {_dotted(loc)}: {detail}{tail}")
    value = _show(err.get("input"))
    return InputError(f"{_source(loc, prov)}: {_dotted(loc)}={value} is invalid: {detail}{tail}")


# --------------------------------------------------------------------------- loading


def _read_file(path: str | Path) -> dict[str, Any]:
    where = str(path)
    p = Path(path)
    if not p.exists():
        raise InputError(f"config file {where!r} not found")
    if p.is_dir():
        raise InputError(f"config file {where!r} is a directory, not a YAML file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{where}: not a UTF-8 text file") from None
    except OSError as exc:
        raise InputError(f"cannot read config file {where!r}: {exc.strerror}") from None
    try:
        data = _yaml_load(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(where, exc) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a mapping of keys at the top level, got {_kind(data)}")
    return data


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__} ({_show(value)})"


def _flag_layers(flags: Mapping[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """One layer per shortcut flag, so each value's source names its flag (``--task``)."""
    layers = []
    for key, value in flags.items():
        if value is None:
            continue
        if isinstance(value, enum.Enum):
            value = value.value
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        label = "--" + key.rsplit(".", 1)[-1].replace("_", "-")
        _check_key(key, f"flag {label}")
        layer: dict[str, Any] = {}
        _set_dotted(layer, key, value, f"flag {label}")
        layers.append((layer, label))
    return layers


def _selected_task(layers: Sequence[tuple[Mapping[str, Any], str]]) -> str:
    task = Train.model_fields["task"].default
    for layer, _ in layers:
        train = layer.get("train")
        if isinstance(train, Mapping) and "task" in train:
            task = train["task"]
    return task if isinstance(task, str) else ""


def load_config(
    path: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    training: bool = False,
) -> Config:
    """Merge defaults, task defaults, a YAML file, shortcut flags and ``key=value`` overrides.

    ``flags`` maps dotted keys to values (None values are ignored). With ``training``
    (train and sweep), `TRAINING_DEFAULTS` and the selected task's `TASK_DEFAULTS` sit
    between the built-in defaults and the user's layers. Raises InputError with a one-line
    message for any problem.
    """
    layers: list[tuple[dict[str, Any], str]] = []
    if path is not None:
        layers.append((_read_file(path), str(path)))
    layers += _flag_layers(flags or {})
    if isinstance(overrides, str):
        overrides = [overrides]
    if overrides:
        layers.append((parse_overrides(overrides), "override"))

    user_prov: dict[KeyPath, str] = {}
    for layer, source in layers:  # unknown keys first, so the task lookup is safe
        _check_layer(layer, source, user_prov)
    task = _selected_task(layers)
    task_layer = _deep_merge(TRAINING_DEFAULTS, TASK_DEFAULTS.get(task, {})) if training else {}
    prov: dict[KeyPath, str] = {}
    _check_layer(task_layer, f"task defaults for {task!r}", prov)
    prov.update(user_prov)

    merged: dict[str, Any] = {}
    for layer, _ in [(task_layer, ""), *layers]:
        merged = _deep_merge(merged, layer)

    try:
        cfg = Config.model_validate(merged)
    except ValidationError as exc:
        raise _format_error(exc, prov) from None
    _check_grid_values(cfg, prov)
    return cfg


def _check_grid_values(cfg: Config, prov: Mapping[KeyPath, str]) -> None:
    """Each grid value must be valid when put into the resolved config on its own."""
    if not cfg.sweep.grid:
        return
    base = to_dict(cfg)
    base.pop("sweep")
    source = _source(("sweep", "grid"), prov)
    for key, values in cfg.sweep.grid.items():
        for i, value in enumerate(values):
            point: dict[str, Any] = {}
            _set_dotted(point, key, value, "sweep.grid")
            try:
                Config.model_validate(_deep_merge(base, point))
            except ValidationError as exc:
                err = exc.errors()[0]
                detail = " ".join(_expected(err).split())
                if _dotted(err["loc"]) != key:
                    detail = f"{_dotted(err['loc'])}: {detail}"
                raise InputError(
                    f"{source}: sweep.grid value {key}[{i}]={_show(value)} is invalid: {detail}"
                ) from None


# --------------------------------------------------------------------------- output


def to_dict(cfg: Config) -> dict[str, Any]:
    """The resolved config as plain, YAML-safe Python data in schema order."""
    return cfg.model_dump(mode="python")


def dump_yaml(cfg: Config) -> str:
    """The resolved config as YAML (keys in schema order); ``load_config`` reads it back."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=False)


# --------------------------------------------------------------------------- memory


def parameter_count(cell: str, n_x: int, n_a: int, n_y: int) -> int:
    """Number of scalars in the weights and biases of one cell plus its output layer."""
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    return gates * n_a * (n_a + n_x + 1) + n_y * (n_a + 1)


def estimate_bytes(cfg: Config) -> int:
    """Rough peak memory of a forward+backward pass over the whole sequence."""
    d = cfg.dims
    itemsize = 8 if cfg.dtype == "float64" else 4
    params = parameter_count(cfg.cell, d.n_x, d.n_a, d.n_y)
    activations = d.m * d.T_x * (d.n_x + 10 * d.n_a + 2 * d.n_y)
    return itemsize * (3 * params + activations + d.m * (d.n_x + d.n_a) * 8)


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
