"""Text at scale: start-up time, peak memory and training speed of `rnncli train` on a
large text file, for this checkout and (optionally) another one side by side.

Every figure is a whole process, timed and measured by ``/usr/bin/time -f "%e %M"``
(wall seconds, peak resident set size), the median of `--repeats` runs, the two
checkouts interleaved. Each checkout runs as ``python -m rnncli`` with its folder first
on PYTHONPATH (the same interpreter and packages), with a cache folder of its own.

    first run       a new 1-step run on the big file with an empty cache (encodes it)
    later run       the same with the cache filled by the first
    resume          --resume of a finished 20-step run, one more step
    (start-up: from starting the process to its "train: steps" line, printed right
    before the first training step; these runs evaluate 1,000 characters)
    20-step run     a new 20-step run, cache filled, the default evaluation
    train chars/s   characters per second of the training loop on the big and the small
                    file: 8 runs of 100 steps on each in turn, in one process (a new model
                    each time, the evaluation on 1,000 characters at the end not timed);
                    medians, and the median of the paired big/small ratios

The corpus comes from ``benchmarks/make_corpus.py``. Example (the numbers in
benchmarks/RESULTS.md; the base commit checked out beside this one):

    python benchmarks/make_corpus.py /tmp/corpus-100mb.txt
    python benchmarks/make_corpus.py /tmp/corpus-1mb.txt --mb 1
    git worktree add --detach /tmp/rnncli-before <base commit>
    python benchmarks/text_scale.py /tmp/corpus-100mb.txt /tmp/corpus-1mb.txt \\
        --before /tmp/rnncli-before
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
TIME = "/usr/bin/time"


def run(
    checkout: Path, args: list[str], env_extra: dict[str, str]
) -> tuple[float, float, float, str, str]:
    """(start-up seconds, wall seconds, peak RSS in MB, stdout, stderr) of ``rnncli ARGS
    -v`` from `checkout`. Start-up: from starting the process to its "train: steps" line,
    printed just before the first training step (NaN with --json, which prints none)."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "NO_COLOR": "1", **env_extra}
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        cmd = [TIME, "-o", tf.name, "-f", "%e %M", sys.executable, "-m", "rnncli", *args, "-v"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None and proc.stdout is not None
        startup, err = math.nan, []
        for line in proc.stderr:
            if math.isnan(startup) and line.startswith("train: steps"):
                startup = time.perf_counter() - t0
            err.append(line)
        stdout = proc.stdout.read()
        if proc.wait() != 0 or (math.isnan(startup) and "--json" not in args):
            raise SystemExit(f"{checkout}: rnncli {' '.join(args)} failed:\n{''.join(err)}")
        wall, rss_kb = tf.read().split()[-2:]
    return startup, float(wall), int(rss_kb) / 1024, stdout, "".join(err)


def tiny_eval(checkout: Path) -> list[str]:
    """An evaluation on ~1,000 characters: train.eval_chars where the checkout has it."""
    schema = (checkout / "rnncli" / "config" / "schema.py").read_text(encoding="utf-8")
    return ["train.eval_chars=1000"] if "eval_chars" in schema else ["train.eval_size=1"]


def measure_startup(checkout: Path, big: Path, work: Path) -> dict[str, Any]:
    """One round of the start-up and memory figures for one checkout."""
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    env = {"RNNCLI_CACHE": str(cache)}
    out = work / "out"
    tiny = tiny_eval(checkout)
    one = ["train", "--data", str(big), "train.steps=1", *tiny, "--no-save"]
    r: dict[str, Any] = {}
    r["first"] = run(checkout, one, env)[:3]
    r["later"] = run(checkout, one, env)[:3]
    twenty = ["train", "--data", str(big), "train.steps=20", "--out", str(out)]
    startup, wall, rss, _, stderr = run(checkout, twenty, env)
    r["run20"] = (startup, wall, rss)
    run_dir = stderr.split("run folder: ", 1)[1].split("\n", 1)[0]
    resume = ["train", "--resume", run_dir, "train.steps=21", *tiny]
    r["resume"] = run(checkout, resume, env)[:3]
    shutil.rmtree(out, ignore_errors=True)
    return r


SPEED = """
import json, sys
from rnncli.config import load_config
from rnncli.training import prepare, train
files, steps, blocks, extra = json.loads(sys.argv[1])
cfgs = {k: load_config(None, {}, ["train.task=text", f"train.data={path}", f"train.steps={steps}",
        f"train.eval_every={steps}", *extra], training=True) for k, path in files.items()}
problems = {k: prepare(cfg) for k, cfg in cfgs.items()}
rates = {k: [] for k in files}
for i in range(blocks):
    for k in sorted(files, reverse=i % 2 == 1):
        r = train(cfgs[k], problem=problems[k])
        rates[k].append(r.state.sequences * cfgs[k].train.bptt / r.state.wall_s)
print(json.dumps(rates))
"""


def chars_per_s(checkout: Path, files: dict[str, Path], work: Path) -> dict[str, list[float]]:
    """Characters per second of the training loop (a run's wall_s) on each file: one
    process trains `blocks` runs of 100 steps on each file in turn (a new model each,
    the evaluation at the end on 1,000 characters, not timed), so that the machine's
    slow and fast spells hit both files alike."""
    arg = json.dumps([{k: str(p) for k, p in files.items()}, 100, 8, tiny_eval(checkout)])
    env = {**os.environ, "PYTHONPATH": str(checkout), "RNNCLI_CACHE": str(work / "cache")}
    proc = subprocess.run([sys.executable, "-c", SPEED, arg], env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"{checkout}: the training speed run failed:\n{proc.stderr}")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def median(rounds: list[dict[str, Any]], key: str, i: int | None = None) -> float:
    return statistics.median(r[key] if i is None else r[key][i] for r in rounds)


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    names = list(results)
    head = "| figure | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names) + "\n"
    rows = [
        ("first run: start-up (s)", "first", 0, "{:.2f}"),
        ("first run: peak RSS (MB)", "first", 2, "{:,.0f}"),
        ("later run: start-up (s)", "later", 0, "{:.2f}"),
        ("later run: peak RSS (MB)", "later", 2, "{:,.0f}"),
        ("--resume: start-up (s)", "resume", 0, "{:.2f}"),
        ("--resume: peak RSS (MB)", "resume", 2, "{:,.0f}"),
        ("20-step run, default evaluation: wall (s)", "run20", 1, "{:.2f}"),
        ("20-step run, default evaluation: peak RSS (MB)", "run20", 2, "{:,.0f}"),
        ("training, big file (chars/s)", "chars_big", None, "{:,.0f}"),
        ("training, small file (chars/s)", "chars_small", None, "{:,.0f}"),
        ("training, big / small (median of paired ratios)", "big_over_small", None, "{:.2f}"),
    ]
    lines = [
        f"| {label} | " + " | ".join(fmt.format(median(results[n], key, i)) for n in names) + " |"
        for label, key, i, fmt in rows
    ]
    return head + "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("big", type=Path, help="the large corpus (make_corpus.py)")
    ap.add_argument("small", type=Path, help="a small corpus, for the training speed")
    ap.add_argument("--before", type=Path, help="another checkout to compare with")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write every round's figures here")
    args = ap.parse_args()
    if not Path(TIME).exists():
        raise SystemExit(f"{TIME} is missing (apt-get install time)")
    checkouts = {"this checkout": HERE}
    if args.before:
        checkouts = {"before": args.before.resolve(), **checkouts}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        works = {name: Path(tmp) / name.replace(" ", "-") for name in checkouts}
        for work in works.values():
            work.mkdir()
        for i in range(args.repeats):
            for name, checkout in checkouts.items():
                print(f"start-up round {i + 1}/{args.repeats}: {name}", file=sys.stderr)
                results[name].append(measure_startup(checkout, args.big, works[name]))
        files = {"big": args.big, "small": args.small}
        for i in range(args.repeats):
            for name, checkout in checkouts.items():
                print(f"speed round {i + 1}/{args.repeats}: {name}", file=sys.stderr)
                rates = chars_per_s(checkout, files, works[name])
                r = results[name][i]
                r["chars_big"] = statistics.median(rates["big"])
                r["chars_small"] = statistics.median(rates["small"])
                ratios = [b / s for b, s in zip(rates["big"], rates["small"], strict=True)]
                r["big_over_small"] = statistics.median(ratios)
                r["rates"] = rates
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))


if __name__ == "__main__":
    main()
