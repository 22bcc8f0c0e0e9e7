"""The long-time-lag battery of Hochreiter & Schmidhuber (1997), reproduced: one
`rnncli sweep` per task (configs/sweeps/lstm1997/<task>.yaml: lstm, gru and rnn, three
seeds each, the task's defaults), then a table of success rates and training sequences
to success beside the paper's LSTM figures, written to benchmarks/LSTM1997.md.

    python benchmarks/lstm1997.py [--out DIR] [--tasks lag,copy] [--jobs N]

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
        "| task | paper | setting | paper LSTM: sequences (success) | cell | solved "
        "| sequences to solve: median (range) | headline metric at the end (median) |",
        "|---|---|---|--:|---|--:|--:|--:|",
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
            values = [r["value"] for r in done if r.get("value") is not None]
            metric = done[0]["metric"] if done else "-"
            end = f"{metric} {np.median(values):.3g}" if values else "-"
            lines.append(f"| {task} | {exp} | {setting} | {seqs} ({trials}) | {cell} | "
                         f"{len(solved)}/{len(runs)} | {span} | {end} |")  # fmt: skip
    notes = ["", "Settings (each task's defaults, `rnncli train --task TASK --show-config`):", ""]
    notes += [f"- {task}: {settings(task)}" for task in tasks]
    return "\n".join(lines + notes) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "lstm1997")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args()
    tasks = [t for t in args.tasks.split(",") if t]
    for task in tasks:
        if task not in TASKS:
            ap.error(f"unknown task {task!r}: one of {', '.join(TASKS)}")
    if not args.table_only:
        for task in tasks:
            run_sweep(task, args.out, args.jobs)
    print(table(args.out, tasks))


if __name__ == "__main__":
    main()
