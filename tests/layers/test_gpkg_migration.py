"""An older store: readers refuse it naming the command that migrates it; `ecowatch store migrate` does, and GDAL accepts the result."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from layers import gpkg_rtree, open_store
from layers.errors import SchemaError
from tests.layers.gdal_validator import validate

_OLD_UPDATE = (
    'CREATE TRIGGER "rtree_clearings_geom_update6" AFTER UPDATE OF geom ON "clearings" WHEN OLD.fid = NEW.fid AND '
    '(NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) BEGIN DELETE FROM "rtree_clearings_geom" WHERE id = OLD.fid; '
    'INSERT INTO "rtree_clearings_geom" VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom)); END'
)


def _make_old(path: Path) -> None:
    """What wave 1 wrote: no pid/host in ingest_runs, a mixed R-tree trigger set, a 1.2 extension row."""
    open_store(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("ALTER TABLE ingest_runs DROP COLUMN pid")
        conn.execute("ALTER TABLE ingest_runs DROP COLUMN host")
        for suffix in ("update1", "update3", "update4"):
            conn.execute(f'DROP TRIGGER "{gpkg_rtree.index_name("clearings")}_{suffix}"')
        conn.execute(_OLD_UPDATE)
        conn.execute("UPDATE gpkg_extensions SET definition = 'http://www.geopackage.org/spec120/#extension_rtree'")
    finally:
        conn.close()


def test_readers_refuse_an_older_store_and_store_migrate_brings_it_up_to_date(store_path: Path, tmp_path: Path):
    _make_old(store_path)
    with pytest.raises(SchemaError, match=r"needs a migration \(.*no column ingest_runs\.pid.*run `ecowatch store migrate --store "):
        open_store(store_path, readonly=True)
    env = {"ECOWATCH_DATA_DIR": str(tmp_path)}
    exported = CliRunner().invoke(cli, ["export", "clearings", "--store", str(store_path)], env=env)
    assert exported.exit_code == 1 and "ecowatch store migrate" in exported.output

    migrated = CliRunner().invoke(cli, ["store", "migrate", "--store", str(store_path)], env=env)
    assert migrated.exit_code == 0, migrated.output
    assert "no column ingest_runs.pid" in migrated.output and "R-tree triggers of clearings are not GeoPackage 1.3's" in migrated.output
    again = CliRunner().invoke(cli, ["store", "migrate", "--store", str(store_path)], env=env)
    assert again.exit_code == 0 and "up to date" in again.output
    with open_store(store_path, readonly=True) as store:
        assert "pid" in store.read("ingest_runs").columns
    validate(store_path)


def test_store_migrate_does_not_create_a_store(tmp_path: Path):
    result = CliRunner().invoke(cli, ["store", "migrate", "--store", str(tmp_path / "none.gpkg")], env={"ECOWATCH_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1 and "no such store" in result.output
    assert not (tmp_path / "none.gpkg").exists()
