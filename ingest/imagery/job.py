"""``ecowatch ingest imagery``: find acquisitions for an AOI and period and register them in ``scenes``."""

from __future__ import annotations

import datetime as dt
import logging
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.features
import shapely
from rasterio.windows import Window, from_bounds

from config import Settings
from ingest.aoi import aoi_geometry
from ingest.errors import RecordError, SourceError
from ingest.imagery.local import LocalScene, find_scenes, open_scene
from ingest.runs import Run, recorded_run
from layers.store import STORE_CRS, Store

logger = logging.getLogger(__name__)

PROVIDERS = ("local",)


def aoi_window(scene: LocalScene, aoi: shapely.Geometry) -> Window:
    """The window of ``scene``'s grid that covers ``aoi`` (EPSG:4326), clipped to the raster."""
    bounds = gpd.GeoSeries([aoi], crs=STORE_CRS).to_crs(scene.crs).total_bounds
    win = from_bounds(*bounds, transform=scene.transform)
    tol = 0.01  # pixels: an AOI stored in lon/lat comes back a few mm off the grid
    c0, r0 = math.floor(win.col_off + tol), math.floor(win.row_off + tol)
    c1, r1 = math.ceil(win.col_off + win.width - tol), math.ceil(win.row_off + win.height - tol)
    return Window(c0, r0, c1 - c0, r1 - r0).intersection(Window(0, 0, scene.width, scene.height))


def cloud_share(scene: LocalScene, aoi: shapely.Geometry, invalid: tuple[int, ...]) -> float:
    """Share of the AOI's pixels that are invalid (cloud, shadow, no data ...) in the scene's SCL."""
    win = aoi_window(scene, aoi)
    with rasterio.open(scene.path, driver="GTiff") as ds:
        scl = ds.read(scene.bands["SCL"], window=win)
        transform = ds.window_transform(win)
    shape = gpd.GeoSeries([aoi], crs=STORE_CRS).to_crs(scene.crs).iloc[0]
    inside = rasterio.features.geometry_mask([shape], out_shape=scl.shape, transform=transform, invert=True)
    if not inside.any():
        return 1.0
    return float(np.isin(scl[inside], invalid).mean())


def ingest_imagery(
    store: Store,
    settings: Settings,
    *,
    provider: str,
    aoi: str,
    date_from: dt.date,
    date_to: dt.date,
    path: Path | None = None,
    max_cloud: float = 100.0,
) -> Run:
    """Register the provider's acquisitions over ``aoi`` between two dates (inclusive).

    Files that cannot be used are rejected with the reason; scenes cloudier than ``max_cloud``
    percent over the AOI are skipped. Re-running registers nothing twice.
    """
    if provider not in PROVIDERS:
        raise SourceError(provider, f"provider not available in this version; providers: {', '.join(PROVIDERS)}")
    if path is None:
        raise SourceError("local", "the local provider needs --path DIR")
    with recorded_run(store, f"ingest imagery --provider {provider} --aoi {aoi}") as run:
        geom = aoi_geometry(store, aoi)
        rows = []
        skipped = 0
        for file in find_scenes(path):
            run.read += 1
            try:
                scene = open_scene(file)
            except SourceError as err:
                run.reject(RecordError(str(file), file.name, "file", None, err.reason))
                continue
            if not date_from <= scene.acquired <= date_to:
                run.read -= 1
                continue
            footprint = shapely.intersection(
                gpd.GeoSeries([shapely.box(*rasterio.transform.array_bounds(scene.height, scene.width, scene.transform))], crs=scene.crs)
                .to_crs(STORE_CRS).iloc[0],
                geom,
            )
            if footprint.is_empty:
                run.reject(RecordError(str(file), file.name, "footprint", None, f"does not overlap AOI {aoi!r}"))
                continue
            share = cloud_share(scene, geom, settings.invalid_scl_classes)
            if share * 100 > max_cloud:
                skipped += 1
                continue
            rows.append(
                {
                    "scene_id": scene.scene_id, "provider": provider, "aoi": aoi, "acquired": scene.acquired,
                    "cloud_share": round(share, 4), "path": str(scene.path), "crs": scene.crs.to_string(),
                    "synthetic": scene.synthetic, "geometry": footprint,
                }
            )
        run.check_rejects(settings.rejects_max_share)
        frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=STORE_CRS) if rows else gpd.GeoDataFrame({"scene_id": [], "provider": [], "aoi": []}, geometry=[], crs=STORE_CRS)
        with store.transaction():
            counts = store.upsert("scenes", frame)
            if rows and any(r["synthetic"] for r in rows):
                store.set_layer_info("scenes", synthetic=True)
        run.written = counts.written
        run.message = f"{len(rows)} scene(s) for {aoi}: {counts.inserted} new, {counts.unchanged} unchanged; {skipped} skipped as cloudier than {max_cloud:g} %; " + run.summary()
    return run
