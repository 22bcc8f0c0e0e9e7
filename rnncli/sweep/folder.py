"""The sweep folder's record: ``sweep.json``, and whether a folder may be resumed.

:func:`sweep_doc` is the ``sweep.json`` document (grid, seeds, base config, every job's
status, seed and run folder); :func:`check_out` accepts an ``--out`` folder only if it is
empty, new, or holds this same sweep (same grid, seeds and base config).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnncli.errors import InputError
from rnncli.runs import now_iso
from rnncli.runs.names import SWEEP_JSON
from rnncli.sweep.job import read_json
from rnncli.sweep.plan import FAILED, SweepPlan

FORMAT = "rnncli-sweep/1"


def check_out(plan: SweepPlan, out: Path) -> dict[str, Any] | None:
    """The existing ``sweep.json`` at ``out`` if it is this sweep; refuse anything else."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file, expected a sweep folder")
    doc_path = out / SWEEP_JSON
    if not doc_path.exists():
        if out.is_dir() and any(out.iterdir()):
            raise InputError(
                f"--out {out}: folder exists and is not a sweep folder (no {SWEEP_JSON})"
            )
        return None
    doc = read_json(doc_path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{doc_path}: not a readable rnncli sweep file")
    mine = plan.fingerprint()
    differ = [k for k in ("grid", "seeds", "base_config") if doc.get(k) != mine[k]]
    if differ:
        what = " and ".join({"base_config": "base config"}.get(k, k) for k in differ)
        raise InputError(
            f"--out {out} holds a different sweep ({what} differ); "
            "use another --out, or the same grid, seeds and config to resume it"
        )
    return doc


def sweep_doc(
    plan: SweepPlan,
    sweep_dir: Path,
    status: str,
    where: str,
    argv: Sequence[str],
    created: str,
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    """The ``sweep.json`` document: the plan, every job's record and counts by status."""
    counts = {s: 0 for s in ("pending", "running", "completed", "skipped", *FAILED, "interrupted")}
    for job in plan.jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    return {
        "format": FORMAT,
        "name": plan.name,
        "status": status,
        "sweep_dir": str(sweep_dir),
        "created": created,
        "updated": now_iso(),
        "runs": history,
        "argv": list(argv),
        "executor": where,
        "config_file": plan.config_file,
        "flags": plan.flags,
        "overrides": plan.overrides,
        "grid": plan.grid,
        "seeds": plan.seeds,
        "root_seed": plan.root_seed,
        "seed_derivation": "SeedSequence(root_seed, spawn_key=(seed_label,))"
        ".generate_state(1, uint32)[0]",
        "base_config": plan.base_config,
        "dask_timeout": plan.dask_timeout,
        "batch_members": plan.batch_members,
        "counts": counts,
        "jobs": [j.record() for j in plan.jobs],
    }
