"""Shared test setup: every test gets its own, empty text cache."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def text_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point RNNCLI_CACHE at a fresh folder (subprocesses inherit it)."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("RNNCLI_CACHE", str(path))
    return path
