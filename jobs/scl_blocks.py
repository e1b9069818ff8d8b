"""SCL of a detection job's scenes, decoded a block (a file tile) at a time and shared by the
windows whose extent or cloud-dilation halo reaches into it, with cloud and shadow masks grown.

Kept apart from the window jobs (:mod:`jobs.detect_windows`): this is the job's cache of
decoded classification codes, and changes with how blocks are kept, not with how windows run.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from rasterio.windows import Window

from geo.change.masks import GROWING_CLASSES, classes_present, dilate_clouds
from ingest.imagery.scene_windows import SceneReader

SCL_CACHE_BYTES = (128 * 2**20, 512 * 2**20)  # decoded SCL kept: at least, at most (least recently used go first)
STRIP_ROWS = 256  # block height over scenes that are not tiled (blocks are then whole rows of the region)

Box = tuple[int, int, int, int]  # col_off, row_off, width, height on the reference grid
Key = tuple[int, int]  # (row, col) of an SCL block


class SclBlocks:
    """SCL of a job's scenes on the reference grid, decoded a block at a time and shared by the
    windows whose extent or cloud-dilation halo reaches into it (thread-safe).

    Blocks are the scene files' tiles when they are tiled (so a block is one tile decoded once),
    else strips of :data:`STRIP_ROWS` rows across the region. Every block is decoded once and
    kept until the last window needing it has taken it (counted from the windows given here):
    whole while a window whose own extent overlaps it is to come, then only its border as wide
    as the halo (:class:`_Ring`: all that the neighbours' halos reach). Windows done row after
    row reach into the next row's blocks before their own windows come, so the cache holds a row
    of blocks and a few more, within :data:`SCL_CACHE_BYTES` (least recently used first out; a
    block evicted early is decoded again). With each block goes, per date, whether it holds any
    class whose mask grows: a window dilates only the dates that have one.
    """

    def __init__(self, n_dates: int, halo: int, tile_px: int, region: Box, windows: Sequence[Box], max_bytes: int | None = None) -> None:
        """``n_dates`` scenes; ``halo``: the cloud dilation, pixels; ``tile_px``: the files' tile
        side (1: not tiled); ``region``: the part of the reference grid processed; ``windows``:
        every window that will ask for its codes."""
        self.halo = halo
        self.n_dates = n_dates
        if tile_px > 1:
            self.org, self.shape = (0, 0), (tile_px, tile_px)
        else:
            col, row, width, _ = region
            self.org, self.shape = (col - self.halo, row - self.halo), (STRIP_ROWS, width + 2 * self.halo)
        if max_bytes is None:
            bh, bw = self.shape
            per_row = -(-(region[2] + 2 * self.halo) // bw) + 1
            low, high = SCL_CACHE_BYTES
            max_bytes = min(max(low, (per_row + 8) * bh * bw * self.n_dates), high)
        self.max_bytes = max_bytes
        self.need = Counter(k for w in windows for k in self._keys(w))
        self.need_whole = Counter(k for w in windows for k in self._keys(w, 0))  # windows whose own extent overlaps
        self.blocks: OrderedDict[Key, tuple[NDArray[np.uint8] | _Ring, NDArray[np.bool_]]] = OrderedDict()
        self.pending: dict[Key, threading.Event] = {}
        self.lock = threading.Lock()
        self.decoded = 0  # blocks decoded (more than len(need) only when some were evicted early)

    def _keys(self, window: Box, halo: int | None = None) -> list[Key]:
        """The blocks that ``window`` grown by ``halo`` (default: the dilation's) overlaps."""
        col, row, width, height = window
        (oc, orow), (bh, bw) = self.org, self.shape
        h = self.halo if halo is None else halo
        rows = range((row - h - orow) // bh, (row + height + h - 1 - orow) // bh + 1)
        cols = range((col - h - oc) // bw, (col + width + h - 1 - oc) // bw + 1)
        return [(r, c) for r in rows for c in cols]

    def codes(self, reader: SceneReader, window: Box, out: NDArray[np.uint8] | None = None) -> NDArray[np.uint8]:
        """SCL of every date over ``window``, shape ``(date, row, col)``, with the cloud and
        shadow masks grown by the halo (grown pixels are :data:`geo.change.masks.DILATED`); written
        into ``out`` when given."""
        col, row, width, height = window
        keys, own = self._keys(window), set(self._keys(window, 0))
        try:
            got = [(k, *self._take(reader, k, k in own)) for k in keys]
            out = np.empty((self.n_dates, height, width), np.uint8) if out is None else out
            self._fill(out, window, got)
            cloudy = np.zeros(self.n_dates, np.bool_)
            for _, _, present in got:
                cloudy |= present
            h = self.halo
            if h and cloudy.any():
                dates = np.flatnonzero(cloudy)
                big = np.empty((len(dates), height + 2 * h, width + 2 * h), np.uint8)
                self._fill(big, (col - h, row - h, width + 2 * h, height + 2 * h), got, dates)
                out[dates] = dilate_clouds(big, h, parallel=False)[:, h:-h, h:-h]
            return out
        finally:
            self._release(keys, own)

    def _fill(self, dst: NDArray[np.uint8], extent: Box, got: Sequence[tuple[Key, NDArray[np.uint8] | _Ring, NDArray[np.bool_]]],
              dates: NDArray[np.intp] | None = None) -> None:
        """Copy the blocks' part inside ``extent`` into ``dst``: every date, or only ``dates``."""
        col, row, width, height = extent
        (oc, orow), (bh, bw) = self.org, self.shape
        for (br, bc), data, _ in got:
            r0, c0 = orow + br * bh, oc + bc * bw
            top, left = max(r0, row), max(c0, col)
            bottom, right = min(r0 + bh, row + height), min(c0 + bw, col + width)
            if bottom <= top or right <= left:
                continue
            rows, cols = slice(top - r0, bottom - r0), slice(left - c0, right - c0)
            part = data.part(rows, cols) if isinstance(data, _Ring) else data[:, rows, cols]
            dst[:, top - row:bottom - row, left - col:right - col] = part if dates is None else part[dates]

    def _take(self, reader: SceneReader, key: Key, whole: bool) -> tuple[NDArray[np.uint8] | _Ring, NDArray[np.bool_]]:
        """Block ``key`` from the cache, else decoded (once, whichever thread asks first);
        ``whole``: the caller's own extent overlaps it, so its border alone would not do."""
        while True:
            with self.lock:
                entry = self.blocks.get(key)
                if entry is not None and not (whole and isinstance(entry[0], _Ring)):
                    self.blocks.move_to_end(key)
                    return entry
                event = self.pending.get(key)
                mine = event is None
                if mine:
                    event = self.pending[key] = threading.Event()
            assert event is not None
            if not mine:  # another thread decodes it: wait, then look again
                event.wait()
                continue
            try:
                (oc, orow), (bh, bw) = self.org, self.shape
                data = np.ascontiguousarray(reader.stack(Window(oc + key[1] * bw, orow + key[0] * bh, bw, bh), ("SCL",))["SCL"], np.uint8)
                entry = (data, classes_present(data, GROWING_CLASSES))
                with self.lock:
                    self.decoded += 1
                    if self.need[key] > 0:
                        keep = entry if self.need_whole[key] > 0 or not self.halo else (_Ring(data, self.halo), entry[1])
                        self.blocks[key] = keep
                        self._evict()
                return entry
            finally:
                with self.lock:
                    del self.pending[key]
                event.set()

    def _evict(self) -> None:
        size = sum(d.nbytes for d, _ in self.blocks.values())
        while size > self.max_bytes and len(self.blocks) > 1:
            _, (data, _) = self.blocks.popitem(last=False)
            size -= data.nbytes

    def _release(self, keys: Sequence[Key], own: set[Key]) -> None:
        """A window took ``keys`` (``own``: those its own extent overlaps): drop what no window
        needs any more, keep only the border of what only halos still need."""
        with self.lock:
            for k in keys:
                self.need[k] -= 1
                if k in own:
                    self.need_whole[k] -= 1
                entry = self.blocks.get(k)
                if self.need[k] <= 0:
                    self.blocks.pop(k, None)
                elif entry is not None and self.need_whole[k] <= 0 and self.halo and not isinstance(entry[0], _Ring):
                    self.blocks[k] = (_Ring(entry[0], self.halo), entry[1])


class _Ring:
    """The border of a decoded block, ``h`` pixels wide: all of it that a window not overlapping
    the block reaches with a halo of ``h``."""

    def __init__(self, data: NDArray[np.uint8], h: int) -> None:
        self.h, self.shape = h, data.shape
        self.top, self.bottom = data[:, :h].copy(), data[:, -h:].copy()
        self.left, self.right = data[:, :, :h].copy(), data[:, :, -h:].copy()
        self.nbytes = self.top.nbytes + self.bottom.nbytes + self.left.nbytes + self.right.nbytes

    def part(self, rows: slice, cols: slice) -> NDArray[np.uint8]:
        """``block[:, rows, cols]`` for a rectangle within the border (block coordinates)."""
        h, (_, bh, bw) = self.h, self.shape
        if rows.stop <= h:
            return self.top[:, rows, cols]
        if rows.start >= bh - h:
            return self.bottom[:, rows.start - (bh - h):rows.stop - (bh - h), cols]
        if cols.stop <= h:
            return self.left[:, rows, cols]
        if cols.start >= bw - h:
            return self.right[:, rows, cols.start - (bw - h):cols.stop - (bw - h)]
        raise ValueError(f"rows {rows} x cols {cols} are not within the {h}-px border of a {bh} x {bw} block")
