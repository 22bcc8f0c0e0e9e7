"""The notebook's RNN, LSTM and GRU, forward and backward, written out literally.

This is the readable reference ("Building a Recurrent Neural Network - Step by Step",
Coursera) and the test oracle for the fast engine: one example-batch at a time, one
time step at a time, with the notebook's names, layouts and caches.

Layout (as in the notebook): a batch of m examples is a column each.

    xt: (n_x, m)          one time step of input
    x:  (n_x, m, T_x)     a whole sequence
    a_prev, a_next, c_*:  (n_a, m)
    a, c:                 (n_a, m, T_x)
    yt_pred: (n_y, m)     y, y_pred: (n_y, m, T_x)

Caches are tuples; a sequence's cache is `(list of cell caches, x)`. Gradient dicts use
the notebook's keys (`dxt`, `da_prev`, `dc_prev`, `dWax`, ...).

Differences from the notebook, none of which changes its printed numbers:
  * `sigmoid` / `softmax` come from `rnncli.activations` (no overflow, no NaN).
  * `rnn_backward` reads shapes from `caches[0]` and `x`, not `caches[1]`, so T_x = 1 works.
  * Arrays are allocated with the inputs' dtype, so float32 in gives float32 out.
  * Inputs are shape-checked on entry and a mismatch raises ValueError naming the array.
  * `lstm_backward` (the course's later version) and a GRU are added in the same style.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnncli.activations import sigmoid, softmax

Parameters = dict[str, np.ndarray]
Gradients = dict[str, np.ndarray]
Cache = tuple[Any, ...]  # one cell's cache
Caches = tuple[list[Cache], np.ndarray]  # a sequence's cache: (list of cell caches, x)


def _check_shape(name: str, array: np.ndarray, expected: tuple[int | str, ...], why: str) -> None:
    """Raise ValueError unless array.shape matches expected.

    A str entry of `expected` ("m", "T_x") matches any size and only names it.
    Message: "xt has shape (4, 10) but Wax expects n_x = 3: expected (3, 10)".
    """
    shape = tuple(np.shape(array))
    if len(shape) == len(expected):
        # a str entry ("m", "T_x") takes the array's own size
        expected = tuple(
            s if isinstance(e, str) else e for e, s in zip(expected, shape, strict=True)
        )
        if shape == expected:
            return
    text = "(" + ", ".join(str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
    raise ValueError(f"{name} has shape {shape} but {why}: expected {text}")


# --------------------------------------------------------------------------------------
# Basic RNN
# --------------------------------------------------------------------------------------


def rnn_cell_forward(
    xt: np.ndarray, a_prev: np.ndarray, parameters: Parameters
) -> tuple[np.ndarray, np.ndarray, Cache]:
    """One step of the basic RNN.

        a_next  = tanh(Wax xt + Waa a_prev + ba)
        yt_pred = softmax(Wya a_next + by)

    xt: (n_x, m), a_prev: (n_a, m); parameters: Wax (n_a, n_x), Waa (n_a, n_a),
    Wya (n_y, n_a), ba (n_a, 1), by (n_y, 1).
    Returns a_next (n_a, m), yt_pred (n_y, m), cache = (a_next, a_prev, xt, parameters).
    """
    Wax = parameters["Wax"]
    Waa = parameters["Waa"]
    Wya = parameters["Wya"]
    ba = parameters["ba"]
    by = parameters["by"]
    n_a, n_x = Wax.shape
    _check_shape("xt", xt, (n_x, "m"), f"Wax expects n_x = {n_x}")
    m = xt.shape[1]
    _check_shape("a_prev", a_prev, (n_a, m), f"Wax expects n_a = {n_a} and xt has m = {m}")

    a_next = np.tanh(np.dot(Wax, xt) + np.dot(Waa, a_prev) + ba)
    yt_pred = softmax(np.dot(Wya, a_next) + by)

    cache = (a_next, a_prev, xt, parameters)
    return a_next, yt_pred, cache


def rnn_forward(
    x: np.ndarray, a0: np.ndarray, parameters: Parameters
) -> tuple[np.ndarray, np.ndarray, Caches]:
    """The basic RNN over a whole sequence: rnn_cell_forward for t = 0 .. T_x-1.

    x: (n_x, m, T_x), a0: (n_a, m).
    Returns a (n_a, m, T_x), y_pred (n_y, m, T_x), caches = (list of T_x cell caches, x).
    """
    n_y, n_a = parameters["Wya"].shape
    n_x = parameters["Wax"].shape[1]
    _check_shape("x", x, (n_x, "m", "T_x"), f"Wax expects n_x = {n_x}")
    n_x, m, T_x = x.shape
    _check_shape("a0", a0, (n_a, m), f"Wya expects n_a = {n_a} and x has m = {m}")

    caches = []
    dtype = np.result_type(x, a0, parameters["Wax"])
    a = np.zeros((n_a, m, T_x), dtype=dtype)
    y_pred = np.zeros((n_y, m, T_x), dtype=dtype)

    a_next = a0
    for t in range(T_x):
        a_next, yt_pred, cache = rnn_cell_forward(x[:, :, t], a_next, parameters)
        a[:, :, t] = a_next
        y_pred[:, :, t] = yt_pred
        caches.append(cache)

    return a, y_pred, (caches, x)


def rnn_cell_backward(da_next: np.ndarray, cache: Cache) -> Gradients:
    """Backward through one basic-RNN step (the softmax output is not included).

    da_next: (n_a, m), dL/da_next; cache from rnn_cell_forward.
    With dz = da_next * (1 - a_next**2), the gradient at tanh's input:
        dxt = Wax^T dz,   da_prev = Waa^T dz,
        dWax = dz xt^T,   dWaa = dz a_prev^T,   dba = sum over m of dz.
    Returns {dxt (n_x, m), da_prev (n_a, m), dWax, dWaa, dba} (each shaped like its array).
    """
    (a_next, a_prev, xt, parameters) = cache
    Wax = parameters["Wax"]
    Waa = parameters["Waa"]
    _check_shape("da_next", da_next, a_next.shape, f"a_next in cache has shape {a_next.shape}")

    dtanh = 1 - np.power(a_next, 2)  # tanh'(z) = 1 - tanh(z)^2
    dz = da_next * dtanh  # gradient at the tanh's input

    dxt = np.dot(Wax.T, dz)  # z = Wax xt + ...
    dWax = np.dot(dz, xt.T)
    da_prev = np.dot(Waa.T, dz)  # z = ... + Waa a_prev + ...
    dWaa = np.dot(dz, a_prev.T)
    dba = np.sum(dz, axis=1, keepdims=True)  # ba is broadcast over the m columns

    return {"dxt": dxt, "da_prev": da_prev, "dWax": dWax, "dWaa": dWaa, "dba": dba}


def rnn_backward(da: np.ndarray, caches: Caches) -> Gradients:
    """Backward through the whole basic-RNN sequence.

    da: (n_a, m, T_x), dL/da[:, :, t] from upstream (the loss at every step); caches from
    rnn_forward. Walks t = T_x-1 .. 0, feeding each cell da[:, :, t] plus the da_prev
    carried back from step t+1, and sums the parameter gradients over time.
    Returns {dx (n_x, m, T_x), da0 (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a), dba (n_a, 1)}.
    """
    (cell_caches, x) = caches  # the notebook re-binds the name: (caches, x) = caches
    (a1, a0, x1, parameters) = cell_caches[0]  # the notebook reads caches[1]: fails at T_x = 1
    n_a, m = a1.shape
    n_x, T_x = x1.shape[0], len(cell_caches)
    _check_shape("da", da, (n_a, m, T_x), f"caches hold {T_x} steps of shape ({n_a}, {m})")

    dtype = np.result_type(da, x)
    dx = np.zeros((n_x, m, T_x), dtype=dtype)
    dWax = np.zeros((n_a, n_x), dtype=dtype)
    dWaa = np.zeros((n_a, n_a), dtype=dtype)
    dba = np.zeros((n_a, 1), dtype=dtype)
    da_prevt = np.zeros((n_a, m), dtype=dtype)

    for t in reversed(range(T_x)):
        # a[t] feeds both the loss at t and the step t+1: add the two gradients
        gradients = rnn_cell_backward(da[:, :, t] + da_prevt, cell_caches[t])
        dx[:, :, t] = gradients["dxt"]
        da_prevt = gradients["da_prev"]
        dWax += gradients["dWax"]  # the same weights are used at every step
        dWaa += gradients["dWaa"]
        dba += gradients["dba"]

    da0 = da_prevt
    return {"dx": dx, "da0": da0, "dWax": dWax, "dWaa": dWaa, "dba": dba}


# --------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------


def lstm_cell_forward(
    xt: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray, parameters: Parameters
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Cache]:
    """One LSTM step. With concat = [a_prev; xt] of shape (n_a + n_x, m):

        ft  = sigmoid(Wf concat + bf)         forget gate
        it  = sigmoid(Wi concat + bi)         update (input) gate
        cct = tanh(Wc concat + bc)            candidate memory c~
        c_next = ft * c_prev + it * cct
        ot  = sigmoid(Wo concat + bo)         output gate
        a_next = ot * tanh(c_next)
        yt_pred = softmax(Wy a_next + by)

    xt: (n_x, m), a_prev: (n_a, m), c_prev: (n_a, m); parameters: Wf, Wi, Wc, Wo
    (n_a, n_a + n_x), bf, bi, bc, bo (n_a, 1), Wy (n_y, n_a), by (n_y, 1).
    Returns a_next, c_next (n_a, m), yt_pred (n_y, m),
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters).
    """
    Wf = parameters["Wf"]
    bf = parameters["bf"]
    Wi = parameters["Wi"]
    bi = parameters["bi"]
    Wc = parameters["Wc"]
    bc = parameters["bc"]
    Wo = parameters["Wo"]
    bo = parameters["bo"]
    Wy = parameters["Wy"]
    by = parameters["by"]
    n_y, n_a = Wy.shape
    n_x = Wf.shape[1] - n_a
    _check_shape("xt", xt, (n_x, "m"), f"Wf expects n_x = {n_x}")
    m = xt.shape[1]
    _check_shape("a_prev", a_prev, (n_a, m), f"Wy expects n_a = {n_a} and xt has m = {m}")
    _check_shape("c_prev", c_prev, (n_a, m), f"Wy expects n_a = {n_a} and xt has m = {m}")

    concat = np.zeros((n_a + n_x, m), dtype=np.result_type(a_prev, xt))
    concat[:n_a, :] = a_prev
    concat[n_a:, :] = xt

    ft = sigmoid(np.dot(Wf, concat) + bf)
    it = sigmoid(np.dot(Wi, concat) + bi)
    cct = np.tanh(np.dot(Wc, concat) + bc)
    c_next = ft * c_prev + it * cct
    ot = sigmoid(np.dot(Wo, concat) + bo)
    a_next = ot * np.tanh(c_next)

    yt_pred = softmax(np.dot(Wy, a_next) + by)

    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)
    return a_next, c_next, yt_pred, cache


def lstm_forward(
    x: np.ndarray, a0: np.ndarray, parameters: Parameters
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Caches]:
    """The LSTM over a whole sequence, starting from a0 and c0 = 0.

    x: (n_x, m, T_x), a0: (n_a, m).
    Returns a (n_a, m, T_x), y (n_y, m, T_x), c (n_a, m, T_x),
    caches = (list of T_x cell caches, x).
    """
    n_y, n_a = parameters["Wy"].shape
    n_x = parameters["Wf"].shape[1] - n_a
    _check_shape("x", x, (n_x, "m", "T_x"), f"Wf expects n_x = {n_x}")
    n_x, m, T_x = x.shape
    _check_shape("a0", a0, (n_a, m), f"Wy expects n_a = {n_a} and x has m = {m}")

    caches = []
    dtype = np.result_type(x, a0, parameters["Wf"])
    a = np.zeros((n_a, m, T_x), dtype=dtype)
    c = np.zeros((n_a, m, T_x), dtype=dtype)
    y = np.zeros((n_y, m, T_x), dtype=dtype)

    a_next = a0
    c_next = np.zeros((n_a, m), dtype=dtype)
    for t in range(T_x):
        a_next, c_next, yt, cache = lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)
        a[:, :, t] = a_next
        y[:, :, t] = yt
        c[:, :, t] = c_next
        caches.append(cache)

    return a, y, c, (caches, x)


def lstm_cell_backward(da_next: np.ndarray, dc_next: np.ndarray, cache: Cache) -> Gradients:
    """Backward through one LSTM step (the softmax output is not included).

    da_next, dc_next: (n_a, m), dL/da_next and dL/dc_next; cache from lstm_cell_forward.
    The gradient reaching c_next is dc = da_next * ot * (1 - tanh(c_next)^2) + dc_next;
    each gate's gradient at its pre-activation is then (d gate) * (gate's derivative):
        dot  = da_next * tanh(c_next) * ot * (1 - ot)
        dcct = dc * it * (1 - cct^2)
        dit  = dc * cct * it * (1 - it)
        dft  = dc * c_prev * ft * (1 - ft)
    and each gate's W, b and concat = [a_prev; xt] get the usual affine gradients.
    Returns {dxt (n_x, m), da_prev (n_a, m), dc_prev (n_a, m),
             dWf, dbf, dWi, dbi, dWc, dbc, dWo, dbo} (each shaped like its array).
    """
    (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters) = cache
    Wf = parameters["Wf"]
    Wi = parameters["Wi"]
    Wc = parameters["Wc"]
    Wo = parameters["Wo"]
    n_x, m = xt.shape
    n_a, m = a_next.shape
    _check_shape("da_next", da_next, a_next.shape, f"a_next in cache has shape {a_next.shape}")
    _check_shape("dc_next", dc_next, c_next.shape, f"c_next in cache has shape {c_next.shape}")

    # c_next reaches the loss directly (dc_next) and through a_next = ot * tanh(c_next)
    dc = da_next * ot * (1 - np.power(np.tanh(c_next), 2)) + dc_next

    dot = da_next * np.tanh(c_next) * ot * (1 - ot)  # a_next = ot * tanh(c_next)
    dcct = dc * it * (1 - np.power(cct, 2))  # c_next = ... + it * cct, cct = tanh(.)
    dit = dc * cct * it * (1 - it)  # c_next = ... + it * cct, it = sigmoid(.)
    dft = dc * c_prev * ft * (1 - ft)  # c_next = ft * c_prev + ..., ft = sigmoid(.)

    concat = np.zeros((n_a + n_x, m), dtype=np.result_type(a_prev, xt))
    concat[:n_a, :] = a_prev
    concat[n_a:, :] = xt

    dWf = np.dot(dft, concat.T)  # each gate is W [a_prev; xt] + b
    dWi = np.dot(dit, concat.T)
    dWc = np.dot(dcct, concat.T)
    dWo = np.dot(dot, concat.T)
    dbf = np.sum(dft, axis=1, keepdims=True)  # b is broadcast over the m columns
    dbi = np.sum(dit, axis=1, keepdims=True)
    dbc = np.sum(dcct, axis=1, keepdims=True)
    dbo = np.sum(dot, axis=1, keepdims=True)

    # a_prev is the top n_a rows of concat, xt the bottom n_x rows; all four gates read them
    da_prev = (
        np.dot(Wf[:, :n_a].T, dft)
        + np.dot(Wc[:, :n_a].T, dcct)
        + np.dot(Wi[:, :n_a].T, dit)
        + np.dot(Wo[:, :n_a].T, dot)
    )
    dc_prev = dc * ft  # c_next = ft * c_prev + ...
    dxt = (
        np.dot(Wf[:, n_a:].T, dft)
        + np.dot(Wc[:, n_a:].T, dcct)
        + np.dot(Wi[:, n_a:].T, dit)
        + np.dot(Wo[:, n_a:].T, dot)
    )

    return {
        "dxt": dxt,
        "da_prev": da_prev,
        "dc_prev": dc_prev,
        "dWf": dWf,
        "dbf": dbf,
        "dWi": dWi,
        "dbi": dbi,
        "dWc": dWc,
        "dbc": dbc,
        "dWo": dWo,
        "dbo": dbo,
    }


def lstm_backward(da: np.ndarray, caches: Caches) -> Gradients:
    """Backward through the whole LSTM sequence (the course's later version).

    da: (n_a, m, T_x), dL/da[:, :, t] from upstream; caches from lstm_forward over T_x
    steps. Walks t = T_x-1 .. 0 carrying both da_prev and dc_prev back to step t-1.
    c0 is fixed at zero, so there is no dc0 output.
    Returns {dx (n_x, m, T_x), da0 (n_a, m), dWf, dWi, dWc, dWo (n_a, n_a + n_x),
             dbf, dbi, dbc, dbo (n_a, 1)}.
    """
    (cell_caches, x) = caches  # the notebook re-binds the name: (caches, x) = caches
    (a1, c1, a0, c0, f1, i1, cc1, o1, x1, parameters) = cell_caches[0]
    n_a, m = a1.shape
    n_x, T_x = x1.shape[0], len(cell_caches)
    _check_shape("da", da, (n_a, m, T_x), f"caches hold {T_x} steps of shape ({n_a}, {m})")

    dtype = np.result_type(da, x)
    dx = np.zeros((n_x, m, T_x), dtype=dtype)
    dWf = np.zeros((n_a, n_a + n_x), dtype=dtype)
    dWi = np.zeros((n_a, n_a + n_x), dtype=dtype)
    dWc = np.zeros((n_a, n_a + n_x), dtype=dtype)
    dWo = np.zeros((n_a, n_a + n_x), dtype=dtype)
    dbf = np.zeros((n_a, 1), dtype=dtype)
    dbi = np.zeros((n_a, 1), dtype=dtype)
    dbc = np.zeros((n_a, 1), dtype=dtype)
    dbo = np.zeros((n_a, 1), dtype=dtype)
    da_prevt = np.zeros((n_a, m), dtype=dtype)
    dc_prevt = np.zeros((n_a, m), dtype=dtype)

    for t in reversed(range(T_x)):
        # a[t] feeds the loss at t and step t+1; c[t] feeds only step t+1
        gradients = lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, cell_caches[t])
        dx[:, :, t] = gradients["dxt"]
        da_prevt = gradients["da_prev"]
        dc_prevt = gradients["dc_prev"]
        dWf += gradients["dWf"]  # the same weights are used at every step
        dWi += gradients["dWi"]
        dWc += gradients["dWc"]
        dWo += gradients["dWo"]
        dbf += gradients["dbf"]
        dbi += gradients["dbi"]
        dbc += gradients["dbc"]
        dbo += gradients["dbo"]

    da0 = da_prevt
    return {
        "dx": dx,
        "da0": da0,
        "dWf": dWf,
        "dbf": dbf,
        "dWi": dWi,
        "dbi": dbi,
        "dWc": dWc,
        "dbc": dbc,
        "dWo": dWo,
        "dbo": dbo,
    }


# --------------------------------------------------------------------------------------
# GRU (not in the notebook; same conventions as the LSTM)
# --------------------------------------------------------------------------------------


def gru_cell_forward(
    xt: np.ndarray, a_prev: np.ndarray, parameters: Parameters
) -> tuple[np.ndarray, np.ndarray, Cache]:
    """One GRU step. With concat = [a_prev; xt] of shape (n_a + n_x, m):

        zt = sigmoid(Wz concat + bz)                    update gate
        rt = sigmoid(Wr concat + br)                    reset gate
        aat = tanh(Wh [rt * a_prev; xt] + bh)           candidate state a~
        a_next = zt * aat + (1 - zt) * a_prev
        yt_pred = softmax(Wy a_next + by)

    xt: (n_x, m), a_prev: (n_a, m); parameters: Wz, Wr, Wh (n_a, n_a + n_x),
    bz, br, bh (n_a, 1), Wy (n_y, n_a), by (n_y, 1).
    Returns a_next (n_a, m), yt_pred (n_y, m),
    cache = (a_next, a_prev, zt, rt, aat, xt, parameters).
    """
    Wz = parameters["Wz"]
    bz = parameters["bz"]
    Wr = parameters["Wr"]
    br = parameters["br"]
    Wh = parameters["Wh"]
    bh = parameters["bh"]
    Wy = parameters["Wy"]
    by = parameters["by"]
    n_y, n_a = Wy.shape
    n_x = Wz.shape[1] - n_a
    _check_shape("xt", xt, (n_x, "m"), f"Wz expects n_x = {n_x}")
    m = xt.shape[1]
    _check_shape("a_prev", a_prev, (n_a, m), f"Wy expects n_a = {n_a} and xt has m = {m}")

    concat = np.zeros((n_a + n_x, m), dtype=np.result_type(a_prev, xt))
    concat[:n_a, :] = a_prev
    concat[n_a:, :] = xt

    zt = sigmoid(np.dot(Wz, concat) + bz)
    rt = sigmoid(np.dot(Wr, concat) + br)
    concat_r = concat.copy()
    concat_r[:n_a, :] = rt * a_prev  # the reset gate scales a_prev before the candidate
    aat = np.tanh(np.dot(Wh, concat_r) + bh)
    a_next = zt * aat + (1 - zt) * a_prev

    yt_pred = softmax(np.dot(Wy, a_next) + by)

    cache = (a_next, a_prev, zt, rt, aat, xt, parameters)
    return a_next, yt_pred, cache


def gru_forward(
    x: np.ndarray, a0: np.ndarray, parameters: Parameters
) -> tuple[np.ndarray, np.ndarray, Caches]:
    """The GRU over a whole sequence: gru_cell_forward for t = 0 .. T_x-1.

    x: (n_x, m, T_x), a0: (n_a, m).
    Returns a (n_a, m, T_x), y (n_y, m, T_x), caches = (list of T_x cell caches, x).
    """
    n_y, n_a = parameters["Wy"].shape
    n_x = parameters["Wz"].shape[1] - n_a
    _check_shape("x", x, (n_x, "m", "T_x"), f"Wz expects n_x = {n_x}")
    n_x, m, T_x = x.shape
    _check_shape("a0", a0, (n_a, m), f"Wy expects n_a = {n_a} and x has m = {m}")

    caches = []
    dtype = np.result_type(x, a0, parameters["Wz"])
    a = np.zeros((n_a, m, T_x), dtype=dtype)
    y = np.zeros((n_y, m, T_x), dtype=dtype)

    a_next = a0
    for t in range(T_x):
        a_next, yt, cache = gru_cell_forward(x[:, :, t], a_next, parameters)
        a[:, :, t] = a_next
        y[:, :, t] = yt
        caches.append(cache)

    return a, y, (caches, x)


def gru_cell_backward(da_next: np.ndarray, cache: Cache) -> Gradients:
    """Backward through one GRU step (the softmax output is not included).

    da_next: (n_a, m), dL/da_next; cache from gru_cell_forward.
    From a_next = zt * aat + (1 - zt) * a_prev:
        d aat = da_next * zt,   d zt = da_next * (aat - a_prev),   da_prev += da_next * (1 - zt)
    then through aat = tanh(Wh [rt * a_prev; xt] + bh), the gates' sigmoids, and
    concat = [a_prev; xt] into every gate.
    Returns {dxt (n_x, m), da_prev (n_a, m), dWz, dbz, dWr, dbr, dWh, dbh}.
    """
    (a_next, a_prev, zt, rt, aat, xt, parameters) = cache
    Wz = parameters["Wz"]
    Wr = parameters["Wr"]
    Wh = parameters["Wh"]
    n_x, m = xt.shape
    n_a, m = a_next.shape
    _check_shape("da_next", da_next, a_next.shape, f"a_next in cache has shape {a_next.shape}")

    concat = np.zeros((n_a + n_x, m), dtype=np.result_type(a_prev, xt))
    concat[:n_a, :] = a_prev
    concat[n_a:, :] = xt
    concat_r = concat.copy()
    concat_r[:n_a, :] = rt * a_prev

    # a_next = zt * aat + (1 - zt) * a_prev
    daat = da_next * zt  # d a_next / d aat = zt
    dzt = da_next * (aat - a_prev) * zt * (1 - zt)  # d a_next / d zt, through the sigmoid
    da_prev = da_next * (1 - zt)  # the direct path a_prev -> a_next

    # aat = tanh(Wh [rt * a_prev; xt] + bh)
    dh = daat * (1 - np.power(aat, 2))  # through the tanh
    dWh = np.dot(dh, concat_r.T)
    dbh = np.sum(dh, axis=1, keepdims=True)  # b is broadcast over the m columns
    dra = np.dot(Wh[:, :n_a].T, dh)  # gradient at rt * a_prev
    dxt = np.dot(Wh[:, n_a:].T, dh)
    drt = dra * a_prev * rt * (1 - rt)  # through rt * a_prev, then the sigmoid
    da_prev += dra * rt  # a_prev inside rt * a_prev

    # zt, rt = sigmoid(W [a_prev; xt] + b)
    dWz = np.dot(dzt, concat.T)
    dbz = np.sum(dzt, axis=1, keepdims=True)
    dWr = np.dot(drt, concat.T)
    dbr = np.sum(drt, axis=1, keepdims=True)
    da_prev += np.dot(Wz[:, :n_a].T, dzt) + np.dot(Wr[:, :n_a].T, drt)  # a_prev in the gates
    dxt += np.dot(Wz[:, n_a:].T, dzt) + np.dot(Wr[:, n_a:].T, drt)  # xt in the gates

    return {
        "dxt": dxt,
        "da_prev": da_prev,
        "dWz": dWz,
        "dbz": dbz,
        "dWr": dWr,
        "dbr": dbr,
        "dWh": dWh,
        "dbh": dbh,
    }


def gru_backward(da: np.ndarray, caches: Caches) -> Gradients:
    """Backward through the whole GRU sequence.

    da: (n_a, m, T_x), dL/da[:, :, t] from upstream; caches from gru_forward.
    Walks t = T_x-1 .. 0 carrying da_prev back to step t-1, summing parameter gradients.
    Returns {dx (n_x, m, T_x), da0 (n_a, m), dWz, dWr, dWh (n_a, n_a + n_x),
             dbz, dbr, dbh (n_a, 1)}.
    """
    (cell_caches, x) = caches  # the notebook re-binds the name: (caches, x) = caches
    (a1, a0, z1, r1, aa1, x1, parameters) = cell_caches[0]
    n_a, m = a1.shape
    n_x, T_x = x1.shape[0], len(cell_caches)
    _check_shape("da", da, (n_a, m, T_x), f"caches hold {T_x} steps of shape ({n_a}, {m})")

    dtype = np.result_type(da, x)
    dx = np.zeros((n_x, m, T_x), dtype=dtype)
    dWz = np.zeros((n_a, n_a + n_x), dtype=dtype)
    dWr = np.zeros((n_a, n_a + n_x), dtype=dtype)
    dWh = np.zeros((n_a, n_a + n_x), dtype=dtype)
    dbz = np.zeros((n_a, 1), dtype=dtype)
    dbr = np.zeros((n_a, 1), dtype=dtype)
    dbh = np.zeros((n_a, 1), dtype=dtype)
    da_prevt = np.zeros((n_a, m), dtype=dtype)

    for t in reversed(range(T_x)):
        # a[t] feeds both the loss at t and the step t+1: add the two gradients
        gradients = gru_cell_backward(da[:, :, t] + da_prevt, cell_caches[t])
        dx[:, :, t] = gradients["dxt"]
        da_prevt = gradients["da_prev"]
        dWz += gradients["dWz"]  # the same weights are used at every step
        dWr += gradients["dWr"]
        dWh += gradients["dWh"]
        dbz += gradients["dbz"]
        dbr += gradients["dbr"]
        dbh += gradients["dbh"]

    da0 = da_prevt
    return {
        "dx": dx,
        "da0": da0,
        "dWz": dWz,
        "dbz": dbz,
        "dWr": dWr,
        "dbr": dbr,
        "dWh": dWh,
        "dbh": dbh,
    }
