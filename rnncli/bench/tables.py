"""The results as a table that fits the console, as summary lines, and as markdown."""

from __future__ import annotations

from typing import Any

from rnncli.engine.compiled import AUTO_FROM_STEP


def _ms(stats: dict[str, Any] | None) -> str:
    if stats is None:
        return "-"
    med, iqr = stats["median_ms"], stats["iqr_ms"]
    digits = 3 if med < 1 else 2 if med < 10 else 1 if med < 100 else 0
    return f"{med:.{digits}f}±{iqr:.{digits}f}"


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def _rate(gflops: float | None) -> str:
    return "-" if gflops is None else f"{gflops:.1f}"


def _share(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"


def render(results: dict[str, Any], console: Any = None) -> None:
    """Print the results as a table that fits the console, plus summary lines."""
    from rich.console import Console

    from rnncli.report import Col, fit_columns, fit_table

    console = console or Console()
    dtypes = {row["dtype"] for row in results["results"]}
    cols = [
        Col("size"), Col("cell"), Col("dtype", priority=0 if len(dtypes) > 1 else 3),
        Col("engine", "right"), Col("compiled", "right", priority=2), Col("auto", priority=3),
        Col("notebook", "right", priority=2), Col("x nb", "right"),
        Col("torch", "right", priority=2), Col("x torch", "right"),
        Col("jax", "right", priority=2), Col("x jax", "right"),
        Col("GFLOP/s", "right", priority=4), Col("% peak", "right", priority=5),
    ]  # fmt: skip
    rows = [
        [
            row["size"],
            row["cell"],
            row["dtype"].replace("float", "f"),
            _ms(row["engine"]),
            _ms(row.get("compiled")),
            row.get("auto", "numpy"),
            _ms(row["notebook"]),
            _x(row["speedup_vs_notebook"]),
            _ms(row["torch"]),
            _x(row["speedup_vs_torch"]),
            _ms(row.get("jax")),
            _x(row.get("speedup_vs_jax")),
            _rate(row["engine_gflops"]),
            _share(row["gemm_share"]),
        ]  # fmt: skip
        for row in results["results"]
    ]
    keep = fit_columns(cols, rows, console.width)
    table = fit_table("forward + backward (loss_and_grads), median ms ± IQR", cols, rows,
                      console.width, caption=caption([cols[i].header for i in keep]),
                      keep=keep)  # fmt: skip
    table.caption_justify = "left"
    console.print(table)
    tp = results["throughput"]
    for line in summary_lines(results) + (throughput_lines(tp) if tp else []):
        console.print(line, highlight=False, markup=False)


#: What the caption says of each column it explains, when that column is shown.
CAPTION = {
    "engine": "engine: NumPy",
    "compiled": "compiled: the numba kernels",
    "auto": "auto: what engine.backend=auto trains this size on",
    "x nb": "x nb, x torch: median over rounds of the other / engine (> 1: the engine is "
    "faster)",
}


def caption(shown: list[str]) -> str:
    """The table's caption: a line for each column shown that needs one, no other."""
    return "; ".join(text for col, text in CAPTION.items() if col in shown)


def summary_lines(results: dict[str, Any]) -> list[str]:
    peaks = ", ".join(f"{d} {p['gflops']:.1f} GFLOP/s" for d, p in results["gemm_peak"].items())
    gemm = results["config"].get("blas")
    return [
        f"GEMM peak (1024^3 matmul, best of 5 after each size): {peaks}",
        *([f"engine products on: {gemm} (engine.blas)"] if gemm else []),
        _torch_line(results["torch"]),
        *_jax_lines(results.get("jax")),
        *_memory_lines(results["memory"]),
        *_target_lines(results["targets"]),
        *_machine_lines(results["machine"]),
    ]


def _torch_line(tinfo: dict[str, Any]) -> str:
    if not tinfo["available"]:
        return f"PyTorch: skipped ({tinfo['reason']}); pip install 'rnncli[bench]'"
    blas = f", BLAS {tinfo['blas']}" if tinfo.get("blas") else ""
    return f"PyTorch {tinfo['version']}, {tinfo['num_threads']} threads{blas}"


def _jax_lines(jinfo: dict[str, Any] | None) -> list[str]:
    if not jinfo:
        return []
    if not jinfo["available"]:
        return [f"JAX: skipped ({jinfo['reason']})"]
    return [f"JAX {jinfo['version']} (jit(value_and_grad) over lax.scan), one-layer models"]


def _memory_lines(mem: dict[str, Any] | None) -> list[str]:
    if not mem:
        return []
    lines = []
    for cell, m in mem["cells"].items():
        engine, notebook = m["engine_bytes"] / 2**20, m["notebook_bytes"] / 2**20
        lines.append(
            f"peak memory, one call at {mem['size']} {mem['dtype']} {cell}: "
            f"engine {engine:.1f} MiB, notebook {notebook:.1f} MiB"
        )
    return lines


def _target_lines(targets: list[dict[str, Any]]) -> list[str]:
    lines = []
    for t in targets:
        verdict = "met" if t["met"] else "MISSED"
        if t["what"] == "compiled ms":
            lines.append(f"target lstm {t['size']} compiled: {t['value']:.3f} ms "
                         f"(goal <= {t['goal']:.3f} ms) {verdict}")  # fmt: skip
        elif "auto=" in t["what"]:
            if not t["met"]:
                lines.append(f"auto at {t['size']} {t['what']}: the slower backend "
                             f"({t['value']:.2f}x) MISSED")  # fmt: skip
        else:
            lines.append(f"target lstm {t['size']} {t['what']}: {t['value']:.2f}x "
                         f"(goal >= {t['goal']:.2f}x) {verdict}")  # fmt: skip
    return lines


def _machine_lines(machine: dict[str, Any]) -> list[str]:
    lines = []
    blas = [p for p in machine.get("threadpools") or [] if p.get("user_api") == "blas"]
    if blas:  # NumPy's own (MKL may be loaded beside it for engine.blas)
        b = next((p for p in blas if "numpy" in str(p.get("filepath", ""))), blas[0])
        lines.append(
            f"NumPy BLAS: {b.get('internal_api')} {b.get('version')} "
            f"({b.get('architecture')} kernels, {b.get('num_threads')} threads)"
        )
    env = machine["env"]
    lines.append("environment: " + (", ".join(f"{k}={v}" for k, v in env.items()) or "-"))
    return lines


def throughput_lines(tp: dict[str, Any]) -> list[str]:
    """Training throughput, one line per task: the rate on each backend."""
    lines = [f"training throughput ({tp['cell']}, task defaults, median of runs):"]
    for r in tp["rows"]:
        rates = [f"{b} {r[b]:,.0f}" for b in ("numpy", "compiled") if r.get(b)]
        ratio = f" ({r['compiled'] / r['numpy']:.2f}x)" if r.get("compiled") else ""
        auto = r["auto"] + (f" from step {AUTO_FROM_STEP:,}" if r["auto"] == "compiled" else "")
        lines.append(f"  {r['task']}: {', '.join(rates)} {r['unit']}{ratio}; auto: {auto}")
    return lines


def to_markdown(results: dict[str, Any]) -> str:
    """The table as GitHub markdown (for benchmarks/RESULTS.md)."""
    head = (
        "| size | cell | dtype | engine ms | compiled ms | auto | notebook ms | x notebook "
        "| torch ms | x torch | jax ms | x jax | GFLOP/s | % peak |\n"
        "|---|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    )
    rows = [
        f"| {r['size']} | {r['cell']} | {r['dtype']} | {_ms(r['engine'])} | "
        f"{_ms(r.get('compiled'))} | {r.get('auto', 'numpy')} | "
        f"{_ms(r['notebook'])} | {_x(r['speedup_vs_notebook'])} | {_ms(r['torch'])} | "
        f"{_x(r['speedup_vs_torch'])} | {_ms(r.get('jax'))} | {_x(r.get('speedup_vs_jax'))} | "
        f"{_rate(r['engine_gflops'])} | "
        f"{_share(r['gemm_share'])} |"
        for r in results["results"]
    ]
    tp = results["throughput"]
    lines = summary_lines(results) + (throughput_lines(tp) if tp else [])
    return head + "\n".join(rows) + "\n\n" + "\n".join(f"- {s}" for s in lines)
