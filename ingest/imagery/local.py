"""The ``local`` imagery provider: multi-band GeoTIFFs already on disk (DESIGN.md "Local imagery").

Bands are found by their descriptions, in any order: red ``B04``; a NIR band, ``B08`` or else
``B8A``; a SWIR band, ``B12`` and/or ``B11``; a mask, ``SCL`` or else a 0/1 cloud/shadow band whose
name is one of the settings' ``cloud_mask_bands`` (THEIA ``CLM``, ``Fmask``: 0 clear, any other
value cloud or shadow); ``B02 B03`` optional. A declared nodata value (e.g. -10000 in int16
THEIA products) is no data. The date comes from ``TIFFTAG_DATETIME`` or a ``YYYYMMDD`` /
``YYYY-MM-DD`` in the file name. Files are opened with the GTiff driver only, so a VRT or another format named
``.tif`` is refused; a truncated file is reported when it is opened. The COGs that the remote
providers write to the imagery cache have this layout too, and :func:`open_scene` reads them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import shapely
from numpy.typing import NDArray
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

REFLECTANCE_BANDS = ("B02", "B03", "B04", "B08", "B8A", "B11", "B12")
NIR_BANDS = ("B08", "B8A")  # in order of preference
SWIR_BANDS = ("B12", "B11")  # B12 makes the NBR, B11 the NDMI
DEFAULT_CLOUD_BANDS = ("CLM", "FMASK")
BANDS_TAG = "ECOWATCH_BANDS"  # the bands of a cached COG that hold data
MINIMUM = "red B04, a NIR band (B08 or B8A), a SWIR band (B12 or B11) and a mask (SCL, or a 0/1 cloud band such as CLM or Fmask named in the cloud_mask_bands setting)"
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
    nodata: float | None = None  # declared no-data value of the reflectance bands (0 always is)
    cloud_band: str | None = None  # name of the 0/1 cloud band read as the mask when there is no SCL

    @property
    def scene_id(self) -> str:
        return self.path.stem

    @property
    def nir(self) -> str:
        """The NIR band used: ``B08``, else ``B8A``."""
        return next(b for b in NIR_BANDS if b in self.bands)

    def index(self, name: str) -> int:
        """1-based band index of ``name``; ``NIR`` is :attr:`nir`, ``SCL`` the mask band (SCL or the cloud band)."""
        if name == "NIR":
            return self.bands[self.nir]
        if name == "SCL" and "SCL" not in self.bands and self.cloud_band is not None:
            return self.bands[self.cloud_band]
        return self.bands[name]

    def has(self, name: str) -> bool:
        """Whether :meth:`index` finds ``name``."""
        return name in ("NIR", "SCL") or name in self.bands


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


def cloud_to_scl(mask: NDArray[np.generic]) -> NDArray[np.uint8]:
    """SCL codes from a 0/1 cloud/shadow band: 0 -> 4 (clear), any other value -> 9 (cloud)."""
    return np.where(mask == 0, np.uint8(4), np.uint8(9)).astype(np.uint8)


def _missing(names: list[str], cloud_bands: Sequence[str]) -> list[str]:
    """What of the minimum band set ``names`` lacks, each with what would do."""
    lacks = []
    if "B04" not in names:
        lacks.append("red (B04)")
    if not any(b in names for b in NIR_BANDS):
        lacks.append("NIR (B08 or B8A)")
    if not any(b in names for b in SWIR_BANDS):
        lacks.append("SWIR (B12 or B11)")
    if "SCL" not in names and not any(c in names for c in cloud_bands):
        lacks.append(f"a mask (SCL, or a 0/1 cloud band named in cloud_mask_bands, now {list(cloud_bands)})")
    return lacks


def open_scene(path: Path, cloud_bands: Sequence[str] = DEFAULT_CLOUD_BANDS) -> LocalScene:
    """Describe one local GeoTIFF; ``SourceError`` says precisely what is wrong with it.

    Opens with the GTiff driver only (a VRT or another format named ``.tif`` is refused), checks
    the size, band descriptions (the minimum: :data:`MINIMUM`), CRS and date, and reads the last
    block of every band so that a truncated file is reported here. ``cloud_bands`` are the
    descriptions (case-insensitive) of a 0/1 cloud/shadow band read as the mask when there is no
    ``SCL``.
    """
    path = Path(path)
    cloud_bands = [c.strip().upper() for c in cloud_bands]
    try:
        with rasterio.open(path, driver="GTiff") as ds:
            if ds.width * ds.height > MAX_PIXELS:
                raise SourceError(str(path), f"{ds.width} x {ds.height} px is larger than the {MAX_PIXELS:,} px limit")
            names = [d.strip().upper() if d else "" for d in ds.descriptions]
            tags = ds.tags()
            if BANDS_TAG in tags:  # a COG of ours: bands its source lacked are there but empty
                real = set(tags[BANDS_TAG].split())
                names = [n if n in real else "" for n in names]
            if not any(names):
                raise SourceError(str(path), f"its {ds.count} band(s) have no descriptions; describe them by band name: {MINIMUM}")
            lacks = _missing(names, cloud_bands)
            if lacks:
                raise SourceError(str(path), f"band descriptions {names} lack {', '.join(lacks)}; the minimum is {MINIMUM}")
            if ds.crs is None or not ds.crs.is_projected:
                raise SourceError(str(path), f"needs a projected CRS in metres (got {ds.crs})")
            cloud = None if "SCL" in names else next(c for c in cloud_bands if c in names)
            bands = {b: names.index(b) + 1 for b in (*REFLECTANCE_BANDS, "SCL", *([cloud] if cloud else [])) if b in names}
            dtype = ds.dtypes[bands["B04"] - 1]
            scale = 1.0 if dtype.startswith("float") else 10_000.0
            nodata = ds.nodatavals[bands["B04"] - 1]
            acquired = _date_of(path, ds.tags(ns="") | tags)
            _check_readable(ds, path)
            return LocalScene(
                path=path.resolve(), acquired=acquired, bands=bands, crs=ds.crs,
                transform=ds.transform, width=ds.width, height=ds.height, scale=scale,
                synthetic=tags.get("ECOWATCH_SYNTHETIC", "").lower() in ("yes", "true", "1"),
                nodata=None if nodata is None or nodata == 0 or np.isnan(nodata) else float(nodata), cloud_band=cloud,
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
                scene = open_scene(file, self.settings.cloud_mask_bands)
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
        """Warp the file onto ``grid`` (nearest neighbour) as the COG ``path``.

        Bands the file lacks stay 0 and are left out of the COG's ``ECOWATCH_BANDS`` tag (so a
        reader does not take them for real); a cloud band becomes SCL codes (:func:`cloud_to_scl`),
        0 where the red band has no data.
        """
        scene: LocalScene = acquisition.handle
        present = [b for b in BANDS if b in scene.bands or (b == "SCL" and scene.cloud_band is not None)]
        tags = {"ECOWATCH_SOURCE": scene.path.name, BANDS_TAG: " ".join(present)} | ({"ECOWATCH_SYNTHETIC": "yes"} if scene.synthetic else {})
        try:
            with rasterio.open(scene.path, driver="GTiff") as src, onto_grid(src, grid) as vrt, cog_writer(path, grid, scene.acquired, tags=tags) as dst:
                for win in grid.tiles(BLOCK_PX * 2):
                    red = None
                    for out_band, name in enumerate(BANDS, start=1):
                        if name not in present:
                            continue
                        data = vrt.read(scene.index(name), window=win)
                        if name == "SCL" and scene.cloud_band is not None:
                            data = cloud_to_scl(data)
                            if red is not None:
                                data[red == 0] = 0
                        elif name != "SCL":
                            data = to_dn(data, scale=1.0 / scene.scale)
                            red = data if name == "B04" else red
                        dst.write(data.astype(np.uint16, copy=False), out_band, window=win)
        except RasterioIOError as err:
            raise RecordError(str(scene.path), scene.path.name, "file", None, f"cannot be warped onto the AOI grid: {err.__cause__ or err}") from err

    def synthetic(self, acquisition: Acquisition) -> bool:
        return bool(acquisition.handle.synthetic)
