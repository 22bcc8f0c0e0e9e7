"""Time the engine against the notebook and PyTorch: ``python benchmarks/bench_core.py``.

The same as ``rnncli bench`` (see `rnncli.bench`); e.g.
``python benchmarks/bench_core.py --quick`` or ``--sizes tiny small --json``.
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console

from rnncli.bench import CELLS, DTYPES, SIZES, render, run_bench, to_markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), help="default: all")
    parser.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES))
    parser.add_argument(
        "--rounds",
        type=int,
        help="exact rounds (default: 9, 7 at large or with --quick, more "
        "while 3 s per size, 1 s with --quick, have not passed)",
    )
    parser.add_argument("--quick", action="store_true", help="short rounds, no 'large'")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--save", metavar="STEM", help="also write STEM.json and STEM.md")
    args = parser.parse_args()
    err = Console(stderr=True)
    results = run_bench(
        sizes=args.sizes,
        quick=args.quick,
        cells=args.cells,
        dtypes=args.dtypes,
        rounds=args.rounds,
        torch=not args.no_torch,
        progress=(lambda msg: err.log(msg)) if err.is_terminal else None,
    )
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        render(results)
    if args.save:
        with open(args.save + ".json", "w") as f:
            json.dump(results, f, indent=2)
        with open(args.save + ".md", "w") as f:
            f.write(to_markdown(results))


if __name__ == "__main__":
    main()
