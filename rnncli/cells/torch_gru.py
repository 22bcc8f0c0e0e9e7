"""PyTorch's GRU as an rnncli cell (``--cell torch-gru``): the one ``nn.GRU`` computes.

The notebook-style GRU (``gru``) resets before the recurrent product and keeps
``a = z*h + (1-z)*a_prev``; PyTorch resets after it and keeps ``h' = (1-z)*n + z*h``:
different functions, so a ``gru`` model cannot move to ``nn.GRU``. This cell can, and
its parameters are PyTorch's own tensors (gates r, z, n)::

    r = sigmoid(W_ih[r] x + b_ih[r] + W_hh[r] h + b_hh[r])
    z = sigmoid(W_ih[z] x + b_ih[z] + W_hh[z] h + b_hh[z])
    n = tanh(W_ih[n] x + b_ih[n] + r * (W_hh[n] h + b_hh[n]))
    h' = (1 - z) * n + z * h

Shapes: W_ih (3 n_a, n_x), W_hh (3 n_a, n_a), b_ih and b_hh (3 n_a, 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnncli.activations import sigmoid

State = tuple[np.ndarray, ...]


class TorchGRU:
    states = ("a",)
    gates = ("r", "z")

    def shapes(self, n_x: int, n_a: int) -> dict[str, tuple[int, ...]]:
        return {"W_ih": (3 * n_a, n_x), "W_hh": (3 * n_a, n_a), "b_ih": (3 * n_a, 1),
                "b_hh": (3 * n_a, 1)}  # fmt: skip

    def init(self, n_x: int, n_a: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """PyTorch's initialisation: every entry ~ U(-1/sqrt(n_a), 1/sqrt(n_a))."""
        k = 1.0 / np.sqrt(n_a)
        return {name: rng.uniform(-k, k, shape) for name, shape in self.shapes(n_x, n_a).items()}

    def step_forward(
        self, params: dict[str, np.ndarray], xt: np.ndarray, state: State
    ) -> tuple[State, Any]:
        (h,) = state
        n_a = h.shape[0]
        gi = params["W_ih"] @ xt + params["b_ih"]  # input parts of r, z, n
        gh = params["W_hh"] @ h + params["b_hh"]  # recurrent parts
        r = sigmoid(gi[:n_a] + gh[:n_a])
        z = sigmoid(gi[n_a : 2 * n_a] + gh[n_a : 2 * n_a])
        hn = gh[2 * n_a :]
        n = np.tanh(gi[2 * n_a :] + r * hn)  # the reset gate scales the recurrent product
        h_next = (1 - z) * n + z * h
        return (h_next,), (xt, h, r, z, n, hn)

    def step_backward(
        self, params: dict[str, np.ndarray], dstate: State, cache: Any
    ) -> tuple[State, np.ndarray, dict[str, np.ndarray]]:
        (dh_next,) = dstate
        xt, h, r, z, n, hn = cache
        dn_pre = dh_next * (1 - z) * (1 - n**2)  # h' = (1 - z) n + z h, n = tanh(.)
        dz_pre = dh_next * (h - n) * z * (1 - z)
        dr_pre = dn_pre * hn * r * (1 - r)  # n = tanh(i_n + r * hn)
        d_gi = np.concatenate([dr_pre, dz_pre, dn_pre])
        d_gh = np.concatenate([dr_pre, dz_pre, dn_pre * r])
        dparams = {
            "W_ih": d_gi @ xt.T, "W_hh": d_gh @ h.T,
            "b_ih": d_gi.sum(axis=1, keepdims=True), "b_hh": d_gh.sum(axis=1, keepdims=True),
        }  # fmt: skip
        dh = dh_next * z + params["W_hh"].T @ d_gh  # directly, and through every gate
        dxt = params["W_ih"].T @ d_gi
        return (dh,), dxt, dparams

    def gate_values(self, cache: Any) -> dict[str, np.ndarray]:
        return {"r": cache[2], "z": cache[3]}
