"""Clearing–seizure matching in space and time.

A seizure is a candidate match of a clearing when it lies within ``radius_km`` of the clearing
and happened between the clearing's first detection and ``max_lag_days`` after it. The score
falls linearly with distance and with lag: ``(1 - d / radius) * (1 - lag / max_lag)``.
Pairs come from one bulk ``STRtree`` query per UTM zone (each seizure's box grown by the radius),
then the lag window, then the exact distance; never from all pairs. A 3-D (x, y, t) ``rtree``
index was measured against this and lost (``benchmarks/bench_matching.py``, ``docs/analysis.md``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.metric import utm_groups

PARALLEL_FROM = 20_000  # points; below this one thread is as fast
LINK_COLUMNS = ["clearing_id", "seizure_id", "distance_km", "lag_days", "score", "reasons"]


def nearest_within(points: NDArray[np.object_], targets: NDArray[np.object_], max_distance: float | None) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Index of each point's nearest target within ``max_distance`` (-1 if none; ``None``: no limit) and the distance.

    Both arrays hold shapely geometries in one metric CRS. One ``STRtree`` is built; large
    queries are split over the machine's cores (GEOS releases the GIL while it searches).
    """
    idx = np.full(len(points), -1, dtype=np.intp)
    dist = np.full(len(points), np.nan)
    if not (len(points) and len(targets)):
        return idx, dist
    tree = shapely.STRtree(targets)

    def query(start: int, stop: int) -> None:
        (pi, ti), d = tree.query_nearest(points[start:stop], max_distance=max_distance, return_distance=True, all_matches=False)
        idx[pi + start], dist[pi + start] = ti, d

    workers = min(os.cpu_count() or 1, 8) if len(points) >= PARALLEL_FROM else 1
    bounds = np.linspace(0, len(points), workers + 1).astype(int)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(query, bounds[:-1], bounds[1:]))
    return idx, dist


def _near(geoms: gpd.GeoSeries, window: shapely.Geometry, crs: str) -> NDArray[np.intp]:
    """Positions of ``geoms`` (any CRS) intersecting ``window`` (a polygon in ``crs``)."""
    outline = gpd.GeoSeries([shapely.segmentize(window, max(window.length / 400.0, 1.0))], crs=crs).to_crs(geoms.crs).iloc[0]
    return np.sort(shapely.STRtree(geoms.to_numpy()).query(outline, predicate="intersects"))


ZonePairs = Callable[..., tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]]
_PAD_M = 1e-3  # metres added to the search box: candidates only, the exact test decides


def keep_within(
    points: NDArray[np.object_], when: NDArray[np.datetime64], geoms: NDArray[np.object_], first: NDArray[np.datetime64],
    pi: NDArray[np.intp], gi: NDArray[np.intp], radius_m: float, max_lag_days: float,
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """The candidate pairs ``(pi, gi)`` (from any index) that truly match, with distance (m) and lag (days).

    A pair matches when ``0 <= when - first <= max_lag_days`` (a missing date never matches) and
    ``shapely.dwithin(point, geometry, radius_m)``. The time test runs first: it is a subtraction,
    the distance test is GEOS work.
    """
    lag = (when[pi] - first[gi]) / np.timedelta64(1, "D")
    ok = np.isfinite(lag) & (lag >= 0) & (lag <= max_lag_days)
    pi, gi, lag = pi[ok], gi[ok], lag[ok]
    ok = shapely.dwithin(points[pi], geoms[gi], radius_m)
    pi, gi, lag = pi[ok], gi[ok], lag[ok]
    return pi, gi, shapely.distance(points[pi], geoms[gi]), lag


def query_boxes(points: NDArray[np.object_], pad_m: float) -> NDArray[np.object_]:
    """Each geometry's bounding box grown by ``pad_m`` metres (``None`` for a missing or empty one)."""
    b = shapely.bounds(points)
    return shapely.box(b[:, 0] - pad_m, b[:, 1] - pad_m, b[:, 2] + pad_m, b[:, 3] + pad_m)


def space_time_pairs(
    geoms: NDArray[np.object_], first: NDArray[np.datetime64], points: NDArray[np.object_], when: NDArray[np.datetime64],
    radius_m: float, max_lag_days: float, tree: shapely.STRtree | None = None,
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """(point position, geometry position, distance m, lag days) of every pair within ``radius_m`` and the lag window.

    ``geoms`` (clearings, first detected on ``first``) and ``points`` (seizures, on ``when``) are in
    one metric CRS. One bulk ``STRtree`` query of each point's box grown by the radius gives the
    candidates; the lag is tested on them before the exact distance (:func:`keep_within`). Pass
    ``tree`` (``shapely.STRtree(geoms)``) to reuse a built index. Measured against the ``dwithin``
    predicate query and against a 3-D ``rtree`` index in ``benchmarks/bench_matching.py``.
    """
    if not (len(points) and len(geoms)):
        empty = np.zeros(0, np.intp)
        return empty, empty.copy(), np.zeros(0), np.zeros(0)
    tree = shapely.STRtree(geoms) if tree is None else tree
    pi, gi = tree.query(query_boxes(points, radius_m + _PAD_M))
    return keep_within(points, when, geoms, first, pi, gi, radius_m, max_lag_days)


def candidate_pairs(
    clearings: gpd.GeoDataFrame, seizures: gpd.GeoDataFrame, radius_km: float, max_lag_days: float, zone_pairs: ZonePairs = space_time_pairs,
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """(seizure position, clearing position, distance km, lag days) of every matching pair.

    Computed in each seizure's UTM zone by ``zone_pairs`` (arguments as :func:`space_time_pairs`,
    which is the default); only clearings near the zone's seizures are projected into it.
    """
    s_all, c_all, d_all, l_all = [], [], [], []
    radius_m = radius_km * 1000.0
    first = clearings["first_detected"].to_numpy(dtype="datetime64[ns]")
    when = seizures["date"].to_numpy(dtype="datetime64[ns]")
    for crs, pos in utm_groups(seizures.geometry):
        pts = seizures.geometry.iloc[pos].to_crs(crs).to_numpy()
        window = shapely.buffer(shapely.box(*shapely.total_bounds(pts)), radius_m * 1.01)
        near = _near(clearings.geometry, window, crs)
        if not len(near):
            continue
        cg = clearings.geometry.iloc[near].to_crs(crs).to_numpy()
        si, ci, dist_m, lag = zone_pairs(cg, first[near], pts, when[pos], radius_m, max_lag_days)
        s_all.append(pos[si])
        c_all.append(near[ci])
        d_all.append(dist_m / 1000.0)
        l_all.append(lag)
    if not s_all:
        return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0), np.zeros(0)
    return np.concatenate(s_all), np.concatenate(c_all), np.concatenate(d_all), np.concatenate(l_all)


def match_seizures(
    clearings: gpd.GeoDataFrame,
    seizures: gpd.GeoDataFrame,
    *,
    radius_km: float,
    max_lag_days: int,
    max_candidates: int | None = None,
) -> pd.DataFrame:
    """Candidate links between clearings and seizures.

    Parameters
    ----------
    clearings
        With ``clearing_id`` and ``first_detected`` (datetime64), any CRS.
    seizures
        With ``seizure_id``, ``date`` (datetime64) and ``commodity_group``, any CRS.
    radius_km, max_lag_days
        Search radius and longest lag.
    max_candidates
        Keep only this many best-scoring clearings per seizure (ties broken by clearing id);
        ``None`` keeps all.

    Returns
    -------
    DataFrame with ``clearing_id``, ``seizure_id``, ``distance_km``, ``lag_days``, ``score`` and
    ``reasons`` (list of sentences), sorted by seizure then clearing id, so the result does not
    depend on input row order.
    """
    if clearings.empty or seizures.empty:
        return pd.DataFrame({c: [] for c in LINK_COLUMNS})
    s_idx, c_idx, dist_km, lag = candidate_pairs(clearings, seizures, radius_km, max_lag_days)
    score = (1 - dist_km / radius_km) * (1 - lag / max(max_lag_days, 1))
    groups = seizures["commodity_group"].to_numpy()[s_idx]
    reasons = [
        [
            f"{g} seizure {d:.1f} km from the clearing (within {radius_km:g} km)",
            f"{int(lg)} days after the clearing was first detected (within {max_lag_days} days)",
        ]
        + (["wildlife moves through forest that clearing has opened"] if g == "wildlife" else [])
        for g, d, lg in zip(groups, dist_km, lag, strict=True)
    ]
    links = pd.DataFrame(
        {
            "clearing_id": clearings["clearing_id"].to_numpy()[c_idx],
            "seizure_id": seizures["seizure_id"].to_numpy()[s_idx],
            "distance_km": np.round(dist_km, 3),
            "lag_days": lag.astype(np.int64),
            "score": np.round(score, 4),
            "reasons": reasons,
        }
    )
    if max_candidates is not None and len(links):
        links = links.sort_values(["seizure_id", "score", "clearing_id"], ascending=[True, False, True], kind="stable")
        links = links.groupby("seizure_id", sort=False).head(max_candidates)
    return links.sort_values(["seizure_id", "clearing_id"], kind="stable").reset_index(drop=True)


def nearest_features(features: gpd.GeoSeries, targets: gpd.GeoDataFrame, max_km: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Position in ``targets`` of each feature's nearest target within ``max_km`` (-1: none; ``None``:
    no limit), and the distance in km. Computed in each feature's UTM zone.
    """
    idx = np.full(len(features), -1, dtype=np.intp)
    dist = np.full(len(features), np.nan)
    if features.empty or targets.empty:
        return idx, dist
    for crs, pos in utm_groups(features):
        geoms = features.iloc[pos].to_crs(crs).to_numpy()
        if max_km is None:
            near = np.arange(len(targets))
        else:
            window = shapely.buffer(shapely.box(*shapely.total_bounds(geoms)), max_km * 1000.0 * 1.01)
            near = _near(targets.geometry, window, crs)
        if not len(near):
            continue
        limit = None if max_km is None else max_km * 1000.0
        i, d = nearest_within(geoms, targets.geometry.iloc[near].to_crs(crs).to_numpy(), limit)
        ok = i >= 0
        idx[pos[ok]], dist[pos[ok]] = near[i[ok]], d[ok] / 1000.0
    return idx, dist
