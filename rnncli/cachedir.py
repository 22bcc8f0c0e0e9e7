"""rnncli's cache folder: $RNNCLI_CACHE, else $XDG_CACHE_HOME/rnncli, else
~/.cache/rnncli. The text cache (text/), the compiled kernels (numba/) and the shell
completion's index live there; `rnncli cache` lists and cleans the text cache and the
compiled kernels (`kernel_listing`)."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """The cache folder; it need not exist yet."""
    env = os.environ.get("RNNCLI_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rnncli"


#: The group `kernel_listing` rows belong to (the text cache's rows are ``text``).
KERNELS = "compiled kernels"
# numba's files: <module>.<function>-<line>.py<version>.nbi (the index) and
# ....py<version>.<n>.nbc (one per compiled signature)
_NUMBA_FILE = re.compile(r"(.+)\.py\d+(?:\.\d+)?\.(?:nbi|nbc)")


def numba_dir(root: Path | None = None) -> Path:
    """numba's cache of the compiled kernels (``NUMBA_CACHE_DIR`` unless the user set
    it; see `rnncli.engine.compiled`), under `root` (default `cache_dir()`)."""
    return (root or cache_dir()) / "numba"


def kernel_listing(root: Path | None = None) -> list[dict[str, Any]]:
    """numba's cached kernels under `root`, most recently used first, one row per compiled
    function (its index and machine-code files) in the text cache's row shape (group
    `KERNELS`). Removing them is safe: numba compiles a kernel again on its next use. A
    file that is not numba's is listed, not removable."""
    folder = numba_dir(root)
    groups: dict[str, dict[Path, os.stat_result]] = {}
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if path.is_file():
            part = _NUMBA_FILE.fullmatch(path.name)
            key = f"{path.parent.name}/{part.group(1) if part else path.name}"
            groups.setdefault(key, {})[path] = st
    rows: list[dict[str, Any]] = []
    for key, files in groups.items():
        ours = all(_NUMBA_FILE.fullmatch(f.name) for f in files)
        rows.append({
            "name": key, "group": KERNELS, "files": sorted(str(f) for f in files),
            "source": key.rpartition("/")[2].rpartition("-")[0] if ours else None,
            "characters": None, "dtype": None, "bytes": sum(s.st_size for s in files.values()),
            "last_used": max(s.st_mtime for s in files.values()),
            "problem": None if ours else "not numba's", "removable": ours,
        })  # fmt: skip
    rows.sort(key=lambda r: r["last_used"], reverse=True)
    return rows


def remove_kernel(row: dict[str, Any]) -> None:
    """Delete a `kernel_listing` row's files, and their folder once it is empty."""
    for name in row["files"]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        with contextlib.suppress(OSError):  # not empty, or gone
            Path(name).parent.rmdir()
