"""The store's contract, once for every backend: a GeoPackage file and a PostGIS schema.

What the rest of ecowatch relies on: writes and upserts by natural key with their counts, bbox
and attribute queries with every condition, orders and pages, transactions that land whole or
not at all, readers that never wait for a writer and never see half a write, read-only stores,
migrations, and the append-only trail. Every test here runs on both stores (marker `backend`);
the last ones check that the two give back identical frames.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers import open_store
from layers.conditions import AtLeast, Between, Contains, Not
from layers.errors import LayerError, SchemaError, StoreError, StoreReadOnlyError
from layers.schema import MIGRATE_COMMAND

pytestmark = pytest.mark.backend

WAIT_S = 60  # a safety net against a hang only: nothing is timed


def clearings(ids: list[str], seed: int = 0, **columns: object) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(100, 110, len(ids)), rng.uniform(10, 20, len(ids))
    data = {"clearing_id": ids, "aoi": "a", "review_status": "new", "area_ha": rng.uniform(1, 5, len(ids)).round(3)}
    data.update(columns)  # type: ignore[arg-type]
    return gpd.GeoDataFrame(data, geometry=[shapely.box(a, b, a + 0.01, b + 0.01) for a, b in zip(x, y, strict=True)], crs="EPSG:4326")


def typed_clearings() -> gpd.GeoDataFrame:
    """Five clearings with a value of every field type, NULLs and awkward text among them."""
    return gpd.GeoDataFrame(
        {
            "clearing_id": ["c1", "c2", "c3", "c4", "c5"],
            "aoi": ["north", "north", "south", None, "Zeta"],
            "area_ha": [1.5, float("nan"), 3.25, 10.0, 0.125],
            "first_detected": pd.to_datetime(["2024-03-05", None, "2024-06-30", "2023-12-31", "2024-01-01"]),
            "confidence": ["high", "low", "high", "low", None],
            "flags": [["protected_area"], [], ["outside_concession", "protected_area"], None, ["near_corridor"]],
            "risk": pd.array([80, None, 55, 20, 95], dtype="Int64"),
            "synthetic": pd.array([True, False, None, True, False], dtype="boolean"),
            "review_status": ["new", "confirmed", "new", "dismissed", "new"],
            "run_id": ["r1", "r1", "r2", "ö 'quoted' \"x\"; DROP TABLE clearings", "r2"],
            "quicklooks": [{"before": "a.png", "after": "b.png"}, None, {}, {"n": 1}, {"x": [1, 2]}],
        },
        geometry=[shapely.box(100, 10, 100.1, 10.1), shapely.box(101, 11, 101.1, 11.1), shapely.Polygon(), None,
                  shapely.MultiPolygon([shapely.box(104, 14, 104.1, 14.1), shapely.box(105, 15, 105.1, 15.1)])],
        crs="EPSG:4326",
    )


def ids(frame: pd.DataFrame) -> list[str]:
    return list(frame["clearing_id"])


# -- writing ----------------------------------------------------------------------------------------
def test_types_round_trip(store_url: str) -> None:
    with open_store(store_url) as store:
        assert store.upsert("clearings", typed_clearings()).inserted == 5
        got = store.read("clearings", columns=["clearing_id", "area_ha", "first_detected", "flags", "risk", "synthetic", "run_id", "quicklooks", "aoi"])
    assert ids(got) == ["c1", "c2", "c3", "c4", "c5"]
    assert got["area_ha"].iloc[0] == 1.5 and np.isnan(got["area_ha"].iloc[1])
    assert got["first_detected"].dtype == "datetime64[ns]" and pd.isna(got["first_detected"].iloc[1])
    assert got["first_detected"].iloc[2] == pd.Timestamp("2024-06-30")
    assert got["flags"].iloc[2] == ["outside_concession", "protected_area"] and got["flags"].iloc[1] == [] and got["flags"].iloc[3] is None
    assert str(got["risk"].dtype) == "Int64" and pd.isna(got["risk"].iloc[1]) and got["risk"].iloc[4] == 95
    assert str(got["synthetic"].dtype) == "boolean" and got["synthetic"].iloc[0] and pd.isna(got["synthetic"].iloc[2])
    assert got["run_id"].iloc[3] == "ö 'quoted' \"x\"; DROP TABLE clearings"
    assert got["quicklooks"].iloc[0] == {"after": "b.png", "before": "a.png"} and got["quicklooks"].iloc[4] == {"x": [1, 2]}
    assert got.crs.to_epsg() == 4326
    geoms = list(got.geometry)
    assert geoms[0].geom_type == "MultiPolygon" and geoms[0].equals(shapely.box(100, 10, 100.1, 10.1))
    assert geoms[2].is_empty and geoms[3] is None and len(geoms[4].geoms) == 2


def test_upsert_by_key_counts_inserted_updated_unchanged(store_url: str) -> None:
    with open_store(store_url) as store:
        frame = typed_clearings()
        c = store.upsert("clearings", frame)
        assert (c.inserted, c.updated, c.unchanged) == (5, 0, 0)
        assert store.upsert("clearings", frame.iloc[:0]).written == 0
        c = store.upsert("clearings", frame)
        assert (c.inserted, c.updated, c.unchanged) == (0, 0, 5)
        changed = frame.copy()
        changed.loc[1, "area_ha"] = 7.0  # NaN -> a value
        changed.loc[3, "geometry"] = shapely.box(50, 50, 51, 51)  # NULL -> a geometry
        changed.loc[4, "flags"] = ["near_corridor", "x"]
        extra = clearings(["c6"])
        c = store.upsert("clearings", pd.concat([changed, extra], ignore_index=True))
        assert (c.inserted, c.updated, c.unchanged) == (1, 3, 2)
        assert store.count("clearings") == 6
        assert ids(store.read("clearings", bbox=(49, 49, 52, 52))) == ["c4"]


def test_a_plain_frame_updates_attributes_and_keeps_geometries(store_url: str) -> None:
    with open_store(store_url) as store:
        store.upsert("clearings", clearings(["a", "b"]))
        before = store.read("clearings").geometry
        c = store.upsert("clearings", pd.DataFrame({"clearing_id": ["a", "b", "new"], "review_status": ["confirmed", "new", "new"]}))
        assert (c.inserted, c.updated, c.unchanged) == (1, 1, 1)
        got = store.read("clearings")
        assert list(got["review_status"]) == ["confirmed", "new", "new"]
        assert got.geometry.iloc[0].equals(before.iloc[0]) and got.geometry.iloc[2] is None
        assert list(got["aoi"])[:2] == ["a", "a"] and pd.isna(got["aoi"].iloc[2])


def test_a_key_twice_in_one_frame_is_inserted_then_updated(store_url: str) -> None:
    with open_store(store_url) as store:
        frame = clearings(["a", "b", "a"], review_status=["new", "new", "confirmed"])
        c = store.upsert("clearings", frame)
        assert (c.inserted, c.updated, c.unchanged) == (2, 1, 0)
        assert store.read("clearings", where={"clearing_id": "a"})["review_status"].iloc[0] == "confirmed"


@pytest.mark.parametrize("n", [499, 501, 2500])
def test_bulk_writes_count_and_index_like_single_ones(store_url: str, n: int) -> None:
    with open_store(store_url) as store:
        frame = clearings([f"c{i:05d}" for i in range(n)], seed=n)
        assert store.upsert("clearings", frame).inserted == n
        moved = frame.copy()
        moved.loc[moved.index[::2], "geometry"] = shapely.box(0, 0, 0.01, 0.01)
        c = store.upsert("clearings", pd.concat([moved, clearings(["extra"])], ignore_index=True))
        assert (c.inserted, c.updated, c.unchanged) == (1, (n + 1) // 2, n // 2)
        assert store.count("clearings", bbox=(-0.5, -0.5, 0.5, 0.5)) == (n + 1) // 2
        assert ids(store.read("clearings", limit=3)) == ["c00000", "c00001", "c00002"]  # insertion order


def test_replace_and_delete(store_url: str) -> None:
    with open_store(store_url) as store:
        store.upsert("clearings", clearings(["a", "b", "c"]).assign(aoi=["x", "x", "y"]))
        assert store.replace("clearings", clearings(["d"]).assign(aoi="x"), where={"aoi": "x"}).inserted == 1
        assert sorted(ids(store.read("clearings"))) == ["c", "d"]
        assert store.delete("clearings", where={"clearing_id": ["c", "zzz"]}) == 1
        assert ids(store.read("clearings")) == ["d"]
        with pytest.raises(StoreError, match="clearings"):
            store.replace("clearings", clearings(["e", "e"]))  # a key twice is not a replacement
        assert ids(store.read("clearings")) == ["d"]


def test_bad_writes_name_the_layer_and_record(store_url: str) -> None:
    with open_store(store_url) as store:
        with pytest.raises(LayerError, match=r"record 1 is a Point, the layer holds MULTIPOLYGON"):
            store.upsert("clearings", gpd.GeoDataFrame({"clearing_id": ["a", "b"]}, geometry=[shapely.box(0, 0, 1, 1), shapely.Point(0, 0)], crs=4326))
        with pytest.raises(LayerError, match=r"key field\(s\) \['clearing_id'\] missing"):
            store.upsert("clearings", pd.DataFrame({"aoi": ["x"]}))
        with pytest.raises(LayerError, match="no field 'nope'"):
            store.read("clearings", where={"nope": 1})
        with pytest.raises(LayerError):
            store.read("no_such_layer")
        assert store.count("clearings") == 0


def test_geometries_are_reprojected_to_lonlat(store_url: str) -> None:
    with open_store(store_url) as store:
        utm = gpd.GeoDataFrame({"clearing_id": ["u"]}, geometry=[shapely.box(754_000, 1_501_000, 755_000, 1_502_000)], crs="EPSG:32648")
        store.upsert("clearings", utm)
        w, s, e, n = store.read("clearings").total_bounds
    assert 107.3 < w < e < 107.4 and 13.5 < s < n < 13.6


# -- queries ----------------------------------------------------------------------------------------
def test_bbox_and_every_condition(store_url: str) -> None:
    with open_store(store_url) as store:
        store.upsert("clearings", typed_clearings())

        def q(**where: object) -> list[str]:
            got = ids(store.read("clearings", where=where, columns=["clearing_id"]))
            assert store.count("clearings", where=where) == len(got)
            return got

        assert ids(store.read("clearings", bbox=(100.05, 10.05, 101.05, 11.05))) == ["c1", "c2"]
        assert store.count("clearings", bbox=(0, 0, 1, 1)) == 0
        assert q(aoi="north") == ["c1", "c2"]
        assert q(aoi=["south", "Zeta", "nowhere"]) == ["c3", "c5"]
        assert q(aoi=[]) == []
        assert q(aoi=None) == ["c4"]
        assert q(risk=AtLeast(55)) == ["c1", "c3", "c5"]
        assert q(risk=Between(20, 80)) == ["c1", "c3", "c4"]
        assert q(risk=Between(None, 54)) == ["c4"]
        assert q(risk=Between()) == ["c1", "c2", "c3", "c4", "c5"]
        assert q(area_ha=Between(1.5, 3.25)) == ["c1", "c3"]
        assert q(first_detected=Between(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-05"))) == ["c1", "c5"]
        assert q(first_detected=Between("2024-01-02", None)) == ["c1", "c3"]
        assert q(aoi=Between("north", "south")) == ["c1", "c2", "c3"]  # byte order: "Zeta" < "north"
        assert q(flags=Contains("protected_area")) == ["c1", "c3"]
        assert q(flags=Contains("near_corridor", "outside_concession")) == ["c3", "c5"]
        assert q(confidence=Not("high")) == ["c2", "c4", "c5"]  # NULL counts as "not"
        assert q(confidence=Not(["high", "low"])) == ["c5"]
        assert q(synthetic=True) == ["c1", "c4"]
        assert q(synthetic=Not(True)) == ["c2", "c3", "c5"]
        assert q(first_detected=pd.Timestamp("2024-06-30")) == ["c3"]
        assert q(run_id="ö 'quoted' \"x\"; DROP TABLE clearings") == ["c4"]
        assert q(aoi="north", risk=AtLeast(60)) == ["c1"]
        assert ids(store.read("clearings", bbox=(99, 9, 111, 21), where={"flags": Contains("protected_area")})) == ["c1"]
        with pytest.raises(LayerError, match="no geometry"):
            store.read("links", bbox=(0, 0, 1, 1))


def test_order_limit_offset_and_columns(store_url: str) -> None:
    with open_store(store_url) as store:
        store.upsert("clearings", typed_clearings())
        assert ids(store.read("clearings", order_by=["-risk"])) == ["c5", "c1", "c3", "c4", "c2"]  # NULL last when descending
        assert ids(store.read("clearings", order_by=["risk"])) == ["c2", "c4", "c3", "c1", "c5"]  # and first when ascending
        assert ids(store.read("clearings", order_by=["aoi", "-clearing_id"])) == ["c4", "c5", "c2", "c1", "c3"]
        assert ids(store.read("clearings", order_by=["-risk"], limit=2, offset=1)) == ["c1", "c3"]
        assert ids(store.read("clearings", offset=3)) == ["c4", "c5"]
        assert ids(store.read("clearings", limit=0)) == []
        plain = store.read("clearings", columns=["clearing_id", "risk"], geometry=False)
        assert type(plain) is pd.DataFrame and list(plain.columns) == ["clearing_id", "risk"]
        assert plain.index.name == "fid" and plain.index.is_monotonic_increasing
        empty = store.read("clearings", where={"aoi": "nowhere"})
        assert isinstance(empty, gpd.GeoDataFrame) and empty.empty and "first_detected" in empty.columns


# -- transactions ------------------------------------------------------------------------------------
def test_a_transaction_lands_whole_or_not_at_all(store_url: str) -> None:
    with open_store(store_url) as store:
        store.upsert("clearings", clearings(["keep"]))
        with pytest.raises(RuntimeError), store.transaction():
            store.upsert("clearings", clearings([f"gone{i}" for i in range(600)]))
            store.delete("clearings", where={"clearing_id": "keep"})
            store.set_layer_info("clearings", synthetic=True)
            raise RuntimeError("boom")
        assert ids(store.read("clearings")) == ["keep"] and store.layer_info("clearings") == {}
        with store.transaction():
            store.upsert("clearings", clearings(["outer"]))
            with pytest.raises(ValueError), store.transaction():  # a savepoint: undone alone
                store.upsert("clearings", clearings(["inner"]))
                raise ValueError("inner fails")
            store.set_layer_info("clearings", synthetic=True, sources=["test"])
        assert sorted(ids(store.read("clearings"))) == ["keep", "outer"]
        assert store.layer_info("clearings") == {"synthetic": True, "sources": ["test"]}


def test_a_failed_statement_rolls_its_transaction_back(store_url: str) -> None:
    with open_store(store_url) as store:
        store.upsert("clearings", clearings(["a"]))
        with pytest.raises(StoreError), store.transaction():
            store.upsert("clearings", clearings(["b"]))
            store.replace("clearings", clearings(["c", "c"]), where={"clearing_id": "nothing"})
        assert ids(store.read("clearings")) == ["a"]
        store.upsert("clearings", clearings(["d"]))  # the store is usable afterwards
        assert ids(store.read("clearings")) == ["a", "d"]


def test_readers_never_wait_for_a_writer_and_see_no_half_write(store_url: str) -> None:
    """Readers in other threads (a read-only store and the writer's own) read inside the writer's open transaction."""
    with open_store(store_url) as store:
        store.upsert("clearings", clearings([f"c{i}" for i in range(300)]))
        before = set(ids(store.read("clearings")))
        inside = threading.Event()
        done = threading.Event()
        seen: list[object] = []

        def reader(shared: bool) -> None:
            try:
                assert inside.wait(WAIT_S)
                target = store if shared else open_store(store_url, readonly=True)
                try:
                    seen.append((set(ids(target.read("clearings", bbox=(99, 9, 111, 21)))), target.count("clearings")))
                finally:
                    if not shared:
                        target.close()
            except BaseException as err:  # reported by the test below
                seen.append(err)

        threads = [threading.Thread(target=reader, args=(shared,)) for shared in (True, False, False)]
        for t in threads:
            t.start()
        with store.transaction():
            store.upsert("clearings", clearings([f"new{i}" for i in range(700)], seed=2))
            store.delete("clearings", where={"clearing_id": [f"c{i}" for i in range(50)]})
            inside.set()
            for t in threads:
                t.join(WAIT_S)  # the readers finish while the write is open
            done.set()
        assert not any(t.is_alive() for t in threads)
        assert seen == [(before, 300)] * 3, [s for s in seen if not isinstance(s, tuple)]
        assert store.count("clearings") == 950


def test_read_only_stores_refuse_writes(store_url: str) -> None:
    with open_store(store_url) as store:
        store.upsert("clearings", clearings(["a"]))
    with open_store(store_url, readonly=True) as reader:
        assert reader.readonly and ids(reader.read("clearings")) == ["a"]
        for write in (lambda: reader.upsert("clearings", clearings(["b"])), lambda: reader.delete("clearings", where={"clearing_id": "a"}),
                      lambda: reader.set_layer_info("clearings", synthetic=True)):
            with pytest.raises(StoreReadOnlyError):
                write()
        assert reader.count("clearings") == 1


def test_the_trail_is_append_only(store_url: str) -> None:
    row = {"review_id": "r1", "clearing_id": "a", "user": "ana", "decision": "confirm", "decided": pd.Timestamp("2024-05-01 10:00")}
    with open_store(store_url) as store:
        assert store.upsert("reviews", pd.DataFrame([row])).inserted == 1
        assert store.upsert("reviews", pd.DataFrame([row])).unchanged == 1  # an identical row is no update
        with pytest.raises(StoreError, match="append-only"):
            store.upsert("reviews", pd.DataFrame([{**row, "decision": "dismiss"}]))
        with pytest.raises(StoreError, match="append-only"):
            store.delete("reviews", where={"review_id": "r1"})
        assert store.read("reviews")["decision"].tolist() == ["confirm"]


# -- migrations ------------------------------------------------------------------------------------
def _age_the_schema(store_url: str) -> None:
    """Make the store look like one written by an older ecowatch: a column and an index missing."""
    if store_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute('ALTER TABLE ingest_runs DROP COLUMN "host"')
            conn.execute('DROP INDEX "reviews_by_clearing_id_decided"')
        return
    with sqlite3.connect(store_url) as conn:
        conn.execute('ALTER TABLE ingest_runs DROP COLUMN "host"')
        conn.execute('DROP INDEX "reviews_by_clearing_id_decided"')


def test_migrations(store_url: str) -> None:
    with open_store(store_url) as store:
        assert store.migrated == ["created"]
        store.upsert("ingest_runs", pd.DataFrame({"run_id": ["r1"], "command": ["detect"]}))
    with open_store(store_url) as store:
        assert store.migrated == []
    _age_the_schema(store_url)
    with pytest.raises(SchemaError, match=rf"no index reviews_by_clearing_id_decided on reviews; no column ingest_runs.host.*{MIGRATE_COMMAND} --store"):
        open_store(store_url, readonly=True)
    with open_store(store_url, create=False) as store:
        assert store.migrated == ["no index reviews_by_clearing_id_decided on reviews", "no column ingest_runs.host"]
        assert store.read("ingest_runs")["command"].tolist() == ["detect"]  # the rows survive
        store.upsert("ingest_runs", pd.DataFrame({"run_id": ["r1"], "host": ["h"]}))
    with open_store(store_url, readonly=True) as reader:
        assert reader.read("ingest_runs", columns=["run_id", "command", "host"]).to_dict("records") == [
            {"run_id": "r1", "command": "detect", "host": "h"}]


def test_two_writers_opening_a_new_store_at_once_both_find_it_migrated(store_url: str) -> None:
    stores: list[object] = []
    barrier = threading.Barrier(2)

    def open_one() -> None:
        barrier.wait(WAIT_S)
        try:
            stores.append(open_store(store_url))
        except BaseException as err:  # reported below
            stores.append(err)

    threads = [threading.Thread(target=open_one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    opened = [s for s in stores if not isinstance(s, BaseException)]
    try:
        assert len(opened) == 2, stores
        assert sorted(len(s.migrated) > 0 for s in opened) == [False, True]  # type: ignore[attr-defined]
    finally:
        for s in opened:
            s.close()  # type: ignore[attr-defined]


def test_unknown_url_schemes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unknown store URL scheme"):
        open_store("mysql://host/db")
    with pytest.raises(StoreError, match=r"\.gpkg"):
        open_store(tmp_path / "store.sqlite")


def test_display_url_hides_passwords():
    from layers.store import display_url

    assert display_url("postgresql://ana:s3cret@db.example:5432/eco") == "postgresql://ana@db.example:5432/eco"
    assert display_url("postgresql://db/eco?sslmode=require&password=s3cret") == "postgresql://db/eco?sslmode=require"
    assert display_url("/data/store.gpkg") == "/data/store.gpkg"
