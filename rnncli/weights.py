"""A model's parameters in and out of run folders and weight files.

    named_from_run(RUN_DIR)       a trained run's parameters under notebook names
    load_named(FILE)              notebook-named arrays from an .npz weights file
    load_for(SOURCE, ...)         parameters for a new model (fine-tuning): from a run
                                  folder, its checkpoint or best.npz, or a weights file,
                                  every shape checked against the new model
    named_for(SOURCE, ...)        the same under notebook names (forward, backward and
                                  gradcheck --params)

Files are read with ``allow_pickle=False``; a shape that does not fit is refused with one
line naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnncli import cells, engine
from rnncli.config import Config, load_config
from rnncli.engine.layout import expected_shapes, upgrade_flat
from rnncli.errors import InputError
from rnncli.runs import read_json
from rnncli.runs.names import BEST, CONFIG_YAML, TASK_JSON
from rnncli.tasks import registry
from rnncli.training import checkpoint


def run_model(run_dir: Path) -> tuple[Config, dict[str, Any]]:
    """A train run's config and task.json, or InputError naming what is missing."""
    if not (run_dir / CONFIG_YAML).is_file() or not (run_dir / TASK_JSON).is_file():
        raise InputError(f"{run_dir}: not a train run folder (needs config.yaml and task.json)")
    cfg = load_config(run_dir / CONFIG_YAML, training=True)
    task = read_json(run_dir / TASK_JSON, TASK_JSON)
    if not isinstance(task, dict) or not {"task", "n_x", "n_y"} <= set(task):
        raise InputError(f"{run_dir / TASK_JSON}: not a readable task.json")
    return cfg, task


def packed_from_run(run_dir: Path, which: str = "last") -> tuple[engine.Packed, Config, dict]:
    """The model of a train run: its last checkpoint (``which="last"``) or its best
    parameters (``"best"``)."""
    cfg, task = run_model(run_dir)
    name = BEST if which == "best" else checkpoint.NAME
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
    directions: int = 1, flag: str = "--init-from",
) -> np.ndarray:  # fmt: skip
    """Parameters for a new model from `source` (see the module docstring), as the flat
    vector of that model in `dtype`; errors name `flag` and the file."""
    if source.is_dir():
        named = named_from_run(source)
    elif source.suffix == ".npz" and source.name in (checkpoint.NAME, BEST):
        named = named_from_run(source.parent, "best" if source.name == BEST else "last")
    elif source.exists():
        named, _ = read_weights(source)
        if is_torch_named(named):
            where = f"{flag} {source}"
            return from_torch(named, cell, n_x, n_a, n_y, np.dtype(dtype), layers, directions,
                              where).flat  # fmt: skip
    else:
        raise InputError(f"{flag} {source}: no such run folder or file")
    want = expected_shapes(cell, n_x, n_a, n_y, layers, directions)
    for name, shape in want.items():
        if name not in named:
            raise InputError(f"{flag} {source}: has no {name} (the model needs {shape})")
        if named[name].shape != shape:
            raise InputError(
                f"{flag} {source}: {name} has shape {named[name].shape}, the model needs {shape}"
            )
        if named[name].dtype.kind != "f":  # an I64 tensor is not weights, whatever its shape
            raise InputError(
                f"{flag} {source}: {name} is {named[name].dtype}, the model needs floats"
            )
    extra = sorted(set(named) - set(want))
    if extra:
        raise InputError(f"{flag} {source}: {extra[0]} is not a parameter of the model")
    p = engine.pack(cell, {k: named[k] for k in want}, np.dtype(dtype), n_x, layers, directions)
    if not np.isfinite(p.flat).all():
        raise InputError(f"{flag} {source}: parameters have NaN or inf entries")
    return p.flat


def named_for(
    source: Path, cell: str, n_x: int, n_a: int, n_y: int, dtype: str, layers: int = 1,
    directions: int = 1, flag: str = "--params",
) -> dict[str, np.ndarray]:  # fmt: skip
    """`load_for` under notebook names: the parameters a forward, backward or gradcheck
    runs at instead of drawing them."""
    flat = load_for(source, cell, n_x, n_a, n_y, dtype, layers, directions, flag)
    return engine.unpack(engine.Packed(cell, n_x, n_a, n_y, flat, layers, directions))


# --------------------------------------------------------------------------- PyTorch

#: Cell -> the PyTorch layer that computes it (`rnncli.cells.CellSpec.torch`): ``nn.LSTM``
#: stacks its gates (i, f, g, o), ``nn.RNN`` has one block, the ``torch-gru`` cell keeps
#: ``nn.GRU``'s own tensors; the notebook's ``gru`` computes something else (see
#: `rnncli.cells.torch_gru`) and has no PyTorch twin.
TORCH_LAYERS = cells.torch_layers()


def _torch(spec: cells.CellSpec) -> cells.Torch:
    """The cell's PyTorch layout; refuses a cell that no PyTorch layer computes, naming why."""
    layout = spec.torch
    if layout is None:
        raise InputError(
            f"cell {spec.name}: no PyTorch layer computes it; export with --names notebook"
        )
    if layout.refused:
        raise InputError(layout.refused)
    return layout


def _rows(spec: Any, gate: str, n_a: int) -> slice:
    k = [b.gate for b in spec.fused].index(gate)
    return slice(k * n_a, (k + 1) * n_a)


def _suffix(k: int, directions: int) -> str:
    return f"_l{k // directions}" + ("_reverse" if k % directions else "")


def to_torch(p: engine.Packed) -> dict[str, np.ndarray]:
    """The model's parameters under PyTorch's names: ``nn.RNN``/``nn.LSTM``/``nn.GRU``
    (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse``)
    and ``nn.Linear`` as ``fc.weight``, ``fc.bias``. The bias goes in ``bias_ih``, zeros in
    ``bias_hh`` (their sum is what both compute)."""
    layout = _torch(p.spec)
    out: dict[str, np.ndarray] = {}
    for k, block in enumerate(p.blocks):
        end = _suffix(k, p.directions)
        n = p.n_a
        if layout.own:
            prm = block.params
            out["weight_ih" + end] = prm["W_ih"].copy()
            out["weight_hh" + end] = prm["W_hh"].copy()
            out["bias_ih" + end] = prm["b_ih"][:, 0].copy()
            out["bias_hh" + end] = prm["b_hh"][:, 0].copy()
            continue
        rows = [_rows(p.spec, g, n) for g in layout.gates]
        out["weight_ih" + end] = np.concatenate([block.W[r, n:] for r in rows])
        out["weight_hh" + end] = np.concatenate([block.W[r, :n] for r in rows])
        out["bias_ih" + end] = np.concatenate([block.b[r, 0] for r in rows])
        out["bias_hh" + end] = np.zeros_like(out["bias_ih" + end])
    out["fc.weight"] = p.Wy.copy()
    out["fc.bias"] = p.by[:, 0].copy()
    return out


def _tensor(sd: dict[str, np.ndarray], where: str, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in sd:
        raise InputError(f"{where}: has no {name} (the model needs {shape})")
    a = np.asarray(sd[name])
    if a.shape != shape:
        raise InputError(f"{where}: {name} has shape {a.shape}, the model needs {shape}")
    if a.dtype.kind != "f" or not np.isfinite(a).all():
        raise InputError(f"{where}: {name} is not a finite float tensor")
    return a


def from_torch(
    sd: dict[str, np.ndarray], cell: str, n_x: int, n_a: int, n_y: int, dtype: Any,
    layers: int = 1, directions: int = 1, where: str = "weights",
) -> engine.Packed:  # fmt: skip
    """The inverse of `to_torch`: a model from PyTorch-named tensors (any bias_hh is
    added to bias_ih, exactly what the layer computes; not so for torch-gru, which keeps
    both). Every tensor's name and shape is checked, one line naming the one at fault."""
    p = engine.Packed.zeros(cell, n_x, n_a, n_y, dtype, layers, directions)
    layout = _torch(p.spec)
    G = layout.n_gates
    for k, block in enumerate(p.blocks):
        end = _suffix(k, directions)
        w_ih = _tensor(sd, where, "weight_ih" + end, (G * n_a, block.n_x))
        w_hh = _tensor(sd, where, "weight_hh" + end, (G * n_a, n_a))
        b_ih = _tensor(sd, where, "bias_ih" + end, (G * n_a,))
        b_hh = _tensor(sd, where, "bias_hh" + end, (G * n_a,))
        if layout.own:
            prm = block.params
            prm["W_ih"][...], prm["W_hh"][...] = w_ih, w_hh
            prm["b_ih"][:, 0], prm["b_hh"][:, 0] = b_ih, b_hh
            continue
        for t, gate in enumerate(layout.gates):
            r, src = _rows(p.spec, gate, n_a), slice(t * n_a, (t + 1) * n_a)
            block.W[r, n_a:] = w_ih[src]
            block.W[r, :n_a] = w_hh[src]
            block.b[r, 0] = b_ih[src] + b_hh[src]
    p.Wy[...] = _tensor(sd, where, "fc.weight", (n_y, directions * n_a))
    p.by[:, 0] = _tensor(sd, where, "fc.bias", (n_y,))
    extra = sorted(set(sd) - set(to_torch(p)))
    if extra:
        raise InputError(f"{where}: {extra[0]} is not a tensor of this model")
    return p


def is_torch_named(named: dict[str, Any]) -> bool:
    return "fc.weight" in named or any(k.startswith("weight_ih_l") for k in named)


# --------------------------------------------------------------------------- files


def read_weights(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Arrays and metadata of a .safetensors or .npz weights file."""
    if not path.is_file():
        raise InputError(f"{path}: no such weights file")
    if path.suffix == ".safetensors":
        try:
            from safetensors import safe_open
        except ImportError:
            raise InputError(
                f"{path}: reading safetensors needs the extra: pip install 'rnncli[export]'"
            ) from None
        try:
            with safe_open(str(path), framework="np") as f:
                meta = dict(f.metadata() or {})
                arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        except Exception as exc:  # the library's own errors for a damaged file
            text = " ".join(str(exc).split())[:120] or type(exc).__name__
            raise InputError(f"{path}: not a readable safetensors file ({text})") from None
        return arrays, meta
    arrays = load_named(path)
    meta = {}
    if "__rnncli__" in arrays:
        raise InputError(f"{path}: unexpected entry __rnncli__")
    return arrays, meta


def write_weights(
    path: Path, arrays: dict[str, np.ndarray], meta: dict[str, str], fmt: str
) -> Path:
    """Write `arrays` as safetensors (with `meta`) or npz, atomically."""
    from rnncli.runs import save_npz_atomic, write_bytes_atomic

    if fmt == "npz":
        return save_npz_atomic(path, arrays)
    try:
        from safetensors.numpy import save
    except ImportError:
        raise InputError(
            "--format safetensors needs the extra: pip install 'rnncli[export]' (or --format npz)"
        ) from None
    data = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    return write_bytes_atomic(path, save(data, metadata=meta))


def _reads_every_step(task: Any) -> bool:
    """The output layer of `task`'s models is read at every step (its spec's `readout`)."""
    spec = registry.find(task)
    return spec is not None and spec.readout == "every"


@dataclass(frozen=True)
class Exported:
    """What `export` wrote: the file, the names used (torch, notebook, or onnx), the model
    card beside it, and notes to show (the float32 cast of an ONNX graph)."""

    path: Path
    names: str
    card: Path
    notes: tuple[str, ...] = ()


def export(
    run_dir: Path, fmt: str, names: str | None, out: Path | None, which: str = "last"
) -> Exported:
    """A trained run's parameters as a weights file (PyTorch or notebook names, None:
    torch where a PyTorch layer computes the cell; safetensors or npz) or as an ONNX
    graph (`rnncli.onnx_export`), with a model card beside it (`rnncli.model_card`).
    The safetensors metadata says what model it is."""
    from rnncli import __version__, model_card

    if fmt not in ("safetensors", "npz", "onnx"):
        raise InputError(f"--format {fmt!r}: expected safetensors, npz or onnx")
    if names not in ("torch", "notebook", None):
        raise InputError(f"--names {names!r}: expected torch or notebook")
    if fmt == "onnx" and names is not None:
        raise InputError("--names applies to safetensors and npz; an ONNX graph has no names")
    p, cfg, task = packed_from_run(run_dir, which)
    if fmt == "onnx":
        return _export_onnx(p, cfg, task, run_dir, out, which)
    names = names or ("torch" if p.cell in TORCH_LAYERS else "notebook")
    arrays = to_torch(p) if names == "torch" else engine.unpack(p)
    meta = {
        "format": "rnncli-weights/1", "rnncli": __version__, "names": names, "cell": p.cell,
        "layer": TORCH_LAYERS.get(p.cell, "") if names == "torch" else "",
        "n_x": str(p.n_x), "hidden": str(p.n_a), "n_y": str(p.n_y), "layers": str(p.layers),
        "bidirectional": str(p.directions == 2).lower(), "task": str(task.get("task")),
        "readout": "each step's output" if _reads_every_step(task.get("task")) else
        "the last step: h_n of the top layer, forward then reverse",
    }  # fmt: skip
    path = write_weights(out or run_dir / f"model.{fmt}", arrays, meta, fmt)
    extra = {"names": names, "layer": meta["layer"], "readout": meta["readout"]}
    card = model_card.make(run_dir, cfg, task, path, fmt, which, extra)
    return Exported(path, names, model_card.write(path, card))


def _export_onnx(
    p: engine.Packed, cfg: Config, task: dict[str, Any], run_dir: Path, out: Path | None,
    which: str,
) -> Exported:  # fmt: skip
    from rnncli import __version__, model_card, onnx_export

    op = onnx_export.onnx_of(p.spec)
    read = onnx_export.readout_for(cfg, task)
    notes = (onnx_export.FLOAT64_NOTE,) if p.dtype == np.float64 else ()
    inputs = "x: (T, batch, n_x) float32, time-major" + (
        ", one-hot characters in the vocabulary's order" if "vocab" in task else "")
    doc = f"rnncli {p.cell} model of task {task.get('task')}; {inputs}; {read.describe()}"
    meta = {"rnncli": __version__, "cell": p.cell, "task": str(task.get("task")),
            "readout": read.at, "outputs": ",".join(read.outputs)}  # fmt: skip
    path = onnx_export.write(out or run_dir / "model.onnx", onnx_export.build(p, read, doc, meta))
    extra = {"onnx": {"opset": onnx_export.OPSET, "operator": op.op, "inputs": inputs,
                      "outputs": read.describe(), "dtype": "float32"}}  # fmt: skip
    card = model_card.make(run_dir, cfg, task, path, "onnx", which, extra)
    return Exported(path, "onnx", model_card.write(path, card), notes)
