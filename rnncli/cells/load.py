"""Loading a user's cell: import the class, check it against the protocol, record its source.

`load_file` and `load_module` import the class (running the user's code); `make_spec`
checks the instance against `rnncli.cells.protocol` with a small probe (one forward and
one backward step at n_x = 3, n_a = 4, m = 2, in float64 and float32) and builds its
`CellSpec`. `cell_error` turns an exception raised inside the user's code into a
`CellError` naming the cell, the method and the line of the user's file.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from rnncli.cells import protocol
from rnncli.cells.spec import CellSpec, Gate, Onnx, Torch
from rnncli.errors import CellError, InputError
from rnncli.hashing import file_sha256

PROBE = (3, 4, 2)  # n_x, n_a, m of the probe


def cell_error(label: str, method: str, exc: BaseException, file: str | None) -> CellError:
    """One line: ``cell X: step_forward raised ValueError: ... (my_cells.py, line 42)``."""
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if file and Path(f.filename).resolve() == Path(file).resolve()]
    if mine:
        where = f" ({Path(mine[-1].filename).name}, line {mine[-1].lineno})"
    elif isinstance(exc, SyntaxError) and exc.lineno:
        where = f" ({Path(exc.filename or file or '?').name}, line {exc.lineno})"
    text = " ".join(str(exc).split())
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, SystemExit):
        what = f"SystemExit({exc.code!r})"
    return CellError(f"cell {label}: {method} raised {what}{where}")


def _exec_module(name: str, path: Path, label: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"cell {label}: cannot import {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look classes up here
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise InputError(
            f"cell {label}: {path.name}:{exc.lineno}: syntax error: {exc.msg}"
        ) from None
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise cell_error(label, f"importing {path.name}", exc, str(path)) from None
    return module


def load_file(path_text: str, class_name: str, label: str) -> tuple[Any, dict[str, Any]]:
    """The class `class_name` of the Python file at `path_text`, and its source record."""
    path = Path(path_text).expanduser()
    if not path.exists():
        raise InputError(f"cell {label}: file {path_text} not found")
    if not path.is_file():
        raise InputError(f"cell {label}: {path_text} is not a file")
    path = path.resolve()
    try:
        digest = file_sha256(path)
    except OSError as exc:
        raise InputError(f"cell {label}: cannot read {path_text} ({exc.strerror})") from None
    module = _exec_module(f"rnncli_cell_{digest[:16]}", path, label)
    cls = getattr(module, class_name, None)
    if cls is None:
        found = sorted(n for n, v in vars(module).items() if isinstance(v, type))
        hint = f" (classes there: {', '.join(found)})" if found else ""
        raise InputError(f"cell {label}: {path.name} has no class {class_name!r}{hint}")
    source = {"kind": "file", "path": str(path), "class": class_name, "sha256": digest}
    return cls, source


def _distribution(module_name: str) -> tuple[str | None, str | None]:
    """(package, version) that ships a top-level module, if it is an installed one."""
    top = module_name.split(".")[0]
    names = metadata.packages_distributions().get(top) or []
    for dist in names:
        try:
            return dist, metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None, None


def load_module(module_name: str, class_name: str, label: str) -> tuple[Any, dict[str, Any]]:
    """The class `class_name` of the importable module `module_name`, and its source."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise InputError(f"cell {label}: no module named {exc.name!r}") from None
        raise cell_error(label, f"importing {module_name}", exc, None) from None
    except SyntaxError as exc:
        raise InputError(
            f"cell {label}: {Path(exc.filename or '?').name}:{exc.lineno}: syntax error: {exc.msg}"
        ) from None
    except (Exception, SystemExit) as exc:
        raise cell_error(label, f"importing {module_name}", exc, None) from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise InputError(f"cell {label}: module {module_name} has no class {class_name!r}")
    package, version = _distribution(module_name)
    source: dict[str, Any] = {"kind": "module", "module": module_name, "class": class_name}
    file = getattr(module, "__file__", None)
    if file:
        source["path"] = str(Path(file).resolve())
        source["sha256"] = file_sha256(Path(file))
    if package:
        source.update(package=package, version=version)
    return cls, source


def _instantiate(label: str, cls: Any, file: str | None) -> Any:
    if not isinstance(cls, type):
        raise InputError(f"cell {label}: is {type(cls).__name__!r}, not a class")
    try:
        return cls()
    except TypeError as exc:
        raise InputError(f"cell {label}: cannot create it without arguments ({exc})") from None
    except (Exception, SystemExit) as exc:
        raise cell_error(label, "__init__", exc, file) from None


def init_params(
    label: str, impl: Any, n_x: int, n_a: int, rng: np.random.Generator, file: str | None
) -> dict[str, np.ndarray]:
    """The cell's own `init` (or the default), checked: float64, right shapes, finite."""
    shapes = protocol.check_shapes(label, _call(label, impl.shapes, "shapes", file, n_x, n_a),
                                   n_x, n_a)  # fmt: skip
    init = getattr(impl, "init", None)
    if callable(init):
        got = _call(label, init, "init", file, n_x, n_a, rng)
        where = f"cell {label}: init({n_x}, {n_a}, rng)"
        if not isinstance(got, dict):
            raise InputError(f"{where} must return a dict of arrays")
        got = {k: np.asarray(v, dtype=np.float64) if isinstance(v, np.ndarray) else v
               for k, v in got.items()}  # fmt: skip
        protocol.check_arrays(where, "result", got, tuple(shapes), shapes.__getitem__,
                              np.dtype(np.float64))  # fmt: skip
    else:
        got = protocol.default_init(shapes, rng)
    for name, value in got.items():
        if not np.all(np.isfinite(value)):
            raise InputError(f"cell {label}: init gives non-finite values in {name}")
    return got


def _call(label: str, fn: Any, method: str, file: str | None, *args: Any) -> Any:
    try:
        return fn(*args)
    except (Exception, SystemExit) as exc:
        raise cell_error(label, method, exc, file) from None


def probe(label: str, impl: Any, states: tuple[str, ...], file: str | None, dtype: Any) -> None:
    """One forward and one backward step (and the sequence methods) at the probe size."""
    n_x, n_a, m = PROBE
    dt = np.dtype(dtype)
    rng = np.random.default_rng(0)
    params64 = init_params(label, impl, n_x, n_a, rng, file)
    params = {k: v.astype(dt) for k, v in params64.items()}
    names = tuple(params)
    shape_of = {**{k: v.shape for k, v in params.items()}}
    xt = rng.standard_normal((n_x, m)).astype(dt)
    state = tuple(np.tanh(rng.standard_normal((n_a, m))).astype(dt) for _ in states)
    where = f"cell {label} (n_x={n_x}, n_a={n_a}, m={m}, {dt})"
    out = _call(label, impl.step_forward, "step_forward", file, params, xt, state)
    if not isinstance(out, tuple) or len(out) != 2:
        raise InputError(f"{where}: step_forward must return (new_state, cache)")
    new_state, cache = out
    state_shape = (n_a, m)
    protocol.check_arrays(where, "step_forward's new state", new_state, states,
                          lambda _: state_shape, dt)  # fmt: skip
    dstate = tuple(np.ones_like(s) for s in new_state)
    back = _call(label, impl.step_backward, "step_backward", file, params, dstate, cache)
    if not isinstance(back, tuple) or len(back) != 3:
        raise InputError(f"{where}: step_backward must return (dprev_state, dxt, dparams)")
    dprev, dxt, dparams = back
    protocol.check_arrays(where, "step_backward's dprev_state", dprev, states,
                          lambda _: state_shape, dt)  # fmt: skip
    protocol.check_arrays(where, "step_backward's dxt", (dxt,), ("dxt",),
                          lambda _: (n_x, m), dt)  # fmt: skip
    protocol.check_arrays(where, "step_backward's dparams", dparams, names,
                          shape_of.__getitem__, dt)  # fmt: skip
    if callable(getattr(impl, "gate_values", None)) and getattr(impl, "gates", None):
        gv = _call(label, impl.gate_values, "gate_values", file, cache)
        protocol.check_arrays(where, "gate_values", gv, tuple(impl.gates),
                              lambda _: state_shape, dt)  # fmt: skip
    if callable(getattr(impl, "sequence_forward", None)):
        T = 3
        X = rng.standard_normal((T, n_x, m)).astype(dt)
        got = _call(label, impl.sequence_forward, "sequence_forward", file, params, X, state)
        if not isinstance(got, tuple) or len(got) != 3:
            raise InputError(f"{where}: sequence_forward must return (A, state_T, cache)")
        A, last, seq_cache = got
        protocol.check_arrays(where, "sequence_forward's A", (A,), ("A",),
                              lambda _: (T, n_a, m), dt)  # fmt: skip
        protocol.check_arrays(where, "sequence_forward's state_T", last, states,
                              lambda _: state_shape, dt)  # fmt: skip
        dA = np.ones((T, n_a, m), dt)
        got = _call(label, impl.sequence_backward, "sequence_backward", file, params, dA,
                    seq_cache)  # fmt: skip
        if not isinstance(got, tuple) or len(got) != 3:
            raise InputError(f"{where}: sequence_backward must return (dX, dstate0, dparams)")
        dX, d0, dp = got
        protocol.check_arrays(where, "sequence_backward's dX", (dX,), ("dX",),
                              lambda _: (T, n_x, m), dt)  # fmt: skip
        protocol.check_arrays(where, "sequence_backward's dstate0", d0, states,
                              lambda _: state_shape, dt)  # fmt: skip
        protocol.check_arrays(where, "sequence_backward's dparams", dp, names,
                              shape_of.__getitem__, dt)  # fmt: skip


def make_spec(
    name: str,
    label: str,
    cls: Any,
    source: dict[str, Any],
    where: str | None = None,
    torch: Torch | None = None,
    onnx: Onnx | None = None,
) -> CellSpec:
    """Instantiate, check and probe a user's cell class; its `CellSpec`. `label` names
    it in tables, `where` (default: label) in error messages."""
    file = source.get("path")
    short, label = label, where or label
    impl = _instantiate(label, cls, file)
    states, gate_names = protocol.check_class(label, impl)
    probe(label, impl, states, file, np.float64)
    try:
        probe(label, impl, states, file, np.float32)
        float32 = ""
    except InputError as exc:  # float64 works: refuse float32 runs only, with this reason
        float32 = str(exc)
    n_x, n_a, _ = PROBE
    params = tuple(protocol.check_shapes(label, impl.shapes(n_x, n_a), n_x, n_a))
    gates = tuple(Gate(g, "sigmoid") for g in gate_names)
    source = {**source, "float32": float32 or "ok"}
    return CellSpec(
        name=name, label=short, states=states, params=params, output="Wy", gates=gates,
        step=impl, source=source, torch=torch, onnx=onnx,
    )  # fmt: skip
