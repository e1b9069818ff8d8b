"""The ``local`` imagery provider: multi-band GeoTIFFs already on disk (DESIGN.md "Local imagery").

Bands are found by their descriptions (``B02 B03 B04 B08 B8A B11 B12 SCL``; B02, B03, B8A
optional); the date comes from ``TIFFTAG_DATETIME`` or a ``YYYYMMDD`` / ``YYYY-MM-DD`` in the
file name. Files are opened with the GTiff driver only.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError
from rasterio.transform import Affine

from ingest.errors import SourceError

logger = logging.getLogger(__name__)

REQUIRED_BANDS = ("B04", "B08", "B11", "B12", "SCL")
OPTIONAL_BANDS = ("B02", "B03", "B8A")
MAX_PIXELS = 20_000 * 20_000
_NAME_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


@dataclass(frozen=True)
class LocalScene:
    """One acquisition file: where its bands are and on which grid."""

    path: Path
    acquired: dt.date
    bands: dict[str, int]  # band name -> 1-based band index
    crs: CRS
    transform: Affine
    width: int
    height: int
    scale: float  # divide by this to get reflectance 0-1 (10 000 for integers, 1 for floats)
    synthetic: bool

    @property
    def scene_id(self) -> str:
        return self.path.stem


def _date_of(path: Path, tags: dict[str, str]) -> dt.date:
    stamp = tags.get("TIFFTAG_DATETIME", "").strip()
    if stamp:
        try:
            return dt.datetime.strptime(stamp[:10], "%Y:%m:%d").date()
        except ValueError as err:
            raise SourceError(str(path), f"TIFFTAG_DATETIME {stamp!r} is not 'YYYY:MM:DD HH:MM:SS'") from err
    match = _NAME_DATE.search(path.name)
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError as err:
            raise SourceError(str(path), f"date {match[0]!r} in the file name is not a real date") from err
    raise SourceError(str(path), "no acquisition date: set TIFFTAG_DATETIME or put YYYYMMDD in the file name")


def open_scene(path: Path) -> LocalScene:
    """Describe one local GeoTIFF; ``SourceError`` says precisely what is wrong with it."""
    path = Path(path)
    try:
        with rasterio.open(path, driver="GTiff") as ds:
            if ds.width * ds.height > MAX_PIXELS:
                raise SourceError(str(path), f"{ds.width} x {ds.height} px is larger than the {MAX_PIXELS:,} px limit")
            names = [d.strip().upper() if d else "" for d in ds.descriptions]
            missing = [b for b in REQUIRED_BANDS if b not in names]
            if missing:
                raise SourceError(
                    str(path), f"band descriptions {names} lack {missing}; describe bands as {' '.join(REQUIRED_BANDS + OPTIONAL_BANDS)}"
                )
            if ds.crs is None or not ds.crs.is_projected:
                raise SourceError(str(path), f"needs a projected CRS in metres (got {ds.crs})")
            bands = {b: names.index(b) + 1 for b in REQUIRED_BANDS + OPTIONAL_BANDS if b in names}
            dtype = ds.dtypes[bands["B04"] - 1]
            scale = 1.0 if dtype.startswith("float") else 10_000.0
            tags = ds.tags()
            return LocalScene(
                path=path.resolve(), acquired=_date_of(path, ds.tags(ns="") | tags), bands=bands, crs=ds.crs,
                transform=ds.transform, width=ds.width, height=ds.height, scale=scale,
                synthetic=tags.get("ECOWATCH_SYNTHETIC", "").lower() in ("yes", "true", "1"),
            )
    except RasterioIOError as err:
        raise SourceError(str(path), f"not a readable GeoTIFF: {err}") from err


def find_scenes(folder: Path) -> list[Path]:
    """GeoTIFF files in ``folder`` (not recursive), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(str(folder), "no such folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".tif", ".tiff") and p.is_file())
