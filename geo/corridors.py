"""Corridor segments: each corridor line cut into pieces of equal geodesic length."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Geod

_GEOD = Geod(ellps="WGS84")
SEGMENT_COLUMNS = ["segment_id", "corridor", "sub_corridor", "km_from", "km_to"]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _cut(coords: np.ndarray, step_m: float) -> list[tuple[float, float, np.ndarray]]:
    """(m_from, m_to, coords) pieces of a lon/lat polyline, each ``step_m`` long (the last shorter)."""
    seg = np.asarray(_GEOD.line_lengths(coords[:, 0], coords[:, 1]), dtype=float) if len(coords) > 1 else np.zeros(0)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = float(cum[-1])
    if total <= 0:
        return []
    marks = np.append(np.arange(0.0, total, step_m), total)
    if len(marks) > 2 and marks[-1] - marks[-2] < 1e-6:
        marks = marks[:-1]

    def at(d: float) -> np.ndarray:
        k = int(np.clip(np.searchsorted(cum, d, side="right") - 1, 0, len(seg) - 1))
        f = 0.0 if seg[k] == 0 else (d - cum[k]) / seg[k]
        return coords[k] + f * (coords[k + 1] - coords[k])

    pieces = []
    for a, b in zip(marks[:-1], marks[1:], strict=True):
        inner = coords[(cum > a) & (cum < b)]
        pieces.append((float(a), float(b), np.vstack([at(a), *inner, at(b)]) if len(inner) else np.vstack([at(a), at(b)])))
    return pieces


def segment_corridors(corridors: gpd.GeoDataFrame, segment_km: float = 10.0) -> gpd.GeoDataFrame:
    """Cut each corridor into segments of ``segment_km`` (geodesic, WGS 84), numbered from its start.

    Parameters
    ----------
    corridors
        Lines with ``name`` and ``sub_corridor`` (any CRS). A multi-part line is cut part by part,
        its kilometres counted on from part to part.

    Returns
    -------
    GeoDataFrame in EPSG:4326: ``segment_id`` ("<sub-corridor>-<nnn>"), ``corridor``,
    ``sub_corridor``, ``km_from``, ``km_to`` and the segment's line.
    """
    rows = []
    lines = corridors.to_crs("EPSG:4326")
    for r in lines.itertuples():
        offset = 0.0
        k = 0
        for part in shapely.get_parts(shapely.line_merge(r.geometry)):
            coords = shapely.get_coordinates(part)
            pieces = _cut(coords, segment_km * 1000.0)
            for a, b, xy in pieces:
                k += 1
                rows.append({
                    "segment_id": f"{_slug(str(r.sub_corridor or r.name))}-{k:03d}", "corridor": r.name,
                    "sub_corridor": r.sub_corridor, "km_from": round((offset + a) / 1000.0, 3),
                    "km_to": round((offset + b) / 1000.0, 3), "geometry": shapely.LineString(xy),
                })
            offset += pieces[-1][1] if pieces else 0.0
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in SEGMENT_COLUMNS}, geometry=[], crs="EPSG:4326")
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
