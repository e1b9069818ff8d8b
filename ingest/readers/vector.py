"""Pick the reader for a vector file by its name; unpack zip archives and KMZ first (safely).

Formats: GeoJSON (``.geojson``, ``.json``), Shapefile (``.shp``, or zipped), GeoPackage
(``.gpkg``), KML (``.kml``, ``.kmz``), FlatGeobuf (``.fgb``), and any of them in a ``.zip``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from pyproj import CRS
from pyproj.exceptions import CRSError

from ingest.archives import unpack_zip
from ingest.errors import SourceError
from ingest.limits import Limits
from ingest.readers.features import FeatureTable
from ingest.readers.geojson import read_geojson
from ingest.readers.ogr import DRIVERS, read_ogr

logger = logging.getLogger(__name__)

GEOJSON = (".geojson", ".json")
VECTOR_SUFFIXES = (*GEOJSON, *DRIVERS, ".kmz", ".zip")


def _read_one(path: Path, name: str, limits: Limits, crs: str | None, layer: str | None, encoding: str | None) -> FeatureTable:
    suffix = path.suffix.lower()
    if suffix in GEOJSON:
        if layer is not None:
            raise SourceError(name, "is GeoJSON, which has one layer; --sheet is for files with several")
        return read_geojson(path, limits=limits, encoding=encoding, name=name)
    if suffix in DRIVERS:
        return read_ogr(path, limits=limits, crs=crs, layer=layer, encoding=encoding, name=name)
    if suffix in (".shx", ".dbf", ".prj", ".cpg"):
        raise SourceError(name, f"is part of a Shapefile; give the .shp file (with its {suffix} beside it) or the zipped Shapefile")
    if suffix in (".xls", ".xlsx", ".csv"):
        raise SourceError(name, f"unsupported format {suffix!r}: a table, but boundary files are vector files ({', '.join(VECTOR_SUFFIXES)})")
    raise SourceError(name, f"unsupported format {suffix!r}; boundary files can be {', '.join(VECTOR_SUFFIXES)}")


def _in_archive(path: Path, limits: Limits, crs: str | None, layer: str | None, encoding: str | None) -> FeatureTable:
    with tempfile.TemporaryDirectory(prefix="ecowatch-unzip-") as tmp:
        files = unpack_zip(path, Path(tmp), limits)
        readable = [f for f in files if f.suffix.lower() in (*GEOJSON, *DRIVERS)]
        if path.suffix.lower() == ".kmz":
            readable = sorted((f for f in readable if f.suffix.lower() == ".kml"), key=lambda f: f.name.lower() != "doc.kml")[:1]
        if layer is not None and len(readable) > 1:
            chosen = [f for f in readable if f.stem == layer]
            readable = chosen or readable
            layer = None if chosen else layer
        if not readable:
            listed = ", ".join(str(f.relative_to(tmp)) for f in files[:10]) or "nothing"
            raise SourceError(str(path), f"holds no file ecowatch reads ({listed}); expected one of {', '.join((*GEOJSON, *DRIVERS))}")
        if len(readable) > 1:
            names = ", ".join(f.stem for f in readable)
            raise SourceError(str(path), f"holds {len(readable)} datasets ({names}); choose one with --sheet NAME")
        member = readable[0]
        return _read_one(member, f"{path}:{member.relative_to(tmp)}", limits, crs, layer, encoding)


def read_features(path: Path, *, limits: Limits, crs: str | None = None, layer: str | None = None, encoding: str | None = None) -> FeatureTable:
    """Read a boundary file in its own CRS, or ``crs`` when given (the file's, if any, is overridden with a warning).

    Raises
    ------
    SourceError
        When the file is missing, of an unsupported format, unsafe, unreadable, has several
        layers and ``layer`` is not given, or has no CRS and none was given.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(str(path), "no such file")
    if path.stat().st_size == 0:
        raise SourceError(str(path), "is empty (0 bytes)")
    if path.suffix.lower() in (".zip", ".kmz"):
        table = _in_archive(path, limits, crs, layer, encoding)
    else:
        table = _read_one(path, str(path), limits, crs, layer, encoding)
    table.name = path.name + table.name[len(str(path)):]  # records are named by file name, not path
    if crs:
        try:
            given = CRS.from_user_input(crs)
        except CRSError as err:
            raise SourceError(str(path), f"--crs {crs!r} is not a CRS: {err}") from err
        frame_crs = table.frame.crs
        if table.crs_declared and frame_crs is not None and not frame_crs.equals(given):
            logger.warning("%s: file CRS %s overridden by --crs %s", table.name, frame_crs.to_string(), crs)
        table.frame = table.frame.set_crs(given, allow_override=True)
    if table.frame.crs is None:
        raise SourceError(str(path), "has no CRS; give it with --crs EPSG:NNNN")
    return table
