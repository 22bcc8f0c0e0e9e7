"""The project's speed targets, and which of them a run met."""

from __future__ import annotations

from typing import Any

from rnncli.bench.sizes import TARGET_CELL

#: The project's speed targets: (size, minimum speed-up of the engine over the notebook) for
#: the LSTM in float64, and the sizes where it must beat PyTorch (within 1.1x at large).
NOTEBOOK_TARGETS = {"tiny": 4.0, "small": 2.5, "medium": 1.7, "large": 1.7}
TORCH_TARGETS = {"tiny": 1.0, "small": 1.0, "medium": 1.0, "large": 1 / 1.1}
#: The compiled backend's: the tiny LSTM step in at most this many ms (float64), the
#: small one at least this much faster than the NumPy engine, and float32 LSTM against
#: PyTorch at these sizes.
COMPILED_TINY_MS = 0.025
COMPILED_SMALL_SPEEDUP = 1.5
TORCH32_TARGETS = {"small": 1.0, "medium": 1.0}
#: The float32 LSTM against JAX (``jit(value_and_grad)`` over ``lax.scan``), and large
#: against both peers in both dtypes.
JAX32_TARGETS = {"medium": 1.0, "large": 1.0}
LARGE_PEER_TARGET = 1.0


def check_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets (LSTM) that this run measured, met or not, and every row where
    ``engine.backend=auto`` would pick the slower backend."""
    found = []

    def target(size: str, what: str, value: float, goal: float, met: bool) -> None:
        found.append({"size": size, "what": what, "value": value, "goal": goal, "met": met})

    for row in results:
        size, fast = row["size"], row.get("compiled_speedup")
        if fast is not None:  # auto must never pick the slower one
            picked = fast if row["auto"] == "compiled" else 1 / fast
            target(size, f"{row['cell']} {row['dtype']} auto={row['auto']}", picked, 1.0,
                   picked >= 1.0 or abs(fast - 1) < 0.1)  # fmt: skip
        if row["cell"] != TARGET_CELL:
            continue
        for peer, goals in (("torch", TORCH32_TARGETS), ("jax", JAX32_TARGETS)):
            ratio, dtype = row.get(f"speedup_vs_{peer}"), row["dtype"]
            goal = goals.get(size) if dtype == "float32" else None
            if size == "large" and (dtype == "float64" or peer == "torch"):
                goal = LARGE_PEER_TARGET
            if goal is not None and ratio is not None and (dtype, peer) != ("float64", "torch"):
                target(size, f"{dtype} vs {peer}", ratio, goal, ratio >= goal)
        if row["dtype"] == "float32":
            continue
        for other, goal in (("notebook", NOTEBOOK_TARGETS.get(size)),
                            ("torch", TORCH_TARGETS.get(size))):  # fmt: skip
            ratio = row[f"speedup_vs_{other}"]
            if goal is not None and ratio is not None:
                target(size, f"vs {other}", ratio, goal, ratio >= goal)
        if row.get("compiled") and size == "tiny":
            ms = row["compiled"]["median_ms"]
            target(size, "compiled ms", ms, COMPILED_TINY_MS, ms <= COMPILED_TINY_MS)
        if fast is not None and size == "small":
            target(size, "compiled vs engine", fast, COMPILED_SMALL_SPEEDUP,
                   fast >= COMPILED_SMALL_SPEEDUP)  # fmt: skip
    return found
