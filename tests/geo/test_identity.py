import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.change.identity import assign_ids, merged_into, new_clearing_id, reconcile


def frame(boxes, ids=None):
    data = {"first_detected": [pd.Timestamp("2024-02-01")] * len(boxes)}
    if ids is not None:
        data["clearing_id"] = ids
    return gpd.GeoDataFrame(data, geometry=boxes, crs="EPSG:4326")


def test_new_ids_are_deterministic():
    det = frame([shapely.box(0, 0, 0.01, 0.01)])
    a = assign_ids(det, frame([], []), "aoi")
    b = assign_ids(det, frame([], []), "aoi")
    assert a.tolist() == b.tolist()
    assert a.iloc[0].startswith("CL-20240201-")
    assert new_clearing_id("other", det.geometry.iloc[0], pd.Timestamp("2024-02-01")) != a.iloc[0]


def test_overlapping_detection_keeps_the_existing_id_and_each_is_used_once():
    existing = frame([shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6, 6)], ["old-a", "old-b"])
    grown = shapely.box(0, 0, 1.5, 1.5)
    sliver = shapely.box(0.9, 0.9, 1.05, 1.05)  # also touches old-a, but less
    far = shapely.box(20, 20, 21, 21)
    ids = assign_ids(frame([sliver, grown, far]), existing, "aoi")
    assert ids.iloc[1] == "old-a"
    assert ids.iloc[0] not in ("old-a", "old-b")
    assert ids.iloc[2] not in ("old-a", "old-b")


def known(boxes, ids, statuses, first="2024-02-01", last="2024-03-01"):
    return gpd.GeoDataFrame(
        {"clearing_id": ids, "review_status": statuses, "first_detected": [pd.Timestamp(first)] * len(ids),
         "last_observed": [pd.Timestamp(last)] * len(ids)},
        geometry=boxes, crs="EPSG:4326",
    )


def detections(boxes, first="2024-03-01", last="2024-06-01"):
    return gpd.GeoDataFrame(
        {"first_detected": [pd.Timestamp(first)] * len(boxes), "last_observed": [pd.Timestamp(last)] * len(boxes),
         "area_ha": [0.0] * len(boxes), "confidence": ["high"] * len(boxes)},
        geometry=boxes, crs="EPSG:4326",
    )


def test_an_update_keeps_id_status_and_earliest_date_and_only_grows():
    old = known([shapely.box(0, 0, 0.01, 0.01)], ["CL-a"], ["confirmed"])
    moved = shapely.box(0.002, 0, 0.012, 0.01)  # grew east, lost a strip in the west (e.g. cloud)
    out, dropped = reconcile(detections([moved]), old, "aoi")
    row = out.iloc[0]
    assert dropped == 0 and bool(row.known) and row.clearing_id == "CL-a" and row.review_status == "confirmed"
    assert row.first_detected == pd.Timestamp("2024-02-01") and row.last_observed == pd.Timestamp("2024-06-01")
    assert row.geometry.covers(shapely.box(0, 0, 0.012, 0.01).buffer(-1e-9))
    assert row.area_ha == pytest.approx(1.2e-2 * 1e-2 * 111.3**2 * 100 * 0.97, rel=0.05)


def test_an_unchanged_detection_keeps_its_geometry_exactly():
    g = shapely.box(0, 0, 0.01, 0.01)
    out, _ = reconcile(detections([g]), known([g], ["CL-a"], ["new"]), "aoi")
    assert out.geometry.iloc[0].equals_exact(g, 0)


def test_a_dismissed_clearing_is_never_re_created_as_new():
    gone = known([shapely.box(0, 0, 0.01, 0.01), shapely.box(1, 1, 1.01, 1.01)], ["CL-x", "CL-y"], ["dismissed", "new"])
    big = shapely.box(0, 0, 0.0095, 0.01)  # takes CL-x: stays dismissed
    piece = shapely.box(0.0096, 0, 0.0101, 0.01)  # mostly inside CL-x: dropped
    beside = shapely.box(0.0099, 0, 0.02, 0.01)  # mostly outside: a new clearing
    out, dropped = reconcile(detections([big, piece, beside]), gone, "aoi")
    assert dropped == 1 and len(out) == 2
    assert out.iloc[0].clearing_id == "CL-x" and out.iloc[0].review_status == "dismissed"
    assert out.iloc[1].clearing_id.startswith("CL-20240301-") and out.iloc[1].review_status == "new" and not out.iloc[1].known


def test_reconcile_without_known_clearings_gives_new_deterministic_ids():
    det = detections([shapely.box(0, 0, 0.01, 0.01)])
    empty = known([], [], [])
    a, _ = reconcile(det, empty, "aoi")
    b, _ = reconcile(det, empty, "aoi")
    assert a.clearing_id.tolist() == b.clearing_id.tolist() and a.review_status.tolist() == ["new"]


def test_a_grown_detection_merges_the_known_clearings_it_swallows():
    existing = known([shapely.box(0, 0, 1, 1), shapely.box(1.2, 0, 2, 1), shapely.box(5, 5, 6, 6), shapely.box(1.5, 0.5, 1.7, 0.7)],
                     ["big", "small", "far", "gone"], ["confirmed", "new", "new", "new"])
    existing["merged_into"] = [None, None, None, "small"]  # merged earlier: left alone
    grown = frame([shapely.box(0, 0, 2, 1)])  # covers big (most) and small
    kept, _ = reconcile(grown.assign(last_observed=pd.Timestamp("2024-04-01"), area_ha=1.0), existing[existing["merged_into"].isna()], "aoi")
    assert kept["clearing_id"].tolist() == ["big"]
    merged = merged_into(kept, existing)
    assert merged.to_dict() == {"small": "big"}
    assert merged_into(kept, existing.iloc[:0]).empty and merged_into(kept.iloc[:0], existing).empty
