"""A small Sentinel-2-like scene with a known coloured patch, for the imagery tile tests.

Written here from the band conventions of DESIGN.md ("Local imagery"), not by the tile code:
UTM 48N, 10 m pixels, 4 km square around :data:`PATCH_LONLAT`; vegetation everywhere
(B02 400, B03 700, B04 300, B08 3500: green in true colour, NDVI 0.84) but a 600 m square
of bare red soil at the patch (B02 250, B03 250, B04 2800, B08 3000: red in true colour).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.transform import from_origin

PATCH_LONLAT = (107.45, 13.65)
PATCH_HALF_M = 300.0
SCENE_HALF_M = 2000.0
DATE = dt.date(2024, 2, 1)
BANDS = ("B02", "B03", "B04", "B08", "B11", "SCL")
BACKGROUND = {"B02": 400, "B03": 700, "B04": 300, "B08": 3500, "B11": 1500, "SCL": 4}
PATCH = {"B02": 250, "B03": 250, "B04": 2800, "B08": 3000, "B11": 2600, "SCL": 5}


def write_scene(path: Path) -> Path:
    """Write the scene to ``path`` (a GeoTIFF with overviews) and return it."""
    x0, y0 = Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True).transform(*PATCH_LONLAT)
    size = int(2 * SCENE_HALF_M / 10)
    transform = from_origin(x0 - SCENE_HALF_M, y0 + SCENE_HALF_M, 10, 10)
    rows, cols = np.mgrid[0:size, 0:size]
    xs, ys = x0 - SCENE_HALF_M + (cols + 0.5) * 10, y0 + SCENE_HALF_M - (rows + 0.5) * 10
    inside = (np.abs(xs - x0) <= PATCH_HALF_M) & (np.abs(ys - y0) <= PATCH_HALF_M)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": len(BANDS), "dtype": "uint16",
               "crs": "EPSG:32648", "transform": transform, "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
    with rasterio.open(path, "w", **profile) as ds:
        for i, name in enumerate(BANDS, start=1):
            ds.write(np.where(inside, PATCH[name], BACKGROUND[name]).astype(np.uint16), i)
            ds.set_band_description(i, name)
        ds.update_tags(TIFFTAG_DATETIME=DATE.strftime("%Y:%m:%d 03:30:00"), ECOWATCH_SYNTHETIC="yes")
        ds.build_overviews([2, 4, 8], Resampling.average)
    return path


def scene_row(path: Path) -> dict[str, object]:
    """The ``scenes`` row of the file (what ``ingest imagery --provider local`` would store)."""
    import geopandas as gpd
    from shapely.geometry import box

    with rasterio.open(path) as ds:
        footprint = gpd.GeoSeries([box(*ds.bounds)], crs="EPSG:32648").to_crs("EPSG:4326").iloc[0]
    return {"scene_id": path.stem, "provider": "local", "aoi": "demo", "acquired": DATE, "cloud_share": 0.0,
            "path": str(path), "crs": "EPSG:32648", "synthetic": True, "geometry": footprint}
