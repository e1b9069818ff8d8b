import geopandas as gpd
import pandas as pd
import shapely

from geo.identity import assign_ids, new_clearing_id


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
