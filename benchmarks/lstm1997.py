"""The long-time-lag battery of Hochreiter & Schmidhuber (1997), reproduced: one
`rnncli sweep` per task (configs/sweeps/lstm1997/<task>.yaml: lstm, gru and rnn, three
seeds each, the task's defaults), then a table of success rates and training sequences
to success beside the paper's LSTM figures, written to benchmarks/LSTM1997.md.

    python benchmarks/lstm1997.py [--out DIR] [--tasks lag,copy] [--jobs N] [--write FILE]

A sweep that was interrupted resumes where it stopped when run again with the same
--out. The table is rebuilt from the sweep folders alone (--table-only).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.config import TASK_DEFAULTS
from rnncli.tasks import lag, lag_noise, multiplication, temporal_order

ROOT = Path(__file__).resolve().parent.parent
TASKS = ("lag", "lag-noise", "multiplication", "temporal-order", "temporal-order-3", "copy")

#: The paper's LSTM result per task: (experiment, setting, mean training sequences to
#: success, trials that succeeded), from the tables the task modules cite.
PAPER: dict[str, tuple[str, str, str, str]] = {
    "lag": ("2a", "p = 100", f"{lag.PAPER_SEQUENCES[100]:,}", "18/18"),
    "lag-noise": ("2c", "q = p = 100", f"{lag_noise.PAPER_SEQUENCES[(100, 100)]:,}", "20/20"),
    "multiplication": ("5", "T = 100", f"{multiplication.PAPER_SEQUENCES[100]:,}", "10/10"),
    "temporal-order": ("6a", "L = 100-110", f"{temporal_order.PAPER_SEQUENCES[2]:,}", "20/20"),
    "temporal-order-3": (
        "6b",
        "L = 100-110",
        f"{temporal_order.PAPER_SEQUENCES[3]:,}",
        "10/10",
    ),  # fmt: skip
    "copy": ("-", "T = 100", "not in the paper", "-"),
}


def run_sweep(task: str, out: Path, jobs: int | None) -> None:
    cmd = [sys.executable, "-m", "rnncli", "sweep", "--config",
           str(ROOT / "configs" / "sweeps" / "lstm1997" / f"{task}.yaml"),
           "--out", str(out / task), "-q"]  # fmt: skip
    if jobs:
        cmd += ["--jobs", str(jobs)]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=False)  # a failed job is in sweep.json; the table says so


def results(out: Path, task: str) -> dict[str, list[dict[str, Any]]]:
    """The compact results of every job of a task's sweep, by cell."""
    doc = json.loads((out / task / "sweep.json").read_text())
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for job in doc["jobs"]:
        by_cell.setdefault(job["point"]["cell"], []).append(
            {"status": job["status"], **(job.get("result") or {})}
        )
    return by_cell


def settings(task: str) -> str:
    t = TASK_DEFAULTS[task]
    tr, init = t.get("train", {}), t.get("init", {})
    parts = [
        f"hidden {tr['hidden']}",
        f"batch {tr['batch']}",
        f"Adam lr {tr['lr']}",
        f"forget bias {init.get('forget_bias', 'none')}",
        f"{tr['steps']:,} steps",
    ]
    if tr.get("targets") == "last":
        parts.append("target at the last step only")
    return ", ".join(parts)


def table(out: Path, tasks: list[str]) -> str:
    lines = [
        "| task | paper | setting | paper LSTM: sequences (trials solved) | cell | solved "
        "| sequences to solve: median (range) | mean | metric at the end (median) "
        "| wall s per run | sequences/s |",
        "|---|---|---|--:|---|--:|--:|--:|--:|--:|--:|",
    ]
    for task in tasks:
        if not (out / task / "sweep.json").is_file():
            continue
        exp, setting, seqs, trials = PAPER[task]
        for cell, runs in results(out, task).items():
            done = [r for r in runs if r["status"] == "completed"]
            solved = [r["sequences_to_solve"] for r in done if r.get("solved")]
            span = (f"{np.median(solved):,.0f} ({min(solved):,}-{max(solved):,})"
                    if solved else "-")  # fmt: skip
            mean = f"{np.mean(solved):,.0f}" if solved else "-"
            values = [r["value"] for r in done if r.get("value") is not None]
            metric = done[0]["metric"] if done else "-"
            end = f"{metric} {np.median(values):.3g}" if values else "-"
            walls = [r["wall_s"] for r in done if r.get("wall_s")]
            wall = f"{np.mean(walls):.0f}" if walls else "-"
            rate = (f"{sum(r['sequences'] for r in done) / sum(walls):,.0f}"
                    if walls else "-")  # fmt: skip
            lines.append(f"| {task} | {exp} | {setting} | {seqs} ({trials}) | {cell} | "
                         f"{len(solved)}/{len(runs)} | {span} | {mean} | {end} | {wall} | "
                         f"{rate} |")  # fmt: skip
    notes = ["", "Settings (each task's defaults, `rnncli train --task TASK --show-config`):", ""]
    notes += [f"- {task}: {settings(task)}" for task in tasks]
    return "\n".join(lines + notes) + "\n"


PREAMBLE = """# The 1997 LSTM battery, reproduced

Hochreiter & Schmidhuber (1997), "Long Short-Term Memory", experiments 2a, 2c, 5, 6a and
6b, and the copy task (Arjovsky et al. 2016), as generated by `rnncli/tasks/` (each
module states the paper's definition and success criterion, and where ours differs).
Made by `python benchmarks/lstm1997.py` (one `rnncli sweep` per task,
`configs/sweeps/lstm1997/<task>.yaml`: lstm, gru and rnn, seeds 0-2) on the 2-core
development machine, shared with other jobs while it ran (wall times are therefore
upper bounds).

What the comparison means. The paper trained one sequence at a time with plain gradient
descent (learning rates 0.01-1.0), LSTM cells without forget gates (added in 2000), and
small nets (a few memory cells); its figures are the mean training sequences until the
criterion held on a fresh test set, over 10-20 trials. rnncli trains minibatches with
Adam, its LSTM has a forget gate whose bias starts high (`init.forget_bias`: the cell
remembers by default, much as the 1997 cell without a forget gate did), and each task
runs 3 seeds per cell, not 10: the nine runs of one task took 5-12 minutes here (49
minutes for all six, two at a time), and a seed that does not solve runs its whole
budget, so 10 seeds would take over 2.5 hours. Sequences to solve are counted at
evaluations (every `train.eval_every` steps), so they are rounded up to a multiple of
batch x eval_every. Settings that differ from the paper's task, stated in the rows:
`lag` trains on the last target only (`train.targets=last`): with a target at every step
Adam fitted the 99 predictable steps and left the last one at chance for 48,000
sequences (see `rnncli/tasks/lag.py`); `lag-noise` runs q = p = 100, not the paper's
q = 1000 (dense one-hot inputs of 1,004 symbols over ~1,013 steps cost ~1 GFLOP a
step here). A criterion not met within the budget is a failure of this setting, not
a statement about the cell.

What it shows. The LSTM solves 2c (q = p = 100) and 6b in 3 of 3 seeds and 2a (last
target only) and 6a in 2 of 3, with fewer training sequences than the paper's mean
where it does (Adam and minibatches help); the plain RNN solves none; the GRU, which has
no forget gate to bias open, solves 2a and one 6b seed. Two tasks are not reproduced:
multiplication (5) stays at the baseline (89% of test sequences off by more than 0.04
after 320,000 sequences, a budget below the paper's mean of 482,000, which it reached
with online learning and a careful setup), and the copy task is
not solved by any cell in 128,000 sequences (the GRU gets to 0.85 of the memoryless
baseline's cross-entropy). Sequences/s include evaluation, on a machine shared with
other jobs.

"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "lstm1997")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--write", type=Path, default=ROOT / "benchmarks" / "LSTM1997.md",
                    help="where the table goes (with its preamble)")  # fmt: skip
    args = ap.parse_args()
    tasks = [t for t in args.tasks.split(",") if t]
    for task in tasks:
        if task not in TASKS:
            ap.error(f"unknown task {task!r}: one of {', '.join(TASKS)}")
    if not args.table_only:
        for task in tasks:
            run_sweep(task, args.out, args.jobs)
    text = table(args.out, tasks)
    print(text)
    args.write.write_text(PREAMBLE + text, encoding="utf-8")


if __name__ == "__main__":
    main()
