"""The ``local`` imagery provider: multi-band GeoTIFFs already on disk (DESIGN.md "Local imagery").

Bands are found by their descriptions (``B02 B03 B04 B08 B8A B11 B12 SCL``; B02, B03, B8A
optional); the date comes from ``TIFFTAG_DATETIME`` or a ``YYYYMMDD`` / ``YYYY-MM-DD`` in the
file name. Files are opened with the GTiff driver only, so a VRT or another format named
``.tif`` is refused; a truncated file is reported when it is opened. The COGs that the remote
providers write to the imagery cache have this layout too, and :func:`open_scene` reads them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError, WindowError
from rasterio.transform import Affine
from rasterio.windows import Window

from config import Settings
from ingest.errors import RecordError, SourceError
from ingest.imagery.cog import BANDS, BLOCK_PX, cog_writer
from ingest.imagery.grid import AoiGrid, aoi_window
from ingest.imagery.providers import Acquisition, Provider, SearchResult
from ingest.imagery.warp import onto_grid, to_dn

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


def _check_readable(ds: rasterio.io.DatasetReader, path: Path) -> None:
    """Read the last block of every band: a truncated file fails here, not in the middle of a job."""
    rows, cols = ds.block_shapes[0]
    last = Window((ds.width - 1) // cols * cols, (ds.height - 1) // rows * rows, 1, 1)
    for band in range(1, ds.count + 1):
        try:
            ds.read(band, window=last)
        except RasterioIOError as err:
            detail = err.__cause__ or err
            raise SourceError(
                str(path), f"truncated or corrupt GeoTIFF: band {band} ({ds.descriptions[band - 1]}) cannot be read ({detail})"
            ) from err


def open_scene(path: Path) -> LocalScene:
    """Describe one local GeoTIFF; ``SourceError`` says precisely what is wrong with it.

    Opens with the GTiff driver only (a VRT or another format named ``.tif`` is refused), checks
    the size, band descriptions, CRS and date, and reads the last block of every band so that a
    truncated file is reported here.
    """
    path = Path(path)
    try:
        with rasterio.open(path, driver="GTiff") as ds:
            if ds.width * ds.height > MAX_PIXELS:
                raise SourceError(str(path), f"{ds.width} x {ds.height} px is larger than the {MAX_PIXELS:,} px limit")
            names = [d.strip().upper() if d else "" for d in ds.descriptions]
            wanted = " ".join(REQUIRED_BANDS + OPTIONAL_BANDS)
            if not any(names):
                raise SourceError(str(path), f"its {ds.count} band(s) have no descriptions; describe the bands as {wanted}")
            missing = [b for b in REQUIRED_BANDS if b not in names]
            if missing:
                raise SourceError(str(path), f"band descriptions {names} lack {missing}; describe bands as {wanted}")
            if ds.crs is None or not ds.crs.is_projected:
                raise SourceError(str(path), f"needs a projected CRS in metres (got {ds.crs})")
            bands = {b: names.index(b) + 1 for b in REQUIRED_BANDS + OPTIONAL_BANDS if b in names}
            dtype = ds.dtypes[bands["B04"] - 1]
            scale = 1.0 if dtype.startswith("float") else 10_000.0
            tags = ds.tags()
            acquired = _date_of(path, ds.tags(ns="") | tags)
            _check_readable(ds, path)
            return LocalScene(
                path=path.resolve(), acquired=acquired, bands=bands, crs=ds.crs,
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


class LocalProvider(Provider):
    """Multi-band GeoTIFFs in a folder (DESIGN.md "Local imagery").

    The AOI's grid is the AOI's window of the first usable file's grid (by file name). Files on
    that grid (same CRS, pixel size and pixel lattice, whatever their extent) are registered where
    they are; any other file is warped onto the grid (nearest neighbour) into the imagery cache,
    with a warning.
    """

    name = "local"

    def __init__(self, settings: Settings, folder: Path) -> None:
        super().__init__(settings)
        self.folder = Path(folder)

    def search(self, aoi: shapely.Geometry, date_from: dt.date, date_to: dt.date, max_cloud: float) -> SearchResult:
        """Every GeoTIFF of the folder dated in the period; unusable files are rejected with the reason.

        ``max_cloud`` is applied by the job on the AOI's SCL (files carry no cloud figure).
        """
        found = SearchResult()
        for file in find_scenes(self.folder):
            try:
                scene = open_scene(file)
            except SourceError as err:
                found.rejects.append(RecordError(str(file), file.name, "file", None, err.reason))
                continue
            if date_from <= scene.acquired <= date_to:
                stat = scene.path.stat()
                found.acquisitions.append(
                    Acquisition(scene.scene_id, scene.acquired, None, (str(scene.path), str(stat.st_size), str(stat.st_mtime_ns)), scene)
                )
        return found

    def grid(self, aoi: shapely.Geometry, found: SearchResult) -> AoiGrid:
        if not found.acquisitions:
            return AoiGrid.for_aoi(aoi, self.settings.imagery_resolution_m)
        first: LocalScene = found.acquisitions[0].handle
        try:
            window = aoi_window(aoi, first.crs, first.transform, first.width, first.height)
        except WindowError as err:
            raise SourceError(str(first.path), "the first file of the folder does not overlap the AOI; its grid cannot be the AOI's") from err
        grid = AoiGrid.of_window(first.crs, first.transform, window)
        grid.check_size()
        return grid

    def in_place(self, acquisition: Acquisition, grid: AoiGrid) -> Path | None:
        scene: LocalScene = acquisition.handle
        if grid.same_lattice(scene.crs, scene.transform):
            return scene.path
        logger.warning("%s is on another grid than the AOI's (%s): warping it onto that grid", scene.path.name, grid.describe())
        return None

    def fetch(self, acquisition: Acquisition, grid: AoiGrid, path: Path) -> None:
        """Warp the file onto ``grid`` (nearest neighbour) as the COG ``path``; missing optional bands stay 0."""
        scene: LocalScene = acquisition.handle
        tags = {"ECOWATCH_SOURCE": scene.path.name} | ({"ECOWATCH_SYNTHETIC": "yes"} if scene.synthetic else {})
        try:
            with rasterio.open(scene.path, driver="GTiff") as src, onto_grid(src, grid) as vrt, cog_writer(path, grid, scene.acquired, tags=tags) as dst:
                for win in grid.tiles(BLOCK_PX * 2):
                    for out_band, name in enumerate(BANDS, start=1):
                        if name not in scene.bands:
                            continue
                        data = vrt.read(scene.bands[name], window=win)
                        if name != "SCL":
                            data = to_dn(data, scale=1.0 / scene.scale)
                        dst.write(data.astype(np.uint16, copy=False), out_band, window=win)
        except RasterioIOError as err:
            raise RecordError(str(scene.path), scene.path.name, "file", None, f"cannot be warped onto the AOI grid: {err.__cause__ or err}") from err

    def synthetic(self, acquisition: Acquisition) -> bool:
        return bool(acquisition.handle.synthetic)
