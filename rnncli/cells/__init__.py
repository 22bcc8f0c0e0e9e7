"""Cells: the built-in rnn, lstm and gru, and cells users bring (see `protocol`).

`get(name)` is the one way to a cell's facts (`CellSpec`):

    "lstm"                      a built-in cell (`builtin`)
    "my_cells.py:PeepholeLSTM"  a class in a Python file (the path is made absolute)
    "mypkg.cells:MGU"           a class in an importable module
    "torch-gru"                 a cell rnncli ships beside the built-ins (`SHIPPED`),
                                run by the generic time loop
    "mgu"                       a name an installed package registers under the
                                entry-point group ``rnncli.cells``

Getting a user's cell runs its code, checks it against the protocol with a small probe
and records its source (file and content hash, or package and version) for run folders.
"""

from __future__ import annotations

import difflib
from importlib import metadata
from pathlib import Path
from typing import Any

from rnncli.cells.builtin import BUILTIN
from rnncli.cells.load import load_file, load_module, make_spec
from rnncli.cells.spec import OUTPUT_BIAS, STEP_OUTPUT, Block, CellSpec, Gate, Onnx, Torch
from rnncli.errors import InputError
from rnncli.hashing import file_sha256

ENTRY_POINT_GROUP = "rnncli.cells"

#: Cells rnncli ships as protocol classes: no fused kernel, the generic loop runs them.
SHIPPED = {"torch-gru": "rnncli.cells.torch_gru:TorchGRU"}
#: The PyTorch layers the shipped cells are: torch-gru's parameters are nn.GRU's own
#: tensors, gates stacked (r, z, n).
SHIPPED_TORCH = {"torch-gru": Torch("nn.GRU", ("r", "z", "n"), own=True)}
#: The ONNX operators of the shipped cells: torch-gru is ONNX's GRU with
#: linear_before_reset=1 (gates z, r, h = PyTorch's z, r, n).
SHIPPED_ONNX = {"torch-gru": Onnx("GRU", ("z", "r", "n"), linear_before_reset=1, own=True)}

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "OUTPUT_BIAS",
    "SHIPPED",
    "SHIPPED_ONNX",
    "SHIPPED_TORCH",
    "STEP_OUTPUT",
    "Block",
    "CellSpec",
    "Gate",
    "Onnx",
    "Torch",
    "canonical",
    "check_dtype",
    "get",
    "kernel_of",
    "registered",
    "source_changes",
    "torch_layers",
]

_cache: dict[tuple[str, ...], CellSpec] = {}


def registered() -> dict[str, metadata.EntryPoint]:
    """Cells installed packages register under the entry-point group ``rnncli.cells``."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _split(name: str) -> tuple[str, str] | None:
    """``where:Class`` -> (where, Class), or None when `name` is not of that form."""
    where, sep, cls = name.rpartition(":")
    if not sep or not where or not cls.isidentifier():
        return None
    return where, cls


def _is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def canonical(name: str) -> str:
    """How a config stores the cell: a file path made absolute, anything else as given."""
    split = _split(name)
    if split and _is_file(split[0]):
        return f"{Path(split[0]).expanduser().resolve()}:{split[1]}"
    return name


def get(name: str) -> CellSpec:
    """The spec of the cell `name` (see the module docstring); InputError if there is none,
    CellError (exit 1) if the user's code raises while it is loaded or probed."""
    if not isinstance(name, str) or not name:
        raise InputError(f"cell {name!r}: expected a cell name such as lstm")
    spec = BUILTIN.get(name)
    if spec is not None:
        return spec
    if name in SHIPPED:
        key_: tuple[str, ...] = ("shipped", name)
        if key_ not in _cache:
            module, cls_name = SHIPPED[name].split(":")
            cls, source = load_module(module, cls_name, name)
            source = {"kind": "shipped", "name": name, "value": SHIPPED[name]}
            _cache[key_] = make_spec(name, name, cls, source, torch=SHIPPED_TORCH.get(name),
                                     onnx=SHIPPED_ONNX.get(name))  # fmt: skip
        return _cache[key_]
    split = _split(name)
    if split is not None:
        where, cls_name = split
        if _is_file(where):
            path = Path(where).expanduser()
            label = f"{path.name}:{cls_name}"
            key: tuple[str, ...] = ("file", str(path.resolve()), cls_name, _digest(path, label))
            if key not in _cache:
                cls, source = load_file(where, cls_name, label)
                _cache[key] = make_spec(canonical(name), cls_name, cls, source, label)
            return _cache[key]
        key = ("module", where, cls_name)
        if key not in _cache:
            cls, source = load_module(where, cls_name, name)
            _cache[key] = make_spec(name, cls_name, cls, source)
        return _cache[key]
    entry = registered().get(name)
    if entry is None:
        known = [*BUILTIN, *SHIPPED, *registered()]
        guess = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        raise InputError(
            f"unknown cell {name!r}{hint}: expected {', '.join(known)}, "
            "or a class as file.py:Class or module:Class"
        )
    key = ("entry-point", name, entry.value)
    if key not in _cache:
        split = _split(entry.value.replace(" ", ""))
        if split is None:
            raise InputError(f"cell {name}: entry point {entry.value!r} is not module:Class")
        cls, source = load_module(*split, name)
        dist = getattr(entry, "dist", None)
        source = {**source, "kind": "entry-point", "name": name, "value": entry.value}
        if dist is not None:
            source.update(package=dist.metadata["Name"], version=dist.version)
        _cache[key] = make_spec(name, name, cls, source)
    return _cache[key]


def kernel_of(cell: str | CellSpec) -> str:
    """The fused kernel (NumPy and compiled) that runs `cell`, or "" for the generic time
    loop. A name is looked up among the built-ins only: a user's cell is not loaded."""
    spec = cell if isinstance(cell, CellSpec) else BUILTIN.get(cell)
    return spec.kernel if spec is not None else ""


def torch_layers() -> dict[str, str]:
    """Cell name -> the PyTorch layer that computes it (weights move both ways), for the
    built-in and shipped cells; no cell is loaded."""
    table = {name: spec.torch for name, spec in BUILTIN.items()} | SHIPPED_TORCH
    return {name: t.layer for name, t in table.items() if t is not None and not t.refused}


def _digest(path: Path, label: str) -> str:
    try:
        return file_sha256(path.resolve()) if path.is_file() else "missing"
    except OSError:
        return "unreadable"


def check_dtype(spec: CellSpec, dtype: str) -> None:
    """Refuse a float32 run of a user's cell whose probe failed in float32."""
    problem = spec.source.get("float32", "ok")
    if dtype == "float32" and problem != "ok":
        raise InputError(f"{problem} (this run is float32; the cell works in float64)")


def source_changes(recorded: Any, spec: CellSpec) -> str | None:
    """Why `spec`'s source differs from the record in a run's run.json, or None."""
    if not isinstance(recorded, dict) or recorded.get("kind") in (None, "builtin"):
        return None
    now = dict(spec.source)
    for key in ("sha256", "version"):
        if recorded.get(key) != now.get(key):
            what = "content" if key == "sha256" else "package version"
            where = recorded.get("path") or recorded.get("module") or spec.name
            return f"cell {spec.label}: {where} changed since the run started ({what} differs)"
    return None
