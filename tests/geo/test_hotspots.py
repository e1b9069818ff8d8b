"""Gi* against an independent computation from the formula; counts; weights."""

from __future__ import annotations

import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.corridors import segment_corridors
from geo.hotspots import (
    all_periods,
    count_by_location,
    gi_star,
    h3_weights,
    hot_class,
    hotspot_table,
    segment_weights,
    with_ring,
)


def gi_star_by_formula(x: np.ndarray, neighbours: dict[int, list[int]]) -> np.ndarray:
    """Ord & Getis (1995) Gi*, binary weights with w_ii = 1, written out here independently."""
    n = len(x)
    mean = x.mean()
    s = np.sqrt((x**2).sum() / n - mean**2)
    z = np.empty(n)
    for i in range(n):
        w = np.zeros(n)
        w[i] = 1.0
        w[neighbours[i]] = 1.0
        sw, sw2 = w.sum(), (w**2).sum()
        z[i] = ((w * x).sum() - mean * sw) / (s * np.sqrt((n * sw2 - sw**2) / (n - 1)))
    return z


def test_gi_star_equals_the_formula():
    rng = np.random.default_rng(5)
    x = rng.poisson(3, 12).astype(float)
    x[3:6] += 10
    neighbours = {i: [j for j in (i - 1, i + 1) if 0 <= j < 12] for i in range(12)}
    neighbours[0].append(11)
    neighbours[11].append(0)
    z, p = gi_star(x, libpysal.weights.W(neighbours, silence_warnings=True))
    np.testing.assert_allclose(z, gi_star_by_formula(x, neighbours), rtol=1e-9)
    assert (p > 0).all() and (p <= 1).all()
    assert hot_class(np.array([3.0, -2.0, 1.7, 0.3]), 2 * (1 - __import__("scipy.stats").stats.norm.cdf(np.abs([3.0, -2.0, 1.7, 0.3])))) == [
        "hot 99 %", "cold 95 %", "hot 90 %", "not significant",
    ]


def test_constant_values_have_no_hotspot():
    z, p = gi_star(np.ones(10), libpysal.weights.W({i: [(i + 1) % 10] for i in range(10)}, silence_warnings=True))
    assert (z == 0).all() and (p == 1).all()


def test_segments_have_geodesic_lengths_and_ids():
    line = gpd.GeoDataFrame({"name": ["SEC"], "sub_corridor": ["SEC northern"]}, geometry=[shapely.LineString([(105.0, 13.0), (106.0, 13.0)])], crs=4326)
    seg = segment_corridors(line, 10.0)
    assert len(seg) == 11  # about 108.4 km
    assert seg["segment_id"].iloc[0] == "sec-northern-001"
    assert seg["km_from"].iloc[1] == pytest.approx(10.0)
    assert seg["km_to"].iloc[-1] == pytest.approx(108.43, abs=0.1)
    lengths = seg.to_crs(32648).length
    assert lengths.iloc[:-1].round(-1).eq(10_000).all()


def test_segment_weights_along_and_between_corridors_without_islands():
    lines = gpd.GeoDataFrame(
        {"name": ["A", "B", "C"], "sub_corridor": ["a", "b", "c"]},
        geometry=[shapely.LineString([(105.0, 13.0), (105.5, 13.0)]), shapely.LineString([(105.0, 13.1), (105.5, 13.1)]), shapely.LineString([(110.0, 20.0), (110.05, 20.0)])],
        crs=4326,
    )
    seg = segment_corridors(lines, 10.0)
    w = segment_weights(seg, 25.0)
    assert not w.islands
    first_b = int(np.flatnonzero(seg["sub_corridor"] == "b")[0])
    assert first_b in w.neighbors[0]  # 11 km apart, on another corridor
    assert 1 in w.neighbors[0]  # next along its own


def test_counts_and_table_with_trend():
    keys = pd.Index(["s1", "s2", "s3", "s4", "s5"])
    periods = all_periods(pd.Timestamp("2023-01-15"), pd.Timestamp("2023-12-01"), "quarter")
    assert periods == ["2023Q1", "2023Q2", "2023Q3", "2023Q4"]
    clearings = pd.DataFrame({"location": ["s1", "s1", None], "period": ["2023Q1", "2023Q1", "2023Q2"], "area_ha": [2.0, 3.0, 9.0], "flagged": [True, False, True]})
    seizures = pd.DataFrame({"location": ["s1", "s2"], "period": ["2023Q4", "2023Q4"], "commodity_group": ["timber", "wildlife"]})
    counts = count_by_location(keys, periods, clearings, seizures)
    assert counts.loc[("s1", "2023Q1"), "cleared_ha"] == 5.0
    assert counts.loc[("s1", "2023Q1"), "flagged_clearings"] == 1
    assert counts.loc[("s1", "2023Q4"), "incidents"] == 1
    assert counts["incidents"].sum() == 3
    w = libpysal.weights.W({i: [j for j in (i - 1, i + 1) if 0 <= j < 5] for i in range(5)}, silence_warnings=True)
    table = hotspot_table(counts, w, keys)
    assert len(table) == 20 and table["latest"].sum() == 5
    assert set(table["trend"]) <= {"new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating", "historical", "no pattern"}


def test_h3_ring_and_weights():
    import h3

    cell = h3.latlng_to_cell(13.6, 107.4, 5)
    cells = with_ring({cell})
    assert len(cells) == 7 and cell in cells
    w = h3_weights(cells)
    assert len(w.neighbors[cells.index(cell)]) == 6
