import sqlite3

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from layers import open_store
from layers.catalog import LAYERS
from layers.errors import LayerError, StoreError


def _aoi(names, boxes):
    return gpd.GeoDataFrame({"name": names, "source": "test"}, geometry=boxes, crs="EPSG:4326")


def test_new_store_is_a_geopackage_that_gdal_reads(store_path):
    with open_store(store_path) as store:
        store.upsert("aoi", _aoi(["a"], [shapely.box(100, 10, 101, 11)]))
    layers = {row[0] for row in pyogrio.list_layers(store_path)}
    assert {lyr.name for lyr in LAYERS} <= layers
    frame = gpd.read_file(store_path, layer="aoi")
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.iloc[0].geom_type == "MultiPolygon"
    conn = sqlite3.connect(store_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    for lyr in LAYERS:
        if lyr.geometry_type:
            assert f"rtree_{lyr.name}_geom" in tables


def test_upsert_counts_and_idempotence(store_path):
    store = open_store(store_path)
    frame = _aoi(["a", "b"], [shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6, 6)])
    c = store.upsert("aoi", frame)
    assert (c.inserted, c.updated, c.unchanged) == (2, 0, 0)
    c = store.upsert("aoi", frame)
    assert (c.inserted, c.updated, c.unchanged) == (0, 0, 2)
    moved = frame.copy()
    moved.loc[1, "geometry"] = shapely.box(50, 50, 51, 51)
    c = store.upsert("aoi", moved)
    assert (c.inserted, c.updated, c.unchanged) == (0, 1, 1)
    assert store.count("aoi") == 2
    # the spatial index follows the update
    assert store.read("aoi", bbox=(4, 4, 7, 7)).empty
    assert list(store.read("aoi", bbox=(49, 49, 52, 52))["name"]) == ["b"]


def test_bbox_query_uses_index_and_filters(store_path):
    store = open_store(store_path)
    boxes = [shapely.box(x, 0, x + 0.5, 0.5) for x in range(10)]
    store.upsert("aoi", _aoi([f"n{i}" for i in range(10)], boxes))
    got = store.read("aoi", bbox=(2.6, 0.1, 4.2, 0.2))
    assert sorted(got["name"]) == ["n3", "n4"]
    assert store.count("aoi", bbox=(2.6, 0.1, 4.2, 0.2)) == 2
    assert list(store.read("aoi", where={"name": ["n1", "n7"]})["name"]) == ["n1", "n7"]


def test_transaction_rolls_back_everything(store_path):
    store = open_store(store_path)
    store.upsert("aoi", _aoi(["keep"], [shapely.box(0, 0, 1, 1)]))
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert("aoi", _aoi(["gone"], [shapely.box(0, 0, 1, 1)]))
        store.set_layer_info("aoi", synthetic=True)
        raise RuntimeError("boom")
    assert list(store.read("aoi")["name"]) == ["keep"]
    assert store.layer_info("aoi") == {}


def test_types_round_trip(store_path):
    store = open_store(store_path)
    frame = gpd.GeoDataFrame(
        {
            "clearing_id": ["c1", "c2"],
            "area_ha": [1.5, float("nan")],
            "first_detected": [pd.Timestamp("2024-03-05"), pd.NaT],
            "flags": [["protected_area"], []],
            "risk": [80, None],
            "synthetic": [True, False],
            "reasons": [["x <b>y</b>"], None],
        },
        geometry=[shapely.Polygon([(0, 0), (1, 0), (1, 1)]), shapely.MultiPolygon([shapely.box(2, 2, 3, 3)])],
        crs="EPSG:4326",
    )
    store.upsert("clearings", frame)
    got = store.read("clearings")
    assert got["first_detected"].iloc[0] == pd.Timestamp("2024-03-05")
    assert pd.isna(got["first_detected"].iloc[1])
    assert got["flags"].iloc[0] == ["protected_area"] and got["flags"].iloc[1] == []
    assert got["synthetic"].tolist() == [True, False]
    assert got["risk"].iloc[0] == 80 and pd.isna(got["risk"].iloc[1])
    assert pd.isna(got["area_ha"].iloc[1])
    assert got["reasons"].iloc[0] == ["x <b>y</b>"]


def test_reprojects_to_lonlat_and_refuses_wrong_geometry(store_path):
    store = open_store(store_path)
    utm = gpd.GeoDataFrame({"name": ["u"]}, geometry=[shapely.box(754000, 1501000, 774000, 1521000)], crs="EPSG:32648")
    store.upsert("aoi", utm)
    minx, miny, maxx, maxy = store.read("aoi").total_bounds
    assert 107.3 < minx < maxx < 107.6 and 13.5 < miny < maxy < 13.8
    with pytest.raises(LayerError, match="LineString"):
        store.upsert("aoi", gpd.GeoDataFrame({"name": ["l"]}, geometry=[shapely.LineString([(0, 0), (1, 1)])], crs=4326))
    with pytest.raises(LayerError, match="no field"):
        store.read("aoi", where={"nope": 1})
    with pytest.raises(LayerError, match="no layer"):
        store.read("nope")


def test_open_refuses_foreign_files(tmp_path):
    other = tmp_path / "other.gpkg"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="not a GeoPackage"):
        open_store(other)
    with pytest.raises(StoreError, match="end in .gpkg"):
        open_store(tmp_path / "x.sqlite")
    with pytest.raises(StoreError, match="no such store"):
        open_store(tmp_path / "missing.gpkg", create=False)


def test_a_big_write_is_encoded_in_slices_with_the_same_result(store_path, monkeypatch):
    from layers import gpkg

    monkeypatch.setattr(gpkg, "WRITE_SLICE", 3)
    boxes = [shapely.box(x, 0, x + 0.5, 0.5) for x in range(10)]
    store = open_store(store_path)
    assert store.upsert("aoi", _aoi([f"n{i}" for i in range(10)], boxes)).inserted == 10
    got = store.read("aoi")
    assert list(got["name"]) == [f"n{i}" for i in range(10)]
    assert [g.bounds for g in got.geometry] == [b.bounds for b in boxes]
    assert sorted(store.read("aoi", bbox=(6.6, 0.1, 8.2, 0.2))["name"]) == ["n7", "n8"]
    mixed = _aoi([f"m{i}" for i in range(10)], boxes[:7] + [shapely.LineString([(0, 0), (1, 1)])] + boxes[8:])
    with pytest.raises(LayerError, match="record 7 is a LineString"):
        store.upsert("aoi", mixed)
    assert store.count("aoi") == 10
