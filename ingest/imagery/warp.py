"""Reading a raster's bands onto an AOI grid: nearest neighbour, window by window.

Used by the ``stac`` provider (remote COGs, SCL and the 20 m bands resampled to the 10 m grid,
another UTM zone reprojected) and by the ``local`` provider (a file on another grid). Nearest
neighbour keeps SCL codes intact and matches the Process API's default resampling, so every
provider delivers the same pixels for the same source.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from rasterio.enums import Resampling
from rasterio.io import DatasetReader
from rasterio.vrt import WarpedVRT

from ingest.imagery.grid import AoiGrid

logger = logging.getLogger(__name__)

DN_PER_REFLECTANCE = 10_000.0


@contextmanager
def onto_grid(ds: DatasetReader, grid: AoiGrid) -> Iterator[WarpedVRT]:
    """``ds`` as a virtual raster on ``grid`` (nearest neighbour; 0 outside ``ds`` and where it has no data).

    Reading a window of the result reads only the source blocks under it (for a remote COG:
    HTTP range requests for those blocks only).
    """
    with WarpedVRT(
        ds, crs=grid.crs, transform=grid.transform, width=grid.width, height=grid.height,
        resampling=Resampling.nearest, src_nodata=ds.nodata if ds.nodata is not None else 0, nodata=0,
    ) as vrt:
        yield vrt


def to_dn(raw: np.ndarray, *, scale: float = 1e-4, offset: float = 0.0) -> np.ndarray:
    """Reflectance ``raw * scale + offset`` as uint16 reflectance x 10 000 (0 stays 0: no data).

    Parameters
    ----------
    raw
        Stored values, any shape; 0 and NaN mean no data.
    scale, offset
        How stored values map to reflectance 0-1 (STAC ``raster:bands``; 1 and 0 for floats).

    Returns
    -------
    numpy.ndarray
        uint16, same shape; values below 0 reflectance are clamped to 0, above 6.5535 to 65535.
    """
    if raw.dtype == np.uint16 and scale == 1e-4 and offset == 0.0:
        return raw
    values = np.nan_to_num(raw.astype(np.float64), nan=0.0)
    nodata = values == 0
    dn = np.rint((values * scale + offset) * DN_PER_REFLECTANCE)
    out = np.clip(dn, 0, 65535).astype(np.uint16)
    out[nodata] = 0
    return out
