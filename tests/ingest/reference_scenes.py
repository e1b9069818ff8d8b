"""One reference Sentinel-2 series that every imagery test serves, whatever the provider.

A synthetic series (:mod:`synthetic.scenes`, fixed seed, planted clearings) rendered at
20 m and repeated 2 x 2 onto a 10 m grid, so that the 20 m bands (B8A B11 B12 SCL) of a STAC
catalogue hold exactly the reference's values and every provider can deliver the same pixels.
The reference grid (EPSG:32648, 10 m, origin on the 10 m lattice) is larger than the test AOI,
so windows, tiles and range reads are real.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine

from config import Settings
from ingest.imagery.cog import BANDS
from layers.store import Store, open_store
from synthetic.scenes import Grid, generate_series

CRS = "EPSG:32648"
RES = 10.0
WEST, NORTH = 760_000.0, 1_507_680.0
SIZE_PX = 256  # reference grid side, 10 m pixels
TRANSFORM = Affine(RES, 0.0, WEST, 0.0, -RES, NORTH)
# the AOI: 220 x 206 px of the reference grid, away from its edges
AOI_BOUNDS = (760_200.0, 1_505_420.0, 762_400.0, 1_507_480.0)
AOI_NAME = "ref-aoi"
BASELINE = (dt.date(2023, 9, 1), dt.date(2023, 12, 31))
MONITOR = (dt.date(2024, 1, 1), dt.date(2024, 2, 29))
INVALID = (0, 1, 2, 3, 8, 9, 10, 11)


@dataclass(frozen=True)
class Reference:
    """The reference scenes: date -> uint16 ``(8, 256, 256)`` in :data:`BANDS` order, on :data:`TRANSFORM`."""

    scenes: dict[dt.date, np.ndarray]

    @property
    def dates(self) -> list[dt.date]:
        return sorted(self.scenes)

    def cloud_cover(self, day: dt.date) -> float:
        """Percent of the reference scene whose SCL is invalid."""
        return float(np.isin(self.scenes[day][-1], INVALID).mean() * 100)


@cache
def reference(seed: int = 7) -> Reference:
    """The series (about 18 dates every 10 days over :data:`BASELINE` and :data:`MONITOR`)."""
    half = SIZE_PX // 2
    bounds20 = (WEST, NORTH - SIZE_PX * RES, WEST + SIZE_PX * RES, NORTH)
    grid = Grid.from_bounds(bounds20, 2 * RES, CRS)
    assert grid.shape == (half, half)
    zone = shapely.box(*AOI_BOUNDS).buffer(-150)
    series = generate_series(grid, {"forest": zone}, seed=seed, baseline=BASELINE, monitor=MONITOR, n_clearings={"forest": 3}, n_tiny=0)
    scenes = {}
    for day, scene in series.scenes():
        scenes[day] = np.repeat(np.repeat(scene, 2, axis=1), 2, axis=2)
    return Reference(scenes)


def aoi_file(folder: Path, bounds: tuple[float, float, float, float] = AOI_BOUNDS) -> Path:
    """A GeoJSON with the AOI (:data:`AOI_NAME`, UTM ``bounds``), for ``ingest boundaries aoi``."""
    path = folder / "aoi.geojson"
    gpd.GeoDataFrame({"name": [AOI_NAME]}, geometry=[shapely.box(*bounds)], crs=CRS).to_file(path)
    return path


def write_local(ref: Reference, folder: Path, days: list[dt.date] | None = None) -> list[Path]:
    """One 8-band GeoTIFF per date on the reference grid (the ``local`` provider's layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for day in days or ref.dates:
        path = folder / f"S2_REF_{day:%Y%m%d}.tif"
        with rasterio.open(
            path, "w", driver="GTiff", width=SIZE_PX, height=SIZE_PX, count=len(BANDS), dtype="uint16", crs=CRS,
            transform=TRANSFORM, nodata=0, tiled=True, blockxsize=128, blockysize=128, compress="deflate",
        ) as dst:
            dst.write(ref.scenes[day])
            for band, name in enumerate(BANDS, start=1):
                dst.set_band_description(band, name)
            dst.update_tags(TIFFTAG_DATETIME=f"{day:%Y:%m:%d} 00:00:00")
        paths.append(path)
    return paths


def store_with_aoi(
    folder: Path, settings: Settings, name: str = "store.gpkg", bounds: tuple[float, float, float, float] = AOI_BOUNDS
) -> Store:
    """A new store in ``folder`` holding the AOI (through ``ingest boundaries aoi``)."""
    from ingest.mapping import FieldMapping
    from jobs.ingest_boundaries import ingest_boundaries

    store = open_store(folder / name)
    ingest_boundaries(store, settings, "aoi", aoi_file(folder, bounds), mapping=FieldMapping())
    return store


def aoi_window_of(path: Path, bounds: tuple[float, float, float, float] = AOI_BOUNDS) -> tuple[str, tuple[float, ...], np.ndarray]:
    """``(crs, window transform, bands (8, row, col))`` of a registered scene file over the AOI ``bounds``."""
    from ingest.imagery.local import open_scene
    from jobs.ingest_imagery import aoi_window

    scene = open_scene(path)
    aoi = gpd.GeoSeries([shapely.box(*bounds)], crs=CRS).to_crs("EPSG:4326").iloc[0]
    win = aoi_window(scene, aoi)
    with rasterio.open(path, driver="GTiff") as ds:
        data = ds.read([scene.bands[b] for b in BANDS], window=win)
        transform = ds.window_transform(win)
    return scene.crs.to_string(), tuple(transform)[:6], data


def expected_window(day: dt.date, bounds: tuple[float, float, float, float] = AOI_BOUNDS) -> np.ndarray:
    """The reference scene of ``day`` over the AOI's window of the reference grid, ``(8, row, col)``."""
    c0, r0 = round((bounds[0] - WEST) / RES), round((NORTH - bounds[3]) / RES)
    c1, r1 = round((bounds[2] - WEST) / RES), round((NORTH - bounds[1]) / RES)
    return reference().scenes[day][:, r0:r1, c0:c1]
