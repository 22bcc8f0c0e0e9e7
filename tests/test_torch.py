"""Stacked and bidirectional models against PyTorch, and weights that move between them.

PyTorch's ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` (for the ``torch-gru`` cell) with
``num_layers = 2`` and ``bidirectional = True``, plus ``nn.Linear``, in float64 with the
weights copied across: the loss, every gradient and dx agree to 1e-10. Skipped where
PyTorch is not installed (the ``[bench]`` extra)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import rnncli
from rnncli import engine, weights
from rnncli.cli import app
from rnncli.params import init_params

torch = pytest.importorskip("torch", reason="PyTorch is not installed (the [bench] extra)")
LAYER = {"rnn": "RNN", "lstm": "LSTM", "torch-gru": "GRU"}
N_X, N_A, N_Y, M, T = 3, 4, 5, 6, 7


def make(cell: str, layers: int, D: int, seed: int = 0) -> tuple[engine.Packed, Any, Any]:
    """An rnncli model and the same PyTorch modules (weights copied through to_torch)."""
    rng = np.random.default_rng(seed)
    params = init_params(cell, N_X, N_A, N_Y, rng, "normal", 0.5, np.float64, layers, D)
    p = engine.pack(cell, params, n_x=N_X, layers=layers, directions=D)
    layer = getattr(torch.nn, LAYER[cell])(
        N_X, N_A, num_layers=layers, bidirectional=D == 2
    ).double()
    fc = torch.nn.Linear(D * N_A, N_Y).double()
    sd = {k: torch.from_numpy(v.copy()) for k, v in weights.to_torch(p).items()}
    layer.load_state_dict({k: v for k, v in sd.items() if not k.startswith("fc.")})
    fc.load_state_dict({"weight": sd["fc.weight"], "bias": sd["fc.bias"]})
    return p, layer, fc


def data(loss: str, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N_X, M, T))
    if loss == "xent":
        targets = rng.integers(0, N_Y, (M, T))
        targets[0, -2:] = -1  # padding
    elif loss == "xent_last":
        targets = rng.integers(0, N_Y, (M,))
    else:
        targets = rng.standard_normal((N_Y, M))
    return x, targets


def torch_loss(layer: Any, fc: Any, x: np.ndarray, targets: np.ndarray, loss: str, D: int) -> Any:
    X = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 1, 0))).requires_grad_(True)
    out, h = layer(X)  # out: (T, m, D*n_a)
    h_n = h[0] if isinstance(h, tuple) else h  # (layers*D, m, n_a)
    if loss == "xent":
        tgt = torch.from_numpy(np.ascontiguousarray(targets.T)).reshape(-1)
        value = (
            torch.nn.functional.cross_entropy(
                fc(out).reshape(T * M, N_Y), tgt, ignore_index=-1, reduction="sum"
            )
            / M
        )
    else:
        last = torch.cat([h_n[-2], h_n[-1]], dim=1) if D == 2 else h_n[-1]
        y = fc(last)
        if loss == "mse_last":
            value = ((y - torch.from_numpy(targets.T)) ** 2).mean()
        else:
            value = (
                torch.nn.functional.cross_entropy(
                    y, torch.from_numpy(targets), ignore_index=-1, reduction="sum"
                )
                / M
            )
    value.backward()
    return value, X


@pytest.mark.parametrize("loss", ["xent", "mse_last", "xent_last"])
@pytest.mark.parametrize(("layers", "D"), [(2, 2), (1, 2), (2, 1)], ids=["2x-bi", "bi", "2x"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "torch-gru"])
def test_agrees_with_pytorch(cell: str, layers: int, D: int, loss: str) -> None:
    p, layer, fc = make(cell, layers, D)
    x, targets = data(loss)
    value, grads = rnncli.loss_and_grads(
        cell, engine.unpack(p), x, targets, loss=loss, layers=layers, directions=D
    )
    t_value, X = torch_loss(layer, fc, x, targets, loss, D)
    assert abs(value - t_value.item()) <= 1e-12 * abs(value)
    named = {k[1:]: v for k, v in grads.items() if k not in ("dx", "da0")}
    ours = weights.to_torch(engine.pack(cell, named, n_x=N_X, layers=layers, directions=D))
    theirs = {k: v.grad.numpy() for k, v in layer.named_parameters()}
    theirs["fc.weight"], theirs["fc.bias"] = fc.weight.grad.numpy(), fc.bias.grad.numpy()
    for name, want in theirs.items():
        got = ours[name]
        if name.startswith("bias_hh") and cell != "torch-gru":
            got = ours[name.replace("bias_hh", "bias_ih")]  # both biases have dL/db
        scale = max(float(np.abs(want).max()), 1e-300)
        assert np.abs(got - want).max() <= 1e-10 * scale, name
    dx = X.grad.numpy().transpose(2, 1, 0)
    assert np.abs(grads["dx"] - dx).max() <= 1e-10 * np.abs(dx).max()


def test_the_notebook_gru_is_refused_with_a_reason() -> None:
    p = engine.Packed.zeros("gru", 2, 3, 2, np.float64)
    with pytest.raises(rnncli.errors.InputError, match="reset gate"):
        weights.to_torch(p)


def _run(tmp_path: Path, *args: str) -> Path:
    result = CliRunner().invoke(app, ["train", *args, "--out", str(tmp_path), "--json", "-q"])
    assert result.exit_code == 0, result.stderr
    return Path(json.loads(result.stdout)["run_dir"])


@pytest.mark.parametrize("cell", ["lstm", "rnn", "torch-gru"])
def test_an_exported_run_loads_into_pytorch_with_equal_outputs(tmp_path: Path, cell: str) -> None:
    pytest.importorskip("safetensors")
    from safetensors.torch import load_file

    run = _run(tmp_path, "--task", "adding", "--cell", cell, "train.T=10", "train.hidden=6",
               "train.steps=30", "model.layers=2", "model.bidirectional=true")  # fmt: skip
    result = CliRunner().invoke(app, ["export", str(run)])
    assert result.exit_code == 0, result.stderr
    sd = load_file(str(run / "model.safetensors"))
    layer = getattr(torch.nn, LAYER[cell])(2, 6, num_layers=2, bidirectional=True).double()
    fc = torch.nn.Linear(12, 1).double()
    layer.load_state_dict({k: v for k, v in sd.items() if not k.startswith("fc.")})
    fc.load_state_dict({"weight": sd["fc.weight"], "bias": sd["fc.bias"]})
    x = np.random.default_rng(3).standard_normal((2, 5, 10))
    out, h = layer(torch.from_numpy(np.ascontiguousarray(x.transpose(2, 1, 0))))
    h_n = h[0] if isinstance(h, tuple) else h
    y_torch = fc(torch.cat([h_n[-2], h_n[-1]], dim=1)).detach().numpy().T
    p = weights.packed_from_run(run)[0]
    cache = engine.forward(p, engine.to_time_major(x))
    y_ours = p.Wy @ engine.last_hidden(p, cache) + p.by
    np.testing.assert_allclose(y_ours, y_torch, rtol=1e-10, atol=1e-12)
    # and back: a new run from the file starts from exactly these parameters
    back = weights.load_for(run / "model.safetensors", cell, 2, 6, 1, "float64", 2, 2)
    assert np.array_equal(back, p.flat)


def test_a_pytorch_model_comes_into_rnncli(tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    from safetensors.torch import save_file

    torch.manual_seed(0)
    layer = torch.nn.LSTM(3, 5, num_layers=2).double()  # PyTorch's own initialisation
    fc = torch.nn.Linear(5, 4).double()
    sd = {**layer.state_dict(), "fc.weight": fc.weight.data, "fc.bias": fc.bias.data}
    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "m.safetensors"))
    theta = weights.load_for(tmp_path / "m.safetensors", "lstm", 3, 5, 4, "float64", 2, 1)
    p = engine.Packed("lstm", 3, 5, 4, theta, 2, 1)
    x = np.random.default_rng(4).standard_normal((3, 2, 8))
    out, _ = layer(torch.from_numpy(np.ascontiguousarray(x.transpose(2, 1, 0))))
    want = fc(out).detach().numpy()  # (T, m, n_y)
    got = p.Wy @ engine.hidden(p, engine.forward(p, engine.to_time_major(x))) + p.by
    np.testing.assert_allclose(got.transpose(0, 2, 1), want, rtol=1e-10, atol=1e-12)
    with pytest.raises(
        rnncli.errors.InputError,
        match=r"weight_ih_l0 has shape \(20, 3\), the model needs \(24, 3\)",
    ):
        weights.load_for(tmp_path / "m.safetensors", "lstm", 3, 6, 4, "float64", 2, 1)
