"""Observation gaps: where no valid observation exists since a date, so that a monsoon gap is not
read as "no clearing".

Gaps are found on blocks of pixels (:data:`GAP_BLOCK_PX` a side, 160 m at 20 m): a block is in
a gap since date *d* when none of its pixels was validly observed from *d* to the end of the
monitoring period. Blocks are small against clouds and a map layer needs no finer outline; a
detection job reduces each window to its blocks (:func:`last_valid_blocks`) and keeps only those.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import geopandas as gpd
import numba
import numpy as np
import rasterio.features
import shapely
from affine import Affine
from numpy.typing import NDArray

from geo.errors import InputShapeError
from geo.metric import area_ha

logger = logging.getLogger(__name__)

GAP_BLOCK_PX = 8
OUTSIDE = -2  # a pixel or block outside the area of interest (never a gap)
NEVER = -1  # no valid monitoring observation at all


def last_valid_blocks(last: NDArray[np.integer], inside: NDArray[np.bool_] | None = None, block_px: int = GAP_BLOCK_PX,
                      offset: tuple[int, int] = (0, 0)) -> NDArray[np.int16]:
    """The latest valid observation of each block of pixels.

    Parameters
    ----------
    last
        Per pixel, index of the last valid monitoring observation (-1 when none), shape
        ``(row, col)`` (:attr:`geo.change.detection.ChangeResult.last`).
    inside
        Optional mask of the pixels to consider (the area of interest); others are ignored.
    block_px
        Block side, pixels.
    offset
        ``(row, col)`` of the array's first pixel inside its block: blocks start ``offset``
        pixels before the array's top-left corner (a window not on the block grid); edge
        blocks are partial.

    Returns
    -------
    numpy.ndarray
        int16, shape ``(ceil((row + offset[0]) / block_px), ceil((col + offset[1]) / block_px))``:
        the maximum of ``last`` over the block's considered pixels, :data:`OUTSIDE` when it has
        none.

    Raises
    ------
    InputShapeError
        When ``inside`` has another shape, ``block_px`` < 1 or an offset is outside the block.
    """
    if block_px < 1:
        raise InputShapeError(f"block_px must be >= 1, got {block_px}")
    if inside is not None and inside.shape != last.shape:
        raise InputShapeError(f"mask shape {inside.shape} differs from {last.shape}")
    if not all(0 <= o < block_px for o in offset):
        raise InputShapeError(f"offset {offset} must lie within a block of {block_px} px")
    rows, cols = last.shape
    out = np.full((-(-(rows + offset[0]) // block_px), -(-(cols + offset[1]) // block_px)), OUTSIDE, np.int16)
    mask = np.ones((1, 1), np.bool_) if inside is None else np.ascontiguousarray(inside, np.bool_)
    _block_max(np.ascontiguousarray(last, np.int16), mask, inside is not None, block_px, offset[0], offset[1], out)
    return out


@numba.njit(cache=True, nogil=True)
def _block_max(last, inside, use_inside, block_px, off_r, off_c, out):  # pragma: no cover - compiled
    rows, cols = last.shape
    for r in range(rows):
        br = (r + off_r) // block_px
        c = 0
        bc = 0
        stop = block_px - off_c
        while c < cols:  # one block of the row at a time: no division per pixel
            stop = min(stop, cols)
            m = out[br, bc]
            for cc in range(c, stop):
                if (not use_inside or inside[r, cc]) and last[r, cc] > m:
                    m = last[r, cc]
            out[br, bc] = m
            c = stop
            stop += block_px
            bc += 1


def observation_gaps(
    blocks: NDArray[np.integer],
    transform: Affine,
    crs: object,
    dates: Sequence[dt.date],
    until: dt.date,
    min_days: int,
) -> gpd.GeoDataFrame:
    """Polygons of the areas without a valid observation for at least ``min_days`` up to ``until``.

    Parameters
    ----------
    blocks
        Per block, the index into ``dates`` of its last valid observation, :data:`NEVER` or
        :data:`OUTSIDE` (:func:`last_valid_blocks`), shape ``(row, col)``.
    transform, crs
        Transform of the *block* grid (the pixel grid's scaled by the block size) and its
        projected CRS.
    dates
        The monitoring dates, ascending.
    until
        End of the monitoring period.
    min_days
        Shortest gap reported: from the last valid observation (or the monitoring period's
        start when there was none) to ``until``.

    Returns
    -------
    geopandas.GeoDataFrame
        In ``crs``: ``since`` (first acquisition after the last valid one, ``datetime.date``),
        ``until``, ``area_ha`` (equal-area) and a (multi)polygon per ``since``; empty when no
        area qualifies.

    Raises
    ------
    InputShapeError
        When ``dates`` is empty or an index is out of range.
    """
    if not dates:
        raise InputShapeError("no monitoring dates")
    if blocks.size and int(blocks.max()) >= len(dates):
        raise InputShapeError(f"block index {int(blocks.max())} beyond the {len(dates)} monitoring dates")
    start = np.where(blocks == NEVER, 0, blocks.astype(np.int32) + 1)
    seen = np.array([(until - d).days for d in dates], dtype=np.int64)  # days since each date
    span = np.where(blocks == NEVER, (until - dates[0]).days, seen[np.clip(blocks, 0, None)])
    gap = (blocks != OUTSIDE) & (start < len(dates)) & (span >= min_days)
    rows = []
    if gap.any():
        code = np.where(gap, start, -1).astype(np.int32)
        parts: dict[int, list[shapely.Geometry]] = {}
        for geom, value in rasterio.features.shapes(code, mask=gap, transform=transform, connectivity=4):
            parts.setdefault(int(value), []).append(shapely.geometry.shape(geom))
        for value in sorted(parts):
            rows.append({"since": dates[value], "until": until, "geometry": shapely.union_all(parts[value])})
    frame = gpd.GeoDataFrame(rows, columns=["since", "until", "geometry"], geometry="geometry", crs=crs)
    frame["area_ha"] = area_ha(frame.geometry).round(3) if len(frame) else []
    return frame[["since", "until", "area_ha", "geometry"]]
