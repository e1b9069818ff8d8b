"""The grid pyramid gives, cell for cell, what the store counts live — for any box, filter and role.

Property-style: random boxes (also boxes on the grid's own lines, and boxes through features that
sit on them), the filters the pyramid covers and some it does not, every role; the pyramid's
cells are compared with the store's own ``grid_summary`` (the live path) and its total with
``count_redacted`` (the one gate). Never wall time.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers import get_layer, open_store
from layers.aggregates import CELL_STEPS_DEG, cell_size_for, grid_aggregate, pyramid_aggregate
from layers.conditions import Between
from layers.grid_pyramid import MIN_STEP, forget_pyramids
from layers.redaction import Access, count_redacted, read_redacted, stored_rows
from layers.store import Store

KEY = b"pyramid-test-key-0123456789abcdef"
ROLES = ["planner", "analyst", Access("viewer", KEY), Access("ngo", KEY)]
REGION = (104.0, 11.0, 106.0, 13.0)


def _clearings(rng: np.random.Generator, n: int, start: int = 0) -> gpd.GeoDataFrame:
    w, s, e, n_ = REGION
    x, y = rng.uniform(w, e, n), rng.uniform(s, n_, n)
    # a fifth of them centred on grid lines of 0.05 degrees (every coarser step is a multiple)
    on_line = rng.random(n) < 0.2
    x[on_line] = np.round(x[on_line] / 0.05) * 0.05
    y[on_line] = np.round(y[on_line] / 0.05) * 0.05
    half = rng.choice([1e-7, 0.0005, 0.004, 0.03], n)  # tiny ones (centres on the lines), and some wide ones
    geoms = shapely.box(x - half, y - half, x + half, y + half)
    status = rng.choice(np.array(["new", "confirmed", "dismissed", "field_check", None], dtype=object), n)
    return gpd.GeoDataFrame({
        "clearing_id": [f"P{i:06d}" for i in range(start, start + n)], "aoi": "a",
        "area_ha": np.where(rng.random(n) < 0.05, np.nan, np.round(rng.uniform(0.5, 40, n), 2)),
        "first_detected": [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 300, n)],
        "confidence": rng.choice(["low", "high"], n), "risk": rng.integers(0, 101, n), "review_status": status,
        "flags": [["outside_concessions"]] * n,
    }, geometry=geoms, crs="EPSG:4326")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    rng = np.random.default_rng(11)
    st = open_store(tmp_path_factory.mktemp("pyramid") / "p.gpkg")
    st.upsert("clearings", _clearings(rng, 3000))
    # a row without a geometry: in no R-tree, so in no cell and no box
    st.upsert("clearings", _clearings(rng, 1, start=90_000).set_geometry(gpd.GeoSeries([None], crs="EPSG:4326")))
    pts = rng.uniform([104.0, 11.0], [106.0, 13.0], (300, 2))
    st.upsert("seizures", gpd.GeoDataFrame({
        "seizure_id": [f"S{i}" for i in range(len(pts))], "date": dt.date(2024, 2, 1), "commodity_group": "timber",
        "case_reference": "secret",
    }, geometry=shapely.points(pts), crs="EPSG:4326"))
    yield st
    st.close()


def _boxes(rng: np.random.Generator, count: int) -> list[tuple[float, float, float, float]]:
    out = []
    for _ in range(count):
        span = float(rng.choice([0.08, 0.3, 0.7, 1.5, 3.0, 40.0]))
        w, s = rng.uniform(103.6, 106.0), rng.uniform(10.6, 13.0)
        if rng.random() < 0.3:  # on the grid's lines
            step = float(rng.choice([0.05, 0.1, 0.25]))
            w, s = math.floor(w / step) * step, math.floor(s / step) * step
            span = math.ceil(span / step) * step
        out.append((w, s, w + span * rng.uniform(0.5, 1.0), s + span * rng.uniform(0.5, 1.0)))
    return out


FILTERS = [None, {"confidence": "high"}, {"review_status": ["new", "confirmed"]}, {"confidence": ["low"], "review_status": "dismissed"},
           {"review_status": "nothing-has-this"}]


def _live(store: Store, layer_name: str, who: object, bbox: tuple[float, float, float, float], where: dict | None, step: float) -> pd.DataFrame:
    rows = stored_rows(get_layer(layer_name), who, where)  # type: ignore[arg-type]
    assert rows is not None
    ix, iy, count, sums = store.grid_summary(rows.table, cell_deg=step, bbox=bbox, where=rows.where, sum_field="area_ha")  # type: ignore[attr-defined]
    return pd.DataFrame({"ix": ix, "iy": iy, "count": count, "area": sums}).sort_values(["iy", "ix"]).reset_index(drop=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pyramid_cells_equal_the_live_cells_and_the_gates_count(store: Store, seed: int) -> None:
    rng = np.random.default_rng(seed)
    layer = get_layer("clearings")
    answered = 0
    for bbox in _boxes(rng, 25):
        who = ROLES[int(rng.integers(len(ROLES)))]
        where = FILTERS[int(rng.integers(len(FILTERS)))]
        steps = [cell_size_for(bbox)] + [float(rng.choice([s for s in CELL_STEPS_DEG if s >= MIN_STEP]))]
        for step in steps:
            agg = pyramid_aggregate(store, layer, who, bbox=bbox, where=where, cell_deg=step)
            if agg is None:
                continue
            answered += 1
            live = _live(store, "clearings", who, bbox, where, step)
            assert agg.ix.tolist() == live["ix"].tolist() and agg.iy.tolist() == live["iy"].tolist(), (bbox, who, where, step)
            assert agg.count.tolist() == live["count"].tolist(), (bbox, who, where, step)
            assert agg.area_ha is not None and np.allclose(agg.area_ha, live["area"], rtol=1e-9, atol=1e-6)
            assert agg.total == count_redacted(store, layer, who, bbox=bbox, where=where)  # type: ignore[arg-type]
            # and grid_aggregate (the map's and the tiles' path) answers the same
            assert grid_aggregate(store, layer, who, bbox=bbox, where=where, cell_deg=step).count.tolist() == agg.count.tolist()
    assert answered >= 20  # the pyramid did answer most of them


def test_filters_it_does_not_cover_are_answered_live(store: Store) -> None:
    layer = get_layer("clearings")
    bbox = (104.0, 11.0, 106.0, 13.0)
    for where in ({"risk": Between(50, None)}, {"review_status": None}, {"confidence": Between("a", "k")}):
        assert pyramid_aggregate(store, layer, "planner", bbox=bbox, where=where) is None
        live = grid_aggregate(store, layer, "planner", bbox=bbox, where=where)
        assert live.total == count_redacted(store, layer, "planner", bbox=bbox, where=where)
    assert pyramid_aggregate(store, get_layer("seizures"), Access("ngo", KEY), bbox=bbox) is None


def test_rtree_centres_are_the_centres_sql_computes(store: Store) -> None:
    ids, cx, cy = store.rtree_centres("clearings")  # type: ignore[attr-defined]
    rows = store.query('SELECT id, (minx + maxx) / 2.0, (miny + maxy) / 2.0 FROM "rtree_clearings_geom" ORDER BY id', [], what="test")  # type: ignore[attr-defined]
    assert ids.tolist() == [r[0] for r in rows]
    assert cx.tolist() == [r[1] for r in rows] and cy.tolist() == [r[2] for r in rows]  # bit for bit


def test_a_write_starts_a_new_pyramid(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    layer = get_layer("clearings")
    world = (-180.0, -90.0, 180.0, 90.0)
    with open_store(tmp_path / "w.gpkg") as writer:
        writer.upsert("clearings", _clearings(rng, 400))
        reader = open_store(tmp_path / "w.gpkg", readonly=True)
        before = pyramid_aggregate(reader, layer, "planner", bbox=world, where={"review_status": "confirmed"})
        assert before is not None
        # a status change (no geometry moves) and a new row, written by another connection
        first = writer.read("clearings", where={"review_status": "new"}, limit=1)
        writer.upsert("clearings", first.assign(review_status="confirmed"))
        writer.upsert("clearings", _clearings(rng, 1, start=50_000).assign(review_status="confirmed"))
        after = pyramid_aggregate(reader, layer, "planner", bbox=world, where={"review_status": "confirmed"})
        assert after is not None and after.total == before.total + 2
        assert after.total == count_redacted(reader, layer, "planner", bbox=world, where={"review_status": "confirmed"})
        reader.close()
    forget_pyramids()


def test_the_generalised_cache_is_per_role_and_state_and_equals_a_fresh_read(store: Store, tmp_path: Path) -> None:
    seizures = get_layer("seizures")
    ngo, other_ngo = Access("ngo", KEY), Access("ngo", b"another-key-0123456789abcdefghij")
    box = (104.5, 11.5, 105.5, 12.5)
    cached = read_redacted(store, seizures, ngo, bbox=box)
    again = read_redacted(store, seizures, ngo, bbox=box)
    pd.testing.assert_frame_equal(cached, again)
    # a second store object on the same file has its own token: a fresh computation, the same answer
    fresh_store = open_store(Path(store.url), readonly=True)
    try:
        pd.testing.assert_frame_equal(cached, read_redacted(fresh_store, seizures, ngo, bbox=box))
    finally:
        fresh_store.close()
    # another key sees other opaque ids: never the first key's cached rows
    other = read_redacted(store, seizures, other_ngo, bbox=box)
    assert len(other) == len(cached) and not set(other.index) & set(cached.index)
    assert "case_reference" not in cached.columns
    # the exact roles are never served from it: they read stored rows
    assert "case_reference" in read_redacted(store, seizures, "planner", bbox=box).columns


def test_views_whose_edges_graze_features(store: Store) -> None:
    """Views whose edges lie a hair beyond a feature's indexed bounds (the border's minus side is
    then looked into) or exactly on them: still the live cells."""
    layer = get_layer("clearings")
    rows = store.query('SELECT minx, maxx, miny, maxy FROM "rtree_clearings_geom" ORDER BY id LIMIT 40', [], what="test")  # type: ignore[attr-defined]
    for minx, maxx, miny, maxy in rows:
        for w, s in ((maxx + 5e-7, miny - 0.3), (maxx, maxy), (minx - 0.61, maxy + 5e-7)):
            bbox = (w, s, w + 0.62, s + 0.61)
            agg = pyramid_aggregate(store, layer, "planner", bbox=bbox, cell_deg=0.05)
            assert agg is not None
            live = _live(store, "clearings", "planner", bbox, None, 0.05)
            assert agg.ix.tolist() == live["ix"].tolist() and agg.count.tolist() == live["count"].tolist()
            assert agg.total == count_redacted(store, layer, "planner", bbox=bbox)


def test_counts_without_areas_are_the_same_counts(store: Store) -> None:
    layer = get_layer("clearings")
    for bbox in _boxes(np.random.default_rng(9), 10):
        full = pyramid_aggregate(store, layer, "planner", bbox=bbox, cell_deg=0.05)
        bare = pyramid_aggregate(store, layer, "planner", bbox=bbox, cell_deg=0.05, areas=False)
        assert (full is None) == (bare is None)
        if full is not None and bare is not None:
            assert bare.area_ha is None and bare.count.tolist() == full.count.tolist() and bare.ix.tolist() == full.ix.tolist()


def test_only_a_coarse_view_builds_the_pyramid(store: Store) -> None:
    layer = get_layer("clearings")
    fine = (104.6, 11.6, 105.0, 12.0)  # 0.02-degree cells
    forget_pyramids()
    assert pyramid_aggregate(store, layer, "planner", bbox=fine) is None  # counted live meanwhile
    assert grid_aggregate(store, layer, "planner", bbox=fine).total == count_redacted(store, layer, "planner", bbox=fine)
    assert pyramid_aggregate(store, layer, "planner", bbox=REGION) is not None  # 0.1-degree cells: builds it
    agg = pyramid_aggregate(store, layer, "planner", bbox=fine)
    assert agg is not None and agg.total == count_redacted(store, layer, "planner", bbox=fine)
