"""Role plumbing of the one redaction function: sensitive fields, the viewer's public layers and
rows, internal tables that no role reads, and counts that say no more than the features."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from layers import LAYERS, Store, get_layer, open_store
from layers.errors import AccessError
from layers.redaction import (
    ROLES,
    Access,
    count_redacted,
    may_read,
    read_redacted,
    redact,
    row_filter,
    visible_fields,
)

KEY = b"k" * 32
VIEWER = Access("viewer", KEY)
NGO = Access("ngo", KEY)


def _seizures() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"seizure_id": ["s"], "date": ["2024-01-01"], "case_reference": ["C-1"], "agency": ["FA"], "notes": ["n"]},
        geometry=[Point(0, 0)],
        crs="EPSG:4326",
    )


@pytest.mark.parametrize("role", ["planner", "analyst", "admin"])
def test_planners_see_sensitive_fields(role: str) -> None:
    lyr = get_layer("seizures")
    names = [f.name for f in visible_fields(lyr, ("date", "case_reference", "agency"), role)]  # type: ignore[arg-type]
    assert names == ["date", "case_reference", "agency"]
    assert list(redact(lyr, _seizures(), role).columns) == list(_seizures().columns)  # type: ignore[arg-type]


def test_ngo_does_not() -> None:
    lyr = get_layer("seizures")
    assert [f.name for f in visible_fields(lyr, ("date", "case_reference"), "ngo")] == ["date"]
    out = redact(lyr, _seizures(), NGO)
    assert "case_reference" not in out.columns and "agency" not in out.columns and "notes" not in out.columns
    assert isinstance(out, gpd.GeoDataFrame)


def test_viewer_reads_public_layers_only() -> None:
    public = {lyr.name for lyr in LAYERS if may_read(lyr, "viewer")}
    assert {"aoi", "countries", "concessions", "protected_areas", "corridors", "hotspot_segments", "hotspot_cells", "clearings"} <= public
    assert {"seizures", "links", "observation_gaps", "scenes", "ingest_runs"}.isdisjoint(public)
    with pytest.raises(AccessError, match="viewer"):
        redact(get_layer("seizures"), _seizures(), VIEWER)


@pytest.mark.parametrize("role", ROLES)
def test_no_role_reads_an_internal_table(role: str, tmp_path: Path) -> None:
    internal = [lyr for lyr in LAYERS if lyr.internal]
    assert {lyr.name for lyr in internal} >= {"users", "sessions", "login_throttle", "access_log"}
    with open_store(tmp_path / "i.gpkg") as store:
        for lyr in internal:
            assert not may_read(lyr, role)  # type: ignore[arg-type]
            with pytest.raises(AccessError):
                read_redacted(store, lyr, Access(role, KEY))  # type: ignore[arg-type]


def test_unknown_field_is_a_catalogue_mistake() -> None:
    with pytest.raises(KeyError):
        visible_fields(get_layer("seizures"), ("nope",), "planner")


def test_row_filter_intersects_what_is_asked() -> None:
    lyr = get_layer("clearings")
    assert row_filter(lyr, "planner", {"review_status": "new"}) == {"review_status": "new"}
    assert row_filter(lyr, "viewer") == {"review_status": "confirmed"}
    assert row_filter(lyr, "viewer", {"review_status": "new"}) == {"review_status": []}
    assert row_filter(lyr, "viewer", {"review_status": ["new", "confirmed"], "aoi": "a"}) == {"review_status": ["confirmed"], "aoi": "a"}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = open_store(tmp_path / "r.gpkg")
    clearings = gpd.GeoDataFrame(
        {"clearing_id": ["c1", "c2", "c3"], "review_status": ["new", "confirmed", "dismissed"], "risk": [10, 20, 30]},
        geometry=[box(0, 0, 1, 1), box(2, 2, 3, 3), box(4, 4, 5, 5)], crs="EPSG:4326",
    )
    st.upsert("clearings", clearings)
    points = [Point(100.01, 10.01), Point(100.02, 10.02), Point(100.03, 10.03), Point(101.05, 11.05)]  # 3 in a cell, 1 alone
    st.upsert("seizures", gpd.GeoDataFrame({"seizure_id": list("abcd")}, geometry=points, crs="EPSG:4326"))
    yield st
    st.close()


def test_viewer_sees_confirmed_clearings_only(store: Store) -> None:
    lyr = get_layer("clearings")
    assert list(read_redacted(store, lyr, "planner")["clearing_id"]) == ["c1", "c2", "c3"]
    assert list(read_redacted(store, lyr, VIEWER)["clearing_id"]) == ["c2"]
    # asking for other columns (or filtering for other statuses) does not widen it
    only_risk = read_redacted(store, lyr, VIEWER, columns=["risk"])
    assert list(only_risk.columns) == ["risk", "geometry"] and list(only_risk["risk"]) == [20]
    assert read_redacted(store, lyr, VIEWER, where={"review_status": "new"}).empty
    assert count_redacted(store, lyr, VIEWER) == 1 and count_redacted(store, lyr, "planner") == 3
    # a frame read some other way is cut down too
    assert list(redact(lyr, store.read("clearings"), VIEWER)["clearing_id"]) == ["c2"]


def test_counts_for_the_ngo_say_no_more_than_its_features(store: Store) -> None:
    lyr = get_layer("seizures")
    assert count_redacted(store, lyr, "planner") == 4
    assert count_redacted(store, lyr, NGO) == len(read_redacted(store, lyr, NGO)) == 3  # the lone seizure's cell is suppressed
    assert count_redacted(store, lyr, NGO, bbox=(101.0, 11.0, 101.1, 11.1)) == 0
