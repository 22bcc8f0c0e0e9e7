"""Shell completion that answers at once: config keys and their choices, tasks, cells
and run names, on top of the commands and options.

A TAB must not import the library (the commands' modules take half a second), so while
the shell asks for completions the app's commands are light stand-ins built from an
index: each command's options and arguments, the config keys with their choices, the
tasks and the cells. The index is built once per installed rnncli (its version and its
files' times) into rnncli's cache folder; run names are read from the folder each time.
"""

from __future__ import annotations

import importlib
import json
import os
import typing
from pathlib import Path
from typing import Any

from rnncli import __version__
from rnncli.cachedir import cache_dir
from rnncli.runs.names import LATEST

#: What an option's or argument's value is, by its name: how to complete it.
KINDS = {
    "task": "task", "cell": "cell", "cells": "cell", "resume": "run", "run_dir": "run",
    "run_dirs": "run", "config": "file", "data": "file", "params": "file", "init_from": "file",
    "path": "file", "gradescope_out": "file", "out": "dir", "runs": "dir",
    "overrides": "key", "args": "key-or-run", "names": "cell",
}  # fmt: skip


# ----------------------------------------------------------------------------- the index


def _stamp() -> str:
    """The installed rnncli: its version and the newest time among its files."""
    root = Path(__file__).parent
    newest = max(p.stat().st_mtime_ns for p in root.rglob("*.py"))
    return f"{__version__}-{newest}"


def _param(p: Any) -> dict[str, Any]:
    choices = getattr(getattr(p, "type_descriptor", None), "choices", None)
    choices = choices or getattr(getattr(p, "type", None), "choices", None)
    metavar = getattr(p, "metavar", None)
    if not choices and metavar and "|" in metavar:  # --format table|json|gradescope
        choices = metavar.split("|")
    return {
        "kind": p.param_type_name, "name": p.name, "opts": list(p.opts),
        "flag": bool(getattr(p, "is_flag", False)),
        "nargs": p.nargs, "multiple": bool(getattr(p, "multiple", False)),
        "choices": [str(c) for c in choices] if choices else None,
        "metavar": getattr(p, "metavar", None),
    }  # fmt: skip


def _key_choices() -> dict[str, list[str]]:
    """Every config key's choices: a Literal's values, true/false for a flag."""
    from rnncli.config.schema import Config, section_model

    out: dict[str, list[str]] = {}

    def walk(model: Any, prefix: str) -> None:
        for name, field in model.model_fields.items():
            sub = section_model(model, name)
            if sub is not None:
                walk(sub, f"{prefix}{name}.")
            elif typing.get_origin(field.annotation) is typing.Literal:
                out[prefix + name] = [str(a) for a in typing.get_args(field.annotation)]
            elif field.annotation is bool:
                out[prefix + name] = ["true", "false"]

    walk(Config, "")
    return out


def build_index(app: Any, commands_table: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The index of the `app` whose commands are `commands_table` (command: module,
    description) (slow: it loads every command and the config's schema)."""
    import typer

    from rnncli import cells
    from rnncli.config import leaf_keys
    from rnncli.tasks import registry

    commands = {}
    for name, (module, _) in commands_table.items():
        group = typer.main.get_group(importlib.import_module(f"rnncli.commands.{module}").app)
        commands[name] = [_param(p) for p in group.commands[name].params]
    root = typer.main.get_command(app)
    commands[""] = [_param(p) for p in root.params]
    choices = _key_choices()
    cell_names = [*cells.BUILTIN, *cells.registered()]
    choices["cell"] = cell_names
    choices["train.task"] = registry.names()
    descriptions = {name: text for name, (_, text) in commands_table.items()}
    return {"stamp": _stamp(), "commands": commands, "keys": leaf_keys(), "choices": choices,
            "tasks": registry.names(), "cells": cell_names,
            "descriptions": descriptions}  # fmt: skip


def index(app: Any, commands_table: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The index, from the cache folder while it is current; else built and kept."""
    path = cache_dir() / "completion.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("stamp") == _stamp():
            return dict(data)
    except (OSError, ValueError):
        pass
    data = build_index(app, commands_table)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache: build it every time
    return data


# ----------------------------------------------------------------------------- answers


def complete_key(data: dict[str, Any], incomplete: str) -> list[str]:
    """``train.st`` -> ``train.steps=``, ``train.stop_on_solve=``; ``cell=l`` -> ``cell=lstm``."""
    if "=" in incomplete:
        key = incomplete.partition("=")[0]
        return [f"{key}={v}" for v in data["choices"].get(key, [])]
    return [f"{k}=" for k in data["keys"]]


def run_names(root: Path) -> list[str]:
    """``latest`` and the run folders under `root` as RUN_DIR takes them, newest first."""
    names: list[str] = []
    try:
        for day in sorted(root.iterdir(), reverse=True):
            if day.is_dir() and day.name[:2].isdigit():
                names += sorted((p.name for p in day.iterdir() if p.is_dir()), reverse=True)
    except OSError:
        return []
    return [LATEST, *names] if names else []


def _values(data: dict[str, Any], param: dict[str, Any], words: list[str], inc: str) -> list[str]:
    """The values `param` (an option's value or an argument) may take."""
    if param.get("choices"):
        return list(param["choices"])
    kind = KINDS.get(param["name"])
    root = Path(_given(words, ("--out", "--runs")) or "outputs")
    if kind == "task":
        return list(data["tasks"])
    if kind == "cell":
        return list(data["cells"])
    if kind == "key":
        return complete_key(data, inc)
    if kind == "run":
        return run_names(root)
    if kind == "key-or-run":
        return complete_key(data, inc) + run_names(root)
    return []  # files, folders, numbers: the shell's own completion


def _given(words: list[str], opts: tuple[str, ...]) -> str | None:
    for i, w in enumerate(words[:-1]):
        if w in opts:
            return words[i + 1]
    return None


def _answers(data: dict[str, Any], words: list[str], inc: str) -> list[tuple[str, str]]:
    """(value, help) pairs for the word being typed, after `words`."""
    root = data["commands"][""]
    options = {o: p for p in root for o in p["opts"]}
    if words and (p := options.get(words[-1])) and not p["flag"]:  # rnncli --color ...
        return [(v, "") for v in _values(data, p, words, inc)]
    i = 0
    while i < len(words) and words[i].startswith("-"):  # the app's own options
        i += 2 if (p := options.get(words[i])) and not p["flag"] else 1
    if i >= len(words):
        if inc.startswith("-"):
            return [(o, "") for o in options]
        return [(name, text) for name, text in data["descriptions"].items()]
    params = data["commands"].get(words[i], [])
    options = {o: p for p in params if p["kind"] == "option" for o in p["opts"]}
    rest = words[i + 1 :]
    if rest and (p := options.get(rest[-1])) and not p["flag"]:
        return [(v, "") for v in _values(data, p, rest, inc)]
    if inc.startswith("-"):
        return [(o, "") for o in options]
    arguments = [p for p in params if p["kind"] == "argument"]
    if not arguments:
        return []
    return [(v, "") for v in _values(data, arguments[-1] if len(arguments) == 1 else
                                     arguments[min(_positionals(rest, options), 1)], rest, inc)]


def _positionals(words: list[str], options: dict[str, dict[str, Any]]) -> int:
    count, skip = 0, False
    for w in words:
        if skip:
            skip = False
        elif w.startswith("-"):
            skip = (p := options.get(w)) is not None and not p["flag"]
        else:
            count += 1
    return count


def respond(
    instruction: str, app: Any, commands_table: dict[str, tuple[str, str]], complete_var: str
) -> str | None:
    """The shell's answer for `instruction` (``complete_bash``, ``complete_zsh``, ...), in
    that shell's format; None for anything else (Typer handles it). `app` and its command
    table (`rnncli.cli`) are read only when the index is built."""
    from typer._click.shell_completion import CompletionItem, get_completion_class
    from typer._completion_classes import completion_init

    shell = instruction.partition("_")[2]
    if not instruction.startswith("complete_"):
        return None
    completion_init()
    base = get_completion_class(shell)
    if base is None:
        return None
    data = index(app, commands_table)

    class Fast(base):  # type: ignore[misc, valid-type]
        def get_completions(self, args: list[str], incomplete: str) -> list[Any]:
            return [CompletionItem(v, help=h or None) for v, h in _answers(data, args, incomplete)
                    if v.startswith(incomplete)]  # fmt: skip

    return str(Fast(None, {}, "rnncli", complete_var).complete())
