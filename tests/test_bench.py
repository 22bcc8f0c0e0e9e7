"""Smoke test of the benchmark library: one tiny size, two rounds, no PyTorch."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from rnncli import bench


@pytest.fixture(scope="module")
def results() -> dict:
    return bench.run_bench(
        sizes=["tiny"],
        cells=["rnn", "lstm"],
        dtypes=["float64"],
        rounds=2,
        torch=False,
        min_sample_s=0.0005,
    )


def test_results_are_json_safe(results: dict) -> None:
    again = json.loads(json.dumps(results, allow_nan=False))
    assert again["config"]["sizes"] == ["tiny"]
    assert again["throughput"] is None  # hook for the training benchmark


def test_rows_have_medians_and_ratios(results: dict) -> None:
    rows = results["results"]
    assert [(r["size"], r["cell"], r["dtype"]) for r in rows] == [
        ("tiny", "rnn", "float64"),
        ("tiny", "lstm", "float64"),
        ("tiny", "lstm 2-layer", "float64"),  # the LSTM's stacked and bidirectional rows
        ("tiny", "lstm bidir", "float64"),
    ]
    stacked, bidir = rows[2:]
    assert (stacked["layers"], stacked["directions"], bidir["directions"]) == (2, 1, 2)
    for r in (stacked, bidir):  # the notebook and the kernels have one layer only
        assert r["notebook"] is None and r["compiled"] is None and r["auto"] == "numpy"
        assert r["gemm_flops"] == bench.gemm_flops("lstm", *bench.SIZES["tiny"],
                                                   r["layers"], r["directions"])  # fmt: skip
        assert r["gemm_flops"] > rows[1]["gemm_flops"]
    for r in rows[:2]:
        for variant in ("engine", "notebook"):
            stats = r[variant]
            assert stats["rounds"] == 2
            assert 0 < stats["q1_ms"] <= stats["median_ms"] <= stats["q3_ms"]
            assert stats["iqr_ms"] >= 0
        assert r["torch"] is None and r["speedup_vs_torch"] is None
        q1, q3 = r["speedup_vs_notebook_iqr"]
        assert 0 < q1 <= r["speedup_vs_notebook"] <= q3
        assert r["speedup_vs_torch_iqr"] is None
        assert r["gemm_flops"] == bench.gemm_flops(r["cell"], *bench.SIZES["tiny"])
        assert r["engine_gflops"] > 0 and r["gemm_share"] > 0
    assert results["gemm_peak"]["float64"]["gflops"] > 0
    assert results["torch"] == {"available": False, "reason": "disabled"}


def test_memory_and_targets(results: dict) -> None:
    mem = results["memory"]
    assert mem["size"] == "tiny"
    assert all(m["engine_bytes"] > 0 and m["notebook_bytes"] > 0 for m in mem["cells"].values())
    found = {t["what"]: t for t in results["targets"]}
    assert found["vs notebook"]["goal"] == 4.0  # the lstm float64 row: no PyTorch here
    assert "vs torch" not in found
    if results["results"][0]["compiled"] is not None:  # with the [fast] extra
        assert found["compiled ms"]["goal"] == bench.COMPILED_TINY_MS
        assert {"rnn float64 auto=compiled", "lstm float64 auto=compiled"} <= set(found)


def test_render_and_markdown(results: dict) -> None:
    console = Console(record=True, width=160)
    bench.render(results, console)
    text = console.export_text()
    assert "lstm" in text and "x nb" in text and "PyTorch: skipped" in text
    md = bench.to_markdown(results)
    assert md.startswith("| size | cell |") and "| tiny | lstm | float64 |" in md


def test_flop_count() -> None:
    # lstm, (n_x, n_a, n_y, m, T) = (3, 5, 2, 10, 7): 6 * 70 * (4*5*8 + 2*5)
    assert bench.gemm_flops("lstm", 3, 5, 2, 10, 7) == 6 * 70 * 170


def test_bad_names_raise() -> None:
    with pytest.raises(ValueError, match="size"):
        bench.run_bench(sizes=["huge"], torch=False)
    with pytest.raises(ValueError, match="cell"):
        bench.run_bench(sizes=["tiny"], cells=["tree"], torch=False)
    with pytest.raises(ValueError, match="dtype"):
        bench.run_bench(sizes=["tiny"], dtypes=["float16"], torch=False)


def test_throughput_hook() -> None:
    out = bench.run_bench(
        sizes=["tiny"],
        cells=["rnn"],
        dtypes=["float32"],
        rounds=1,
        torch=False,
        memory=False,
        min_sample_s=0.0002,
        throughput=lambda: {"sequences_per_s": 1.0},
    )
    assert out["throughput"] == {"sequences_per_s": 1.0}
    assert out["memory"] is None
    assert out["results"][0]["dtype"] == "float32"


def test_speedups_pair_the_samples_of_each_round() -> None:
    # Round 2 ran in a slow spell that hit both variants: paired, every round says 2x;
    # a ratio of the two medians would say 2.5x.
    engine = [1.0, 3.0, 1.0]
    other = [2.0, 6.0, 2.0]
    assert bench._paired_ratio(other, engine) == {"median": 2.0, "q1": 2.0, "q3": 2.0}
    assert bench._paired_ratio([2.0, 4.0, 3.0], [1.0, 1.0, 1.0])["median"] == 3.0
    assert bench._paired_ratio(None, engine) is None


def test_time_budget_adds_rounds() -> None:
    rows = bench.time_size(
        "tiny",
        ["rnn"],
        ["float64"],
        rounds=1,
        min_sample_s=0.0005,
        use_torch=False,
        min_time_s=0.3,
    )
    assert rows[0]["engine"]["rounds"] > 1
    assert rows[0]["engine"]["rounds"] == rows[0]["notebook"]["rounds"]


def test_training_throughput_runs_the_real_loop() -> None:
    from rnncli.training import throughput

    out = throughput.measure(steps=4, cell="rnn")
    assert out["cell"] == "rnn" and out["steps"] == 4
    rows = {r["task"]: r for r in out["rows"]}
    assert set(rows) == {"reber", "adding", "text"}
    assert all(r["numpy"] > 0 for r in rows.values())
    assert rows["text"]["unit"] == "characters/s" and rows["adding"]["auto"] == "numpy"
    lines = bench.throughput_lines(out)
    assert lines[1].startswith("  reber: numpy ")


def test_a_users_cell_is_timed_without_twins() -> None:
    """A user's cell has no notebook or PyTorch twin and no known FLOP count."""
    from pathlib import Path

    mgu = Path(__file__).resolve().parent.parent / "examples" / "cells" / "mgu.py"
    out = bench.run_bench(
        sizes=["tiny"], cells=["lstm", f"{mgu}:MGU"], dtypes=["float64"], rounds=1,
        torch=False, min_sample_s=0.0005, memory=False,
    )  # fmt: skip
    lstm, mine, *_ = out["results"]
    assert mine["cell"] == "MGU" and mine["engine"]["median_ms"] > 0
    assert mine["notebook"] is None and mine["gemm_flops"] is None and mine["gemm_share"] is None
    assert lstm["notebook"] is not None
    console = Console(width=120, record=True)
    bench.render(out, console)
    assert "MGU" in console.export_text()


def test_at_80_columns_dtype_stays_and_the_caption_tells_only_what_is_shown(results: dict):
    import copy

    both = copy.deepcopy(results)
    for row in results["results"]:  # a float32 twin of every row
        both["results"].append({**copy.deepcopy(row), "dtype": "float32"})
    both["gemm_peak"]["float32"] = both["gemm_peak"]["float64"]
    for width in (80, 100):
        console = Console(record=True, width=width)
        bench.render(both, console)
        text = console.export_text()
        head = next(line for line in text.splitlines() if "size" in line and "cell" in line)
        assert "dtype" in head and "f32" in text and "f64" in text
        lines = text.split("median ms ± IQR")[1].split("GEMM peak")[0]
        caption = " ".join(lines.split("┘")[-1].split())
        shown = [c for c in ("engine", "compiled", "auto", "x nb") if c in head]
        assert caption == bench.tables.caption(shown)
        assert ("auto:" in caption) == ("auto" in head)


def test_one_bar_for_the_rounds(monkeypatch):
    """On a terminal: one bar whose step is each stage, not a line per round."""
    import io

    from rnncli.commands.bench import StageBar

    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=True, color_system=None)
    with StageBar(console, ["tiny", "small", "peak memory"]) as bar:
        for size in ("tiny", "small"):
            bar(f"{size}: warming up")
            for r in range(7):
                bar(f"{size}: round {r + 1}/7")
        bar("peak memory small lstm")
        assert bar.progress.tasks[0].completed == 2
    assert buf.getvalue().count("round") <= 2  # redrawn in place, then gone
