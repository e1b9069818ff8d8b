"""From per-pixel change to clearing objects: sieve to the minimum mapping unit, polygonise, measure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from affine import Affine
from numpy.typing import NDArray

from geo.change import HIGH, LOW, ChangeResult

EQUAL_AREA_CRS = "EPSG:6933"  # WGS 84 / NSIDC EASE-Grid 2.0 Global (equal-area)
CONNECTIVITY = 8


def pixel_area_ha(transform: Affine) -> float:
    """Area of one pixel in hectares, for a grid in metres."""
    return abs(transform.a * transform.e - transform.b * transform.d) / 10_000.0


def _median_by_label(labels: NDArray[np.int32], values: NDArray[np.floating], n: int) -> NDArray[np.float64]:
    """Median of ``values`` per label 1..n (NaN values ignored; NaN when a label has none)."""
    ok = (labels > 0) & np.isfinite(values)
    lab = labels[ok]
    val = values[ok].astype(np.float64)
    order = np.lexsort((val, lab))
    lab, val = lab[order], val[order]
    out = np.full(n + 1, np.nan)
    starts = np.searchsorted(lab, np.arange(1, n + 1), side="left")
    ends = np.searchsorted(lab, np.arange(1, n + 1), side="right")
    for i, (s, e) in enumerate(zip(starts, ends, strict=True), start=1):
        if e > s:
            out[i] = val[(s + e - 1) // 2] if (e - s) % 2 else 0.5 * (val[(s + e) // 2 - 1] + val[(s + e) // 2])
    return out[1:]


def clearing_objects(
    change: ChangeResult,
    transform: Affine,
    crs: object,
    dates: Sequence[dt.date],
    mmu_ha: float,
) -> gpd.GeoDataFrame:
    """Polygons of the clearings in a change result.

    Parameters
    ----------
    change
        Per-pixel result of :func:`geo.change.detect_change` over the whole grid.
    transform, crs
        The grid's affine transform and CRS (a projected CRS in metres).
    dates
        The monitoring dates; ``change.first`` indexes into them.
    mmu_ha
        Minimum mapping unit, hectares: smaller patches are merged into their surroundings
        (``rasterio.features.sieve``, 8-connected), which also fills smaller holes.

    Returns
    -------
    GeoDataFrame in ``crs`` with ``area_ha`` (equal-area), ``first_detected``, ``last_observed``,
    ``confidence`` (``low``/``high``: high when most of the object's pixels are confirmed),
    ``ndvi_drop``, ``nbr_drop`` (medians) and ``n_pixels``. Empty when nothing changed.
    """
    flagged = ((change.status == LOW) | (change.status == HIGH)).astype(np.uint8)
    mmu_px = max(1, int(np.ceil(mmu_ha / pixel_area_ha(transform) - 1e-9)))
    sieved = rasterio.features.sieve(flagged, size=mmu_px, connectivity=CONNECTIVITY)
    polys = [shapely.geometry.shape(g) for g, v in rasterio.features.shapes(sieved, mask=sieved == 1, transform=transform, connectivity=CONNECTIVITY) if v == 1]
    columns = ["area_ha", "first_detected", "last_observed", "confidence", "ndvi_drop", "nbr_drop", "n_pixels"]
    if not polys:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=crs)
    n = len(polys)
    labels = rasterio.features.rasterize(
        ((p, i) for i, p in enumerate(polys, start=1)), out_shape=flagged.shape, transform=transform, dtype="int32", all_touched=False
    )
    inside = (labels > 0) & (flagged == 1)
    lab_flag = np.where(inside, labels, 0)
    n_pixels = np.bincount(lab_flag.ravel(), minlength=n + 1)[1:]
    n_high = np.bincount(lab_flag.ravel(), weights=(change.status == HIGH).ravel(), minlength=n + 1)[1:]
    first = _median_by_label(lab_flag, np.where(change.first >= 0, change.first, np.nan).astype(np.float64), n)
    last = _median_by_label(np.where(labels > 0, labels, 0), np.where(change.last >= 0, change.last, np.nan).astype(np.float64), n)
    dn = _median_by_label(lab_flag, change.ndvi_drop, n)
    db = _median_by_label(lab_flag, change.nbr_drop, n)

    def to_date(idx: float) -> pd.Timestamp:
        return pd.NaT if not np.isfinite(idx) else pd.Timestamp(dates[int(np.floor(idx))])

    frame = gpd.GeoDataFrame(
        {
            "first_detected": [to_date(v) for v in first],
            "last_observed": [to_date(v) for v in last],
            "confidence": np.where(n_high >= 0.5 * np.maximum(n_pixels, 1), "high", "low"),
            "ndvi_drop": np.round(dn, 3),
            "nbr_drop": np.round(db, 3),
            "n_pixels": n_pixels.astype(np.int64),
        },
        geometry=polys,
        crs=crs,
    )
    frame["area_ha"] = (frame.geometry.to_crs(EQUAL_AREA_CRS).area / 10_000.0).round(3)
    return frame[columns + ["geometry"]]
