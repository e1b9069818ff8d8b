"""``ecowatch detect``: read the AOI's scenes in windows, run the change kernel, write clearings.

The job:

1. picks the AOI's registered scenes in the baseline and monitoring periods (the first baseline
   scene's grid is the reference; others are warped onto it);
2. runs the change kernel window by window through Dask (:mod:`jobs.detect_windows`), keeping
   only flagged pixels and observation-gap blocks;
3. builds clearing objects over the whole AOI (a clearing crossing windows is one polygon),
   reconciles them with the known clearings (:func:`geo.change.identity.reconcile`: ids, growth,
   review status, dismissed ones never back as new), writes before/after quicklooks;
4. writes clearings and the AOI's observation gaps in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import rasterio
import rasterio.windows
from affine import Affine

from config import Settings
from geo.change.detection import ChangeParams
from geo.change.gaps import GAP_BLOCK_PX, observation_gaps
from geo.change.identity import merged_into, reconcile
from geo.change.objects import objects_from_pixels
from ingest.errors import IngestError
from ingest.imagery.local import LocalScene, open_scene
from ingest.imagery.scene_windows import on_grid
from jobs.aoi import aoi_geometry
from jobs.detect_windows import (
    Forest,
    WindowTask,
    assemble,
    cluster_threads,
    grid_origin,
    plan_windows,
    run_windows,
    split_by_aoi,
    window_side,
)
from jobs.ingest_imagery import aoi_window
from jobs.progress import Progress
from jobs.quicklooks import ThreadReaders, plan_chip, write_quicklooks
from jobs.runs import Run, recorded_run
from layers.store import STORE_CRS, Store

logger = logging.getLogger(__name__)

SWIR_BAND = {"nbr": "B12", "ndmi": "B11"}


def band_set(scenes: list[LocalScene], swir_index: str) -> tuple[tuple[str, str, str], str]:
    """The (red, NIR, SWIR) bands of the change test over ``scenes`` and the method's description.

    NIR is each scene's B08, or else its B8A (``NIR``); SWIR is B12 (NBR) when ``swir_index`` is
    ``nbr``, B11 (NDMI) for ``ndmi``, and for ``auto`` B12 when every scene has it, else B11.

    Raises
    ------
    IngestError
        When a scene lacks the SWIR band asked for, naming the scene and what would do.
    """
    index = swir_index
    if index == "auto":
        index = "nbr" if all("B12" in s.bands for s in scenes) else "ndmi"
    swir = SWIR_BAND[index]
    lacking = [s.path.name for s in scenes if swir not in s.bands]
    if lacking:
        raise IngestError(
            f"{len(lacking)} scene(s) lack {swir}, which swir_index={swir_index!r} needs (first: {lacking[0]}); "
            "set ECOWATCH_SWIR_INDEX=auto (or ndmi) to use B11, or leave those scenes out"
        )
    nirs = sorted({s.nir for s in scenes})
    masks = sorted({"SCL" if "SCL" in s.bands else str(s.cloud_band) for s in scenes})
    method = f"{index.upper()} (B04 {'/'.join(nirs)} {swir}; mask {'/'.join(masks)})"
    return ("B04", "NIR", swir), method


@dataclass(frozen=True)
class Period:
    """An inclusive date range."""

    start: dt.date
    end: dt.date

    @classmethod
    def parse(cls, text: str) -> Period:
        """``YYYY-MM-DD/YYYY-MM-DD``; ``ValueError`` says what is wrong."""
        first, sep, last = text.partition("/")
        if not sep:
            raise ValueError(f"{text!r}: expected FROM/TO, e.g. 2023-01-01/2023-12-31")
        try:
            start, end = dt.date.fromisoformat(first.strip()), dt.date.fromisoformat(last.strip())
        except ValueError as err:
            raise ValueError(f"{text!r}: dates must be YYYY-MM-DD ({err})") from None
        if end < start:
            raise ValueError(f"{text!r}: the period ends before it starts")
        return cls(start, end)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


def params_from(settings: Settings) -> ChangeParams:
    """The detector's thresholds from the settings."""
    return ChangeParams(
        invalid_scl_classes=settings.invalid_scl_classes, forest_ndvi_min=settings.forest_ndvi_min,
        ndvi_drop=settings.ndvi_drop, nbr_drop=settings.nbr_drop,
        min_baseline_observations=settings.min_baseline_observations, confirm_observations=settings.confirm_observations,
        season_observations=settings.season_observations, low_quantile=settings.baseline_low_quantile,
        low_margin=settings.low_range_margin, low_window_days=settings.low_window_days,
        recovery_share=settings.recovery_share, grow_share=settings.grow_share, bare_ndvi_max=settings.bare_ndvi_max, nir_rise_max=settings.nir_rise_max, cloud_dilation_px=settings.cloud_dilation_px,
        withdraw_observations=settings.withdraw_observations, transient_days=settings.transient_days,
        unconfirmed_nir_rise_max=settings.unconfirmed_nir_rise_max,
    )


def _scenes(store: Store, aoi: str, baseline: Period, monitor: Period, min_baseline: int,
            cloud_bands: tuple[str, ...]) -> tuple[list[LocalScene], list[LocalScene]]:
    rows = store.read("scenes", where={"aoi": aoi})
    rows = rows[rows["acquired"].dt.date.map(lambda d: d in baseline or d in monitor)].sort_values(["acquired", "scene_id"])
    scenes = [open_scene(Path(p), cloud_bands) for p in rows["path"]]
    base = [s for s in scenes if s.acquired in baseline]
    mon = [s for s in scenes if s.acquired in monitor]
    if not base or not mon:
        raise IngestError(
            f"AOI {aoi!r} needs scenes in both periods; found {len(base)} baseline and {len(mon)} monitoring scene(s) "
            "(run `ecowatch ingest imagery` first)"
        )
    if len(base) < min_baseline:
        raise IngestError(
            f"AOI {aoi!r} has {len(base)} baseline scene(s) from {baseline.start} to {baseline.end}, but a pixel needs "
            f"{min_baseline} valid baseline observation(s) (setting min_baseline_observations): no pixel could be assessed; "
            "widen the baseline period, ingest more scenes, or set ECOWATCH_MIN_BASELINE_OBSERVATIONS"
        )
    return base, mon


def detect(
    store: Store, settings: Settings, *, aoi: str, baseline: Period, monitor: Period, scheduler: str | None = None,
    progress: Progress | None = None,
) -> Run:
    """Detect clearings over ``aoi`` and write them, keeping ids and review status of known ones.

    Parameters
    ----------
    store, settings
        Where to read scenes and write clearings; thresholds, window size, threads.
    aoi
        AOI name (``aoi`` layer).
    baseline, monitor
        The periods; monitoring must start after the baseline ends.
    scheduler
        Dask scheduler address for the windows (``tcp://host:port``); ``None`` takes
        ``settings.scheduler`` (empty: local threads).
    progress
        Told of the windows done (a bar in the CLI); the job logs without one.

    Returns
    -------
    Run
        Counts and a summary message.

    Raises
    ------
    IngestError
        When the periods are inverted or lack scenes; ``SourceError`` when a scene cannot be
        read. The store is then left as it was.
    """
    if monitor.start <= baseline.end:
        raise IngestError(f"the monitoring period ({monitor.start}) must start after the baseline ends ({baseline.end})")
    with recorded_run(store, f"detect --aoi {aoi}", data_dir=settings.data_dir) as run:
        geom = aoi_geometry(store, aoi)
        base, mon = _scenes(store, aoi, baseline, monitor, settings.min_baseline_observations, settings.cloud_mask_bands)
        scenes = base + mon
        bands, method = band_set(scenes, settings.swir_index)
        run.read = len(scenes)
        ref = base[0]
        for s in scenes[1:]:
            if not on_grid(s, ref):
                logger.warning("%s is on another grid than %s: warping it onto that grid", s.path.name, ref.path.name)
        region = aoi_window(ref, geom)
        if region.width < 1 or region.height < 1:
            raise IngestError(f"AOI {aoi!r} does not overlap the scenes' grid ({ref.path.name})")
        aoi_local = gpd.GeoSeries([geom], crs=STORE_CRS).to_crs(ref.crs).iloc[0]
        params = params_from(settings)
        address = settings.scheduler if scheduler is None else scheduler
        # windows and tasks are cut for the threads that will run them: the cluster's, or ours
        workers = cluster_threads(address) if address else settings.detect_threads or os.cpu_count() or 1
        tile = _tile_px(ref)
        side = window_side(settings.window_px, settings.window_memory_mb, len(scenes), region, workers, tile)
        origin = grid_origin(region, tile if side % tile == 0 else 1)
        box = (int(region.col_off), int(region.row_off), int(region.width), int(region.height))
        forest = Forest(settings.forest_cover_path, settings.forest_cover_min) if settings.forest_cover_path else None
        windows, masks = split_by_aoi(aoi_local, ref, plan_windows(region, side, tile if side % tile == 0 else 1))
        rows: dict[int, list[tuple[tuple[int, int, int, int], bytes | None]]] = {}
        for win, mask in zip(windows, masks, strict=True):
            rows.setdefault(win[1], []).append((win, mask))
        tasks = [
            WindowTask(tuple(scenes), ref, tuple(w for w, _ in band), box, len(base), tuple(s.acquired for s in scenes),
                       bands, params, tuple(m for _, m in band), forest, origin, tile)
            for band in _bands(list(rows.values()), workers)
        ]
        logger.info("detect %s: %d x %d px, %d baseline and %d monitoring scenes, windows of %d px",
                    aoi, box[2], box[3], len(base), len(mon), side)
        outcomes = run_windows(tasks, scheduler=address, threads=settings.detect_threads, progress=progress)
        pixels, blocks, n_assessed = assemble(outcomes, box, origin)
        transform = rasterio.windows.transform(region, ref.transform)
        block_transform = ref.transform @ Affine.translation(*origin) @ Affine.scale(GAP_BLOCK_PX)
        mon_dates = [s.acquired for s in mon]
        found = objects_from_pixels(pixels, (box[3], box[2]), transform, ref.crs, mon_dates, settings.mmu_ha)
        found = found.to_crs(STORE_CRS)
        # a first look at the known clearings gives the ids the quicklooks are written under
        objects, n_dismissed = reconcile(found, _known(store, aoi), aoi)
        quicklooks = dict(zip(objects["clearing_id"], _quicklooks(objects, scenes, ref, aoi, settings), strict=True)) if settings.quicklooks else None
        gaps = observation_gaps(blocks, block_transform, ref.crs, mon_dates, monitor.end, settings.observation_gap_min_days)
        gaps = _clip(gaps, aoi_local).to_crs(STORE_CRS).assign(aoi=aoi, run_id=run.run_id)
        synthetic = any(s.synthetic for s in scenes)
        with store.transaction():
            # review states read again under the write lock: a review made while the windows ran is kept
            known_now = _known(store, aoi)
            objects, n_dismissed = reconcile(found, known_now, aoi)
            merged = merged_into(objects, known_now)
            if quicklooks is not None:
                objects["quicklooks"] = [quicklooks.get(cid, {}) for cid in objects["clearing_id"]]
            objects = objects.assign(aoi=aoi, synthetic=synthetic, method=method).drop(columns=["n_pixels"])
            known = objects.pop("known").to_numpy(bool)
            # run_id records the run that first found a clearing; later runs update it in place
            counts = store.upsert("clearings", objects[known])
            counts += store.upsert("clearings", objects[~known].assign(run_id=run.run_id))
            store.replace("observation_gaps", gaps, where={"aoi": aoi})
            if len(merged):
                store.upsert("clearings", pd.DataFrame({"clearing_id": merged.index, "merged_into": merged.to_numpy()}))
            if synthetic:
                store.set_layer_info("clearings", synthetic=True)
        run.written = counts.written
        share = 100.0 * n_assessed / max(box[2] * box[3], 1)
        n_high = int((objects["confidence"] == "high").sum()) if len(objects) else 0
        run.message = (
            f"{len(objects)} clearing(s) over {aoi}: {n_high} confirmed (high), {len(objects) - n_high} unconfirmed (low); "
            f"method {method}; from {len(base)} baseline and {len(mon)} monitoring scene(s): "
            f"{counts.inserted} new, {counts.updated} updated, {counts.unchanged} unchanged"
            + (f"; {n_dismissed} inside dismissed clearings not re-created" if n_dismissed else "")
            + (f"; {len(merged)} merged into grown ones" if len(merged) else "")
            + f"; {share:.0f} % of the area watched as forest; {len(gaps)} observation gap(s)"
        )
    return run


def _bands(rows: list[list[tuple[tuple[int, int, int, int], bytes | None]]], workers: int) -> list[list[tuple[tuple[int, int, int, int], bytes | None]]]:
    """Consecutive rows of windows grouped into tasks for a Dask cluster (a task's rows share their decoded SCL; local runs take every window as a task).

    Bands of two rows first, single rows for the last ``2 * workers`` rows: the last tasks are
    small, so the workers finish together.
    """
    tail = min(len(rows), 2 * workers)
    head = len(rows) - tail
    bands = [[w for row in rows[i:min(i + 2, head)] for w in row] for i in range(0, head, 2)]
    return bands + [list(row) for row in rows[head:]]


def _tile_px(scene: LocalScene) -> int:
    """The scene file's tile side (its first band's block width), 1 when it is not tiled."""
    with rasterio.open(scene.path, driver="GTiff") as ds:
        rows, cols = ds.block_shapes[0]
    return cols if rows == cols and cols < scene.width else 1


def _clip(gaps: gpd.GeoDataFrame, aoi: object) -> gpd.GeoDataFrame:
    if gaps.empty:
        return gaps
    gaps = gaps.copy()
    gaps["geometry"] = gaps.geometry.intersection(aoi)
    return gaps[~gaps.geometry.is_empty]


def _known(store: Store, aoi: str) -> gpd.GeoDataFrame:
    """The AOI's clearings as the store holds them now (ids, review states and dates), but for those
    merged into another: a merged clearing lives on in the one it merged into."""
    rows = store.read("clearings", where={"aoi": aoi, "merged_into": None}, columns=["clearing_id", "review_status", "first_detected", "last_observed"])
    return rows


def _quicklooks(objects: gpd.GeoDataFrame, scenes: list[LocalScene], ref: LocalScene, aoi: str, settings: Settings) -> list[dict[str, str]]:
    """Write every clearing's chips on local threads (reads and PNG writes release the GIL).

    Chips go to the threads in runs of neighbours (ordered by tile), each thread with the scenes
    open once, so that GDAL's block cache serves the tiles that neighbouring chips share.
    """
    if objects.empty:
        return []
    root = Path(settings.data_dir).resolve()
    folder = root / "quicklooks" / aoi
    local = objects.to_crs(ref.crs)
    chips = [
        plan_chip(cid, g, pd.Timestamp(first).date() if not pd.isna(first) else scenes[-1].acquired, ref)
        for cid, g, first in zip(local["clearing_id"], local.geometry, local["first_detected"], strict=True)
    ]
    tile = max(_tile_px(ref), 256)

    def where(i: int) -> tuple[int, int]:
        chip = chips[i]
        return (-1, -1) if chip is None else (int(chip.window.row_off) // tile, int(chip.window.col_off) // tile)

    order = sorted(range(len(chips)), key=where)
    workers = settings.detect_threads or os.cpu_count() or 1
    size = max(1, -(-len(order) // (4 * workers)))
    runs = [order[i:i + size] for i in range(0, len(order), size)]
    readers = ThreadReaders(scenes, ref)
    out: list[dict[str, str]] = [{} for _ in chips]

    def write(run: list[int]) -> None:
        for i in run:
            chip = chips[i]
            if chip is not None:
                out[i] = write_quicklooks(chip, scenes, ref, folder, root, settings.invalid_scl_classes, read=readers.read)

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(write, runs))
    finally:  # the pool has waited for every run: no thread uses a reader now
        readers.close()
    logger.info("detect %s: quicklooks of %d clearing(s) in %s", aoi, len(out), folder)
    return out
