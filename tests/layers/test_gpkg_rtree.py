"""The GeoPackage R-tree: bulk upkeep gives the index the triggers would have given, and keeps the triggers."""

import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from layers import gpkg, gpkg_rtree, open_store
from layers.errors import StoreError
from layers.gpkg_rtree import outward_float32


@pytest.fixture(params=["bulk", "triggers"])
def path_kind(request, monkeypatch):
    """Every scenario two ways: the index kept in bulk, or by the per-row triggers."""
    monkeypatch.setattr(gpkg, "BULK_ROWS", 10**9 if request.param == "triggers" else 1)
    return request.param


def _index(path, layer):
    """(fid → rounded box) of the R-tree, the triggers' SQL, and SQLite's own check of the R-tree."""
    conn = sqlite3.connect(path)
    try:
        rtree = gpkg_rtree.index_name(layer)
        entries = {r[0]: r[1:] for r in conn.execute(f'SELECT id, minx, maxx, miny, maxy FROM "{rtree}"')}
        triggers = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (layer,)).fetchall())
        check = conn.execute("SELECT rtreecheck(?)", (rtree,)).fetchone()[0]
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    return entries, triggers, (check, integrity)


def _features(path, layer):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f'SELECT * FROM "{layer}" ORDER BY fid').fetchall()
    finally:
        conn.close()


def _expected_index(store, layer):
    """What the GeoPackage triggers put in the R-tree: every non-empty geometry's bounds, rounded outwards."""
    frame = store.read(layer)
    geoms = frame.geometry.values
    indexed = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    boxes = outward_float32(shapely.bounds(geoms[indexed])[:, [0, 2, 1, 3]])
    return {int(fid): tuple(float(v) for v in box) for fid, box in zip(frame.index[indexed], boxes, strict=True)}


def _fresh_triggers(tmp_path, layer):
    path = tmp_path / "fresh.gpkg"
    open_store(path).close()
    return _index(path, layer)[1]


def _aoi(names, geoms):
    return gpd.GeoDataFrame({"name": names, "source": "test"}, geometry=list(geoms), crs="EPSG:4326")


def _random_boxes(rng, n, scale=1.0):
    x, y = rng.uniform(-180, 179, n), rng.uniform(-89, 88, n)
    w, h = rng.uniform(0, scale, (2, n))
    return [shapely.box(a, b, a + c, b + d) for a, b, c, d in zip(x, y, w, h, strict=True)]


def test_upsert_inserts_updates_and_unchanged_rows_index_like_the_triggers(tmp_path, path_kind):
    rng = np.random.default_rng(11)
    path = tmp_path / "s.gpkg"
    store = open_store(path)
    first = _aoi([f"a{i}" for i in range(700)], _random_boxes(rng, 700))
    first.loc[5, "geometry"] = None
    first.loc[6, "geometry"] = shapely.MultiPolygon()
    assert store.upsert("aoi", first).inserted == 700
    assert _index(path, "aoi")[0] == _expected_index(store, "aoi")

    second = first.iloc[:400].copy()
    second.loc[:99, "geometry"] = _random_boxes(rng, 100, scale=3)  # moved, rows 5 and 6 gain a geometry
    second.loc[100:149, "source"] = "changed"  # attributes only
    second.loc[150, "geometry"] = None  # loses its geometry
    second.loc[151, "geometry"] = shapely.Polygon()  # becomes empty
    new = _aoi([f"b{i}" for i in range(300)], _random_boxes(rng, 300))
    counts = store.upsert("aoi", pd.concat([second, new], ignore_index=True))
    assert (counts.inserted, counts.updated, counts.unchanged) == (300, 152, 248)

    entries, triggers, checks = _index(path, "aoi")
    assert checks == ("ok", "ok")
    assert entries == _expected_index(store, "aoi")
    assert len(entries) == 1000 - 2
    assert triggers == _fresh_triggers(tmp_path, "aoi")


def test_bulk_and_trigger_writes_give_the_same_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    frames = [_aoi([f"n{i}" for i in range(k, k + 600)], _random_boxes(rng, 600)) for k in (0, 300)]
    frames[1].loc[:50, "geometry"] = None
    results = []
    for bulk_rows in (1, 10**9):
        monkeypatch.setattr(gpkg, "BULK_ROWS", bulk_rows)
        path = tmp_path / f"s{bulk_rows}.gpkg"
        with open_store(path) as store:
            counts = [store.upsert("aoi", f) for f in frames]
            counts.append(store.replace("aoi", frames[0].iloc[:100], where={"source": "test"}))
            counts.append(store.upsert("aoi", frames[1]))
        entries, triggers, checks = _index(path, "aoi")
        assert checks == ("ok", "ok")
        # fids are SQLite's to choose (an upsert that updates may use one up): compare by name
        rows = _features(path, "aoi")
        name_of = {r[0]: r[2] for r in rows}
        results.append((counts, sorted((r[2], r[1] or b"", r[3:]) for r in rows), {name_of[k]: v for k, v in entries.items()}, triggers))
    assert results[0] == results[1]


def test_replace_and_delete_keep_the_index(store_path, path_kind):
    rng = np.random.default_rng(3)
    store = open_store(store_path)
    store.upsert("aoi", _aoi([f"a{i}" for i in range(800)], _random_boxes(rng, 800)))
    store.upsert("aoi", _aoi([f"z{i}" for i in range(20)], _random_boxes(rng, 20)).assign(source="other"))
    store.replace("aoi", _aoi([f"c{i}" for i in range(600)], _random_boxes(rng, 600)), where={"source": "test"})
    assert _index(store_path, "aoi")[0] == _expected_index(store, "aoi")
    store.replace("aoi", _aoi(["only"], [shapely.box(0, 0, 1, 1)]))
    assert _index(store_path, "aoi")[0] == _expected_index(store, "aoi")
    assert store.delete("aoi", where={"name": "only"}) == 1
    entries, _, checks = _index(store_path, "aoi")
    assert entries == {} and checks == ("ok", "ok")


def test_a_failed_transaction_leaves_rows_index_and_triggers_as_before(store_path, tmp_path, path_kind):
    rng = np.random.default_rng(8)
    store = open_store(store_path)
    store.upsert("aoi", _aoi([f"a{i}" for i in range(600)], _random_boxes(rng, 600)))
    before = (_features(store_path, "aoi"), _index(store_path, "aoi"))
    moved = _aoi([f"a{i}" for i in range(300)], _random_boxes(rng, 300, scale=5))
    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        store.upsert("aoi", moved)
        store.upsert("aoi", _aoi([f"new{i}" for i in range(900)], _random_boxes(rng, 900)))
        store.replace("aoi", _aoi(["r1", "r2"], _random_boxes(rng, 2)), where={"name": ["a1", "a2"]})
        raise RuntimeError("boom")
    assert (_features(store_path, "aoi"), _index(store_path, "aoi")) == before
    assert before[1][1] == _fresh_triggers(tmp_path, "aoi")
    # the store goes on writing through the restored triggers and the kept index
    store.upsert("aoi", moved.iloc[:3])
    assert _index(store_path, "aoi")[0] == _expected_index(store, "aoi")


def test_a_failure_inside_the_upkeep_rolls_back_the_write_only(store_path, monkeypatch):
    rng = np.random.default_rng(9)
    monkeypatch.setattr(gpkg, "BULK_ROWS", 1)
    store = open_store(store_path)
    store.upsert("aoi", _aoi([f"a{i}" for i in range(50)], _random_boxes(rng, 50)))
    before = (_features(store_path, "aoi"), _index(store_path, "aoi"))

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    with store.transaction():
        store.set_layer_info("aoi", synthetic=True)
        with monkeypatch.context() as m:
            m.setattr(gpkg_rtree, "_refresh", broken)
            with pytest.raises(StoreError, match="writing layer 'aoi' failed: disk I/O error"):
                store.upsert("aoi", _aoi([f"b{i}" for i in range(40)], _random_boxes(rng, 40)))
    # the outer transaction committed its own write; the failed upsert left nothing, triggers included
    assert store.layer_info("aoi") == {"synthetic": True}
    assert (_features(store_path, "aoi"), _index(store_path, "aoi")) == before


def test_gdal_reads_by_bbox_through_the_index_and_writes_through_the_triggers(store_path, path_kind):
    rng = np.random.default_rng(21)
    n = 3000
    frame = gpd.GeoDataFrame(
        {"seizure_id": [f"s{i}" for i in range(n)], "source": "test"},
        geometry=shapely.points(rng.uniform(100, 108, n), rng.uniform(10, 22, n)), crs="EPSG:4326",
    )
    with open_store(store_path) as store:
        store.upsert("seizures", frame)
        store.upsert("aoi", _aoi([f"a{i}" for i in range(600)], _random_boxes(rng, 600, scale=8)))
    for layer, key, bbox in (("seizures", "seizure_id", (102.3, 12.1, 104.9, 15.7)), ("aoi", "name", (-20.5, -10.5, 30.25, 40.75))):
        with open_store(store_path) as store:
            whole = store.read(layer)
            ours = store.read(layer, bbox=bbox)
        box = shapely.box(*bbox)
        assert sorted(ours[key]) == sorted(whole[key][shapely.intersects(shapely.envelope(whole.geometry.values), box)])
        by_gdal = pyogrio.read_dataframe(store_path, layer=layer, bbox=bbox)
        assert sorted(by_gdal[key]) == sorted(whole[key][shapely.intersects(whole.geometry.values, box)])
        assert len(by_gdal) > 10

    # GDAL appending to a layer (as QGIS would) goes through the triggers left in place
    extra = gpd.GeoDataFrame({"seizure_id": ["gdal-1"], "source": ["gdal"]}, geometry=[shapely.Point(107.5, 21.5)], crs="EPSG:4326")
    pyogrio.write_dataframe(extra, store_path, layer="seizures", append=True)
    with open_store(store_path) as store:
        assert list(store.read("seizures", bbox=(107.4, 21.4, 107.6, 21.6), where={"source": "gdal"})["seizure_id"]) == ["gdal-1"]
        entries, _, checks = _index(store_path, "seizures")
        assert checks == ("ok", "ok")
        assert entries == _expected_index(store, "seizures")


def test_rounding_is_sqlites():
    rng = np.random.default_rng(2)
    mins = np.concatenate([rng.normal(0, 1e3, 2000), [0.0, -0.0, 1e-40, -1e-40, 0.1, -0.1, 16777217.0, -16777217.0]])
    bounds = np.column_stack([mins, mins + np.abs(rng.normal(0, 1, len(mins))), mins, mins + 0.3])
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE r USING rtree(id, minx, maxx, miny, maxy)")
    conn.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?)", [(i, *b) for i, b in enumerate(bounds.tolist())])
    stored = np.array(conn.execute("SELECT minx, maxx, miny, maxy FROM r ORDER BY id").fetchall(), dtype=np.float64)
    assert (outward_float32(bounds).astype(np.float64) == stored).all()
