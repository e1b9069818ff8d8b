"""Metric CRSs for distances and areas: equal-area for hectares, the local UTM zone for kilometres."""

from __future__ import annotations

from collections.abc import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

EQUAL_AREA_CRS = "EPSG:6933"  # WGS 84 / NSIDC EASE-Grid 2.0 Global: areas, not distances


def area_ha(geoms: gpd.GeoSeries) -> pd.Series:
    """Areas in hectares, computed in the equal-area CRS (``geoms`` carry their CRS)."""
    return geoms.to_crs(EQUAL_AREA_CRS).area / 10_000.0


def utm_groups(geoms: gpd.GeoSeries) -> Iterator[tuple[str, NDArray[np.intp]]]:
    """(UTM CRS, positions) for the geometries grouped by the UTM zone of their representative point.

    Distances computed in a feature's own zone are true to better than 0.1 % at the scales the
    flags use (kilometres to tens of kilometres), unlike one CRS stretched over the whole region.
    """
    if geoms.empty:
        return
    pts = geoms.to_crs("EPSG:4326").representative_point()
    lon, lat = pts.x.to_numpy(), pts.y.to_numpy()
    zones = np.clip(np.floor((lon + 180.0) / 6.0) + 1, 1, 60).astype(int) + np.where(lat >= 0, 32600, 32700)
    for code in np.unique(zones):
        yield f"EPSG:{code}", np.flatnonzero(zones == code)


def near_window(frame: gpd.GeoDataFrame, window: shapely.Geometry, crs: str) -> gpd.GeoDataFrame:
    """The rows of ``frame`` that intersect ``window`` (a polygon in ``crs``), projected into ``crs``.

    Rows are selected in the frame's own CRS first, so that features far outside a UTM zone are
    never projected into it (where their coordinates would blow up).
    """
    if frame.empty:
        return frame.to_crs(crs).reset_index(drop=True) if frame.crs is not None else frame
    outline = gpd.GeoSeries([shapely.segmentize(window, max(window.length / 400.0, 1.0))], crs=crs).to_crs(frame.crs).iloc[0]
    hits = shapely.STRtree(frame.geometry.to_numpy()).query(outline, predicate="intersects")
    return frame.iloc[np.sort(hits)].to_crs(crs).reset_index(drop=True)
