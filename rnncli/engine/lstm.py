"""Fused LSTM kernels on time-major buffers.

Per step, with ``Z_t = Wa a_{t-1} + Wx x_t + b`` split into gate blocks (o, i, f, g)::

    o, i, f = sigmoid(Z_t[o, i, f])     g = tanh(Z_t[g])          (g is the notebook's cct)
    c_t = f * c_{t-1} + i * g           a_t = o * tanh(c_t)

c_0 = 0 as in the notebook unless given. Shapes: X: (T, n_x, m), Z: (T, 4 n_a, m),
A: (T+1, n_a, m).

At small sizes the time goes on calling NumPy (~0.5 µs a call, more than the arithmetic),
so the buffers are laid out for few calls:

* Y: (T+1, 3 n_a, m) holds per step [tanh(c_t), g_t, c_{t-1}]. In the forward pass
  ``[i, f] * [g, c_{t-1}]`` is one multiply and c_t one add of its halves; in the
  backward pass ``sigmoid'([o, i, f]) * [tanh(c_t), g, c_{t-1}]`` is one multiply, and
  ``[o, i] * (1 - [tanh(c_t), g]^2)`` three calls for two coefficients.
* K: (T+1, 5, n_a, m) holds per step the coefficients [Ko, Ki, Kf, Kg, f] that map the
  gradient on a_t (Ko) or on c_t (the rest) to a gate's pre-activation or to c_{t-1}.
  The loop overwrites them in place with [do, di, df, dg, dc_{t-1}]: one broadcast
  multiply for four products, and K[t, :4] is then step t's dZ_t for the GEMM.

Ten NumPy calls per step forward, six backward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncli.engine import blas
from rnncli.engine.epilogue import stacked_inputs, weight_grads
from rnncli.engine.fastcall import dot
from rnncli.engine.layout import Layer
from rnncli.workspace import Workspace

#: The backward coefficients are computed this many bytes of Z, Y and K at a time.
CHUNK_BYTES = 3 << 19


@dataclass
class Cache:
    X: np.ndarray  # (T, n_x, m)
    A: np.ndarray  # (T+1, n_a, m), A[0] = a0 (a strided view: rows of the GEMM inputs)
    C: np.ndarray  # (T+1, n_a, m), C[0] = c0            (C, G, TC are views into _Y)
    G: np.ndarray  # (T, n_a, m) candidate values g_t
    TC: np.ndarray  # (T, n_a, m) tanh(c_t)
    Z: np.ndarray  # (T, 4 n_a, m) gate values o, i, f; rows g: g's pre-activation
    _Y: np.ndarray  # (T+1, 3 n_a, m): [tanh(c_t), g_t, c_{t-1}] per step


def forward(
    p: Layer,
    X: np.ndarray,
    a0: np.ndarray,
    c0: np.ndarray | None = None,
    ws: Workspace | None = None,
) -> Cache:
    """X: (T, n_x, m), a0 and c0: (n_a, m) (c0 = 0 if None)."""
    ws = Workspace() if ws is None else ws
    T, n_x, m = X.shape
    n, dt = p.n_a, X.dtype
    k = n + n_x
    # Step t's GEMM input [a_{t-1}; x_t; 1] is B[t]: (k+1, m), so that one product with
    # [Wa | Wx | b] gives Z_t; the loop writes a_t into B[t+1]. This replaces the input
    # projection GEMM, the bias pass over Z and an add per step (the product's extra
    # n_x + 1 columns cost less than those: medium float32, 6.3 -> 5.4 ms forward).
    B = ws.get("B", (T + 1, k + 1, m), dt)
    A = B[:, :n]  # (T+1, n_a, m), each A[t] contiguous
    np.copyto(B[:T, n:k], X)
    B[:T, k] = 1
    A[0] = a0
    Wb = ws.get("Wb", (4 * n, k + 1), dt)  # [Wa | Wx | b], contiguous
    np.copyto(Wb[:, :k], p.W)
    np.copyto(Wb[:, k:], p.b)
    Z = ws.get("Z", (T, 4 * n, m), dt)
    Y = ws.get("Y", (T + 1, 3 * n, m), dt)
    C = Y[:, 2 * n :]
    C[0] = 0 if c0 is None else c0
    prod = ws.get("prod", (2 * n, m), dt)
    ig, fc = prod[:n], prod[n:]
    one = ws.one(dt)
    gemm = blas.gemm_for(dt)

    def step(t: int) -> tuple[Any, ...]:  # the views step t works on
        z, y = Z[t], Y[t]
        o, s, i_f, zg = z[:n], z[: 3 * n], z[n : 3 * n], z[3 * n :]
        tc, g, g_c = y[:n], y[n : 2 * n], y[n:]
        return (*gemm.call(Wb, B[t], z), s, zg, g, i_f, g_c, C[t + 1], tc, o, A[t + 1])

    # (the products are bound to the active GEMM, one object per choice: one of the keys)
    steps = ws.views("lstm.forward", (Z, Y, B, Wb, gemm), lambda: [step(t) for t in range(T)])
    add, multiply, tanh = np.add, np.multiply, np.tanh  # `out` positional: see fastcall
    with np.errstate(over="ignore"):  # exp(-z) -> inf gives sigmoid 0, as it should
        for product, args, s, zg, g, i_f, g_c, c, tc, o, a in steps:
            product(*args)  # Z_t = Wa a_{t-1} + Wx x_t + b
            np.negative(s, s)  # o, i, f: sigmoid = 1 / (1 + exp(-z))
            np.exp(s, s)
            add(s, one, s)
            np.reciprocal(s, s)
            tanh(zg, g)  # g, next to c_{t-1}
            multiply(i_f, g_c, prod)  # [i * g, f * c_{t-1}]
            add(ig, fc, c)  # c_t
            tanh(c, tc)
            multiply(o, tc, a)  # a_t = o * tanh(c_t)
    return Cache(X, A, C, Y[:T, n : 2 * n], Y[:T, :n], Z, Y)


def backward(
    p: Layer,
    cache: Cache,
    dA: np.ndarray,
    grads: Layer,
    need_dx: bool = True,
    ws: Workspace | None = None,
    AX: np.ndarray | None = None,
    consume: bool = False,
    record: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray | None, np.ndarray]:
    """Back-propagate dA: (T, n_a, m) through time; write dW and db into `grads`.

    AX: the stacked inputs (`epilogue.stacked_inputs`) if the caller already has them.
    consume: reuse the cache's memory for temporaries (two buffers less); the cache is
    invalid afterwards.
    record: if given, gets ``record["a"]`` and ``record["c"]``: (T, n_a, m), the total
    gradient on each a_t and on each c_t (through a_t and through c_{t+1}).
    Returns (dX (T, n_x, m) or None, da0 (n_a, m)), both fresh (dX is a transposed view
    of a new (n_x, T, m) array).
    """
    ws = Workspace() if ws is None else ws
    X, A, Z, Y = cache.X, cache.A, cache.Z, cache._Y
    T, n, m = dA.shape
    dt = dA.dtype
    Z4 = Z.reshape(T, 4, n, m)  # o, i, f, (g)
    one = ws.one(dt)
    # Step-independent coefficients, in bulk (see the module docstring), a chunk of steps
    # at a time just before the loop needs them: the chunk's Z, Y and K stay in L2 cache
    # across the eight passes and for the loop (medium float32: 870 -> 600 µs in bulk).
    K = ws.get("K", (T + 1, 5, n, m), dt)
    Y4 = Y[:T].reshape(T, 3, n, m)
    TG = Y4[:, :2]  # tanh(c_t), g
    KcKg_buffer = Y if consume else ws.get("KcKg", (T, 2, n, m), dt)  # (stable for `views`)
    KcKg = TG if consume else KcKg_buffer
    Kc = KcKg[:, 0]
    K[T, 4] = 0  # nothing flows into c_T from beyond the last step

    def coefficients(t0: int, t1: int) -> None:
        Kt, S = K[t0:t1], Z4[t0:t1, :3]
        np.subtract(one, S, Kt[:, :3])
        Kt[:, :3] *= S  # sigmoid' = s (1 - s)
        Kt[:, :3] *= Y4[t0:t1]  # a_t = o tanh(c_t), c_t = i g + f c_{t-1}
        kckg = KcKg[t0:t1]
        np.multiply(TG[t0:t1], TG[t0:t1], kckg)
        np.subtract(one, kckg, kckg)
        kckg *= Z4[t0:t1, :2]  # o tanh'(c_t) = dc_t / da_t, i tanh'(g) (tanh' = 1 - tanh^2)
        np.copyto(Kt[:, 3], kckg[:, 1])
        np.copyto(Kt[:, 4], Z4[t0:t1, 2])  # dc_{t-1} = f dc_t

    per_chunk = max(1, CHUNK_BYTES // (12 * n * m * dt.itemsize))  # Z, Y, K: 12 n_a m
    chunks = [(t0, min(t0 + per_chunk, T)) for t0 in range(0, T, per_chunk)]
    da = ws.get("da", (n, m), dt)  # gradient carried into a_{t-1}
    dct = ws.get("dct", (n, m), dt)  # total gradient on c_t
    da.fill(0)

    WaT = ws.get("WaT", (n, 4 * n), dt)  # contiguous: BLAS runs it ~30% faster than Wa.T
    np.copyto(WaT, p.Wa.T)
    gemm = blas.gemm_for(dt)

    def step(t: int) -> tuple[Any, ...]:  # the views step t works on
        k = K[t]
        dz = k[:4].reshape(4 * n, m)
        return dA[t], k[0], Kc[t], K[t + 1, 4], k[1:], dz, *gemm.call(WaT, dz, da)

    buffers = (dA, K, KcKg_buffer, WaT, da, gemm)
    steps = ws.views("lstm.backward", buffers, lambda: [step(t) for t in range(T)])
    add, multiply = np.add, np.multiply  # `out` positional: see fastcall
    if record is None:
        for t0, t1 in reversed(chunks):
            coefficients(t0, t1)
            for dA_t, k_o, kc, dc_next, k_ifgc, _, product, args in reversed(steps[t0:t1]):
                add(da, dA_t, da)  # total gradient on a_t
                multiply(da, kc, dct)  # into c_t through a_t ...
                add(dct, dc_next, dct)  # ... and from c_{t+1}
                multiply(da, k_o, k_o)  # d pre_o
                multiply(k_ifgc, dct, k_ifgc)  # [d pre_i, d pre_f, d pre_g, into c_{t-1}]
                product(*args)  # da = Wa^T dz: into a_{t-1}
    else:  # the same loop, keeping each total (a loop of its own: training never pays)
        coefficients(0, T)
        kept_a = record["a"] = np.empty((T, n, m), dt)
        kept_c = record["c"] = np.empty((T, n, m), dt)
        for (dA_t, k_o, kc, dc_next, k_ifgc, dz, _, _), ka, kc_t in zip(
            reversed(steps), kept_a[::-1], kept_c[::-1], strict=True
        ):
            add(da, dA_t, da)
            np.copyto(ka, da)
            multiply(da, kc, dct)
            add(dct, dc_next, dct)
            np.copyto(kc_t, dct)
            multiply(da, k_o, k_o)
            multiply(k_ifgc, dct, k_ifgc)
            dot(WaT, dz, da)
    # Weight gradients as sums over steps and examples: one GEMM each, on dZ laid out
    # (4 n_a, T, m) (in Z's memory when the cache may be consumed).
    dZt = Z.reshape(4 * n, T, m) if consume else ws.get("dZt", (4 * n, T, m), dt)
    np.copyto(dZt, K[:T, :4].reshape(T, 4 * n, m).transpose(1, 0, 2))
    dZ2 = dZt.reshape(4 * n, T * m)
    if AX is None:
        AX = stacked_inputs(ws, A, X)
    return weight_grads(p, ws, dZ2, AX, grads, need_dx), da.copy()


def gate_values(cache: Cache) -> np.ndarray:
    """A copy of Z with every gate's value, g included (Z's g rows keep g's
    pre-activation, since g itself lives next to c_{t-1}): (T, 4 n_a, m), rows o, i, f, g."""
    Z = cache.Z.copy()
    n = cache.G.shape[1]
    Z[:, 3 * n :] = cache.G
    return Z


def hidden(cache: Cache) -> np.ndarray:
    """a_1..a_T: (T, n_a, m)."""
    return cache.A[1:]
