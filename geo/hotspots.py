"""Corridor hotspots: counts per corridor segment (or H3 cell) and period, Getis–Ord Gi*, trends.

The statistic is computed on ``incidents`` = flagged clearings + seizures of the period, with
binary weights that include the location itself (Gi*, ``esda.G_Local(star=True)``): segments
whose midpoints lie within ``gi_distance_km`` of each other, along a corridor and between
corridors (a segment with no neighbour in that distance gets its nearest one), or H3 cells and
their ring-1 neighbours. Classes at 90 / 95 / 99 % come from the two-sided normal p-value of z.
"""

from __future__ import annotations

import warnings

import esda
import geopandas as gpd
import h3
import libpysal
import numpy as np
import pandas as pd
import shapely
from scipy.stats import norm

from geo.trends import trend_label

REGION_CRS = "+proj=aeqd +lat_0=18 +lon_0=102 +datum=WGS84 +units=m"  # equidistant about the GMS centre
COUNT_COLUMNS = ["cleared_ha", "flagged_clearings", "seizures_timber", "seizures_wildlife", "incidents"]
LEVELS = ((0.01, "99 %"), (0.05, "95 %"), (0.10, "90 %"))


def period_of(dates: pd.Series, period: str) -> pd.Series:
    """Period labels ("2024Q1" or "2024-03") of datetime values."""
    d = pd.to_datetime(dates)
    if period == "quarter":
        return d.dt.year.astype(str) + "Q" + d.dt.quarter.astype(str)
    return d.dt.strftime("%Y-%m")


def all_periods(first: pd.Timestamp, last: pd.Timestamp, period: str) -> list[str]:
    """Every period label from ``first`` to ``last`` inclusive."""
    freq = "QS" if period == "quarter" else "MS"
    start = pd.Timestamp(first).to_period("Q" if period == "quarter" else "M").start_time
    return list(period_of(pd.Series(pd.date_range(start, pd.Timestamp(last), freq=freq)), period))


def count_by_location(
    keys: pd.Index,
    periods: list[str],
    clearings: pd.DataFrame,
    seizures: pd.DataFrame,
) -> pd.DataFrame:
    """Counts per (location, period), zeros included.

    ``clearings`` needs ``location``, ``period``, ``area_ha`` and ``flagged`` (bool); ``seizures``
    needs ``location``, ``period`` and ``commodity_group``. Rows whose location is missing are left out.
    """
    grid = pd.MultiIndex.from_product([keys, periods], names=["location", "period"])
    c = clearings.dropna(subset=["location"])
    s = seizures.dropna(subset=["location"])
    out = pd.DataFrame(index=grid)
    out["cleared_ha"] = c.groupby(["location", "period"])["area_ha"].sum()
    out["flagged_clearings"] = c[c["flagged"]].groupby(["location", "period"]).size()
    for group in ("timber", "wildlife"):
        out[f"seizures_{group}"] = s[s["commodity_group"] == group].groupby(["location", "period"]).size()
    out = out.fillna(0)
    out["incidents"] = out["flagged_clearings"] + out["seizures_timber"] + out["seizures_wildlife"]
    return out.astype({"flagged_clearings": int, "seizures_timber": int, "seizures_wildlife": int, "incidents": int})


def gi_star(values: np.ndarray, weights: libpysal.weights.W) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and two-sided p-values (binary weights, the location itself included).

    A constant series has no hot or cold spot: z = 0, p = 1.
    """
    y = np.asarray(values, dtype=float)
    if len(y) < 3 or np.ptp(y) == 0:
        return np.zeros(len(y)), np.ones(len(y))
    with warnings.catch_warnings():
        # esda warns about islands and its own deprecations; our weights have no islands
        warnings.simplefilter("ignore")
        g = esda.G_Local(y, weights, transform="B", star=True, permutations=0)
    z = np.asarray(g.Zs, dtype=float)
    return z, 2 * norm.sf(np.abs(z))


def hot_class(z: np.ndarray, p: np.ndarray) -> list[str]:
    """"hot 99 %", "cold 95 %", ... or "not significant"."""
    out = []
    for zi, pi in zip(z, p, strict=True):
        label = "not significant"
        for level, text in LEVELS:
            if pi < level:
                label = f"{'hot' if zi > 0 else 'cold'} {text}"
                break
        out.append(label)
    return out


def segment_weights(segments: gpd.GeoDataFrame, distance_km: float) -> libpysal.weights.W:
    """Binary weights between segments whose midpoints are within ``distance_km``; no islands."""
    mids = segments.geometry.to_crs(REGION_CRS).interpolate(0.5, normalized=True)
    xy = np.column_stack([mids.x.to_numpy(), mids.y.to_numpy()])
    tree = shapely.STRtree(shapely.points(xy))
    a, b = tree.query(shapely.points(xy), predicate="dwithin", distance=distance_km * 1000.0)
    neighbours: dict[int, list[int]] = {i: [] for i in range(len(xy))}
    for i, j in zip(a, b, strict=True):
        if i != j:
            neighbours[int(i)].append(int(j))
    lonely = [i for i, n in neighbours.items() if not n]
    if lonely and len(xy) > 1:
        (qi, qj) = tree.query_nearest(shapely.points(xy[lonely]), exclusive=True, all_matches=False)
        for i, j in zip(qi, qj, strict=True):
            neighbours[lonely[int(i)]].append(int(j))
            neighbours[int(j)].append(lonely[int(i)])
    return libpysal.weights.W({i: sorted(set(n)) for i, n in neighbours.items()}, silence_warnings=True)


def hotspot_table(counts: pd.DataFrame, weights: libpysal.weights.W, order: pd.Index) -> pd.DataFrame:
    """Gi* per period over ``counts`` (indexed by location, period), then the trend of each location.

    ``order`` lists the locations in the order of ``weights``' ids 0..n-1.
    """
    frames = []
    periods = sorted(counts.index.get_level_values("period").unique())
    matrix, _ = weights.full()
    np.fill_diagonal(matrix, 1.0)  # Gi*: the location counts in its own neighbourhood
    for period in periods:
        sub = counts.xs(period, level="period").reindex(order).fillna(0)
        x = sub["incidents"].to_numpy(dtype=float)
        z, p = gi_star(x, weights)
        frames.append(sub.assign(period=period, gi_z=np.round(z, 4), gi_p=np.round(p, 5), hot_class=hot_class(z, p), local=matrix @ x))
    table = pd.concat(frames).rename_axis("location").reset_index()
    labels = {}
    for loc, g in table.sort_values("period").groupby("location", sort=False):
        cls = g["hot_class"].to_numpy()
        labels[loc] = trend_label([c.startswith("hot") for c in cls], [c.startswith("cold") for c in cls], g["local"].to_numpy())
    table = table.drop(columns="local")
    table["trend"] = table["location"].map(labels)
    table["latest"] = table["period"] == periods[-1]
    return table


def h3_cells(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell ids of points."""
    return np.array([h3.latlng_to_cell(float(y), float(x), resolution) for x, y in zip(lon, lat, strict=True)], dtype=object)


def h3_weights(cells: list[str]) -> libpysal.weights.W:
    """Binary ring-1 adjacency between the given H3 cells (ids are positions in ``cells``)."""
    pos = {c: i for i, c in enumerate(cells)}
    neighbours = {i: sorted(pos[n] for n in h3.grid_disk(c, 1) if n in pos and n != c) for i, c in enumerate(cells)}
    return libpysal.weights.W(neighbours, silence_warnings=True)


def h3_polygons(cells: list[str]) -> list[shapely.Polygon]:
    """Cell outlines as lon/lat polygons."""
    return [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells]


def with_ring(cells: set[str]) -> list[str]:
    """The cells and their ring-1 neighbours, sorted (so locations without events count as zeros)."""
    out = set(cells)
    for c in cells:
        out.update(h3.grid_disk(c, 1))
    return sorted(out)
