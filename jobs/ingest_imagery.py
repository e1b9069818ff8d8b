"""``ecowatch ingest imagery``: find acquisitions for an AOI and period, fetch each onto the AOI's
grid into the imagery cache (or use a local file where it lies), register them in ``scenes``.

Every acquisition is fetched before anything is written: a provider that fails (after its
retries) fails the run and leaves the store as it was, while the acquisitions already fetched
stay in the cache, so the next run resumes where this one stopped. A second run of the same
request downloads nothing; ``refresh=True`` fetches everything again.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.features
import shapely
from rasterio.windows import Window

from config import Settings
from ingest.errors import RecordError, SourceError
from ingest.imagery.cache import ImageryCache
from ingest.imagery.grid import AoiGrid
from ingest.imagery.grid import aoi_window as grid_aoi_window
from ingest.imagery.local import LocalScene, cloud_to_scl, open_scene
from ingest.imagery.providers import PROVIDERS, Acquisition, Provider, make_provider
from jobs.aoi import aoi_geometry
from jobs.progress import Progress
from jobs.runs import Run, recorded_run
from layers.store import STORE_CRS, Store

logger = logging.getLogger(__name__)

__all__ = ["PROVIDERS", "aoi_window", "cloud_share", "ingest_imagery"]

"""Called after each acquisition with (done, total, what happened to it)."""


def aoi_window(scene: LocalScene, aoi: shapely.Geometry) -> Window:
    """The window of ``scene``'s grid that covers ``aoi`` (EPSG:4326), clipped to the raster."""
    return grid_aoi_window(aoi, scene.crs, scene.transform, scene.width, scene.height)


def cloud_share(scene: LocalScene, aoi: shapely.Geometry, invalid: tuple[int, ...]) -> float:
    """Share of the AOI's pixels that are invalid (cloud, shadow, no data ...) in the scene's SCL."""
    win = aoi_window(scene, aoi)
    with rasterio.open(scene.path, driver="GTiff") as ds:
        scl = ds.read(scene.index("SCL"), window=win)
        if scene.cloud_band is not None:
            scl = cloud_to_scl(scl)
        transform = ds.window_transform(win)
    shape = gpd.GeoSeries([aoi], crs=STORE_CRS).to_crs(scene.crs).iloc[0]
    inside = rasterio.features.geometry_mask([shape], out_shape=scl.shape, transform=transform, invert=True)
    if not inside.any():
        return 1.0
    return float(np.isin(scl[inside], invalid).mean())


@dataclass
class _Tally:
    fetched: int = 0
    cached: int = 0
    in_place: int = 0
    skipped: int = 0


def _obtain(provider: Provider, cache: ImageryCache, acq: Acquisition, grid: AoiGrid, aoi: str, refresh: bool, tally: _Tally) -> tuple[Path, str]:
    """The file of ``acq`` on ``grid``: a local file as it is, a cached COG, or a new fetch."""
    here = provider.in_place(acq, grid)
    if here is not None:
        tally.in_place += 1
        return here, "in place"
    path = cache.path_for(provider.name, aoi, acq, grid, provider.source())
    if not refresh and cache.lookup(path, grid):
        tally.cached += 1
        return path, "from cache"
    provider.fetch(acq, grid, path)
    tally.fetched += 1
    return path, "fetched"


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
    refresh: bool = False,
    progress: Progress | None = None,
) -> Run:
    """Register the provider's acquisitions over ``aoi`` between two dates (inclusive).

    Parameters
    ----------
    store, settings
        Where scenes are registered; settings of the providers and the cache.
    provider
        ``sentinelhub``, ``stac`` or ``local``.
    aoi
        Name of an AOI in the store.
    date_from, date_to
        The period, inclusive.
    path
        Folder of GeoTIFFs (``local`` only).
    max_cloud
        Percent: acquisitions cloudier than this (by the provider's own figure, then by the
        AOI's SCL) are skipped.
    refresh
        Fetch again even what the cache holds.
    progress
        Called after each acquisition (a progress bar in the CLI).

    Returns
    -------
    Run
        Counts and a summary message; unusable records are in its rejects file.

    Raises
    ------
    SourceError
        An unknown provider, a folder or service that cannot be read (``ProviderError``,
        ``CredentialsError``): the store is unchanged.
    TooManyRejectsError
        When more than ``rejects_max_share`` of the acquisitions were rejected.
    """
    source = make_provider(provider, settings, path=path)
    cache = ImageryCache.from_settings(settings)
    with recorded_run(store, f"ingest imagery --provider {provider} --aoi {aoi}", data_dir=settings.data_dir) as run:
        geom = aoi_geometry(store, aoi)
        found = source.search(geom, date_from, date_to, max_cloud)
        for err in found.rejects:
            run.read += 1
            run.reject(err)
        grid = source.grid(geom, found)
        logger.info("%d acquisition(s) of %s over %s; grid %s", len(found.acquisitions), provider, aoi, grid.describe())
        rows, tally, total = [], _Tally(), len(found.acquisitions)
        for done, acq in enumerate(found.acquisitions, start=1):
            run.read += 1
            try:
                file, how = _obtain(source, cache, acq, grid, aoi, refresh, tally)
                row = _scene_row(source, acq, file, geom, aoi, max_cloud, settings)
            except RecordError as err:
                run.reject(err)
                how = "rejected"
                row = None
            if row is None and how != "rejected":
                tally.skipped += 1
                how += ", skipped as cloudier than the maximum"
            elif row is not None:
                rows.append(row)
            logger.log(logging.DEBUG if progress else logging.INFO, "%d/%d %s %s: %s", done, total, acq.acquired, acq.scene_id, how)
            if progress is not None:
                progress(done, total, f"{acq.acquired} {how}")
        run.check_rejects(settings.rejects_max_share)
        frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=STORE_CRS) if rows else gpd.GeoDataFrame({"scene_id": [], "provider": [], "aoi": []}, geometry=[], crs=STORE_CRS)
        with store.transaction():
            counts = store.upsert("scenes", frame)
            if rows and any(r["synthetic"] for r in rows):
                store.set_layer_info("scenes", synthetic=True)
        run.written = counts.written
        run.message = (
            f"{len(rows)} scene(s) for {aoi}: {counts.inserted} new, {counts.updated} updated, {counts.unchanged} unchanged; "
            f"{tally.fetched} fetched, {tally.cached} from the cache, {tally.in_place} used in place; "
            f"{tally.skipped} skipped as cloudier than {max_cloud:g} %; " + run.summary()
        )
    return run


def _scene_row(
    provider: Provider, acq: Acquisition, file: Path, geom: shapely.Geometry, aoi: str, max_cloud: float, settings: Settings
) -> dict[str, object] | None:
    """The ``scenes`` row of an acquisition's file, or ``None`` when it is cloudier than ``max_cloud`` over the AOI."""
    try:
        scene = open_scene(file, settings.cloud_mask_bands)
    except SourceError as err:  # a fetched file that cannot be read back: say which one
        raise RecordError(str(file), acq.scene_id, "file", None, f"written but unreadable: {err}") from err
    bounds = shapely.box(*rasterio.transform.array_bounds(scene.height, scene.width, scene.transform))
    footprint = shapely.intersection(gpd.GeoSeries([bounds], crs=scene.crs).to_crs(STORE_CRS).iloc[0], geom)
    if footprint.is_empty:
        raise RecordError(str(file), acq.scene_id, "footprint", None, f"does not overlap AOI {aoi!r}")
    share = cloud_share(scene, geom, settings.invalid_scl_classes)
    if share * 100 > max_cloud:
        return None
    return {
        "scene_id": acq.scene_id, "provider": provider.name, "aoi": aoi, "acquired": acq.acquired,
        "cloud_share": round(share, 4), "path": str(scene.path), "crs": scene.crs.to_string(),
        "synthetic": provider.synthetic(acq) or scene.synthetic, "geometry": footprint,
    }
