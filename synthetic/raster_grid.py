"""The raster grid of a synthetic series: CRS, north-up transform and size."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import shapely
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry import Polygon

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid in a projected CRS whose unit is the metre.

    Attributes
    ----------
    crs
        The grid's CRS (anything :meth:`rasterio.crs.CRS.from_user_input` takes; stored as a
        rasterio ``CRS``), e.g. ``"EPSG:32648"``.
    transform
        Pixel to CRS coordinates (``Affine(res, 0, west, 0, -res, north)``).
    width, height
        Size in pixels.

    Raises
    ------
    ValueError
        For a geographic CRS, a rotated or south-up transform, or a size below one pixel.
    """

    crs: CRS
    transform: Affine
    width: int
    height: int

    def __post_init__(self) -> None:
        crs = self.crs if isinstance(self.crs, CRS) else CRS.from_user_input(self.crs)
        object.__setattr__(self, "crs", crs)
        if not crs.is_projected:
            raise ValueError(f"a synthetic grid needs a projected CRS in metres, got {crs}")
        t = self.transform
        if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
            raise ValueError(f"a synthetic grid must be north-up without rotation, got {tuple(t)[:6]}")
        if self.width < 1 or self.height < 1:
            raise ValueError(f"a grid needs at least one pixel, got {self.width} x {self.height}")

    @classmethod
    def from_bounds(cls, bounds: tuple[float, float, float, float], resolution: float, crs: Any) -> Grid:
        """The grid of square ``resolution``-metre pixels covering ``bounds``.

        Parameters
        ----------
        bounds
            ``(west, south, east, north)`` in ``crs`` units (metres). The grid starts at the
            north-west corner; its size is rounded up to whole pixels.
        resolution
            Pixel size, metres.
        crs
            A projected CRS (e.g. ``"EPSG:32648"``).

        Raises
        ------
        ValueError
            If the bounds are empty or inverted, or the resolution is not positive.
        """
        west, south, east, north = (float(v) for v in bounds)
        if not resolution > 0:
            raise ValueError(f"resolution must be > 0 metres, got {resolution}")
        if not (east > west and north > south):
            raise ValueError(f"bounds must be (west, south, east, north) with west < east and south < north, got {bounds}")
        width = math.ceil(round((east - west) / resolution, 6))
        height = math.ceil(round((north - south) / resolution, 6))
        return cls(crs, Affine(resolution, 0.0, west, 0.0, -resolution, north), width, height)

    @property
    def shape(self) -> tuple[int, int]:
        """``(row, col)`` size."""
        return self.height, self.width

    @property
    def resolution(self) -> tuple[float, float]:
        """Pixel size ``(x, y)``, metres."""
        return self.transform.a, -self.transform.e

    @property
    def pixel_area_m2(self) -> float:
        """Area of one pixel, square metres."""
        return self.transform.a * -self.transform.e

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in the grid's CRS."""
        t = self.transform
        return t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f

    def box(self) -> Polygon:
        """The grid's footprint as a polygon in its CRS."""
        return shapely.box(*self.bounds)

    def window_transform(self, row: int, col: int) -> Affine:
        """Transform of a sub-array whose top-left pixel is ``(row, col)``."""
        return self.transform @ Affine.translation(col, row)
