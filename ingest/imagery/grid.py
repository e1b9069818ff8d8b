"""The AOI's grid: the raster every provider delivers an acquisition on.

A grid is a north-up raster in a projected CRS. For the remote providers it is the AOI's
bounds in the AOI's UTM zone, snapped outwards to whole pixels of a lattice whose origin is
0, 0 — the lattice of Sentinel-2's own tiles at 10, 20 and 60 m — so a window read from a
remote COG, a Process API render and a local file on the Sentinel-2 grid land on the same
pixels. The local provider uses the AOI's window of its first file's grid instead
(DESIGN.md, "Local imagery").
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

import geopandas as gpd
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window, from_bounds
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform

from ingest.errors import SourceError
from layers.store import STORE_CRS

logger = logging.getLogger(__name__)

MAX_PIXELS = 20_000 * 20_000
_SNAP_TOLERANCE_PX = 0.01  # an AOI stored in lon/lat comes back a few mm off the grid


@dataclass(frozen=True)
class AoiGrid:
    """A north-up raster grid: CRS, transform (pixel to CRS metres) and size in pixels."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @classmethod
    def for_aoi(cls, aoi: shapely.Geometry, resolution: float, crs: CRS | None = None) -> AoiGrid:
        """The grid of ``resolution``-metre pixels covering ``aoi`` (EPSG:4326).

        Parameters
        ----------
        aoi
            The AOI polygon, lon/lat (EPSG:4326).
        resolution
            Pixel size, metres; the grid's corners are multiples of it.
        crs
            Projected CRS of the grid; default the AOI's UTM zone (WGS 84).

        Raises
        ------
        SourceError
            If the AOI is empty or its grid would pass :data:`MAX_PIXELS`.
        """
        if aoi is None or aoi.is_empty:
            raise SourceError("aoi", "the AOI geometry is empty")
        series = gpd.GeoSeries([aoi], crs=STORE_CRS)
        crs = CRS.from_user_input(crs or series.estimate_utm_crs())
        west, south, east, north = series.to_crs(crs).total_bounds
        tol = _SNAP_TOLERANCE_PX
        c0, c1 = math.floor(west / resolution + tol), math.ceil(east / resolution - tol)
        r0, r1 = math.floor(south / resolution + tol), math.ceil(north / resolution - tol)
        grid = cls(crs, Affine(resolution, 0.0, c0 * resolution, 0.0, -resolution, r1 * resolution), c1 - c0, r1 - r0)
        grid.check_size()
        return grid

    @classmethod
    def of_window(cls, crs: CRS, transform: Affine, window: Window) -> AoiGrid:
        """The grid of integer ``window`` of a raster with ``transform``."""
        return cls(CRS.from_user_input(crs), window_transform(window, transform), int(window.width), int(window.height))

    def check_size(self) -> None:
        """Raise ``SourceError`` for an empty grid or one larger than :data:`MAX_PIXELS`."""
        if self.width < 1 or self.height < 1:
            raise SourceError("aoi", f"the AOI covers no pixel of the grid ({self.width} x {self.height} px)")
        if self.width * self.height > MAX_PIXELS:
            raise SourceError(
                "aoi", f"the AOI grid is {self.width} x {self.height} px, more than the {MAX_PIXELS:,} px limit; split the AOI"
            )

    @property
    def resolution(self) -> float:
        """Pixel size, CRS units (metres)."""
        return float(self.transform.a)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return self.height, self.width

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in the grid's CRS."""
        return window_bounds(Window(0, 0, self.width, self.height), self.transform)

    def tiles(self, max_px: int) -> list[Window]:
        """Windows of at most ``max_px`` x ``max_px`` pixels covering the grid, row by row.

        Tiles are of near-equal size (never a sliver), so a 2 600 px side splits 1 300 + 1 300.
        """
        nx, ny = math.ceil(self.width / max_px), math.ceil(self.height / max_px)
        xs = [round(i * self.width / nx) for i in range(nx + 1)]
        ys = [round(j * self.height / ny) for j in range(ny + 1)]
        return [Window(xs[i], ys[j], xs[i + 1] - xs[i], ys[j + 1] - ys[j]) for j in range(ny) for i in range(nx)]

    def window_bounds(self, window: Window) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` of ``window`` in the grid's CRS."""
        return window_bounds(window, self.transform)

    def same_lattice(self, crs: CRS, transform: Affine) -> bool:
        """Whether a raster with ``crs`` and ``transform`` has this grid's pixels (same CRS and
        pixel size, no rotation, origin a whole number of pixels away), whatever its extent."""
        t = transform
        if CRS.from_user_input(crs) != self.crs or (t.b, t.d) != (0, 0):
            return False
        if not (math.isclose(t.a, self.transform.a) and math.isclose(t.e, self.transform.e)):
            return False
        col = (self.transform.c - t.c) / t.a
        row = (self.transform.f - t.f) / t.e
        return abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6

    def key(self) -> str:
        """A short stable digest of the grid (CRS, transform, size), for cache file names."""
        text = f"{self.crs.to_wkt()}|{tuple(round(v, 6) for v in tuple(self.transform)[:6])}|{self.width}x{self.height}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def describe(self) -> str:
        """E.g. ``EPSG:32648 10 m 2000 x 2000 px at (754000, 1521000)``."""
        epsg = self.crs.to_epsg()
        name = f"EPSG:{epsg}" if epsg else "custom CRS"
        return f"{name} {self.resolution:g} m {self.width} x {self.height} px at ({self.transform.c:.0f}, {self.transform.f:.0f})"


def aoi_window(aoi: shapely.Geometry, crs: CRS, transform: Affine, width: int, height: int) -> Window:
    """The integer window of a raster (``crs``, ``transform``, size) that covers ``aoi`` (EPSG:4326),
    clipped to the raster; whole pixels, with a 0.01 px tolerance for an AOI that went through lon/lat."""
    bounds = gpd.GeoSeries([aoi], crs=STORE_CRS).to_crs(crs).total_bounds
    win = from_bounds(*bounds, transform=transform)
    tol = _SNAP_TOLERANCE_PX
    c0, r0 = math.floor(win.col_off + tol), math.floor(win.row_off + tol)
    c1, r1 = math.ceil(win.col_off + win.width - tol), math.ceil(win.row_off + win.height - tol)
    return Window(c0, r0, c1 - c0, r1 - r0).intersection(Window(0, 0, width, height))
