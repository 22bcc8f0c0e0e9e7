"""A peephole LSTM (Gers & Schmidhuber 2000, "Recurrent nets that time and count"),
as an rnncli cell: ``rnncli gradcheck --cell examples/cells/peephole_lstm.py:PeepholeLSTM``.

The gates also look at the cell state ("peepholes", one weight per unit): the input and
forget gates at c_{t-1}, the output gate at the new c_t. With concat = [a_prev; xt]:

    ft = sigmoid(Wf concat + pf * c_prev + bf)
    it = sigmoid(Wi concat + pi * c_prev + bi)
    cct = tanh(Wc concat + bc)
    c_next = ft * c_prev + it * cct
    ot = sigmoid(Wo concat + po * c_next + bo)
    a_next = ot * tanh(c_next)

With pf = pi = po = 0 this is the notebook's LSTM.
"""

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


class PeepholeLSTM:
    states = ("a", "c")
    gates = ("f", "i", "o")

    def shapes(self, n_x, n_a):
        out = {}
        for g in "fico":
            out["W" + g] = (n_a, n_a + n_x)
            out["b" + g] = (n_a, 1)
            if g != "c":
                out["p" + g] = (n_a, 1)  # the peephole weights
        return out

    def init(self, n_x, n_a, rng):
        params = {}
        for name, shape in self.shapes(n_x, n_a).items():
            if name.startswith("W"):
                params[name] = rng.standard_normal(shape) * np.sqrt(2.0 / (shape[0] + shape[1]))
            else:
                params[name] = np.zeros(shape)
        params["bf"][:] = 1.0  # remember by default, as for the built-in LSTM
        return params

    def step_forward(self, params, xt, state):
        a_prev, c_prev = state
        concat = np.concatenate([a_prev, xt])
        ft = sigmoid(params["Wf"] @ concat + params["pf"] * c_prev + params["bf"])
        it = sigmoid(params["Wi"] @ concat + params["pi"] * c_prev + params["bi"])
        cct = np.tanh(params["Wc"] @ concat + params["bc"])
        c_next = ft * c_prev + it * cct
        ot = sigmoid(params["Wo"] @ concat + params["po"] * c_next + params["bo"])
        a_next = ot * np.tanh(c_next)
        cache = (concat, c_prev, ft, it, cct, c_next, ot)
        return (a_next, c_next), cache

    def step_backward(self, params, dstate, cache):
        da_next, dc_next = dstate
        concat, c_prev, ft, it, cct, c_next, ot = cache
        n_a = c_prev.shape[0]
        tc = np.tanh(c_next)
        dzo = da_next * tc * ot * (1 - ot)  # a_next = ot * tanh(c_next)
        # c_next reaches the loss directly, through a_next, and through the output gate
        dc = dc_next + da_next * ot * (1 - tc**2) + dzo * params["po"]
        dzf = dc * c_prev * ft * (1 - ft)
        dzi = dc * cct * it * (1 - it)
        dzc = dc * it * (1 - cct**2)
        dparams = {}
        dconcat = 0
        for g, dz in (("f", dzf), ("i", dzi), ("c", dzc), ("o", dzo)):
            dparams["W" + g] = dz @ concat.T
            dparams["b" + g] = dz.sum(axis=1, keepdims=True)
            dconcat = dconcat + params["W" + g].T @ dz
        dparams["pf"] = (dzf * c_prev).sum(axis=1, keepdims=True)
        dparams["pi"] = (dzi * c_prev).sum(axis=1, keepdims=True)
        dparams["po"] = (dzo * c_next).sum(axis=1, keepdims=True)
        dc_prev = dc * ft + dzf * params["pf"] + dzi * params["pi"]
        return (dconcat[:n_a], dc_prev), dconcat[n_a:], dparams

    def gate_values(self, cache):
        _, _, ft, it, _, _, ot = cache
        return {"f": ft, "i": it, "o": ot}
