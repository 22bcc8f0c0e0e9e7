"""Loading: check each layer, merge them in precedence order, validate once; and output."""

from __future__ import annotations

import copy
import enum
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from rnncli.config import schema
from rnncli.config.errors import (
    KeyPath,
    dotted,
    expected_text,
    format_error,
    show_value,
    source_of,
    unknown_message,
)
from rnncli.config.schema import Config, Train, all_keys, section_model, takes_mapping
from rnncli.config.source import (
    check_key,
    drop_keys,
    parse_overrides,
    read_file,
    reset_keys,
    set_dotted,
)
from rnncli.errors import InputError


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
            raise InputError(f"{source}: {unknown_message(dotted, all_keys(Config))}")
        sub = section_model(model, key)
        path = (*prefix, key)
        if sub is None:
            if isinstance(value, dict) and value and not takes_mapping(model, key):
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
                f"{source}: {dotted!r} is a section, not a value (got {show_value(value)}); "
                f"set its keys instead: {subkeys}"
            )


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``over`` merged into ``base``; mappings merge, everything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


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
        check_key(key, f"flag {label}")
        layer: dict[str, Any] = {}
        set_dotted(layer, key, value, f"flag {label}")
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
    data: Mapping[str, Any] | None = None,
) -> Config:
    """Merge defaults, task defaults, a YAML file, shortcut flags and ``key=value`` overrides.

    ``data``: a config as a dict, in the place of a file. ``flags`` maps dotted keys to
    values (None values are ignored). With ``training``
    (train and sweep), `TRAINING_DEFAULTS` and the selected task's `TASK_DEFAULTS` sit
    between the built-in defaults and the user's layers. Raises InputError with a one-line
    message for any problem.
    """
    layers: list[tuple[dict[str, Any], str]] = []
    if path is not None:
        layers.append((read_file(path), str(path)))
    if data is not None:  # a config given as a dict (the Python API), in a file's place
        layers.append((copy.deepcopy(dict(data)), "config dict"))
    layers += _flag_layers(flags or {})
    if isinstance(overrides, str):
        overrides = [overrides]
    if overrides:
        resets = reset_keys(overrides)  # ~key: back to the default, whoever set it
        for key in resets:  # an unknown key is refused as key=value would be
            probe: dict[str, Any] = {}
            set_dotted(probe, key, None, f"override '~{key}'")
            _check_layer(probe, f"override '~{key}'", {})
        layers = [(drop_keys(layer, resets), source) for layer, source in layers]
        layers.append((parse_overrides(overrides), "override"))

    user_prov: dict[KeyPath, str] = {}
    for layer, source in layers:  # unknown keys first, so the task lookup is safe
        _check_layer(layer, source, user_prov)
    task = _selected_task(layers)
    defaults = schema.TASK_DEFAULTS.get(task, {})  # read at call time: tests patch it
    task_layer = _deep_merge(schema.TRAINING_DEFAULTS, defaults) if training else {}
    prov: dict[KeyPath, str] = {}
    _check_layer(task_layer, f"task defaults for {task!r}", prov)
    prov.update(user_prov)

    merged: dict[str, Any] = {}
    for layer, _ in [(task_layer, ""), *layers]:
        merged = _deep_merge(merged, layer)

    try:
        cfg = Config.model_validate(merged)
    except ValidationError as exc:
        raise format_error(exc, prov) from None
    cfg = cfg.model_copy(update={"cell": _resolve_cell(cfg.cell, source_of(("cell",), prov))})
    if cfg.train.data:  # a run must find its text from any folder it is resumed in
        where = str(Path(cfg.train.data).expanduser().absolute())
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"data": where})})
    _check_grid_values(cfg, prov)
    return cfg


def _resolve_cell(name: str, source: str) -> str:
    """The cell's canonical name (a file path made absolute), after loading it: an unknown
    or broken cell is refused here, naming where it was given. Loading a user's cell runs
    its code."""
    from rnncli import cells

    try:
        cells.get(name)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    return cells.canonical(name)


def _check_grid_values(cfg: Config, prov: Mapping[KeyPath, str]) -> None:
    """Each grid value must be valid when put into the resolved config on its own."""
    if not cfg.sweep.grid:
        return
    base = to_dict(cfg)
    base.pop("sweep")
    source = source_of(("sweep", "grid"), prov)
    for key, values in cfg.sweep.grid.items():
        for i, value in enumerate(values):
            if key == "cell" and isinstance(value, str):
                _resolve_cell(value, f"{source}: sweep.grid value cell[{i}]")
            point: dict[str, Any] = {}
            set_dotted(point, key, value, "sweep.grid")
            try:
                Config.model_validate(_deep_merge(base, point))
            except ValidationError as exc:
                err = exc.errors()[0]
                detail = " ".join(expected_text(err).split())
                if dotted(err["loc"]) != key:
                    detail = f"{dotted(err['loc'])}: {detail}"
                shown = show_value(value)
                raise InputError(
                    f"{source}: sweep.grid value {key}[{i}]={shown} is invalid: {detail}"
                ) from None


def to_dict(cfg: Config) -> dict[str, Any]:
    """The resolved config as plain, YAML-safe Python data in schema order."""
    return cfg.model_dump(mode="python")


def dump_yaml(cfg: Config) -> str:
    """The resolved config as YAML (keys in schema order); ``load_config`` reads it back."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=False)


#: The config sections each command reads (what --show-config shows).
SECTIONS = {
    "forward": ("cell", "seed", "dtype", "dims", "model", "init", "level", "samples"),
    "backward": ("cell", "seed", "dtype", "dims", "model", "init", "level", "samples",
                 "backward"),
    "gradcheck": ("cell", "seed", "dtype", "dims", "model", "gradcheck"),
    "train": ("cell", "seed", "dtype", "model", "init", "train"),
    "check": ("check",),
    "sweep": ("cell", "seed", "dtype", "model", "init", "train", "sweep"),
}  # fmt: skip


def config_view(cfg: Config | Mapping[str, Any], command: str | None = None) -> dict[str, Any]:
    """The resolved config as plain data: the sections `command` reads (all without one)."""
    data = to_dict(cfg) if isinstance(cfg, Config) else dict(cfg)
    if command in SECTIONS:
        data = {k: v for k, v in data.items() if k in SECTIONS[command]}
    return data
