"""``ecowatch detect``: read the AOI's scenes in windows, run the change kernel, write clearings."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.features
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from config import Settings
from geo.change import NONE, ChangeParams, ChangeResult, detect_change
from geo.identity import assign_ids
from geo.objects import clearing_objects
from ingest.aoi import aoi_geometry
from ingest.errors import IngestError
from ingest.imagery.job import aoi_window
from ingest.imagery.local import LocalScene, open_scene
from ingest.runs import Run, recorded_run
from layers.store import STORE_CRS, Store

logger = logging.getLogger(__name__)

KERNEL_BANDS = ("B04", "B08", "B12", "SCL")


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
    return ChangeParams(
        invalid_scl_classes=settings.invalid_scl_classes, forest_ndvi_min=settings.forest_ndvi_min,
        ndvi_drop=settings.ndvi_drop, nbr_drop=settings.nbr_drop,
        min_baseline_observations=settings.min_baseline_observations, confirm_observations=settings.confirm_observations,
    )


def _read_block(scene: LocalScene, ref: LocalScene, win: Window) -> np.ndarray:
    """The kernel bands of ``scene`` for window ``win`` of the reference grid, shape (band, row, col)."""
    idx = [scene.bands[b] for b in KERNEL_BANDS]
    with rasterio.open(scene.path, driver="GTiff") as ds:
        if ds.crs == ref.crs and ds.transform == ref.transform and (ds.width, ds.height) == (ref.width, ref.height):
            data = ds.read(idx, window=win, boundless=True, fill_value=0)
        else:
            with WarpedVRT(ds, crs=ref.crs, transform=ref.transform, width=ref.width, height=ref.height, resampling=Resampling.nearest) as vrt:
                data = vrt.read(idx, window=win, boundless=True, fill_value=0)
    if scene.scale != 10_000.0:
        refl = np.clip(np.nan_to_num(data[:3].astype(np.float64)) * (10_000.0 / scene.scale), 0, 65535)
        data = np.concatenate([refl.astype(np.uint16), data[3:].astype(np.uint16)])
    return data.astype(np.uint16, copy=False)


def run_change(scenes: list[LocalScene], n_baseline: int, ref: LocalScene, region: Window, params: ChangeParams, window_px: int) -> ChangeResult:
    """The change kernel over ``region`` of the reference grid, block by block (memory ~ block x dates)."""
    h, w = int(region.height), int(region.width)
    full = ChangeResult(
        status=np.full((h, w), NONE, np.uint8), first=np.full((h, w), -1, np.int16), last=np.full((h, w), -1, np.int16),
        ndvi_drop=np.full((h, w), np.nan, np.float32), nbr_drop=np.full((h, w), np.nan, np.float32),
        baseline_ndvi=np.full((h, w), np.nan, np.float32),
    )
    for r0 in range(0, h, window_px):
        for c0 in range(0, w, window_px):
            bh, bw = min(window_px, h - r0), min(window_px, w - c0)
            win = Window(region.col_off + c0, region.row_off + r0, bw, bh)
            stack = np.stack([_read_block(s, ref, win) for s in scenes], axis=1)  # (band, date, row, col)
            part = detect_change(stack[0], stack[1], stack[2], stack[3], n_baseline, params)
            for name in ("status", "first", "last", "ndvi_drop", "nbr_drop", "baseline_ndvi"):
                getattr(full, name)[r0:r0 + bh, c0:c0 + bw] = getattr(part, name)
    return full


def detect(store: Store, settings: Settings, *, aoi: str, baseline: Period, monitor: Period) -> Run:
    """Detect clearings over ``aoi`` and upsert them, keeping ids and review status of known ones."""
    if monitor.start <= baseline.end:
        raise IngestError(f"the monitoring period ({monitor.start}) must start after the baseline ends ({baseline.end})")
    with recorded_run(store, f"detect --aoi {aoi}") as run:
        geom = aoi_geometry(store, aoi)
        rows = store.read("scenes", where={"aoi": aoi})
        rows = rows[rows["acquired"].dt.date.map(lambda d: d in baseline or d in monitor)].sort_values(["acquired", "scene_id"])
        scenes = [open_scene(p) for p in rows["path"]]
        base = [s for s in scenes if s.acquired in baseline]
        mon = [s for s in scenes if s.acquired in monitor]
        if not base or not mon:
            raise IngestError(f"AOI {aoi!r} needs scenes in both periods; found {len(base)} baseline and {len(mon)} monitoring scene(s) (run `ecowatch ingest imagery` first)")
        run.read = len(scenes)
        ref = base[0]
        for s in scenes[1:]:
            if (s.crs, s.transform, s.width, s.height) != (ref.crs, ref.transform, ref.width, ref.height):
                logger.warning("%s is on another grid than %s: warping it onto that grid", s.path.name, ref.path.name)
        region = aoi_window(ref, geom)
        change = run_change(base + mon, len(base), ref, region, params_from(settings), settings.window_px)
        transform = rasterio.windows.transform(region, ref.transform)
        inside = rasterio.features.geometry_mask(
            [gpd.GeoSeries([geom], crs=STORE_CRS).to_crs(ref.crs).iloc[0]], out_shape=change.status.shape, transform=transform, invert=True
        )
        change.status[~inside] = NONE
        objects = clearing_objects(change, transform, ref.crs, [s.acquired for s in mon], settings.mmu_ha).to_crs(STORE_CRS)
        existing = store.read("clearings", where={"aoi": aoi}, columns=["clearing_id", "review_status"])
        objects["clearing_id"] = assign_ids(objects, existing, aoi).to_numpy()
        status = dict(zip(existing["clearing_id"], existing["review_status"], strict=True))
        objects["review_status"] = [status.get(i) or "new" for i in objects["clearing_id"]]
        objects["aoi"] = aoi
        synthetic = any(s.synthetic for s in scenes)
        objects["synthetic"] = synthetic
        objects = objects.drop(columns=["n_pixels"])
        known = objects["clearing_id"].isin(existing["clearing_id"])
        with store.transaction():
            # run_id records the run that first found a clearing; later runs update it in place
            counts = store.upsert("clearings", objects[known])
            counts += store.upsert("clearings", objects[~known].assign(run_id=run.run_id))
            if synthetic:
                store.set_layer_info("clearings", synthetic=True)
        run.written = counts.written
        run.message = (
            f"{len(objects)} clearing(s) over {aoi} from {len(base)} baseline and {len(mon)} monitoring scene(s): "
            f"{counts.inserted} new, {counts.updated} updated, {counts.unchanged} unchanged"
        )
    return run
