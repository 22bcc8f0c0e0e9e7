"""PyTorch, the peer the engine is timed against when it is importable (the optional
``[bench]`` extra): its own layers on the same problems, and what it runs on."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from rnncli import cells as registry
from rnncli.bench.sizes import SIZES, make_problem


def torch_call(
    cell: str, size: str, dtype: str, layers: int = 1, directions: int = 1
) -> Callable[[], Any]:
    """PyTorch's own layers on the same sizes, forward + backward (with dx)."""
    import torch

    n_x, n_a, n_y, m, T = SIZES[size]
    tdtype = getattr(torch, dtype)
    torch.manual_seed(0)
    twin = registry.get(cell).torch  # the PyTorch layer of the cell's kind
    assert twin is not None
    layer = getattr(torch.nn, twin.layer.removeprefix("nn."))
    rnn = layer(n_x, n_a, num_layers=layers, bidirectional=directions == 2).to(tdtype)
    out = torch.nn.Linear(directions * n_a, n_y).to(tdtype)  # input (T, m, n_x)
    xent = torch.nn.CrossEntropyLoss(reduction="sum")
    _, x_np, targets_np = make_problem(cell, size, dtype, 0, layers, directions)
    x = torch.from_numpy(np.ascontiguousarray(x_np.transpose(2, 1, 0))).requires_grad_(True)
    y = torch.from_numpy(np.ascontiguousarray(targets_np.T).reshape(-1))  # (T*m,)

    def call() -> None:
        rnn.zero_grad()
        out.zero_grad()
        x.grad = None
        h, _ = rnn(x)
        loss = xent(out(h).reshape(T * m, n_y), y) / m
        loss.backward()

    return call


def torch_info() -> dict[str, Any]:
    try:
        import torch
    except ImportError as e:
        return {"available": False, "reason": f"PyTorch is not installed ({e})"}
    return {
        "available": True,
        "version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "blas": _torch_blas(torch),
    }


def _torch_blas(torch: Any) -> str | None:
    try:
        config = torch.__config__.show()
    except Exception:  # pragma: no cover - informational only
        return None
    found = re.search(r"BLAS_INFO=([^,\s]+)", config)
    return found.group(1) if found else None
