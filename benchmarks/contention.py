"""How the engine and the notebook hold up when another process takes a core.

``python benchmarks/contention.py [size] [--busy]``: the LSTM (float64) at `size`
(default small), engine (`rnncli.loss_and_grads`) and notebook, each with NumPy's BLAS
at its default thread count and limited to one thread, interleaved over 15 rounds (in
reverse order every other round); medians and paired ratios. With ``--busy`` a second
process spins on one core meanwhile.

Why: on a 2-core machine the engine's mid-size GEMMs run on both BLAS threads, which
wait for each other; when something else holds a core, that wait dominates. The
notebook's many tiny products are single-threaded and barely notice.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import rnncli
from rnncli.bench import SIZES, make_problem
from rnncli.reference import reference_loss_and_grads


def _spin(stop: Any) -> None:
    while not stop.is_set():
        pass


def _sample(fn: Callable[[], Any], k: int) -> float:
    """Milliseconds per call over k calls, after one untimed call."""
    fn()
    start = time.perf_counter()
    for _ in range(k):
        fn()
    return (time.perf_counter() - start) / k * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", nargs="?", default="small", choices=list(SIZES))
    parser.add_argument("--busy", action="store_true", help="spin a process on one core")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    params, x, targets = make_problem("lstm", args.size, "float64")
    fns = {
        "engine": lambda: rnncli.loss_and_grads("lstm", params, x, targets),
        "notebook": lambda: reference_loss_and_grads("lstm", params, x, targets),
    }
    calls = {name: max(1, int(0.02 / max(_sample(fn, 1) * 1e-3, 1e-6))) for name, fn in fns.items()}
    stop = multiprocessing.Event()
    spinner = multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
    if args.busy:
        spinner.start()
        time.sleep(0.5)
    ms: dict[str, list[float]] = {}
    try:
        for r in range(args.rounds):
            order = [(t, name) for t in ("default", "1") for name in fns]
            for threads, name in reversed(order) if r % 2 else order:
                if threads == "1":
                    with threadpool_limits(1, user_api="blas"):
                        value = _sample(fns[name], calls[name])
                else:
                    value = _sample(fns[name], calls[name])
                ms.setdefault(f"{name}, {threads} BLAS threads", []).append(value)
    finally:
        stop.set()
        if args.busy:
            spinner.join()
    print(f"lstm {args.size} float64, {'one core busy' if args.busy else 'quiet'}:")
    for key, values in ms.items():
        print(f"  {key:32s} {np.median(values):8.3f} ms")
    for threads in ("default", "1"):
        ratio = np.array(ms[f"notebook, {threads} BLAS threads"]) / np.array(
            ms[f"engine, {threads} BLAS threads"]
        )
        print(f"  engine speed-up, {threads} BLAS threads: {np.median(ratio):.2f}x")


if __name__ == "__main__":
    main()
