"""The windowed part of ``ecowatch detect``: read each window of the scenes, run the change kernel,
keep what the job needs.

A task (:func:`process_windows`) takes a row of windows with the scenes open; for each window it
reads the bands of every date (SCL with a halo for the cloud-mask dilation), runs
:func:`geo.change.detect_change` single-threaded, and keeps only the flagged pixels (sparse),
the last-valid-observation blocks for observation gaps and a few counts: memory follows the
window, never the scene. Tasks run through Dask: local threads by default, or a
``distributed`` cluster given its scheduler address. Results are assembled by
position, so any scheduler, worker count or completion order gives the same arrays.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import rasterio
import rasterio.features
import rasterio.transform
import shapely
from numpy.typing import NDArray
from rasterio.windows import Window

from geo.change import UNASSESSED, ChangeParams, FlaggedPixels, detect_change
from geo.gaps import GAP_BLOCK_PX, OUTSIDE, last_valid_blocks
from geo.masks import dilate_clouds
from ingest.imagery.local import LocalScene
from ingest.imagery.reader import SceneReader, read_cover

logger = logging.getLogger(__name__)

WINDOW_STEP = 64  # window sides are multiples of this (and so of the gap block size)
BYTES_PER_PIXEL_DATE = 2 + 2 + 2 + 1  # red, nir, swir (uint16) and SCL (uint8)
ROW_SCL_BYTES = 64 * 2**20  # SCL kept decoded by rows of tiles, up to this size


@dataclass(frozen=True)
class Forest:
    """A tree-cover raster and the cover (percent) from which a pixel is forest."""

    path: str
    min_cover: float


@dataclass(frozen=True)
class WindowTask:
    """Everything a task needs: rows of windows, done in order with the scenes open (picklable,
    for Dask workers in other processes).

    ``windows`` are in the reference grid; ``region`` is the area of that grid being processed,
    whose origin the results are indexed from.
    """

    scenes: tuple[LocalScene, ...]
    ref: LocalScene
    windows: tuple[tuple[int, int, int, int], ...]  # col_off, row_off, width, height (reference grid), row by row
    region: tuple[int, int, int, int]
    n_baseline: int
    dates: tuple[dt.date, ...]
    bands: tuple[str, str, str]  # red, nir, swir
    params: ChangeParams
    inside: tuple[bytes | None, ...]  # per window: its pixels inside the AOI (np.packbits), None when all are
    forest: Forest | None
    origin: tuple[int, int] = (0, 0)  # (col, row) of the window grid and of the gap-block grid
    tile_px: int = 1  # the scenes' tile size: SCL is decoded by rows of tiles


@dataclass
class WindowOutcome:
    """What a window gives back: flagged pixels (region-indexed) and gap blocks."""

    window: tuple[int, int, int, int]
    pixels: FlaggedPixels
    gap_blocks: NDArray[np.int16]
    n_assessed: int


def window_side(window_px: int, memory_mb: int, n_dates: int, region: Window, workers: int, tile_px: int = WINDOW_STEP) -> int:
    """Side of the square processing windows, pixels.

    At most ``window_px``; small enough that one window's input stack stays within ``memory_mb``;
    and, when the region allows, small enough to give every worker at least two windows. A
    multiple of the scenes' tile size ``tile_px`` when it can be (so that no tile is decoded
    twice), else of :data:`WINDOW_STEP`.
    """
    by_memory = math.isqrt(max(memory_mb, 1) * 1_000_000 // max(n_dates * BYTES_PER_PIXEL_DATE, 1))
    by_work = math.isqrt(max(int(region.width) * int(region.height) // max(2 * workers, 1), 1))
    side = min(window_px, by_memory, max(by_work, WINDOW_STEP))
    step = tile_px if tile_px % WINDOW_STEP == 0 and side >= tile_px else WINDOW_STEP
    return max(WINDOW_STEP, side // step * step)


def grid_origin(region: Window, align_px: int) -> tuple[int, int]:
    """``(col, row)`` of the window grid: the region's corner moved back onto the ``align_px`` grid."""
    return int(region.col_off) // align_px * align_px, int(region.row_off) // align_px * align_px


def plan_windows(region: Window, side: int, align_px: int = 1) -> list[tuple[int, int, int, int]]:
    """Windows of ``side`` pixels from :func:`grid_origin`, cut to ``region``."""
    c_org, r_org = grid_origin(region, align_px)
    c_end, r_end = int(region.col_off + region.width), int(region.row_off + region.height)
    out = []
    for r in range(r_org, r_end, side):
        for c in range(c_org, c_end, side):
            c0, r0 = max(c, int(region.col_off)), max(r, int(region.row_off))
            c1, r1 = min(c + side, c_end), min(r + side, r_end)
            if c1 > c0 and r1 > r0:
                out.append((c0, r0, c1 - c0, r1 - r0))
    return out


def process_windows(task: WindowTask) -> list[WindowOutcome]:
    """Detect change in each window of the task, keeping the flagged pixels and gap blocks.

    The task's windows are consecutive rows of windows, done in order with the scenes open.
    Reflectance is read for each window exactly. SCL is needed with a halo as wide as the
    cloud-mask dilation (clouds just outside a window still grow into it): it is decoded by
    whole rows of tiles, each once, and kept while the windows need it (:class:`_SclRows`),
    when that fits :data:`ROW_SCL_BYTES` (e.g. a pair of dates); else read per window with its
    halo.

    Raises
    ------
    SourceError
        When a scene or the tree-cover raster cannot be read.
    InputShapeError
        When the scenes do not fit the detector (see :func:`geo.change.detect_change`).
    """
    halo = task.params.cloud_dilation_px
    c0 = min(w[0] for w in task.windows)
    c1 = max(w[0] + w[2] for w in task.windows)
    height = max(w[3] for w in task.windows)
    with SceneReader(task.scenes, task.ref) as reader:
        rows = None
        if task.tile_px > 1 and len(task.scenes) * (height + 2 * halo + 2 * task.tile_px) * (c1 - c0 + 2 * halo) <= ROW_SCL_BYTES:
            rows = _SclRows(reader, c0 - halo, c1 + halo, task.tile_px)
        out = []
        for window, mask in zip(task.windows, task.inside, strict=True):
            col, row, width, h = window
            if rows is not None:
                scl = rows.get(row - halo, h + 2 * halo)[:, :, col - c0:col - c0 + width + 2 * halo]
            else:
                scl = reader.stack(Window(col - halo, row - halo, width + 2 * halo, h + 2 * halo), ("SCL",))["SCL"].astype(np.uint8, copy=False)
            out.append(_process(task, reader, window, _dilate_crop(scl, halo), mask))
        return out


class _SclRows:
    """SCL of every date over columns ``[c0, c1)``, decoded by whole rows of tiles, each once.

    Windows are asked for in order of rows; rows of tiles above the last window asked for are
    dropped.
    """

    def __init__(self, reader: SceneReader, c0: int, c1: int, tile_px: int) -> None:
        self.reader, self.c0, self.c1, self.tile = reader, c0, c1, tile_px
        self.chunks: dict[int, NDArray[np.uint8]] = {}
        self.last: tuple[int, int, NDArray[np.uint8]] | None = None  # the windows of a row share their strip

    def get(self, row: int, height: int) -> NDArray[np.uint8]:
        """SCL of rows ``[row, row + height)``, shape ``(date, height, c1 - c0)``."""
        if self.last is not None and self.last[:2] == (row, height):
            return self.last[2]
        first, last = row // self.tile, (row + height - 1) // self.tile
        for k in [k for k in self.chunks if k < first]:
            del self.chunks[k]
        for k in range(first, last + 1):
            if k not in self.chunks:
                win = Window(self.c0, k * self.tile, self.c1 - self.c0, self.tile)
                self.chunks[k] = self.reader.stack(win, ("SCL",))["SCL"].astype(np.uint8, copy=False)
        joined = np.concatenate([self.chunks[k] for k in range(first, last + 1)], axis=1)
        strip = joined[:, row - first * self.tile:row - first * self.tile + height]
        self.last = (row, height, strip)
        return strip


def _dilate_crop(scl: NDArray[np.generic], halo: int) -> NDArray[np.uint8]:
    """Cloud and shadow masks grown by ``halo``, then the halo cropped off."""
    codes = np.ascontiguousarray(scl, dtype=np.uint8)
    if not halo:
        return codes
    return np.ascontiguousarray(dilate_clouds(codes, halo, parallel=False)[:, halo:-halo, halo:-halo])


def _process(task: WindowTask, reader: SceneReader, window: tuple[int, int, int, int], scl: NDArray[np.uint8], mask: bytes | None) -> WindowOutcome:
    col, row, width, height = window
    win = Window(col, row, width, height)
    red, nir, swir = task.bands
    stack = reader.stack(win, (red, nir, swir))
    forest = None
    if task.forest is not None:
        cover = read_cover(task.forest.path, task.ref, win)
        forest = (np.nan_to_num(cover, nan=-1.0) >= task.forest.min_cover).astype(np.uint8)
    params = replace(task.params, cloud_dilation_px=0)  # done already, with the halo
    change = detect_change(stack[red], stack[nir], stack[swir], scl, task.n_baseline, params,
                           dates=list(task.dates), forest=forest, parallel=False)
    del stack
    inside = _inside(mask, height, width)
    if inside is not None:
        change.status[~inside] = UNASSESSED
    r_col, r_row, r_width, _ = task.region
    pixels = FlaggedPixels.from_result(change, row_off=row - r_row, col_off=col - r_col, width=r_width)
    return WindowOutcome(window, pixels, _gap_blocks(task, window, change.last, inside), int(np.count_nonzero(change.status != UNASSESSED)))


def _gap_blocks(task: WindowTask, window: tuple[int, int, int, int], last: NDArray[np.int16], inside: NDArray[np.bool_] | None) -> NDArray[np.int16]:
    """The window's last-valid blocks on the block grid from ``task.origin`` (the window padded onto it)."""
    col, row = window[:2]
    pad_r, pad_c = (row - task.origin[1]) % GAP_BLOCK_PX, (col - task.origin[0]) % GAP_BLOCK_PX
    if not (pad_r or pad_c):
        return last_valid_blocks(last, inside)
    mask = np.ones(last.shape, bool) if inside is None else inside
    return last_valid_blocks(np.pad(last, ((pad_r, 0), (pad_c, 0))), np.pad(mask, ((pad_r, 0), (pad_c, 0))))


def aoi_masks(aoi: shapely.Geometry, ref: LocalScene, windows: Sequence[tuple[int, int, int, int]]) -> list[bytes | None]:
    """Per window: ``None`` when it lies wholly inside ``aoi`` (in ``ref``'s CRS), else the mask
    of its pixels whose centre is inside, packed with ``numpy.packbits``.

    Computed once, on the job's own thread: rasterising a million points per edge window on the
    workers would cost more than the window, and ``rasterio.features`` silences warnings of its
    own with ``warnings.catch_warnings``, which is not thread-safe.
    """
    out: list[bytes | None] = []
    for col, row, width, height in windows:
        t = ref.transform @ rasterio.Affine.translation(col, row)
        box = shapely.box(*rasterio.transform.array_bounds(height, width, t))
        if shapely.contains(aoi, box):
            out.append(None)
        else:
            inside = rasterio.features.geometry_mask([aoi], out_shape=(height, width), transform=t, invert=True)
            out.append(np.packbits(inside).tobytes())
    return out


def split_by_aoi(aoi: shapely.Geometry, ref: LocalScene, windows: Sequence[tuple[int, int, int, int]]) -> tuple[list[tuple[int, int, int, int]], list[bytes | None]]:
    """The windows that touch ``aoi`` and their inside masks (:func:`aoi_masks`); others are dropped unread."""
    keep, masks = [], []
    for window, mask in zip(windows, aoi_masks(aoi, ref, windows), strict=True):
        if mask is not None and not np.unpackbits(np.frombuffer(mask, np.uint8)).any():
            continue
        keep.append(window)
        masks.append(mask)
    return keep, masks


def _inside(packed: bytes | None, height: int, width: int) -> NDArray[np.bool_] | None:
    if packed is None:
        return None
    return np.unpackbits(np.frombuffer(packed, np.uint8), count=height * width).reshape(height, width).astype(bool)


def run_windows(tasks: Sequence[WindowTask], *, scheduler: str = "", threads: int = 0) -> list[WindowOutcome]:
    """Run the tasks through Dask and return all their windows' outcomes (in no particular order).

    Parameters
    ----------
    tasks
        Rows of windows.
    scheduler
        Address of a ``distributed`` scheduler (``tcp://host:port``); empty runs the tasks on
        local threads.
    threads
        Local threads (0: one per core); ignored with a scheduler.
    """
    if not tasks:
        return []
    total = sum(len(t.windows) for t in tasks)
    if scheduler:
        from distributed import Client, as_completed

        logger.info("detect: %d windows in %d tasks on the Dask cluster at %s", total, len(tasks), scheduler)
        out: list[WindowOutcome] = []
        with Client(scheduler, set_as_default=False) as client:
            futures = client.map(process_windows, list(tasks), pure=False)
            for future in as_completed(futures, loop=client.loop):
                out.extend(future.result())
                _progress(len(out), total)
        return out
    import dask

    workers = threads or os.cpu_count() or 1
    logger.info("detect: %d windows in %d tasks on %d local thread(s)", total, len(tasks), workers)
    done = [0]
    lock = threading.Lock()

    def task(t: WindowTask) -> list[WindowOutcome]:
        result = process_windows(t)
        with lock:
            done[0] += len(result)
            _progress(done[0], total)
        return result

    jobs = [dask.delayed(task)(t, pure=False, dask_key_name=f"detect-row-{i:05d}") for i, t in enumerate(tasks)]
    return [o for part in dask.compute(*jobs, scheduler="threads", num_workers=workers) for o in part]


def _progress(done: int, total: int) -> None:
    logger.info("detect: %d of %d windows done", done, total)


def assemble(outcomes: Sequence[WindowOutcome], region: tuple[int, int, int, int], origin: tuple[int, int]) -> tuple[FlaggedPixels, NDArray[np.int16], int]:
    """Join window outcomes: all flagged pixels (sorted), the gap blocks, pixels assessed.

    Gap blocks are on the :data:`GAP_BLOCK_PX` grid from ``origin`` (:func:`grid_origin`), which
    covers ``region``; blocks no window reached are :data:`~geo.gaps.OUTSIDE`.
    """
    r_col, r_row, r_width, r_height = region
    c_org, r_org = origin
    rows, cols = -(-(r_row + r_height - r_org) // GAP_BLOCK_PX), -(-(r_col + r_width - c_org) // GAP_BLOCK_PX)
    blocks = np.full((rows, cols), OUTSIDE, np.int16)
    for o in outcomes:
        col, row = o.window[:2]
        b_row, b_col = (row - r_org) // GAP_BLOCK_PX, (col - c_org) // GAP_BLOCK_PX
        h, w = o.gap_blocks.shape
        np.maximum(blocks[b_row:b_row + h, b_col:b_col + w], o.gap_blocks, out=blocks[b_row:b_row + h, b_col:b_col + w])
    return FlaggedPixels.concat([o.pixels for o in outcomes]), blocks, sum(o.n_assessed for o in outcomes)
