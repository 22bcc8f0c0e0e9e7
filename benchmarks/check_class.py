"""A class of submissions checked as a class (`rnncli check FOLDER`: a process pool of one
worker per core), against checking them one by one (`run_check` on each file in turn, in
one process: no process start-up counted); then the rerun that skips every done one.

    python benchmarks/check_class.py [N]        # N submissions, default 300

The submissions are made from tests/fixtures/check (the correct file, one per planted
bug, the course notebook as shipped and fixed), each copy made distinct, so every one is
really checked. Prints both times, the rerun's, and whether the verdicts agree.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_check_class import make_class, single, verdicts_of  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from rnncli.cli import app  # noqa: E402


def timed_check(args: list[str]) -> tuple[float, dict]:
    start = time.monotonic()
    result = CliRunner().invoke(app, ["check", *args, "--json"])
    seconds = time.monotonic() - start
    assert result.exit_code == 0, result.stderr
    return seconds, json.loads(result.stdout)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory(prefix="rnncli-class-bench-") as tmp:
        files = make_class(Path(tmp) / "hw", n)
        graded = str(Path(tmp) / "graded")
        pool_s, doc = timed_check([str(Path(tmp) / "hw"), "--class-dir", graded])
        rerun_s, again = timed_check([str(Path(tmp) / "hw"), "--class-dir", graded])
        start = time.monotonic()
        one_by_one = {str(f): single(f) for f in files}
        single_s = time.monotonic() - start
    same = verdicts_of(doc) == one_by_one
    print(f"{n} submissions on {os.cpu_count()} cores ({doc['where']})")
    print(f"  as a class:   {pool_s:7.1f} s")
    print(f"  one by one:   {single_s:7.1f} s   ({single_s / pool_s:.2f}x the class's time)")
    print(f"  rerun:        {rerun_s:7.1f} s   "
          f"({again['summary']['counts']['kept']} kept, "
          f"{again['summary']['counts']['checked']} checked)")
    print(f"  verdicts equal to single-file runs: {same}")


if __name__ == "__main__":
    main()
