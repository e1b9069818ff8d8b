"""Candidate pairs: the production STRtree path, the dwithin-predicate path it replaced and the 3-D
rtree index measured in ``benchmarks/bench_matching.py`` give exactly the same pairs."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.rtree_spacetime import build, query, rtree_pairs
from geo.matching import candidate_pairs, space_time_pairs
from geo.metric import utm_groups

UTM48 = "EPSG:32648"
RADIUS_M = 5_000.0
MAX_LAG = 365


def dwithin_then_lag(geoms, first, points, when, radius_m, max_lag_days):
    """The path before this change, written out again: STRtree ``dwithin`` query, then the lag window."""
    si, ci = shapely.STRtree(geoms).query(points, predicate="dwithin", distance=radius_m)
    lag = (when[si] - first[ci]) / np.timedelta64(1, "D")
    keep = ~np.isnan(lag) & (lag >= 0) & (lag <= max_lag_days)
    si, ci = si[keep], ci[keep]
    return si, ci, shapely.distance(points[si], geoms[ci]), lag[keep]


def as_frame(result):
    si, ci, dist, lag = result
    frame = pd.DataFrame({"s": np.asarray(si, np.int64), "c": np.asarray(ci, np.int64), "dist": dist, "lag": lag})
    return frame.sort_values(["s", "c"]).reset_index(drop=True)


def assert_same(*results):
    frames = [as_frame(r) for r in results]
    for other in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], other, check_exact=True)
    return frames[0]


def days(*ds):
    return pd.to_datetime(list(ds)).to_numpy(dtype="datetime64[ns]")


def edge_case_inputs():
    """A 200 m clearing at x 760 000-760 200, y 1 510 000-1 510 200 (first detected 2024-01-01) and
    seizures exactly on and just past each limit; coordinates and dates exact in binary."""
    geoms = np.array([
        shapely.box(760_000, 1_510_000, 760_200, 1_510_200),
        shapely.box(900_000, 1_510_000, 900_100, 1_510_100),  # no date: never matches
        shapely.Polygon(),  # empty: never matches
    ])
    first = days("2024-01-01", None, "2024-01-01")
    pts = [
        (765_200, 1_510_100, "2024-01-01"),  # 0: distance exactly the radius (east), lag exactly 0
        (760_100, 1_505_000, "2024-12-31"),  # 1: distance exactly the radius (south), lag exactly 365 (2024 is a leap year)
        (765_200.01, 1_510_100, "2024-06-01"),  # 2: 1 cm past the radius
        (760_100, 1_510_100, "2023-12-31"),  # 3: inside, the day before the clearing
        (760_100, 1_510_100, "2025-01-01"),  # 4: inside, lag 366
        (763_200, 1_514_200, "2024-03-01"),  # 5: off the corner, distance 5 000 exactly (3-4-5 triangle)
        (763_200, 1_514_201, "2024-03-01"),  # 6: off the corner, just past
        (900_050, 1_510_050, "2024-03-01"),  # 7: inside the undated clearing
        (760_100, 1_510_100, None),  # 8: undated seizure
    ]
    points = shapely.points([(x, y) for x, y, _ in pts])
    when = days(*(d for _, _, d in pts))
    return geoms, first, points, when


def test_edge_cases_match_in_every_path():
    geoms, first, points, when = edge_case_inputs()
    got = assert_same(
        space_time_pairs(geoms, first, points, when, RADIUS_M, MAX_LAG),
        dwithin_then_lag(geoms, first, points, when, RADIUS_M, MAX_LAG),
        rtree_pairs(geoms, first, points, when, RADIUS_M, MAX_LAG),
        query(build(geoms, first, RADIUS_M, MAX_LAG, loader="stream"), geoms, first, points, when, RADIUS_M, MAX_LAG),
    )
    assert list(zip(got.s, got.c, strict=True)) == [(0, 0), (1, 0), (5, 0)]
    assert got.dist.tolist() == [5_000.0, 5_000.0, 5_000.0]
    assert got.lag.tolist() == [0.0, 365.0, 60.0]


@pytest.mark.parametrize("which", ["points", "geoms", "both"])
def test_empty_inputs(which):
    geoms, first, points, when = edge_case_inputs()
    if which in ("points", "both"):
        points, when = points[:0], when[:0]
    if which in ("geoms", "both"):
        geoms, first = geoms[:0], first[:0]
    for result in (space_time_pairs(geoms, first, points, when, RADIUS_M, MAX_LAG), rtree_pairs(geoms, first, points, when, RADIUS_M, MAX_LAG)):
        assert [len(a) for a in result] == [0, 0, 0, 0]


def random_inputs(seed, n_geoms=400, n_points=300, span_m=40_000.0, span_days=900):
    """Clearings (boxes, points, multi-part) and seizures on a grid of whole metres and whole days,
    so that exact radii and exact lags occur often."""
    rng = np.random.default_rng(seed)
    x0, y0 = 740_000, 1_490_000
    x, y = rng.integers(0, span_m, n_geoms) + x0, rng.integers(0, span_m, n_geoms) + y0
    w, h = rng.integers(0, 400, n_geoms), rng.integers(0, 400, n_geoms)
    geoms = shapely.box(x, y, x + w, y + h)  # w or h 0: a line or a point-like box
    multi = rng.random(n_geoms) < 0.1
    geoms[multi] = [shapely.MultiPolygon([g, shapely.box(gx + 1_000, gy, gx + 1_100, gy + 50)]) for g, gx, gy in zip(geoms[multi], x[multi], y[multi], strict=True)]
    first = (np.datetime64("2023-01-01", "ns") + rng.integers(0, span_days, n_geoms) * np.timedelta64(1, "D")).astype("datetime64[ns]")
    first[rng.random(n_geoms) < 0.05] = np.datetime64("NaT")
    px, py = rng.integers(0, span_m, n_points) + x0, rng.integers(0, span_m, n_points) + y0
    # a third of the seizures sit exactly one radius east of a clearing's east edge, on an exact lag
    k = n_points // 3
    host = rng.integers(0, n_geoms, k)
    px[:k], py[:k] = x[host] + w[host] + int(RADIUS_M), y[host] + h[host] // 2
    points = shapely.points(px, py)
    when = (np.datetime64("2023-01-01", "ns") + rng.integers(0, span_days, n_points) * np.timedelta64(1, "D")).astype("datetime64[ns]")
    lag_days = rng.choice([0, MAX_LAG, MAX_LAG + 1, -1, 100], k)
    ok = ~np.isnat(first[host])
    when[:k][ok] = first[host][ok] + lag_days[ok] * np.timedelta64(1, "D")
    when[rng.random(n_points) < 0.05] = np.datetime64("NaT")
    return geoms, first, points, when


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_random_inputs_match_in_every_path(seed):
    geoms, first, points, when = random_inputs(seed)
    got = assert_same(
        space_time_pairs(geoms, first, points, when, RADIUS_M, MAX_LAG),
        dwithin_then_lag(geoms, first, points, when, RADIUS_M, MAX_LAG),
        rtree_pairs(geoms, first, points, when, RADIUS_M, MAX_LAG),
    )
    assert len(got) > 0
    assert ((got.dist == RADIUS_M) & got.lag.isin([0, MAX_LAG])).any()  # the limits were reached, and kept


def zone_frames(seed):
    """Clearings and seizures in three UTM zones (47N, 48N, 49N), some near the 48/49 boundary at 108 E, in lon/lat."""
    rng = np.random.default_rng(seed)
    frames_c, frames_s = [], []
    for lon0 in (101.0, 105.0, 107.96):
        n_c, n_s = 150, 100
        lon, lat = lon0 + rng.uniform(0, 0.08, n_c), 13.5 + rng.uniform(0, 0.3, n_c)
        frames_c.append(gpd.GeoDataFrame(
            {"first_detected": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, n_c), "D")},
            geometry=shapely.buffer(shapely.points(lon, lat), 0.002, quad_segs=2), crs=4326,
        ))
        lon, lat = lon0 + rng.uniform(0, 0.08, n_s), 13.5 + rng.uniform(0, 0.3, n_s)
        frames_s.append(gpd.GeoDataFrame(
            {"date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, n_s), "D")},
            geometry=shapely.points(lon, lat), crs=4326,
        ))
    return pd.concat(frames_c, ignore_index=True), pd.concat(frames_s, ignore_index=True)


def test_several_utm_zones():
    clearings, seizures = zone_frames(7)
    zones = {crs for crs, _ in utm_groups(seizures.geometry)}
    assert zones == {"EPSG:32647", "EPSG:32648", "EPSG:32649"}
    got = assert_same(
        candidate_pairs(clearings, seizures, RADIUS_M / 1000, MAX_LAG),
        candidate_pairs(clearings, seizures, RADIUS_M / 1000, MAX_LAG, zone_pairs=dwithin_then_lag),
        candidate_pairs(clearings, seizures, RADIUS_M / 1000, MAX_LAG, zone_pairs=rtree_pairs),
    )
    assert len(got) > 0
    assert (got.dist <= RADIUS_M / 1000).all() and got.lag.between(0, MAX_LAG).all()


def test_exact_limits_through_match_level_in_a_metric_crs():
    """Frames already in the seizures' UTM zone are not moved by projection, so exact limits survive."""
    geoms, first, points, when = edge_case_inputs()
    clearings = gpd.GeoDataFrame({"first_detected": first}, geometry=geoms, crs=UTM48)
    seizures = gpd.GeoDataFrame({"date": when}, geometry=points, crs=UTM48)
    got = assert_same(
        candidate_pairs(clearings, seizures, RADIUS_M / 1000, MAX_LAG),
        candidate_pairs(clearings, seizures, RADIUS_M / 1000, MAX_LAG, zone_pairs=dwithin_then_lag),
        candidate_pairs(clearings, seizures, RADIUS_M / 1000, MAX_LAG, zone_pairs=rtree_pairs),
    )
    assert list(zip(got.s, got.c, strict=True)) == [(0, 0), (1, 0), (5, 0)]
