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


DEMO_PASSWORD = "demo-password-for-tests"  # every demo account's, through ECOWATCH_DEMO_PASSWORD


def run_demo_cli(store: Path, seed: int | None = None) -> None:
    """``ecowatch demo --no-serve`` into ``store`` (in-process, through the real CLI)."""
    from click.testing import CliRunner

    from cli.main import cli

    args = ["demo", "--no-serve", "--store", str(store)] + ([] if seed is None else ["--seed", str(seed)])
    result = CliRunner().invoke(cli, args, env={"ECOWATCH_DATA_DIR": str(store.parent), "ECOWATCH_DEMO_PASSWORD": DEMO_PASSWORD}, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo region's store, built once per test session with the region's seed."""
    store = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    run_demo_cli(store)
    return store
