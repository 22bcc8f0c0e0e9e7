"""The LSTM of Hochreiter & Schmidhuber (1997), without the forget gate that Gers et al.
added in 2000, as it is usually written today (tanh for the paper's squashing functions
g and h): ``rnncli train --cell examples/cells/lstm1997.py:LSTM1997``.

The cell state only ever adds ("constant error carousel"):

    it = sigmoid(Wi concat + bi)        concat = [a_prev; xt]
    cct = tanh(Wc concat + bc)
    c_next = c_prev + it * cct
    ot = sigmoid(Wo concat + bo)
    a_next = ot * tanh(c_next)
"""

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


class LSTM1997:
    states = ("a", "c")
    gates = ("i", "o")

    def shapes(self, n_x, n_a):
        out = {}
        for g in "ico":
            out["W" + g] = (n_a, n_a + n_x)
            out["b" + g] = (n_a, 1)
        return out

    def step_forward(self, params, xt, state):
        a_prev, c_prev = state
        concat = np.concatenate([a_prev, xt])
        it = sigmoid(params["Wi"] @ concat + params["bi"])
        cct = np.tanh(params["Wc"] @ concat + params["bc"])
        c_next = c_prev + it * cct  # no forget gate: the carousel keeps everything
        ot = sigmoid(params["Wo"] @ concat + params["bo"])
        a_next = ot * np.tanh(c_next)
        return (a_next, c_next), (concat, it, cct, c_next, ot)

    def step_backward(self, params, dstate, cache):
        da_next, dc_next = dstate
        concat, it, cct, c_next, ot = cache
        n_a = c_next.shape[0]
        tc = np.tanh(c_next)
        dc = dc_next + da_next * ot * (1 - tc**2)  # directly and through a_next
        dzo = da_next * tc * ot * (1 - ot)
        dzi = dc * cct * it * (1 - it)
        dzc = dc * it * (1 - cct**2)
        dparams = {}
        dconcat = 0
        for g, dz in (("i", dzi), ("c", dzc), ("o", dzo)):
            dparams["W" + g] = dz @ concat.T
            dparams["b" + g] = dz.sum(axis=1, keepdims=True)
            dconcat = dconcat + params["W" + g].T @ dz
        return (dconcat[:n_a], dc), dconcat[n_a:], dparams  # dc_prev = dc: c_prev is added

    def gate_values(self, cache):
        _, it, _, _, ot = cache
        return {"i": it, "o": ot}
