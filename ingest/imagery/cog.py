"""Writing an acquisition as a cloud-optimised GeoTIFF in the imagery cache, all or nothing.

Every provider ends here: the bands ``B02 B03 B04 B08 B8A B11 B12 SCL`` (in that order, each
described by its name), uint16 reflectance x 10 000 (harmonised, 0 = no data) and SCL codes,
on an :class:`~ingest.imagery.grid.AoiGrid`, tagged with ``TIFFTAG_DATETIME`` — the layout the
``local`` provider reads and ``detect`` expects.

Blocks are written into a temporary tiled GeoTIFF beside the destination, which is then copied
with GDAL's COG driver to a second temporary file and renamed onto the destination. A reader
therefore sees either no file or a complete one; a run that is interrupted (an error, Ctrl-C,
a killed process) leaves at most ``.<name>.<pid>-<token>.part`` files, which are never read and
which :func:`layers.files.remove_stale_parts` clears once their process is gone.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import rasterio
import rasterio.shutil
from rasterio.io import DatasetWriter
from rasterio.windows import Window

from ingest.imagery.grid import AoiGrid
from layers.files import part_path

logger = logging.getLogger(__name__)

BANDS = ("B02", "B03", "B04", "B08", "B8A", "B11", "B12", "SCL")
BLOCK_PX = 256
COG_OPTIONS = {
    "compress": "zstd", "predictor": 2, "blocksize": BLOCK_PX, "overview_resampling": "nearest",
    "bigtiff": "if_safer", "num_threads": 2,
}


@contextmanager
def cog_writer(path: Path, grid: AoiGrid, acquired: dt.date, *, tags: Mapping[str, str] | None = None) -> Iterator[DatasetWriter]:
    """Yield a dataset to write the bands into, by window; on success it becomes the COG ``path``.

    Parameters
    ----------
    path
        Destination; its folder is created. An existing file is replaced only on success.
    grid
        The raster's grid.
    acquired
        Acquisition date, written as ``TIFFTAG_DATETIME``.
    tags
        Further dataset tags (e.g. ``ECOWATCH_SOURCE``).

    Yields
    ------
    rasterio.io.DatasetWriter
        8 uint16 bands (:data:`BANDS`), no-data 0; write ``(band, row, col)`` blocks with
        ``write(data, window=...)``. Unwritten blocks stay 0 (no data).

    Raises
    ------
    OSError
        If the files cannot be written; whatever the error, no partial file is left at ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging, final = part_path(path, "tif"), part_path(path, "cog")
    profile = {
        "driver": "GTiff", "dtype": "uint16", "count": len(BANDS), "width": grid.width, "height": grid.height,
        "crs": grid.crs, "transform": grid.transform, "nodata": 0, "tiled": True, "blockxsize": BLOCK_PX,
        "blockysize": BLOCK_PX, "interleave": "band", "bigtiff": "if_safer", "sparse_ok": True,
    }
    try:
        with rasterio.open(staging, "w", **profile) as dst:
            for band, name in enumerate(BANDS, start=1):
                dst.set_band_description(band, name)
            dst.update_tags(TIFFTAG_DATETIME=f"{acquired:%Y:%m:%d} 00:00:00", **dict(tags or {}))
            yield dst
        rasterio.shutil.copy(staging, final, driver="COG", **COG_OPTIONS)
        os.replace(final, path)
    finally:
        staging.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
    logger.debug("wrote %s (%s)", path, grid.describe())


def is_complete(path: Path, grid: AoiGrid) -> bool:
    """Whether ``path`` is a readable COG of this module's layout on ``grid``.

    Reads the headers and the file's last tile (a COG's full-resolution tiles come last, so a
    truncated file fails here), not the whole file.
    """
    try:
        with rasterio.open(path, driver="GTiff") as ds:
            layout = (
                tuple(d or "" for d in ds.descriptions) == BANDS and ds.crs == grid.crs and ds.transform.almost_equals(grid.transform)
                and (ds.width, ds.height) == (grid.width, grid.height) and set(ds.dtypes) == {"uint16"}
            )
            if layout:
                ds.read(window=Window(ds.width - 1, ds.height - 1, 1, 1))
            return layout
    except rasterio.errors.RasterioIOError as err:
        logger.warning("cached file %s is unreadable (%s): fetching it again", path, err.__cause__ or err)
        return False
