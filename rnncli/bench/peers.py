"""The peers the engine is timed against when they are importable: PyTorch (the
optional ``[bench]`` extra), its own layers on the same problems, and JAX, a
``jit(value_and_grad)`` over ``lax.scan``; and what each runs on."""

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


def jax_call(cell: str, size: str, dtype: str) -> Callable[[], Any]:
    """JAX on the same problem: ``jit(value_and_grad)`` of the loss with respect to every
    parameter and x, the time loop a ``lax.scan`` (the input projection of all steps is
    one product before it), the same output layer and summed cross-entropy / m.
    One layer, one direction; the GRU resets after the recurrent product, as PyTorch."""
    import jax

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    n_x, n_a, n_y, m, T = SIZES[size]
    rng = np.random.default_rng(0)
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    scale = 1 / np.sqrt(n_a + n_x)
    shapes = {"Wx": (n_x, G * n_a), "Wh": (n_a, G * n_a), "b": (G * n_a,),
              "bh": (G * n_a,), "Wy": (n_a, n_y), "by": (n_y,)}  # fmt: skip
    params = {k: jnp.asarray((scale * rng.standard_normal(s)).astype(dtype))
              for k, s in shapes.items()}  # fmt: skip
    _, x_np, targets_np = make_problem(cell, size, dtype)
    x = jnp.asarray(np.ascontiguousarray(x_np.transpose(2, 1, 0)))  # (T, m, n_x)
    y = jnp.asarray(np.ascontiguousarray(targets_np.T))  # (T, m)
    loss = jax_loss(cell, n_a, m)
    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))

    def call() -> None:
        jax.block_until_ready(f(params, x, y))

    return call


def jax_loss(cell: str, n_a: int, m: int) -> Callable[..., Any]:
    """The loss of a one-layer `cell` model in JAX: params (Wx, Wh, b, bh, Wy, by),
    x: (T, m, n_x), int targets (T, m)."""
    import jax
    import jax.numpy as jnp

    def step(params: Any, carry: Any, xz: Any) -> tuple[Any, Any]:
        h, c = carry
        hz = h @ params["Wh"]
        if cell == "rnn":
            h = jnp.tanh(xz + hz)
            return (h, c), h
        if cell == "gru":
            xr, xu, xn = jnp.split(xz, 3, axis=-1)
            hr, hu, hn = jnp.split(hz + params["bh"], 3, axis=-1)
            r, u = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xu + hu)
            h = (1 - u) * jnp.tanh(xn + r * hn) + u * h
            return (h, c), h
        i, f, g, o = jnp.split(xz + hz, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    def loss(params: Any, x: Any, y: Any) -> Any:
        xz = x @ params["Wx"] + params["b"]  # every step's input projection: one product
        zero = jnp.zeros((m, n_a), x.dtype)
        _, H = jax.lax.scan(lambda carry, z: step(params, carry, z), (zero, zero), xz)
        logp = jax.nn.log_softmax(H @ params["Wy"] + params["by"], axis=-1)
        return -jnp.take_along_axis(logp, y[..., None], axis=-1).sum() / m

    return loss


def jax_info() -> dict[str, Any]:
    try:
        import jax
    except ImportError as e:
        return {"available": False, "reason": f"JAX is not installed ({e})"}
    return {"available": True, "version": jax.__version__,
            "devices": [str(d) for d in jax.devices("cpu")]}  # fmt: skip
