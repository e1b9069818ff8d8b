"""Clearing-seizure matching in space and time.

A seizure is a candidate match of a clearing when it lies within ``radius_km`` of the clearing
and happened between the clearing's first detection and ``max_lag_days`` after it. The score
falls linearly with distance and with lag: ``(1 - d / radius) * (1 - lag / max_lag)``.
Pairs come from one bulk ``STRtree`` query (``dwithin``), never from all pairs.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

LINK_COLUMNS = ["clearing_id", "seizure_id", "distance_km", "lag_days", "score", "reasons"]


def metric_crs(*frames: gpd.GeoDataFrame) -> object:
    """A UTM CRS for the frames' combined extent (distances in metres)."""
    non_empty = [f for f in frames if len(f)]
    if not non_empty:
        return "EPSG:3857"
    joined = pd.concat([f.geometry.to_crs("EPSG:4326") for f in non_empty])
    return gpd.GeoSeries(joined, crs="EPSG:4326").estimate_utm_crs()


def match_seizures(
    clearings: gpd.GeoDataFrame,
    seizures: gpd.GeoDataFrame,
    *,
    radius_km: float,
    max_lag_days: int,
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

    Returns
    -------
    DataFrame with ``clearing_id``, ``seizure_id``, ``distance_km``, ``lag_days``, ``score`` and
    ``reasons`` (list of sentences), sorted by seizure then clearing id, so the result does not
    depend on input row order.
    """
    if clearings.empty or seizures.empty:
        return pd.DataFrame({c: [] for c in LINK_COLUMNS})
    crs = metric_crs(clearings, seizures)
    cg = clearings.geometry.to_crs(crs).to_numpy()
    sg = seizures.geometry.to_crs(crs).to_numpy()
    radius_m = radius_km * 1000.0
    tree = shapely.STRtree(cg)
    s_idx, c_idx = tree.query(sg, predicate="dwithin", distance=radius_m)
    dist_km = shapely.distance(sg[s_idx], cg[c_idx]) / 1000.0
    first = clearings["first_detected"].to_numpy(dtype="datetime64[ns]")[c_idx]
    when = seizures["date"].to_numpy(dtype="datetime64[ns]")[s_idx]
    lag = (when - first) / np.timedelta64(1, "D")
    keep = np.isfinite(lag) & (lag >= 0) & (lag <= max_lag_days)
    s_idx, c_idx, dist_km, lag = s_idx[keep], c_idx[keep], dist_km[keep], lag[keep]
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
    return links.sort_values(["seizure_id", "clearing_id"], kind="stable").reset_index(drop=True)
