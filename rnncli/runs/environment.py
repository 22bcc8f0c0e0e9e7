"""What run.json records of the machine a run ran on: Python, NumPy and its BLAS, the
platform, and the git commit of the working directory."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnncli import __version__


def _blas_info() -> dict[str, Any]:
    try:
        config: Any = np.show_config(mode="dicts")  # numpy >= 1.26
        deps = config["Build Dependencies"]
        out = {}
        for lib in ("blas", "lapack"):
            info = deps.get(lib, {})
            out[lib] = {k: info.get(k) for k in ("name", "version", "openblas configuration")}
        return out
    except Exception:  # older NumPy prints instead of returning; keep it minimal
        return {"blas": None, "lapack": None}


def _git(args: Sequence[str], cwd: Path) -> str | None:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        result = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=2,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_info(directory: str | Path | None = None) -> dict[str, Any] | None:
    """``{commit, dirty}`` of the checkout holding the rnncli sources, None if there is none.

    Read-only git commands only (``--no-optional-locks``: no index refresh); ``commit`` is
    None in a repository without commits; ``dirty`` ignores untracked files.
    """
    where = Path(directory) if directory else Path(__file__).resolve().parent
    if _git(["rev-parse", "--is-inside-work-tree"], where) != "true":
        return None
    commit = _git(["rev-parse", "HEAD"], where)
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    return {"commit": commit or None, "dirty": None if status is None else bool(status)}


def environment_info() -> dict[str, Any]:
    """Versions and machine facts for ``run.json``; never raises."""
    info: dict[str, Any] = {
        "rnncli": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "executable": sys.executable,
    }
    info["blas"] = _blas_info()
    try:
        info["git"] = git_info()
    except Exception:
        info["git"] = None
    return info
