"""Shared fixtures: test settings that never read the real environment."""

from __future__ import annotations

from collections.abc import Iterator
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


# -- store backends ----------------------------------------------------------------------------
# A test marked `backend` that asks for `store_url` runs once per backend: a GeoPackage file, and a
# PostGIS schema of its own in the server scripts/postgis.sh starts (POSTGIS_TEST_URL).
# Without that server the PostGIS run is skipped, saying why; with CI=true it fails instead.
# Every PostGIS run carries the `postgis` mark: `make test` runs them as a step of their own beside
# the server (the default `pytest` run deselects them and needs no server; see pyproject.toml).
POSTGIS = pytest.param("postgis", marks=pytest.mark.postgis, id="postgis")
BACKENDS = ("gpkg", POSTGIS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("backend") and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """No PostGIS run escapes its step: a test on the PostGIS backend without the mark is an error."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgis" and item.get_closest_marker("postgis") is None:
            raise pytest.UsageError(f"{item.nodeid} runs on PostGIS without the `postgis` mark (use tests.conftest.POSTGIS)")


@pytest.fixture
def backend() -> str:
    """The store backend of a test not marked `backend`: the GeoPackage."""
    return "gpkg"


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty store of ``backend``: a GeoPackage path, or a PostGIS URL of a fresh schema."""
    if backend == "gpkg":
        yield str(tmp_path / "store.gpkg")
        return
    from tests.postgis_server import fresh_schema

    with fresh_schema() as url:
        yield url
