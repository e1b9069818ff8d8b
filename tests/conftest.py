"""Shared fixtures: test settings that never read the real environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings with the data folder in a temporary directory."""
    return load_settings({}, data_dir=tmp_path / "data")


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.gpkg"
