"""From flagged pixels to clearing objects: grow, sieve to the minimum mapping unit, polygonise, measure.

Hysteresis growth first: ``WEAK`` pixels (not flagged, but they would be at ``grow_share`` of the
drop thresholds) join the flagged pixels they are 8-connected to, directly or through other weak
pixels, when at least half of those flagged pixels are confirmed; the other weak pixels are
dropped. A clearing's mixed edge pixels and its partly regrown corners drop less than its core:
they join the clearing they touch, and never make an alert of their own. An unconfirmed core (one
date's drop: a cloud or haze the SCL missed, as often as a new clearing) is not grown, since
growing it spreads the cloud's thin rim.

The work is done only where something is flagged: the grid is cut into blocks of ``block_px``;
blocks holding a flagged pixel are grouped by 8-connectivity, and each group's bounding box (one
pixel wider, which is empty) is sieved and polygonised on its own. A clearing is never cut by a
block or by a processing window, and the result equals a sieve of the whole grid, at a cost that
follows the flagged area rather than the scene size (a full-tile sieve takes seconds).

Per object: ``area_ha`` (equal-area), ``first_detected`` (the first date by which at least a
minimum mapping unit's worth of its pixels had been flagged: a few early noisy pixels do not
make a clearing older), ``last_observed`` (median of its pixels' last valid observation),
``confidence`` (``high`` when at least half its flagged pixels are confirmed; grown weak pixels
do not vote), median ``ndvi_drop`` and
``nbr_drop``, ``n_pixels``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import scipy.ndimage
import shapely
from affine import Affine
from numpy.typing import NDArray

from geo.change.detection import HIGH, WEAK, ChangeResult, FlaggedPixels
from geo.errors import InputShapeError
from geo.metric import area_ha

logger = logging.getLogger(__name__)

CONNECTIVITY = 8
_EIGHT = np.ones((3, 3), bool)
BLOCK_PX = 128
COLUMNS = ["area_ha", "first_detected", "last_observed", "confidence", "ndvi_drop", "nbr_drop", "n_pixels"]


def pixel_area_ha(transform: Affine) -> float:
    """Area of one pixel in hectares, for a grid in metres."""
    return abs(transform.a * transform.e - transform.b * transform.d) / 10_000.0


def mmu_pixels(mmu_ha: float, transform: Affine) -> int:
    """Fewest pixels an object of at least ``mmu_ha`` hectares has on this grid (>= 1)."""
    return max(1, math.ceil(mmu_ha / pixel_area_ha(transform) - 1e-9))


def _block_groups(blocks: NDArray[np.int64], n_block_cols: int) -> list[NDArray[np.int64]]:
    """8-connected groups of the active block ids ``blocks`` (unique, sorted)."""
    active = set(blocks.tolist())
    groups = []
    while active:
        seed = active.pop()
        members = [seed]
        todo = deque([seed])
        while todo:
            b = todo.popleft()
            r, c = divmod(b, n_block_cols)
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    if (dr or dc) and 0 <= c + dc < n_block_cols:
                        nb = (r + dr) * n_block_cols + c + dc
                        if nb in active:
                            active.remove(nb)
                            members.append(nb)
                            todo.append(nb)
        groups.append(np.array(sorted(members), dtype=np.int64))
    return groups


@dataclass
class _Found:
    geometry: shapely.Geometry
    n_pixels: int
    first: int
    last: float
    high: int
    strong: int
    ndvi_drop: float
    nbr_drop: float


def _pad(mmu_px: int) -> int:
    """Empty pixels around a group's box: enough that the empty ring outweighs the mapping unit,
    so the sieve never fills it (as it never fills the open background of the whole grid)."""
    return math.isqrt(mmu_px) + 2


def _lower_median(values: NDArray[np.generic]) -> float:
    finite = np.sort(values[np.isfinite(values)])
    return float("nan") if finite.size == 0 else float(finite[(finite.size - 1) // 2])


def _group_objects(pixels: FlaggedPixels, width: int, shape: tuple[int, int], transform: Affine, mmu_px: int) -> list[_Found]:
    rows, cols = np.divmod(pixels.index, width)
    pad = _pad(mmu_px)
    r0, r1 = max(int(rows.min()) - pad, 0), min(int(rows.max()) + 1 + pad, shape[0])
    c0, c1 = max(int(cols.min()) - pad, 0), min(int(cols.max()) + 1 + pad, shape[1])
    sub = np.zeros((r1 - r0, c1 - c0), np.uint8)
    lr, lc = rows - r0, cols - c0
    weak = pixels.status == WEAK
    sub[lr, lc] = 1
    if weak.any():  # hysteresis: weak pixels stay in the 8-connected parts whose flagged pixels are mostly confirmed
        parts, n_parts = scipy.ndimage.label(sub, structure=_EIGHT)
        strong = np.bincount(parts[lr[~weak], lc[~weak]], minlength=n_parts + 1)
        high = np.bincount(parts[lr[pixels.status == HIGH], lc[pixels.status == HIGH]], minlength=n_parts + 1)
        grows = (strong > 0) & (2 * high >= strong)
        dropped = weak & ~grows[parts[lr, lc]]
        sub[lr[dropped], lc[dropped]] = 0
    sieved = rasterio.features.sieve(sub, size=mmu_px, connectivity=CONNECTIVITY)
    if not sieved.any():
        return []
    win_transform = transform @ Affine.translation(c0, r0)
    polys = [shapely.geometry.shape(g) for g, v in rasterio.features.shapes(sieved, mask=sieved == 1, transform=win_transform, connectivity=CONNECTIVITY) if v == 1]
    labels = rasterio.features.rasterize(((p, i) for i, p in enumerate(polys, start=1)), out_shape=sub.shape, transform=win_transform, dtype="int32")
    lab = labels[lr, lc]
    out = []
    for i, poly in enumerate(polys, start=1):
        own = lab == i
        n = int(own.sum())
        if n == 0:
            continue
        first = np.sort(pixels.first[own])
        out.append(_Found(
            geometry=poly, n_pixels=n, first=int(first[min(mmu_px, n) - 1]),
            last=_lower_median(pixels.last[own].astype(np.float64)), high=int((pixels.status[own] == HIGH).sum()),
            strong=int((own & ~weak).sum()),
            ndvi_drop=_lower_median(pixels.ndvi_drop[own]), nbr_drop=_lower_median(pixels.nbr_drop[own]),
        ))
    return out


def objects_from_pixels(
    pixels: FlaggedPixels,
    shape: tuple[int, int],
    transform: Affine,
    crs: object,
    dates: Sequence[dt.date],
    mmu_ha: float,
    *,
    block_px: int = BLOCK_PX,
) -> gpd.GeoDataFrame:
    """Polygons of the clearings made by flagged pixels.

    Parameters
    ----------
    pixels
        The flagged and weak pixels of the grid (flat indices ``row * width + col``); weak
        pixels count only where they grow a flagged pixel's object.
    shape
        ``(rows, cols)`` of the grid.
    transform, crs
        The grid's affine transform and CRS (projected, metres).
    dates
        The monitoring dates; ``pixels.first`` and ``pixels.last`` index into them.
    mmu_ha
        Minimum mapping unit, hectares: smaller patches are merged into their surroundings
        (``rasterio.features.sieve``, 8-connected), which also fills smaller holes.
    block_px
        Block size of the search for flagged areas (any value gives the same objects).

    Returns
    -------
    geopandas.GeoDataFrame
        In ``crs``, columns :data:`COLUMNS` and ``geometry``; empty when nothing is flagged.

    Raises
    ------
    InputShapeError
        When a pixel index falls outside the grid or ``block_px`` < 1.
    """
    if block_px < 1:
        raise InputShapeError(f"block_px must be >= 1, got {block_px}")
    height, width = shape
    if len(pixels) and (pixels.index.min() < 0 or pixels.index.max() >= height * width):
        raise InputShapeError(f"flagged pixel indices outside the {height} x {width} grid")
    mmu_px = mmu_pixels(mmu_ha, transform)
    block_px = max(block_px, 2 * _pad(mmu_px))  # groups must lie farther apart than a box's padding
    found: list[_Found] = []
    if len(pixels) >= mmu_px:
        rows, cols = np.divmod(pixels.index, width)
        n_bc = -(-width // block_px)
        block = (rows // block_px) * n_bc + cols // block_px
        for group in _block_groups(np.unique(block), n_bc):
            member = np.isin(block, group)
            if int(member.sum()) >= mmu_px:
                found.extend(_group_objects(pixels.take(member), width, shape, transform, mmu_px))
    if not found:
        return gpd.GeoDataFrame({c: [] for c in COLUMNS}, geometry=[], crs=crs)

    def to_date(idx: float) -> pd.Timestamp:
        return pd.NaT if not np.isfinite(idx) or idx < 0 else pd.Timestamp(dates[int(idx)])

    frame = gpd.GeoDataFrame(
        {
            "first_detected": [to_date(o.first) for o in found],
            "last_observed": [to_date(o.last) for o in found],
            "confidence": ["high" if 2 * o.high >= o.strong else "low" for o in found],
            "ndvi_drop": np.round([o.ndvi_drop for o in found], 3),
            "nbr_drop": np.round([o.nbr_drop for o in found], 3),
            "n_pixels": np.array([o.n_pixels for o in found], dtype=np.int64),
        },
        geometry=[o.geometry for o in found],
        crs=crs,
    )
    frame["area_ha"] = area_ha(frame.geometry).round(3)
    return frame[COLUMNS + ["geometry"]].reset_index(drop=True)


def clearing_objects(
    change: ChangeResult,
    transform: Affine,
    crs: object,
    dates: Sequence[dt.date],
    mmu_ha: float,
    *,
    block_px: int = BLOCK_PX,
) -> gpd.GeoDataFrame:
    """Polygons of the clearings in a per-pixel result over a whole grid.

    Same as :func:`objects_from_pixels` on ``FlaggedPixels.from_result(change)``; see there for
    the parameters and the columns.
    """
    return objects_from_pixels(FlaggedPixels.from_result(change), change.status.shape, transform, crs, dates, mmu_ha, block_px=block_px)
