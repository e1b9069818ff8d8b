"""The watch-area tables: a store written before them needs `ecowatch store migrate`, which adds them; the digest trail is append-only."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cli.main import cli
from layers import gpkg_rtree, open_store
from layers.errors import SchemaError, StoreError
from tests.layers.gdal_validator import validate

WATCH_TABLES = ("watch_areas", "subscriptions", "outbox", "digests_sent")


def _without_watch_tables(path: Path) -> None:
    open_store(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f'DROP TABLE "{gpkg_rtree.index_name("watch_areas")}"')
        for table in WATCH_TABLES:
            conn.execute(f'DROP TABLE "{table}"')
            for meta in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions"):
                conn.execute(f"DELETE FROM {meta} WHERE table_name = ?", (table,))
    finally:
        conn.close()


def test_an_older_store_gets_the_watch_tables_by_store_migrate(store_path: Path, tmp_path: Path) -> None:
    _without_watch_tables(store_path)
    with pytest.raises(SchemaError, match="ecowatch store migrate"):
        open_store(store_path, readonly=True)
    result = CliRunner().invoke(cli, ["store", "migrate", "--store", str(store_path)], env={"ECOWATCH_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    with open_store(store_path, readonly=True) as store:
        for table in WATCH_TABLES:
            assert store.count(table) == 0
    validate(store_path)


def test_the_delivery_trail_is_append_only(store_path: Path) -> None:
    with open_store(store_path) as store:
        row = {"delivery_id": "DL-1", "digest_id": "DG-1", "channel": "email", "subscription_id": "SUB-1", "sent": dt.datetime(2024, 6, 1)}
        store.upsert("digests_sent", pd.DataFrame([row]))
        with pytest.raises(StoreError):
            store.upsert("digests_sent", pd.DataFrame([{**row, "channel": "webhook"}]))
        with pytest.raises(StoreError):
            store.delete("digests_sent", where={"delivery_id": "DL-1"})
        assert store.read("digests_sent")["channel"].tolist() == ["email"]
