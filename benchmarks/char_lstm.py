"""Char-LSTM training, float32: rnncli's engine against PyTorch and JAX, side by side.

The same model (one-layer LSTM on one-hot characters, a softmax output layer), the same
initial parameters, the same batches (m windows of bptt + 1 characters from a seeded
generator, zero initial state), the same loss (cross-entropy summed over steps, averaged
over the batch), the same global-norm clipping (5) and Adam (lr 2e-3, eps 1e-8), in
three implementations:

    rnncli   `engine.train_step` + `training.optim` (what `rnncli train` runs per step)
    torch    nn.LSTM + nn.Linear + CrossEntropyLoss, clip_grad_norm_, optim.Adam
             (oneDNN on, PyTorch's default threads)
    jax      one jit-compiled update: value_and_grad over lax.scan, clipping and Adam

Each round every implementation takes `--chunk` updates in turn (order reversed every
other round, a pause between them for spinning BLAS/OpenMP threads), timed; reported are
each one's median updates per second, characters per second (m * bptt per update) and
the median over rounds of each paired ratio (peer time / rnncli time: > 1, rnncli is
faster). After the rounds all three have taken the same updates, and each model's
held-out loss (per character, on a fixed held-out slice, evaluated by rnncli's engine in
float64 on its parameters) is printed next to the others.

    PYTHONPATH=. python benchmarks/char_lstm.py --hidden 128,256 --bptt 25,50,100
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rnncli import engine  # noqa: E402
from rnncli.engine import blas  # noqa: E402
from rnncli.training import optim  # noqa: E402
from rnncli.training.throughput import _corpus  # noqa: E402

LR, CLIP, EPS, PAUSE_S = 2e-3, 5.0, 1e-8, 0.3
THREADS = 0  # --threads: rnncli's and PyTorch's (0: each one's default)


def data(chars: int = 400_000) -> tuple[np.ndarray, np.ndarray, int]:
    """Training and held-out symbol streams of the throughput corpus, and the vocabulary."""
    text = _corpus(chars)
    vocab = sorted(set(text))
    ids = np.array([vocab.index(c) for c in text], dtype=np.int64)
    cut = int(0.9 * len(ids))
    return ids[:cut], ids[cut:], len(vocab)


def batches(ids: np.ndarray, m: int, T: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` batches of m windows of T + 1 symbols: (T + 1, m) each."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        starts = rng.integers(0, len(ids) - T - 1, m)
        out.append(np.stack([ids[s : s + T + 1] for s in starts], axis=1))
    return out


def init_params(V: int, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Notebook-named LSTM parameters (Wf, bf, Wi, bi, Wc, bc, Wo, bo, Wy, by), float32."""
    rng = np.random.default_rng(seed)
    s = 1 / np.sqrt(n + V)
    out = {}
    for g in "fico":
        out[f"W{g}"] = s * rng.standard_normal((n, n + V))
        out[f"b{g}"] = np.zeros((n, 1))
    out["Wy"] = s * rng.standard_normal((V, n))
    out["by"] = np.zeros((V, 1))
    return {k: v.astype(np.float32) for k, v in out.items()}


class Rnncli:
    """What `rnncli train` runs per update: train_step, clipping, Adam."""

    name = "rnncli"

    def __init__(self, params: dict[str, np.ndarray], V: int) -> None:
        self.p = engine.pack("lstm", params, n_x=V)
        self.grads = self.p.zeros_like()
        self.opt = optim.Optimizer("adam", self.p.flat.size, self.p.dtype, eps=EPS)
        self.threads = engine.threads_for(THREADS or None, self.p.n_a)

    def train(self, chunk: list[np.ndarray]) -> None:
        with np.errstate(over="ignore"), engine.limit_threads(self.threads):
            for b in chunk:
                engine.train_step(self.p, b[:-1], b[1:], None, "xent", self.grads)
                optim.clip(self.grads.flat, CLIP, "norm")
                self.opt.step(self.p.flat, self.grads.flat, LR)

    def params(self) -> dict[str, np.ndarray]:
        return engine.unpack(self.p)


class Torch:
    """nn.LSTM + nn.Linear, CrossEntropyLoss(sum) / m, clip_grad_norm_, Adam."""

    name = "torch"

    def __init__(self, params: dict[str, np.ndarray], V: int) -> None:
        import torch

        self.torch, n = torch, params["Wf"].shape[0]
        if THREADS:
            torch.set_num_threads(THREADS)
        self.V, self.n = V, n
        self.rnn = torch.nn.LSTM(V, n)
        self.out = torch.nn.Linear(n, V)
        W = np.concatenate([params[f"W{g}"] for g in "ifco"])  # PyTorch's order i, f, g, o
        b = np.concatenate([params[f"b{g}"] for g in "ifco"])[:, 0]
        with torch.no_grad():
            self.rnn.weight_hh_l0.copy_(torch.from_numpy(W[:, :n].copy()))
            self.rnn.weight_ih_l0.copy_(torch.from_numpy(W[:, n:].copy()))
            self.rnn.bias_ih_l0.copy_(torch.from_numpy(b))
            self.rnn.bias_hh_l0.zero_()
            self.out.weight.copy_(torch.from_numpy(params["Wy"]))
            self.out.bias.copy_(torch.from_numpy(params["by"][:, 0]))
        self.rnn.bias_hh_l0.requires_grad_(False)  # one bias, as the others have
        self.all = [p for p in [*self.rnn.parameters(), *self.out.parameters()] if p.requires_grad]
        self.opt = torch.optim.Adam(self.all, lr=LR, eps=EPS)
        self.xent = torch.nn.CrossEntropyLoss(reduction="sum")
        self.eye = torch.eye(V)

    def train(self, chunk: list[np.ndarray]) -> None:
        torch = self.torch
        for b in chunk:
            idx = torch.from_numpy(b)
            x = self.eye[idx[:-1]]  # one-hot (T, m, V)
            self.opt.zero_grad(set_to_none=True)
            h, _ = self.rnn(x)
            loss = self.xent(self.out(h).reshape(-1, self.V), idx[1:].reshape(-1)) / b.shape[1]
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.all, CLIP)
            self.opt.step()

    def params(self) -> dict[str, np.ndarray]:
        n = self.n
        W = np.concatenate([self.rnn.weight_hh_l0.detach().numpy(),
                            self.rnn.weight_ih_l0.detach().numpy()], axis=1)  # fmt: skip
        b = (self.rnn.bias_ih_l0 + self.rnn.bias_hh_l0).detach().numpy()[:, None]
        out = {f"W{g}": W[k * n : (k + 1) * n] for k, g in enumerate("ifco")}
        out.update({f"b{g}": b[k * n : (k + 1) * n] for k, g in enumerate("ifco")})
        out["Wy"] = self.out.weight.detach().numpy()
        out["by"] = self.out.bias.detach().numpy()[:, None]
        return out


class Jax:
    """One jit-compiled update: value_and_grad over lax.scan, clipping, Adam."""

    name = "jax"

    def __init__(self, params: dict[str, np.ndarray], V: int) -> None:
        import jax
        import jax.numpy as jnp

        self.jax, n = jax, params["Wf"].shape[0]
        self.n = n
        W = np.concatenate([params[f"W{g}"] for g in "ifco"])  # (4n, n + V), i f g o
        self.theta = {"Wh": jnp.asarray(W[:, :n].T.copy()), "Wx": jnp.asarray(W[:, n:].T.copy()),
                      "b": jnp.asarray(np.concatenate([params[f"b{g}"] for g in "ifco"])[:, 0]),
                      "Wy": jnp.asarray(params["Wy"].T.copy()),
                      "by": jnp.asarray(params["by"][:, 0])}  # fmt: skip
        zeros = jax.tree_util.tree_map(jnp.zeros_like, self.theta)
        self.state = (zeros, zeros, jnp.zeros((), jnp.float32))
        self.update = jax.jit(_jax_update(V, n))

    def train(self, chunk: list[np.ndarray]) -> None:
        for b in chunk:
            self.theta, self.state = self.update(self.theta, self.state, b)
        self.jax.block_until_ready(self.theta)

    def params(self) -> dict[str, np.ndarray]:
        n, th = self.n, {k: np.asarray(v) for k, v in self.theta.items()}
        W = np.concatenate([th["Wh"].T, th["Wx"].T], axis=1)
        out = {f"W{g}": W[k * n : (k + 1) * n] for k, g in enumerate("ifco")}
        out.update({f"b{g}": th["b"][k * n : (k + 1) * n, None] for k, g in enumerate("ifco")})
        out["Wy"], out["by"] = th["Wy"].T, th["by"][:, None]
        return out


def _jax_update(V: int, n: int) -> Any:
    import jax
    import jax.numpy as jnp

    def loss(th: Any, b: Any) -> Any:
        m = b.shape[1]
        xz = th["Wx"][b[:-1]] + th["b"]  # one-hot times Wx: a row lookup, (T, m, 4n)

        def step(carry: Any, z: Any) -> Any:
            h, c = carry
            i, f, g, o = jnp.split(z + h @ th["Wh"], 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        zero = jnp.zeros((m, n), jnp.float32)
        _, H = jax.lax.scan(step, (zero, zero), xz)
        logp = jax.nn.log_softmax(H @ th["Wy"] + th["by"], axis=-1)
        return -jnp.take_along_axis(logp, b[1:, :, None], axis=-1).sum() / m

    def update(th: Any, state: Any, b: Any) -> Any:
        g = jax.grad(loss)(th, b)
        norm = jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree_util.tree_leaves(g)))
        scale = jnp.minimum(1.0, CLIP / (norm + 1e-6))
        m1, m2, t = state
        t = t + 1
        m1 = jax.tree_util.tree_map(lambda a, x: 0.9 * a + 0.1 * scale * x, m1, g)
        m2 = jax.tree_util.tree_map(lambda a, x: 0.999 * a + 0.001 * (scale * x) ** 2, m2, g)
        c1, c2 = 1 - 0.9**t, 1 - 0.999**t
        th = jax.tree_util.tree_map(
            lambda p, a, v: p - LR * (a / c1) / (jnp.sqrt(v / c2) + EPS), th, m1, m2
        )
        return th, (m1, m2, t)

    return update


def held_out_loss(params: dict[str, np.ndarray], ids: np.ndarray, V: int) -> float:
    """Cross-entropy per character on `ids` (50 streams of 200), by rnncli's engine in
    float64 from a zero state."""
    p = engine.pack("lstm", {k: np.asarray(v, np.float64) for k, v in params.items()}, n_x=V)
    T, m = 200, 50
    X = ids[: m * (T + 1)].reshape(m, T + 1).T
    value, *_ = engine.loss_and_grads_packed(p, X[:-1], np.ascontiguousarray(X[1:]),
                                             np.zeros((p.n_a, m)))  # fmt: skip
    return value / T


def compare(n: int, T: int, m: int, rounds: int, chunk: int, peers: list[str]) -> dict[str, Any]:
    """Train the three side by side; rates, paired ratios and held-out losses."""
    train_ids, held, V = data()
    params = init_params(V, n)
    runs = [Rnncli(params, V)] + [{"torch": Torch, "jax": Jax}[p](params, V) for p in peers]
    todo = batches(train_ids, m, T, (rounds + 1) * chunk)
    for r in runs:  # warm-up: the first chunk, untimed (JAX compiles here)
        r.train(todo[:chunk])
        time.sleep(PAUSE_S)
    times: dict[str, list[float]] = {r.name: [] for r in runs}
    for k in range(1, rounds + 1):
        part = todo[k * chunk : (k + 1) * chunk]
        for r in runs if k % 2 else runs[::-1]:
            t0 = time.perf_counter()
            r.train(part)
            times[r.name].append(time.perf_counter() - t0)
            time.sleep(PAUSE_S)
    mine = np.array(times["rnncli"])
    out: dict[str, Any] = {"hidden": n, "bptt": T, "batch": m, "updates": len(todo)}
    for r in runs:
        t = np.array(times[r.name])
        out[r.name] = {"chars_per_s": float(np.median(m * T * chunk / t)),
                       "held_out_loss": held_out_loss(r.params(), held, V)}  # fmt: skip
        if r.name != "rnncli":
            q1, med, q3 = np.percentile(t / mine, [25, 50, 75])
            out[r.name].update(ratio=float(med), ratio_iqr=[float(q1), float(q3)])
    return out


def line(res: dict[str, Any], peers: list[str]) -> str:
    cells = [str(res["hidden"]), str(res["bptt"]), f"{res['rnncli']['chars_per_s']:,.0f}"]
    for p in peers:
        r = res[p]
        cells += [f"{r['chars_per_s']:,.0f}",
                  f"{r['ratio']:.2f}x ({r['ratio_iqr'][0]:.2f}-"
                  f"{r['ratio_iqr'][1]:.2f})"]  # fmt: skip
    losses = [f"{res[k]['held_out_loss']:.4f}" for k in ["rnncli", *peers]]
    return "| " + " | ".join(cells + [" / ".join(losses)]) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hidden", default="128,256")
    ap.add_argument("--bptt", default="25,50,100")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--chunk", type=int, default=10, help="updates per timed sample")
    ap.add_argument("--peers", default="torch,jax")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--threads", type=int, default=0,
                    help="rnncli's and PyTorch's threads (default: each one's own choice)")
    ap.add_argument("--blas", default="auto", help="engine.blas: auto, numpy or mkl")
    a = ap.parse_args()
    global THREADS
    THREADS = a.threads
    blas.use(a.blas)
    peers = [p for p in a.peers.split(",") if p]
    print("| hidden | bptt | rnncli chars/s | "
          + " | ".join(f"{p} chars/s | x {p}" for p in peers)
          + " | held-out loss (" + " / ".join(["rnncli", *peers]) + ") |", flush=True)  # fmt: skip
    results = []
    for n in map(int, a.hidden.split(",")):
        for T in map(int, a.bptt.split(",")):
            results.append(compare(n, T, a.batch, a.rounds, a.chunk, peers))
            print(line(results[-1], peers), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
