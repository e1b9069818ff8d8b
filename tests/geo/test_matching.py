import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.matching import match_seizures

UTM = "EPSG:32648"


def clearings():
    return gpd.GeoDataFrame(
        {"clearing_id": ["c1", "c2"], "first_detected": pd.to_datetime(["2024-02-01", "2024-05-01"])},
        geometry=[shapely.box(760_000, 1_510_000, 760_200, 1_510_200), shapely.box(800_000, 1_510_000, 800_200, 1_510_200)],
        crs=UTM,
    ).to_crs(4326)


def seizures():
    pts = [(770_200, 1_510_100), (760_100, 1_530_200), (900_000, 1_510_000), (760_300, 1_510_100)]
    return gpd.GeoDataFrame(
        {
            "seizure_id": ["s-near", "s-early", "s-far", "s-wild"],
            "date": pd.to_datetime(["2024-03-02", "2024-01-15", "2024-06-01", "2024-02-11"]),
            "commodity_group": ["timber", "timber", "timber", "wildlife"],
        },
        geometry=[shapely.Point(p) for p in pts],
        crs=UTM,
    ).to_crs(4326)


def test_links_within_radius_and_lag_with_reasons():
    links = match_seizures(clearings(), seizures(), radius_km=50, max_lag_days=365)
    pairs = set(zip(links.seizure_id, links.clearing_id, strict=True))
    assert pairs == {("s-near", "c1"), ("s-wild", "c1")}  # s-early is before c1; c2 is after s-near; s-far is 100 km away
    near = links[links.seizure_id == "s-near"].iloc[0]
    assert near.distance_km == pytest.approx(10.0, abs=0.05)
    assert near.lag_days == 30
    assert near.score == pytest.approx((1 - near.distance_km / 50) * (1 - 30 / 365), abs=1e-3)
    assert near.reasons[0].startswith("timber seizure 10.0 km from the clearing")
    assert "wildlife" in links[links.seizure_id == "s-wild"].iloc[0].reasons[-1]


def test_radius_and_lag_limit():
    assert match_seizures(clearings(), seizures(), radius_km=5, max_lag_days=365).seizure_id.tolist() == ["s-wild"]
    assert match_seizures(clearings(), seizures(), radius_km=50, max_lag_days=20).seizure_id.tolist() == ["s-wild"]


def test_empty_inputs():
    assert match_seizures(clearings().iloc[:0], seizures(), radius_km=50, max_lag_days=365).empty


@settings(max_examples=20, deadline=None)
@given(st.permutations(range(4)), st.permutations(range(2)))
def test_row_order_does_not_change_links(perm_s, perm_c):
    base = match_seizures(clearings(), seizures(), radius_km=50, max_lag_days=365)
    shuffled = match_seizures(clearings().iloc[list(perm_c)], seizures().iloc[list(perm_s)], radius_km=50, max_lag_days=365)
    pd.testing.assert_frame_equal(base, shuffled)
    assert np.all(np.diff(base.seizure_id.rank(method="dense")) >= 0)
