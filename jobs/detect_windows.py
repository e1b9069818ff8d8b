"""The windowed part of ``ecowatch detect``: read each window of the scenes, run the change kernel,
keep what the job needs.

A window is read band by band straight into its stack; its SCL comes from
:class:`~jobs.scl_blocks.SclBlocks`,
which decodes the SCL of the reference grid a block (a file tile) at a time, each block once
however many windows' cloud-dilation halos reach into it, and grows the cloud and shadow masks
only for dates where a block holds any. The kernel (:func:`geo.change.detection.detect_change`, single
threaded, GIL released) then keeps only the flagged pixels (sparse), the last-valid-observation
blocks for observation gaps and a few counts: memory follows the window, never the scene.

Windows run through Dask. On local threads (the default) every window is a task of its own, all
sharing one set of SCL blocks and one open reader per thread, so that the threads finish
together. On a ``distributed`` cluster, given its scheduler address, a task is one or two rows of windows
with its own reader and blocks (workers may be other processes). Results are assembled by
position, so any scheduler, worker count or completion order gives the same arrays.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import rasterio
import rasterio.features
import rasterio.transform
import shapely
from numpy.typing import NDArray
from rasterio.windows import Window

from geo.change.detection import (
    RESULT_FIELDS,
    UNASSESSED,
    ChangeParams,
    ChangeResult,
    FlaggedPixels,
    detect_change,
)
from geo.change.gaps import GAP_BLOCK_PX, OUTSIDE, last_valid_blocks
from ingest.imagery.local import LocalScene
from ingest.imagery.scene_windows import GDAL_OPTIONS, SceneReader, read_cover
from jobs.progress import Progress, logged
from jobs.scl_blocks import Box, SclBlocks

logger = logging.getLogger(__name__)

WINDOW_STEP = 64  # window sides are multiples of this (and so of the gap block size)
BYTES_PER_PIXEL_DATE = 2 + 2 + 2 + 1  # red, nir, swir (uint16) and SCL (uint8)



@dataclass(frozen=True)
class Forest:
    """A tree-cover raster and the cover (percent) from which a pixel is forest."""

    path: str
    min_cover: float


@dataclass(frozen=True)
class WindowTask:
    """Everything a task needs: windows, done in order with the scenes open (picklable, for
    Dask workers in other processes).

    ``windows`` are in the reference grid; ``region`` is the area of that grid being processed,
    whose origin the results are indexed from.
    """

    scenes: tuple[LocalScene, ...]
    ref: LocalScene
    windows: tuple[Box, ...]  # row by row
    region: Box
    n_baseline: int
    dates: tuple[dt.date, ...]
    bands: tuple[str, str, str]  # red, nir, swir
    params: ChangeParams
    inside: tuple[bytes | None, ...]  # per window: its pixels inside the AOI (np.packbits), None when all are
    forest: Forest | None
    origin: tuple[int, int] = (0, 0)  # (col, row) of the window grid and of the gap-block grid
    tile_px: int = 1  # the scenes' tile size (1: not tiled): SCL is decoded by blocks of it

    def one(self, k: int) -> WindowTask:
        """The task of window ``k`` alone."""
        return replace(self, windows=(self.windows[k],), inside=(self.inside[k],))


@dataclass
class WindowOutcome:
    """What a window gives back: flagged pixels (region-indexed) and gap blocks."""

    window: Box
    pixels: FlaggedPixels
    gap_blocks: NDArray[np.int16]
    n_assessed: int


def window_side(window_px: int, memory_mb: int, n_dates: int, region: Window, workers: int, tile_px: int = WINDOW_STEP) -> int:
    """Side of the square processing windows, pixels.

    At most ``window_px``; small enough that one window's input stack stays within ``memory_mb``;
    and, when the region allows, small enough to give every worker at least two windows. A
    multiple of the scenes' tile size ``tile_px`` when it can be (so that a window's own blocks
    are whole tiles), else of :data:`WINDOW_STEP`.
    """
    by_memory = math.isqrt(max(memory_mb, 1) * 1_000_000 // max(n_dates * BYTES_PER_PIXEL_DATE, 1))
    by_work = math.isqrt(max(int(region.width) * int(region.height) // max(2 * workers, 1), 1))
    side = min(window_px, by_memory, max(by_work, WINDOW_STEP))
    step = tile_px if tile_px % WINDOW_STEP == 0 and side >= tile_px else WINDOW_STEP
    return max(WINDOW_STEP, side // step * step)


def grid_origin(region: Window, align_px: int) -> tuple[int, int]:
    """``(col, row)`` of the window grid: the region's corner moved back onto the ``align_px`` grid."""
    return int(region.col_off) // align_px * align_px, int(region.row_off) // align_px * align_px


def plan_windows(region: Window, side: int, align_px: int = 1) -> list[Box]:
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


def _scl_blocks(task: WindowTask, windows: Sequence[Box]) -> SclBlocks:
    return SclBlocks(len(task.scenes), task.params.cloud_dilation_px, task.tile_px, task.region, windows)


class Scratch:
    """Arrays reused from window to window on one thread. A window's stack and kernel output
    are dropped before the next window is read, so their memory is written again rather than
    mapped and faulted in afresh (over a full tile that was a tenth of the job's CPU time)."""

    def __init__(self) -> None:
        self._flat: dict[str, NDArray[Any]] = {}

    def array(self, name: str, shape: tuple[int, ...], dtype: type[np.generic]) -> NDArray[Any]:
        """A C-contiguous array of ``shape`` (contents undefined), sharing memory with the last one of this name."""
        size = math.prod(shape)
        flat = self._flat.get(name)
        if flat is None or flat.size < size or flat.dtype != dtype:
            flat = self._flat[name] = np.empty(max(size, 1), dtype)
        return flat[:size].reshape(shape)

    def result(self, rows: int, cols: int) -> ChangeResult:
        """Kernel output arrays for a window of ``rows`` x ``cols``."""
        template = ChangeResult.empty(0, 0)
        return ChangeResult(*(self.array(f"result.{name}", (rows, cols), getattr(template, name).dtype.type) for name in RESULT_FIELDS))


def process_windows(task: WindowTask) -> list[WindowOutcome]:
    """Detect change in each window of the task with its own reader and SCL blocks (a cluster
    worker's task: the scenes are opened once for its windows).

    Raises
    ------
    SourceError
        When a scene or the tree-cover raster cannot be read.
    InputShapeError
        When the scenes do not fit the detector (see :func:`geo.change.detection.detect_change`).
    """
    with SceneReader(task.scenes, task.ref) as reader:
        blocks, scratch = _scl_blocks(task, task.windows), Scratch()
        return [_process(task, reader, blocks, scratch, w, m) for w, m in zip(task.windows, task.inside, strict=True)]


def _process(task: WindowTask, reader: SceneReader, blocks: SclBlocks, scratch: Scratch, window: Box, mask: bytes | None) -> WindowOutcome:
    col, row, width, height = window
    win = Window(col, row, width, height)
    shape = (len(task.scenes), height, width)
    scl = blocks.codes(reader, window, out=scratch.array("SCL", shape, np.uint8))
    red, nir, swir = task.bands
    stack = reader.stack(win, (red, nir, swir), out={b: scratch.array(b, shape, np.uint16) for b in task.bands})
    forest = None
    if task.forest is not None:
        cover = read_cover(task.forest.path, task.ref, win)
        forest = (np.nan_to_num(cover, nan=-1.0) >= task.forest.min_cover).astype(np.uint8)
    params = replace(task.params, cloud_dilation_px=0)  # done already, with the halo
    change = detect_change(stack[red], stack[nir], stack[swir], scl, task.n_baseline, params,
                           dates=list(task.dates), forest=forest, parallel=False, out=scratch.result(height, width))
    del stack, scl
    inside = _inside(mask, height, width)
    if inside is not None:
        change.status[~inside] = UNASSESSED
    r_col, r_row, r_width, _ = task.region
    pixels = FlaggedPixels.from_result(change, row_off=row - r_row, col_off=col - r_col, width=r_width)
    offset = ((row - task.origin[1]) % GAP_BLOCK_PX, (col - task.origin[0]) % GAP_BLOCK_PX)
    gaps = last_valid_blocks(change.last, inside, offset=offset)
    return WindowOutcome(window, pixels, gaps, int(np.count_nonzero(change.status != UNASSESSED)))


class RunStoppedError(RuntimeError):
    """A window was not started because its run had already failed."""


class _Shared:
    """What the local threads share over one job's windows: the SCL blocks and one open reader
    per thread (opening the scenes costs about a millisecond a file, per window otherwise)."""

    def __init__(self, tasks: Sequence[WindowTask]) -> None:
        first = tasks[0]
        key = (first.scenes, first.ref, first.region, first.tile_px, first.params.cloud_dilation_px)
        if any((t.scenes, t.ref, t.region, t.tile_px, t.params.cloud_dilation_px) != key for t in tasks):
            raise ValueError("the tasks of one run must share their scenes, region, tiling and cloud dilation")
        self.task = first
        self.blocks = _scl_blocks(first, [w for t in tasks for w in t.windows])
        self._local = threading.local()  # .mine: this thread's reader and scratch
        self._readers: list[SceneReader] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0  # windows running now
        self._closed = False

    @contextmanager
    def thread(self) -> Iterator[tuple[SceneReader, Scratch]]:
        """This thread's reader and scratch arrays, inside GDAL's options.

        Raises
        ------
        RunStoppedError
            When the run is closing (another window failed).
        """
        with self._lock:
            if self._closed:
                raise RunStoppedError("detect: the run stopped (another window failed)")
            self._active += 1
        try:
            with rasterio.Env(**GDAL_OPTIONS):
                mine = getattr(self._local, "mine", None)
                if mine is None:
                    mine = self._local.mine = (SceneReader(self.task.scenes, self.task.ref, own_env=False).__enter__(), Scratch())
                    with self._lock:
                        self._readers.append(mine[0])
                yield mine
        finally:
            with self._lock:
                self._active -= 1
                self._idle.notify_all()

    def close(self) -> None:
        """Close the readers once no window uses them. Dask gives up on a run at its first
        failed task while others still run on the pool's threads: their readers must not be
        closed under them, and no new window may start."""
        with self._lock:
            self._closed = True
            while self._active:
                self._idle.wait()
            for reader in self._readers:
                reader.__exit__(None, None, None)
            self._readers = []


def _one_window(shared: _Shared, task: WindowTask) -> WindowOutcome:
    with shared.thread() as (reader, scratch):
        return _process(task, reader, shared.blocks, scratch, task.windows[0], task.inside[0])


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


def cluster_threads(scheduler: str) -> int:
    """Worker threads of the Dask cluster at ``scheduler`` now (at least 1): what a job is cut for."""
    from distributed import Client

    with Client(scheduler, set_as_default=False) as client:
        workers = client.scheduler_info().get("workers", {})  # all of them (the default of every version we support)
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))


def run_windows(tasks: Sequence[WindowTask], *, scheduler: str = "", threads: int = 0, progress: Progress | None = None) -> list[WindowOutcome]:
    """Run the tasks through Dask and return all their windows' outcomes (in no particular order).

    Parameters
    ----------
    tasks
        Windows (rows of them), all of one job: same scenes, region and parameters.
    scheduler
        Address of a ``distributed`` scheduler (``tcp://host:port``): each task runs on a worker
        with its own reader and SCL blocks. Empty runs every window as a task on local threads,
        sharing one :class:`SclBlocks`.
    threads
        Local threads (0: one per core); ignored with a scheduler.
    progress
        Told of the windows done (from the worker threads, one call at a time); logs without one.
    """
    if not tasks:
        return []
    total = sum(len(t.windows) for t in tasks)
    report = progress or logged("detect")
    if scheduler:
        from distributed import Client, as_completed

        logger.info("detect: %d windows in %d tasks on the Dask cluster at %s", total, len(tasks), scheduler)
        out: list[WindowOutcome] = []
        with Client(scheduler, set_as_default=False) as client:
            futures = client.map(process_windows, list(tasks), pure=False)
            for future in as_completed(futures, loop=client.loop):
                out.extend(future.result())
                report(len(out), total, "windows")
        return out
    import dask
    import dask.threaded

    workers = threads or os.cpu_count() or 1
    logger.info("detect: %d windows on %d local thread(s)", total, workers)
    shared = _Shared(tasks)
    singles = [t.one(k) for t in tasks for k in range(len(t.windows))]
    done = [0]
    lock = threading.Lock()

    def one(i: int) -> WindowOutcome:  # tasks are passed by index: Dask would walk a dataclass argument
        result = _one_window(shared, singles[i])
        with lock:
            done[0] += 1
            if progress is not None or done[0] % 16 == 0 or done[0] == total:
                report(done[0], total, "windows")
        return result

    jobs = [dask.delayed(one, pure=False)(i, dask_key_name=f"detect-window-{i:06d}") for i in range(len(singles))]
    try:  # the threaded scheduler itself: a scheduler named by string makes Dask import distributed to look for a client
        return list(dask.compute(*jobs, scheduler=dask.threaded.get, num_workers=workers))
    finally:
        shared.close()
        logger.debug("detect: %d SCL blocks decoded for %d needed", shared.blocks.decoded, len(shared.blocks.need))


def assemble(outcomes: Sequence[WindowOutcome], region: tuple[int, int, int, int], origin: tuple[int, int]) -> tuple[FlaggedPixels, NDArray[np.int16], int]:
    """Join window outcomes: all flagged pixels (sorted), the gap blocks, pixels assessed.

    Gap blocks are on the :data:`GAP_BLOCK_PX` grid from ``origin`` (:func:`grid_origin`), which
    covers ``region``; blocks no window reached are :data:`~geo.change.gaps.OUTSIDE`.
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
