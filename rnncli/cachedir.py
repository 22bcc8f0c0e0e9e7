"""rnncli's cache folder: $RNNCLI_CACHE, else $XDG_CACHE_HOME/rnncli, else
~/.cache/rnncli. The text cache (text/), the compiled kernels (numba/) and the shell
completion's index live there; `rnncli cache` lists and cleans it."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache folder; it need not exist yet."""
    env = os.environ.get("RNNCLI_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rnncli"
