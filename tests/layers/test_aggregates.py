"""Grid aggregates: the cells' counts add up to what each role may count, and say no more than that."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from layers import get_layer, open_store
from layers.aggregates import (
    CELL_STEPS_DEG,
    CELLS_ACROSS,
    GridAggregate,
    _bin,
    cell_size_for,
    grid_aggregate,
    pyramid_aggregate,
)
from layers.conditions import Between
from layers.errors import LayerError
from layers.filters import MAP_FILTER_NAMES, parse_filters
from layers.redaction import MIN_CELL_COUNT, Access, count_redacted, read_redacted
from layers.store import Store

KEY = b"aggregate-test-key-0123456789abc"
NGO = Access("ngo", KEY)
VIEWER = Access("viewer", KEY)
REGION = (104.0, 11.0, 106.0, 13.0)


def _store(path: Path, n: int = 600, seed: int = 3) -> Store:
    rng = np.random.default_rng(seed)
    w, s, e, n_ = REGION
    x, y = rng.uniform(w, e, n), rng.uniform(s, n_, n)
    size = rng.uniform(0.001, 0.02, n)
    clearings = gpd.GeoDataFrame({
        "clearing_id": [f"C{i:05d}" for i in range(n)],
        "aoi": "a",
        "area_ha": np.round(rng.uniform(0.5, 40, n), 2),
        "first_detected": [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 300, n)],
        "confidence": rng.choice(["low", "high"], n),
        "risk": rng.integers(0, 101, n),
        "review_status": rng.choice(["new", "confirmed", "dismissed"], n),
        "flags": [["outside_concessions"] if v else ["protected_area"] for v in rng.integers(0, 2, n)],
    }, geometry=[box(a, b, a + d, b + d) for a, b, d in zip(x, y, size, strict=True)], crs="EPSG:4326")
    # seizures clustered in a few places (some cells under the suppression threshold)
    centres = np.array([[104.33, 11.27], [105.05, 12.55], [105.71, 11.93]])
    pick = rng.integers(0, 3, 80)
    pts = centres[pick] + rng.normal(0, 0.05, (80, 2))
    pts = np.vstack([pts, [[104.97, 12.97]]])  # a cell of its own: suppressed for the ngo
    seizures = gpd.GeoDataFrame({
        "seizure_id": [f"S{i}" for i in range(len(pts))],
        "date": [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 300, len(pts))],
        "commodity_group": rng.choice(["timber", "wildlife"], len(pts)),
        "origin_country": "Cambodia",
        "case_reference": "secret",
    }, geometry=shapely.points(pts), crs="EPSG:4326")
    store = open_store(path / "agg.gpkg")
    store.upsert("clearings", clearings)
    store.upsert("seizures", seizures)
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return _store(tmp_path_factory.mktemp("agg"))


VIEWS = [REGION, (104.5, 11.5, 105.2, 12.1), (105.0, 12.5, 105.1, 12.6), (107.0, 14.0, 107.5, 14.5)]
FILTERS = [{}, {"confidence": "low"}, {"period": "2024Q2", "risk": "50"}, {"status": "confirmed"}, {"commodity": "timber"}]


@pytest.mark.parametrize("who", ["planner", "analyst", "ngo", "viewer"])
@pytest.mark.parametrize("layer_name", ["clearings", "seizures"])
def test_cell_counts_add_up_to_the_roles_count(store: Store, who: str, layer_name: str) -> None:
    access = {"ngo": NGO, "viewer": VIEWER}.get(who, Access(who))
    layer = get_layer(layer_name)
    if who == "viewer" and layer_name == "seizures":
        with pytest.raises(LayerError):
            grid_aggregate(store, layer, access, bbox=REGION)
        return
    for bbox in VIEWS:
        for args in FILTERS:
            where = parse_filters(args, names=MAP_FILTER_NAMES).where_for(layer_name) or None
            agg = grid_aggregate(store, layer, access, bbox=bbox, where=where)
            expected = count_redacted(store, layer, access, bbox=bbox, where=where)
            assert agg.total == expected, f"{who} {layer_name} {bbox} {args}"
            assert (agg.count > 0).all()


def test_cells_hold_the_features_by_their_centres(store: Store) -> None:
    bbox = (104.5, 11.5, 105.2, 12.1)
    agg = grid_aggregate(store, get_layer("clearings"), "planner", bbox=bbox, cell_deg=0.1)
    frame = store.read("clearings", bbox=bbox)
    b = frame.geometry.bounds
    ix = np.floor((b.minx + b.maxx) / 2 / 0.1).astype(int)
    iy = np.floor((b.miny + b.maxy) / 2 / 0.1).astype(int)
    expected = frame.assign(ix=ix, iy=iy).groupby(["ix", "iy"]).agg(n=("area_ha", "size"), ha=("area_ha", "sum"))
    got = {(int(a), int(c)): (int(k), float(h)) for a, c, k, h in zip(agg.ix, agg.iy, agg.count, agg.area_ha, strict=True)}  # type: ignore[arg-type]
    assert got.keys() == set(expected.index)
    for key, (k, h) in got.items():
        assert k == expected.loc[key, "n"]
        assert h == pytest.approx(expected.loc[key, "ha"], rel=1e-9)


def test_the_ngos_seizure_cells_come_from_the_published_points(store: Store) -> None:
    layer = get_layer("seizures")
    agg = grid_aggregate(store, layer, NGO, bbox=REGION, cell_deg=0.5)
    published = read_redacted(store, layer, NGO, bbox=REGION, columns=[])
    ix, iy, count, _ = _bin(published, 0.5, None)
    assert sorted(zip(ix.tolist(), iy.tolist(), count.tolist(), strict=True)) == sorted(
        zip(agg.ix.tolist(), agg.iy.tolist(), agg.count.tolist(), strict=True))
    # the lone seizure is in a suppressed cell: its aggregate cell is empty for the ngo, not for the planner
    exact = grid_aggregate(store, layer, "planner", bbox=REGION, cell_deg=0.5)
    lone = (int(np.floor(104.97 / 0.5)), int(np.floor(12.97 / 0.5)))
    assert lone in set(zip(exact.ix.tolist(), exact.iy.tolist(), strict=True))
    assert lone not in set(zip(agg.ix.tolist(), agg.iy.tolist(), strict=True))
    assert agg.total == count_redacted(store, layer, NGO, bbox=REGION) < exact.total and MIN_CELL_COUNT > 1
    assert agg.area_ha is None  # seizures have no area


def test_a_range_filter_on_the_ngos_generalised_points(store: Store) -> None:
    layer = get_layer("seizures")
    where = {"date": Between(dt.date(2024, 3, 1), dt.date(2024, 5, 31))}
    rows = read_redacted(store, layer, NGO, where=where, columns=["date"])
    assert len(rows) and all(dt.date(2024, 3, 1) <= d.date() <= dt.date(2024, 5, 31) for d in rows["date"])
    assert grid_aggregate(store, layer, NGO, bbox=REGION, where=where).total == len(rows)


def test_a_filter_on_a_hidden_field_is_refused_for_the_ngo(store: Store) -> None:
    with pytest.raises(LayerError, match="case_reference"):
        grid_aggregate(store, get_layer("seizures"), NGO, bbox=REGION, where={"case_reference": "secret"})


def test_cell_size_follows_the_view() -> None:
    assert cell_size_for((104.0, 11.0, 104.03, 11.01)) == 0.001
    assert cell_size_for((102.5, 10.5, 108.5, 17.5)) == 0.25
    assert cell_size_for((-180, -90, 180, 90)) == CELL_STEPS_DEG[-1]
    for bbox in [(0, 0, 0.3, 0.1), (10, 10, 10.9, 11.7)]:
        step = cell_size_for(bbox)
        assert max(bbox[2] - bbox[0], bbox[3] - bbox[1]) / step <= CELLS_ACROSS


def test_features_are_closed_squares() -> None:
    agg = GridAggregate("clearings", 0.5, np.array([-1, 2]), np.array([3, -4]), np.array([5, 6]), np.array([1.25, 2.0]))
    feats = agg.features()
    assert agg.total == 11
    ring = feats[0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] == [-0.5, 1.5] and ring[2] == [0.0, 2.0]
    assert shapely.geometry.shape(feats[1]["geometry"]).area == pytest.approx(0.25)
    assert feats[0]["properties"] == {"count": 5, "area_ha": 1.2} and feats[0]["id"] == "-1,3"
    fine = GridAggregate("clearings", 0.002, np.array([52501]), np.array([6801]), np.array([1]), None).features()
    assert fine[0]["geometry"]["coordinates"][0][2] == [105.004, 13.604]


def test_a_view_of_the_whole_layer_is_counted_from_the_pyramid(tmp_path: Path) -> None:
    store = _store(tmp_path, n=300, seed=5)
    layer = get_layer("clearings")
    world = (-180.0, -90.0, 180.0, 90.0)
    for where in (None, {"confidence": "low"}, {"risk": Between(50, None), "flags": parse_filters({"flag": "protected_area"}).where()["flags"]}):
        direct = store.grid_summary("clearings", cell_deg=0.5, bbox=REGION, where=where, sum_field="area_ha")  # type: ignore[attr-defined]
        region = (103.0, 10.0, 107.0, 14.0)  # holds the whole layer; 0.2 degree cells (a multiple of the base grid)
        agg = grid_aggregate(store, layer, "planner", bbox=region, where=where)
        assert agg.cell_deg == 0.2 and agg.total == count_redacted(store, layer, "planner", bbox=region, where=where) == int(direct[2].sum())
        coarse = grid_aggregate(store, layer, "planner", bbox=world, where=where)
        assert coarse.total == agg.total and coarse.area_ha is not None
        assert coarse.area_ha.sum() == pytest.approx(float(direct[3].sum()))
    # a write makes a new store state: the next answer counts it
    before = grid_aggregate(store, layer, "planner", bbox=world).total
    extra = store.read("clearings", limit=1).assign(clearing_id="NEW-1")
    store.upsert("clearings", extra)
    assert grid_aggregate(store, layer, "planner", bbox=world).total == before + 1


def test_the_pyramid_answers_only_what_it_covers(store: Store) -> None:
    layer = get_layer("clearings")
    world = (-180.0, -90.0, 180.0, 90.0)
    for who in ("planner", VIEWER):
        for where in (None, {"confidence": "low"}):
            agg = pyramid_aggregate(store, layer, who, bbox=world, where=where)
            assert agg is not None and agg.total == count_redacted(store, layer, who, bbox=world, where=where)
    assert pyramid_aggregate(store, layer, "planner", bbox=world, where={"risk": Between(50, None)}) is None  # not one of its fields
    assert pyramid_aggregate(store, layer, "planner", bbox=(104.5, 11.5, 104.52, 11.52)) is None  # cells finer than it keeps
    assert pyramid_aggregate(store, get_layer("seizures"), NGO, bbox=world) is None  # generalised: only read_redacted knows
