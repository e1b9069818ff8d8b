"""Stable clearing identity across runs: a re-detected clearing keeps its id and review status."""

from __future__ import annotations

import hashlib

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InputShapeError


def new_clearing_id(aoi: str, geom: shapely.Geometry, first_detected: pd.Timestamp) -> str:
    """A deterministic id from the AOI, the representative point (to ~1e-5 degrees) and the date."""
    p = shapely.point_on_surface(geom)
    day = "" if pd.isna(first_detected) else pd.Timestamp(first_detected).strftime("%Y%m%d")
    digest = hashlib.sha1(f"{aoi}|{p.x:.5f}|{p.y:.5f}|{day}".encode()).hexdigest()[:10]
    return f"CL-{day or 'nodate'}-{digest}"


def assign_ids(detected: gpd.GeoDataFrame, existing: gpd.GeoDataFrame, aoi: str) -> pd.Series:
    """Ids for ``detected`` clearings: the id of the existing clearing each overlaps most, else a new one.

    Both frames must share a CRS. An existing clearing is given to at most one detection (the one
    overlapping it most); each other detection gets a new id. Returns a Series aligned with
    ``detected``.
    """
    if len(existing) and detected.crs is not None and not detected.crs.equals(existing.crs):
        raise InputShapeError("detected and existing clearings must share a CRS")
    ids = pd.Series([None] * len(detected), index=detected.index, dtype=object)
    if len(existing) and len(detected):
        tree = shapely.STRtree(existing.geometry.values)
        d_idx, e_idx = tree.query(detected.geometry.values, predicate="intersects")
        if len(d_idx):
            overlap = shapely.area(shapely.intersection(detected.geometry.values[d_idx], existing.geometry.values[e_idx]))
            # the best pairs first; each side used once
            order = np.lexsort((e_idx, d_idx, -overlap))
            used_d: set[int] = set()
            used_e: set[int] = set()
            for k in order:
                d, e = int(d_idx[k]), int(e_idx[k])
                if overlap[k] <= 0 or d in used_d or e in used_e:
                    continue
                used_d.add(d)
                used_e.add(e)
                ids.iloc[d] = existing["clearing_id"].iloc[e]
    for i in np.flatnonzero(ids.isna().to_numpy()):
        ids.iloc[i] = new_clearing_id(aoi, detected.geometry.iloc[i], detected["first_detected"].iloc[i])
    return ids
