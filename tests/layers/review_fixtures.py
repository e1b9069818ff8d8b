"""Small stores of clearings for the review-desk tests (imported by the layers and web tests)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import geopandas as gpd
from shapely.geometry import box

from layers import open_store
from layers.store import Store


def clearing_rows(n: int, *, aoi: str = "demo", x0: float = 107.36, y0: float = 13.58) -> list[dict[str, Any]]:
    """``n`` clearings CL-000..: risk falls with the number, confidence alternates, one flag each."""
    flags = ["protected_area", "outside_concessions", "inside_concession", "no_concession_data"]
    rows = []
    for i in range(n):
        x, y = x0 + 0.004 * (i % 40), y0 + 0.004 * (i // 40)
        rows.append({
            "clearing_id": f"CL-{i:03d}", "aoi": aoi, "area_ha": 1.0 + i, "first_detected": dt.date(2024, 1 + i % 12, 5),
            "last_observed": dt.date(2024, 12, 1), "confidence": "high" if i % 2 == 0 else "low",
            "ndvi_drop": 0.4, "nbr_drop": 0.3, "flags": [flags[i % 4]], "reasons": [f"Reason {i}."],
            "risk": 100 - (i * 7) % 101, "review_status": "new", "run_id": "run-1", "synthetic": True,
            "geometry": box(x, y, x + 0.002, y + 0.002),
        })
    return rows


def write_clearings(store: Store, rows: list[dict[str, Any]]) -> None:
    store.upsert("clearings", gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326"))


def review_store(path: Path | str, n: int = 12) -> Path | str:
    """A store at ``path`` (a GeoPackage path or a store URL) with an AOI and ``n`` clearings (:func:`clearing_rows`)."""
    store = open_store(path)
    try:
        store.upsert("aoi", gpd.GeoDataFrame([{"name": "demo", "source": "test", "geometry": box(107.35, 13.56, 107.53, 13.75)}],
                                             geometry="geometry", crs="EPSG:4326"))
        write_clearings(store, clearing_rows(n))
    finally:
        store.close()
    return path
