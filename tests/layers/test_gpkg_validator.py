"""GDAL's validator accepts what the store writes: a fresh store, the demo store, and the demo store after updates and deletes."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers import CATALOG, gpkg, open_store
from layers.gpkg_rtree import EXTENSION_DEFINITION, TRIGGER_SUFFIXES, index_name
from tests.layers.gdal_validator import validate


def _markers(path: Path) -> tuple[int, int, set[str], set[str]]:
    conn = sqlite3.connect(path)
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        definitions = {r[0] for r in conn.execute("SELECT definition FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index'")}
        triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'clearings'")}
    finally:
        conn.close()
    return app_id, version, definitions, triggers


def test_a_fresh_store_is_a_valid_geopackage_1_3(store_path: Path):
    open_store(store_path).close()
    validate(store_path)
    app_id, version, definitions, triggers = _markers(store_path)
    assert app_id.to_bytes(4, "big") == b"GPKG" and version == 10300
    assert definitions == {EXTENSION_DEFINITION} and "spec130" in EXTENSION_DEFINITION
    assert triggers == {f"{index_name('clearings')}_{s}" for s in TRIGGER_SUFFIXES}


@pytest.mark.parametrize("bulk_rows", [1, 10**9])
def test_writes_updates_and_deletes_leave_a_valid_file(store_path: Path, monkeypatch: pytest.MonkeyPatch, bulk_rows: int):
    monkeypatch.setattr(gpkg, "BULK_ROWS", bulk_rows)
    rng = np.random.default_rng(4)
    n = 300
    x, y = rng.uniform(100, 108, n), rng.uniform(10, 20, n)
    frame = gpd.GeoDataFrame(
        {"clearing_id": [f"c{i}" for i in range(n)], "aoi": "a", "area_ha": rng.uniform(1, 9, n), "review_status": "new"},
        geometry=[shapely.box(a, b, a + 0.01, b + 0.01) for a, b in zip(x, y, strict=True)], crs="EPSG:4326",
    )
    with open_store(store_path) as store:
        store.upsert("clearings", frame)
        moved = frame.iloc[:50].copy()
        moved["geometry"] = moved.geometry.translate(0.5, 0.5)
        store.upsert("clearings", moved)
        store.delete("clearings", where={"clearing_id": [f"c{i}" for i in range(200, 250)]})
        store.replace("clearings", frame.iloc[:10].assign(clearing_id=[f"r{i}" for i in range(10)]), where={"clearing_id": [f"c{i}" for i in range(250, 300)]})
    validate(store_path)


def test_the_demo_store_and_its_edits_are_valid(demo_store: Path, tmp_path: Path):
    """The demo ran ingest, detect and analyse; updates and deletes on a copy keep the file valid."""
    validate(demo_store)
    copy = tmp_path / "demo-copy.gpkg"
    shutil.copy(demo_store, copy)
    with open_store(copy) as store:
        clearings = store.read("clearings")
        assert len(clearings) > 5
        edited = clearings.iloc[: len(clearings) // 2].copy()
        edited["geometry"] = edited.geometry.translate(0.001, -0.001)
        edited["review_status"] = "confirmed"
        store.upsert("clearings", edited)
        store.delete("clearings", where={"clearing_id": list(clearings["clearing_id"].iloc[-3:])})
        store.delete("seizures", where={"seizure_id": list(store.read("seizures", limit=5)["seizure_id"])})
        counts = {name: store.count(name) for name in CATALOG}
    validate(copy)
    assert counts["clearings"] == len(clearings) - 3
