"""The minimal gated unit (Zhou, Wu, Zhang & Zhou 2016, "Minimal gated unit for recurrent
neural networks"): one forget gate does the work of the GRU's two gates.
``rnncli train --cell examples/cells/mgu.py:MGU``.

    ft = sigmoid(Wf [a_prev; xt] + bf)
    hht = tanh(Wh [ft * a_prev; xt] + bh)
    a_next = (1 - ft) * a_prev + ft * hht
"""

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


class MGU:
    states = ("a",)
    gates = ("f",)

    def shapes(self, n_x, n_a):
        return {"Wf": (n_a, n_a + n_x), "bf": (n_a, 1), "Wh": (n_a, n_a + n_x), "bh": (n_a, 1)}

    def step_forward(self, params, xt, state):
        (a_prev,) = state
        ft = sigmoid(params["Wf"] @ np.concatenate([a_prev, xt]) + params["bf"])
        concat_f = np.concatenate([ft * a_prev, xt])  # the gate scales a_prev first
        hht = np.tanh(params["Wh"] @ concat_f + params["bh"])
        a_next = (1 - ft) * a_prev + ft * hht
        return (a_next,), (a_prev, xt, ft, concat_f, hht)

    def step_backward(self, params, dstate, cache):
        (da_next,) = dstate
        a_prev, xt, ft, concat_f, hht = cache
        n_a = a_prev.shape[0]
        dzh = da_next * ft * (1 - hht**2)  # through hht = tanh(.)
        dconcat_f = params["Wh"].T @ dzh
        dft = da_next * (hht - a_prev) + dconcat_f[:n_a] * a_prev  # both places ft appears
        dzf = dft * ft * (1 - ft)
        dconcat = params["Wf"].T @ dzf
        da_prev = da_next * (1 - ft) + dconcat_f[:n_a] * ft + dconcat[:n_a]
        dxt = dconcat_f[n_a:] + dconcat[n_a:]
        concat = np.concatenate([a_prev, xt])
        dparams = {
            "Wf": dzf @ concat.T,
            "bf": dzf.sum(axis=1, keepdims=True),
            "Wh": dzh @ concat_f.T,
            "bh": dzh.sum(axis=1, keepdims=True),
        }
        return (da_prev,), dxt, dparams

    def gate_values(self, cache):
        return {"f": cache[2]}
