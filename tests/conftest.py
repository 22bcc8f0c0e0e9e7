"""Shared test setup: the text cache lives in temporary folders, never in ~/.cache; Ctrl-C
works even in a test run started with SIGINT ignored."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from rnncli.cachedir import numba_dir

# The compiled kernels stay in the user's cache across test sessions (each test's cache
# folder is a fresh one: numba would compile every kernel again in every session).
os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_dir()))

# A test run started in the background of a non-interactive shell inherits SIGINT ignored,
# and so would every rnncli it starts: the Ctrl-C tests need the usual handler.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def _session_text_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """For fixtures wider than a test (a module's trained runs): one cache for the session."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNCLI_CACHE", str(tmp_path_factory.mktemp("session-cache")))
        yield


@pytest.fixture(autouse=True)
def text_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own, empty cache (subprocesses inherit RNNCLI_CACHE)."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("RNNCLI_CACHE", str(path))
    return path
