"""Where the synthetic clearings go: sizes, irregular shapes, placement inside their zones.

A clearing is planted only in forest, at least :data:`EDGE_PX` pixels inside its zone and
inside the forest (so it never touches grass, water or the zone's edge) and at least
:data:`SPACING_PX` pixels from any other clearing, so that a correct detector finds it as
one object carrying its zone's flag.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import shapely
from rasterio.features import rasterize, shapes
from shapely.geometry.base import BaseGeometry

from synthetic.errors import SyntheticError
from synthetic.fields import dilate, erode, paste, star_blob
from synthetic.radiometry import LC_FOREST
from synthetic.raster_grid import Grid

logger = logging.getLogger(__name__)

EDGE_PX = 2  # whole pixels between a clearing and its zone's edge (or the forest's edge)
SPACING_PX = 3  # empty pixels at least between two clearings
_PLACEMENT_TRIES = 400
_SHAPE_TRIES = 20


@dataclass(frozen=True, eq=False)
class Planted:
    """One planted clearing on the grid.

    Attributes
    ----------
    zone
        Name of the zone it was planted in.
    row, col
        Grid position of the top-left pixel of ``mask``.
    mask
        bool ``(row, col)``: the clearing's pixels within its bounding box.
    below_mmu
        A deliberately tiny clearing (0.1-0.3 ha) that a detector is expected to drop.
    """

    zone: str
    row: int
    col: int
    mask: np.ndarray
    below_mmu: bool

    @property
    def n_pixels(self) -> int:
        """Number of cleared pixels."""
        return int(self.mask.sum())

    def window(self, shape: tuple[int, int], margin: int = 0) -> tuple[slice, slice]:
        """Row and column slices of the bounding box grown by ``margin`` pixels, clipped to ``shape``."""
        r0, c0 = max(self.row - margin, 0), max(self.col - margin, 0)
        r1 = min(self.row + self.mask.shape[0] + margin, shape[0])
        c1 = min(self.col + self.mask.shape[1] + margin, shape[1])
        return slice(r0, r1), slice(c0, c1)


def is_simple_blob(mask: np.ndarray) -> bool:
    """True when ``mask`` is one 4-connected polygon without holes."""
    polygons = [geom for geom, _ in shapes(mask.astype(np.uint8), mask=mask, connectivity=4)]
    return len(polygons) == 1 and not polygons[0]["coordinates"][1:]


def _blob(rng: np.random.Generator, n_pixels: int) -> np.ndarray:
    for _ in range(_SHAPE_TRIES):
        mask = star_blob(rng, n_pixels)
        if is_simple_blob(mask):
            return mask
    return star_blob(rng, n_pixels, max_elongation=1.0, roughness=0.0)  # an ellipse: always simple


def _zone_mask(grid: Grid, zone: BaseGeometry) -> np.ndarray:
    """Pixels whose whole square lies at least ``EDGE_PX`` pixels inside ``zone`` and the grid."""
    res = max(grid.resolution)
    # a pixel centre at (EDGE_PX + 1) pixels from the edge keeps its whole square EDGE_PX + 0.29 away
    inner = shapely.intersection(shapely.make_valid(zone), grid.box()).buffer(-(EDGE_PX + 1) * res)
    if inner.is_empty:
        return np.zeros(grid.shape, dtype=bool)
    return rasterize([(inner, 1)], out_shape=grid.shape, transform=grid.transform, dtype=np.uint8).astype(bool)


def _pixel_range(range_ha: tuple[float, float], pixel_area_m2: float) -> tuple[int, int]:
    """Fewest and most whole pixels whose area lies in ``range_ha``."""
    return (
        math.ceil(range_ha[0] * 10_000 / pixel_area_m2 - 1e-9),
        math.floor(range_ha[1] * 10_000 / pixel_area_m2 + 1e-9),
    )


def plan_sizes(
    rng: np.random.Generator,
    zones: Mapping[str, BaseGeometry],
    counts: Mapping[str, int],
    n_tiny: int,
    area_range_ha: tuple[float, float],
    tiny_range_ha: tuple[float, float],
    pixel_area_m2: float,
) -> list[tuple[str, int, int, bool]]:
    """What to plant: ``(zone, pixels, fewest pixels when shrinking, below_mmu)``, largest first.

    Areas are log-uniform in ``area_range_ha``; tiny clearings uniform in ``tiny_range_ha`` and
    put in random zones. A tiny clearing that cannot be drawn at this pixel size (no whole
    number of pixels falls in the range) is skipped with a warning in the log.
    """
    lo, hi = _pixel_range(area_range_ha, pixel_area_m2)
    lo, hi = max(lo, 1), max(hi, lo, 1)
    jobs: list[tuple[str, int, int, bool]] = []
    for zone in zones:
        for _ in range(counts[zone]):
            n = round(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            jobs.append((zone, min(max(n, lo), hi), lo, False))
    t_lo, t_hi = _pixel_range(tiny_range_ha, pixel_area_m2)
    names = list(zones)
    for _ in range(n_tiny):
        if t_lo > t_hi or not names:
            logger.warning("no tiny clearing of %s ha fits %.0f m2 pixels; none planted", tiny_range_ha, pixel_area_m2)
            break
        jobs.append((names[int(rng.integers(len(names)))], int(rng.integers(max(t_lo, 1), t_hi + 1)), max(t_lo, 1), True))
    jobs.sort(key=lambda job: -job[1])
    return jobs


def plant(
    rng: np.random.Generator,
    grid: Grid,
    landcover: np.ndarray,
    zones: Mapping[str, BaseGeometry],
    jobs: list[tuple[str, int, int, bool]],
) -> list[Planted]:
    """Place each job's clearing inside its zone's forest, apart from the others.

    A clearing that finds no room is shrunk (x 0.6, not below its fewest pixels) and tried
    again.

    Raises
    ------
    SyntheticError
        When a zone has no room left for a clearing even at its smallest size.
    """
    forest = erode(landcover == LC_FOREST, EDGE_PX)
    zone_masks = {name: _zone_mask(grid, geom) & forest for name, geom in zones.items()}
    blocked = np.zeros(grid.shape, dtype=bool)
    planted: list[Planted] = []
    for zone, n_pixels, fewest, tiny in jobs:
        while True:
            blob = _blob(rng, n_pixels)
            spot = _find_spot(rng, zone_masks[zone] & ~blocked, blob)
            if spot is not None:
                break
            if n_pixels <= fewest:
                done = sum(p.zone == zone for p in planted)
                raise SyntheticError(
                    f"zone {zone!r}: no room for another clearing of {n_pixels} px after planting {done}; "
                    "give the zone more forest or ask for fewer clearings (n_clearings)"
                )
            n_pixels = max(fewest, int(n_pixels * 0.6))
        row, col = spot
        planted.append(Planted(zone, row, col, blob, tiny))
        halo = dilate(np.pad(blob, SPACING_PX), SPACING_PX)
        rs, cs, part = paste(blocked, halo, row - SPACING_PX, col - SPACING_PX)
        blocked[rs, cs] |= part
    logger.debug("planted %d clearings", len(planted))
    return planted


def _find_spot(rng: np.random.Generator, allowed: np.ndarray, blob: np.ndarray) -> tuple[int, int] | None:
    """Top-left ``(row, col)`` where every pixel of ``blob`` falls on ``allowed``, or None."""
    centres = np.flatnonzero(allowed)
    if centres.size == 0:
        return None
    height, width = blob.shape
    for pick in rng.choice(centres, size=min(_PLACEMENT_TRIES, centres.size), replace=False):
        r, c = divmod(int(pick), allowed.shape[1])
        row, col = r - height // 2, c - width // 2
        if row < 0 or col < 0 or row + height > allowed.shape[0] or col + width > allowed.shape[1]:
            continue
        if allowed[row : row + height, col : col + width][blob].all():
            return row, col
    return None
