"""The unchanging landscape of a synthetic series: forest, grass or crop patches, a river."""

from __future__ import annotations

import logging
import math

import numpy as np
import shapely
from rasterio.features import rasterize
from shapely.geometry import LineString

from synthetic.fields import smooth_field
from synthetic.radiometry import LC_FOREST, LC_GRASS, LC_WATER
from synthetic.raster_grid import Grid

logger = logging.getLogger(__name__)

GRASS_SHARE = (0.10, 0.20)  # share of the AOI in grass or crop patches, drawn per series
GRASS_SCALE_M = 350.0  # correlation length of the patches
RIVER_WIDTH_M = 60.0  # at least 3 pixels wide whatever the resolution


def river(rng: np.random.Generator, grid: Grid) -> LineString:
    """A meandering centre line crossing the grid, in the grid's CRS.

    The line runs through a random point of the grid's middle half in a random direction,
    its lateral offset the sum of three sine waves (wavelengths 25-120 % of the AOI's size,
    amplitudes 3-12 % of their wavelength).
    """
    west, south, east, north = grid.bounds
    size = max(east - west, north - south)
    cx = west + (east - west) * rng.uniform(0.25, 0.75)
    cy = south + (north - south) * rng.uniform(0.25, 0.75)
    heading = rng.uniform(0.0, math.pi)
    s = np.linspace(-size, size, 800)
    wavelengths = size * rng.uniform(0.25, 1.2, 3)
    amplitudes = wavelengths * rng.uniform(0.03, 0.12, 3)
    phases = rng.uniform(0.0, 2 * math.pi, 3)
    offset = (amplitudes[:, None] * np.sin(2 * math.pi * s[None, :] / wavelengths[:, None] + phases[:, None])).sum(0)
    x = cx + s * math.cos(heading) - offset * math.sin(heading)
    y = cy + s * math.sin(heading) + offset * math.cos(heading)
    return LineString(np.column_stack([x, y]))


def land_cover(rng: np.random.Generator, grid: Grid) -> np.ndarray:
    """Land cover of the grid: forest everywhere but grass patches (10-20 %) and a river.

    Returns
    -------
    numpy.ndarray
        uint8 ``(row, col)`` of ``LC_FOREST``, ``LC_GRASS``, ``LC_WATER``.
    """
    res = max(grid.resolution)
    field = smooth_field(rng, grid.shape, GRASS_SCALE_M / res)
    share = rng.uniform(*GRASS_SHARE)
    cover = np.full(grid.shape, LC_FOREST, dtype=np.uint8)
    cover[field > np.quantile(field, 1.0 - share)] = LC_GRASS
    width = max(RIVER_WIDTH_M, 3 * res)
    water = shapely.intersection(river(rng, grid).buffer(width / 2), grid.box())
    if not water.is_empty:
        rasterize([(water, LC_WATER)], out=cover, transform=grid.transform, all_touched=True)
    logger.debug("land cover: %.1f %% grass, %.1f %% water", 100 * (cover == LC_GRASS).mean(), 100 * (cover == LC_WATER).mean())
    return cover
