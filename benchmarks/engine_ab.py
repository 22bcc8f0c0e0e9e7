"""Before / after in one process: the engine's settings A/B, interleaved.

Each variant is an (engine.blas, BLAS threads) pair; every round times each variant once
(the mean of calls back to back for at least 50 ms; order reversed every other round, a
pause between them for spinning BLAS threads);
reported: each variant's median and worst sample, and the median over rounds of the
paired ratio against the first variant (> 1: faster than it).

    char    char-LSTM training updates (benchmarks/char_lstm.py's rnncli: train_step,
            clipping, Adam), float32, batch 16, per hidden size and bptt
    bench   `rnncli bench`'s LSTM call (loss_and_grads with dx) at a bench size

    PYTHONPATH=. python benchmarks/engine_ab.py char --hidden 128,256 --bptt 25,100
    PYTHONPATH=. python benchmarks/engine_ab.py bench --sizes medium,large --dtypes float32
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import char_lstm as cl  # noqa: E402

from rnncli import engine  # noqa: E402
from rnncli.bench.calls import engine_call  # noqa: E402
from rnncli.engine import blas  # noqa: E402

Variant = tuple[str, int]  # (engine.blas, threads)
MIN_SAMPLE_S = 0.05  # a sample: calls back to back for at least this long


def ab(fn: Callable[[], Any], variants: list[Variant], rounds: int, label: str) -> None:
    """Time fn under each variant, interleaved; print one line."""
    times: dict[Variant, list[float]] = {v: [] for v in variants}
    for r in range(rounds):
        for v in variants if r % 2 else variants[::-1]:
            blas.use(v[0])
            with engine.limit_threads(v[1]), np.errstate(over="ignore"):
                fn()  # warm: the first call after a switch binds the products anew
                t0, k = time.perf_counter(), 0
                while k == 0 or time.perf_counter() - t0 < MIN_SAMPLE_S:
                    fn()
                    k += 1
                times[v].append((time.perf_counter() - t0) / k)
            time.sleep(0.25)
    base = np.array(times[variants[0]])
    parts = []
    for v in variants:
        t = np.array(times[v])
        parts.append(f"{v[0]}/{v[1]}t {np.median(t) * 1e3:.1f} ms (worst {t.max() * 1e3:.1f})"
                     f" {np.median(base / t):.2f}x")  # fmt: skip
    print(f"{label}: " + "; ".join(parts), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["char", "bench"])
    ap.add_argument("--hidden", default="128,256")
    ap.add_argument("--bptt", default="25,100")
    ap.add_argument("--sizes", default="medium,large")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--variants", default="numpy:1,mkl:1,numpy:2,mkl:2")
    ap.add_argument("--rounds", type=int, default=9)
    a = ap.parse_args()
    variants = [(b, int(t)) for b, t in (v.split(":") for v in a.variants.split(","))]
    if a.what == "char":
        ids, _, V = cl.data(100_000)
        for n in map(int, a.hidden.split(",")):
            for T in map(int, a.bptt.split(",")):
                r = cl.Rnncli(cl.init_params(V, n), V)
                todo = cl.batches(ids, 16, T, 4)

                def fn(r: cl.Rnncli = r, todo: list[np.ndarray] = todo) -> None:
                    for b in todo:  # the threads are the variant's (limit_threads)
                        engine.train_step(r.p, b[:-1], b[1:], None, "xent", r.grads)
                        cl.optim.clip(r.grads.flat, cl.CLIP, "norm")
                        r.opt.step(r.p.flat, r.grads.flat, cl.LR)

                ab(fn, variants, a.rounds, f"char n_a={n} bptt={T} (4 updates)")
    else:
        for size in a.sizes.split(","):
            for dtype in a.dtypes.split(","):
                ab(engine_call("lstm", size, dtype), variants, a.rounds, f"{size} {dtype}")


if __name__ == "__main__":
    main()
