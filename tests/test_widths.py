"""Every table and progress line at 80, 100 and 200 columns: no number is ever cut.

A table on a narrow console may leave columns out (the least useful first) or wrap text
between words, but every number it shows is whole: for each column that is shown, every
number of that column's cells appears in the output exactly as formatted, and nothing
that looks like a number ends in rich's cut mark.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rnncli import bench, passes, report
from rnncli.config import load_config
from rnncli.gradcheck import render as gradcheck_render
from rnncli.gradcheck import run_gradcheck

WIDTHS = (80, 100, 200)
NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|\.\d+)(?:[x%])?")
CUT = re.compile(r"[\d.,eE+-]…")  # a number rich cut short


def render(draw: Callable[[Console], None], width: int) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None,
                      highlight=False)  # fmt: skip
    draw(console)
    return buf.getvalue()


def assert_whole(text: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Every number of every shown column appears whole; no number is cut."""
    assert not CUT.search(text), CUT.search(text)
    flat = " ".join(text.split())  # wrapped cells: compare without the line breaks
    head_line = next((line for line in text.splitlines() if any(h in line for h in headers)), "")
    for i, header in enumerate(headers):
        if header not in head_line:
            continue  # a column left out at this width
        for row in rows:
            for token in NUMBER.findall(str(row[i])):
                assert token in flat, (header, token)


def arrays_case(width: int) -> None:
    cfg = load_config(None, {"cell": "lstm"})
    run = passes.backward(cfg)
    groups = [("input", run.inputs), ("param", run.params), ("output", run.outputs),
              ("cache", run.caches)]  # fmt: skip
    text = render(lambda c: c.print(report.arrays_table("t", groups, c.width)), width)
    rows = []
    for kind, arrays in groups:
        for name, a in arrays.items():
            s = report.stats(a)
            rows.append([kind, name, str(tuple(s["shape"])), s["dtype"],
                         *(report.fmt(s[k]) for k in ("mean", "std", "min", "max")),
                         report.head(a)])  # fmt: skip
    headers = ["kind", "name", "shape", "dtype", "mean", "std", "min", "max", "values"]
    assert_whole(text, headers, rows)
    grads = render(lambda c: c.print(report.grads_table("g", run.grads, c.width)), width)
    assert_whole(grads, ["gradient", "shape", "norm", "values"],
                 [[k, "", f"{(g**2).sum() ** 0.5:.6g}", report.head(g)]
                  for k, g in run.grads.items()])  # fmt: skip


@pytest.mark.parametrize("width", WIDTHS)
def test_forward_and_backward_tables(width: int) -> None:
    arrays_case(width)


@pytest.mark.parametrize("width", WIDTHS)
def test_sampled_values_wrap_between_numbers(width: int) -> None:
    import numpy as np

    values = {"a[4][1]": np.linspace(-1, 1, 10) * 0.99999375, "loss": 7.107906776070047}
    text = render(lambda c: c.print(report.samples_table(values, c.width)), width)
    rows = [[k, report.format_value(v)] for k, v in values.items()]
    assert_whole(text, ["expression", "value"], rows)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_gradcheck_table(width: int, cell: str) -> None:
    result = run_gradcheck(load_config(None), cells=[cell], levels=["cell", "model"])
    text = render(lambda c: gradcheck_render(result, c), width)
    rows = [[r.cell, r.level, r.name, "", r.mode, str(r.checked), f"{r.analytic_norm:.2e}",
             f"{r.numeric_norm:.2e}", f"{r.rel_error:.1e}", f"{r.elem_error:.1e}"]
            for r in result.rows]  # fmt: skip
    headers = ["cell", "level", "gradient", "shape", "mode", "checked", "‖analytic‖",
               "‖numeric‖", "rel. error", "worst elem."]  # fmt: skip
    assert_whole(text, headers, rows)
    assert "mod…" not in text and "model/" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_sweep_table(width: int) -> None:
    from rnncli import sweep as S

    plan = S.plan_sweep(None, {"train.task": "adding"}, ["cell=rnn,lstm", "train.T=50,100"], "0")
    rows = [
        {"cell": c, "train.T": T, "runs": 5, "completed": 5, "failed": 0,
         "solved": 5 * (c == "lstm"), "metric": "test_mse",
         "metric_mean": 0.02836 + T / 1e4, "metric_std": 0.0102,
         "metric_median": 0.03443, "sequences_to_solve_mean": 15680.0, "wall_s_mean": 4.41}
        for c in ("rnn", "lstm") for T in (50, 100)
    ]  # fmt: skip
    result = S.SweepResult(plan, Path("/tmp/s"), plan.jobs, rows)
    text = render(lambda c: S.render(result, c), width)
    body = [[r["cell"], str(r["train.T"]), "5", "5", "0", str(r["solved"]),
             f"{S.summary.number_text(r['metric_mean'])} ± 0.0102", "0.03443", "15,680", "4.41"]
            for r in rows]  # fmt: skip
    headers = ["cell", "train.T", "runs", "done", "failed", "solved", "mean ± std", "median",
               "seq to solve", "wall s"]  # fmt: skip
    assert_whole(text, headers, body)
    assert "0.0…" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_bench_table(width: int) -> None:
    results = bench.run_bench(sizes=["tiny"], cells=["rnn"], dtypes=["float64"], rounds=1,
                              torch=False, min_sample_s=0.0002, memory=False)  # fmt: skip
    text = render(lambda c: bench.render(results, c), width)
    rows = [[r["size"], r["cell"], "f64", bench._ms(r["engine"]), bench._ms(r["notebook"]),
             bench._x(r["speedup_vs_notebook"]), "-", "-", bench._rate(r["engine_gflops"]),
             bench._share(r["gemm_share"])] for r in results["results"]]  # fmt: skip
    headers = ["size", "cell", "dtype", "engine", "notebook", "x nb", "torch", "x torch",
               "GFLOP/s", "% peak"]  # fmt: skip
    assert_whole(text, headers, rows)


@pytest.mark.parametrize("width", WIDTHS)
def test_summary_and_runs_tables(width: int) -> None:
    from rnncli.runs import compare

    summary = {"status": "completed", "steps": 2500, "sequences": 80000, "wall_s": 5.912,
               "loss": 0.6700123, "test_mse": 0.03912345}  # fmt: skip
    text = render(lambda c: c.print(report.key_values("train summary", summary, c.width)), width)
    assert_whole(text, ["status", "steps"], [[k, f"{v:.6g}" if isinstance(v, float) else v]
                                            for k, v in summary.items()])  # fmt: skip
    rows = [{"time": "2026-11-30 17:08:58", "status": "completed", "task": "reber", "cell": "lstm",
             "metric": "outer_acc", "value": 0.4921875, "steps": 12345, "solved": True,
             "duration_s": 123.4, "name": "first-try", "command": "train",
             "path": "2026-11-30/17-08-58-train-reber-lstm-first-try"}]  # fmt: skip
    text = render(lambda c: c.print(compare.runs_table(rows, c.width)), width)
    assert_whole(text, ["started", "metric", "steps"],
                 [["11-30 17:08", "outer_acc 0.4922", "12,345"]])  # fmt: skip


@pytest.mark.parametrize("width", WIDTHS)
def test_training_progress_bar(width: int) -> None:
    from rnncli.training.progress import RichReporter

    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system=None)
    reporter = RichReporter(console)
    reporter.start(5000, 0)
    reporter.update(1234, 4.3217, 12345.6)
    reporter.evaluation({"step": 1234, "sequences": 4936, "loss": 4.32, "legal_acc": 0.99832,
                         "outer_acc": 0.5, "lr": 0.02, "wall_s": 3.0})  # fmt: skip
    reporter.progress.refresh()
    reporter.stop()
    text = buf.getvalue()
    assert not CUT.search(text), text
    for token in ("1234/5000", "4.322", "12,345.6 seq/s", "0.9983", "0.5"):
        assert token in text, (token, text)
    longest = max(len(line) for line in re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", text).splitlines())
    assert longest <= width
