"""Ten seeds of the default `rnncli train` (embedded Reber) per cell: solve rate,
sequences to solve and seconds per seed. Run: python benchmarks/reber_seeds.py [cells] [overrides]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from rnncli.config import load_config
from rnncli.training import train


def main() -> None:
    cells = sys.argv[1].split(",") if len(sys.argv) > 1 else ["lstm", "gru", "rnn"]
    overrides = sys.argv[2:]
    print("| cell | solved | mean sequences to solve | median | max | mean s/seed | max s/seed |")
    print("|---|---|---|---|---|---|---|")
    for cell in cells:
        seqs, secs, solved = [], [], 0
        for seed in range(10):
            cfg = load_config(None, {"cell": cell, "seed": seed}, overrides, training=True)
            t0 = time.perf_counter()
            s = train(cfg).summary()
            secs.append(time.perf_counter() - t0)
            if s["solved"]:
                solved += 1
                seqs.append(s["sequences_to_solve"])
        mean = f"{np.mean(seqs):.0f}" if seqs else "-"
        med = f"{np.median(seqs):.0f}" if seqs else "-"
        top = f"{max(seqs)}" if seqs else "-"
        times = f"{np.mean(secs):.2f} | {max(secs):.2f}"
        print(f"| {cell} | {solved}/10 | {mean} | {med} | {top} | {times} |")


if __name__ == "__main__":
    main()
