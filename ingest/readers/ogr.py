"""Shapefile, GeoPackage, KML and FlatGeobuf through pyogrio (GDAL), one layer at a time.

Geometries come back as WKB and are decoded feature by feature, so a broken one (an unclosed KML
ring) rejects that feature, not the file. A Shapefile needs its ``.shx`` and ``.dbf``; without a
``.prj`` it needs ``--crs``. Its text is read as the ``.cpg`` file or the DBF language driver
says, or as the mapping's ``encoding``; with neither, it must be UTF-8. A KML file with a
DOCTYPE (entity declarations) is refused, and so is undeclared non-UTF-8 KML.
"""

from __future__ import annotations

import codecs
import logging
import re
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
from shapely.errors import GEOSException

from ingest.errors import SourceError
from ingest.limits import Limits, check_file_size, check_xml_depth
from ingest.readers.encoding import HINT, refuse
from ingest.readers.features import FeatureTable, RawReject

logger = logging.getLogger(__name__)

BATCH_FEATURES = 20_000
"""Features read from GDAL at a time: their WKB is decoded and dropped before the next batch."""
DRIVERS = {".shp": "ESRI Shapefile", ".gpkg": "GPKG", ".kml": "KML", ".fgb": "FlatGeobuf"}
_OGR_ERRORS = (
    pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError, pyogrio.errors.FeatureError, pyogrio.errors.CRSError,
)
_XML_ENCODING = re.compile(rb"<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def _sidecar(path: Path, suffix: str) -> Path | None:
    for cand in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if cand.exists():
            return cand
    return None


def gdal_encoding(name: str) -> str:
    """A Python codec name as GDAL's recoding understands it (``latin-1`` -> ``ISO-8859-1``)."""
    canonical = codecs.lookup(name).name
    if canonical.startswith("iso8859-"):
        return "ISO-8859-" + canonical.split("-")[1]
    return canonical.upper()


def _check_shapefile(path: Path, name: str, crs: str | None, limits: Limits) -> bool:
    """Sidecars and size of a Shapefile; True when its text encoding is declared (.cpg or LDID)."""
    missing = [s for s in (".shx", ".dbf") if _sidecar(path, s) is None]
    if missing:
        raise SourceError(name, f"is a Shapefile without its {' and '.join(missing)} file(s); give all the files (zipped together is easiest)")
    if _sidecar(path, ".prj") is None and not crs:
        raise SourceError(name, "is a Shapefile without a .prj file, so its CRS is unknown; give it with --crs EPSG:NNNN")
    parts = [p for p in (path, *(_sidecar(path, s) for s in (".shx", ".dbf", ".prj", ".cpg"))) if p is not None]
    check_file_size(path, limits, size=sum(p.stat().st_size for p in parts), name=name)
    dbf = _sidecar(path, ".dbf")
    assert dbf is not None
    with dbf.open("rb") as fh:
        head = fh.read(32)
    return _sidecar(path, ".cpg") is not None or (len(head) > 29 and head[29] != 0)


def _check_kml(path: Path, name: str, encoding: str | None, limits: Limits) -> None:
    check_file_size(path, limits, name=name)
    data = path.read_bytes()
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise SourceError(name, "is KML with a DOCTYPE or entity declarations, which ecowatch refuses (they can expand or reach outside the file)")
    check_xml_depth(Path(name), data, limits)
    declared = _XML_ENCODING.search(data[:200])
    if declared is None and not encoding:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise refuse(name, "", None, data, err.start) from None


def _pick_layer(path: Path, name: str, layer: str | None) -> str | None:
    try:
        layers = pyogrio.list_layers(path)
    except _OGR_ERRORS as err:
        raise SourceError(name, f"cannot be opened: {err}") from err
    names = [str(n) for n in layers[:, 0]]
    if layer is not None:
        if layer not in names:
            raise SourceError(name, f"has no layer {layer!r}; layers: {', '.join(names) or 'none'}")
        return layer
    if len(names) > 1:
        non_empty = [n for n in names if pyogrio.read_info(path, layer=n).get("features", 1) != 0]
        if len(non_empty) == 1:
            return non_empty[0]
        raise SourceError(name, f"holds {len(names)} layers ({', '.join(names)}); choose one with --sheet NAME")
    return names[0] if names else None


def _read_raw(
    path: Path, name: str, layer: str | None, encoding: str | None, skip: int = 0, count: int | None = None, seen: set[str] | None = None
) -> tuple[dict[str, Any], Any, Any, list[Any]]:
    """Features ``skip`` to ``skip + count`` of a layer (all when ``count`` is None); GDAL's warnings logged once (``seen``)."""
    seen = set() if seen is None else seen
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            meta, fids, geoms, fields = pyogrio.raw.read(
                path, layer=layer, encoding=encoding, return_fids=True, skip_features=skip, max_features=count
            )
        except _OGR_ERRORS as err:
            raise SourceError(name, f"cannot be read: {err}") from err
    for w in caught:
        if str(w.message) not in seen:
            seen.add(str(w.message))
            logger.warning("%s: %s", name, w.message)
    return meta, fids, geoms, fields


def _locate_bad_text(path: Path, name: str, layer: str | None) -> SourceError:
    """Read the layer byte for byte (ISO-8859-1) and name the first value that is not UTF-8."""
    meta, fids, _, fields = _read_raw(path, name, layer, "ISO-8859-1")
    for col, values in zip(meta["fields"], fields, strict=True):
        for fid, value in zip(fids, values, strict=True):
            if isinstance(value, str):
                raw = value.encode("latin-1")
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    return SourceError(
                        name, f"feature {fid}, field '{col}' = {value[:60]!r}: not UTF-8 text (byte {raw[err.start]:#04x}) and no encoding is declared (no .cpg file); {HINT}"
                    )
    return SourceError(name, f"is not UTF-8 text and no encoding is declared; {HINT}")


def _decoded(meta: dict[str, Any], fids: Any, wkb: Any, fields: list[Any]) -> tuple[pd.DataFrame, Any, list[RawReject]]:
    """A batch of raw features as a frame and its geometries, without the features whose geometry cannot be read (rejected)."""
    geoms = shapely.from_wkb(wkb, on_invalid="ignore") if wkb is not None else np.full(len(fids), None, dtype=object)
    columns = [str(c) for c in meta["fields"]]
    index = pd.Index(fids, name="feature")
    frame = pd.DataFrame({c: pd.Series(v, index=index).astype(object) for c, v in zip(columns, fields, strict=True)}, index=index)
    rejects: list[RawReject] = []
    broken = [i for i in range(len(fids)) if geoms[i] is None and wkb is not None and wkb[i] is not None]
    for i in broken:
        try:
            shapely.from_wkb(wkb[i])
            reason = "geometry cannot be read"
        except GEOSException as err:
            reason = f"geometry cannot be read: {err}"
        rejects.append(RawReject(int(fids[i]), "geometry", None, reason, frame.iloc[i].to_dict()))
    keep = np.ones(len(fids), dtype=bool)
    keep[broken] = False
    return frame[keep], geoms[keep], rejects


def read_ogr(path: Path, *, limits: Limits, crs: str | None = None, layer: str | None = None, encoding: str | None = None, name: str | None = None) -> FeatureTable:
    """Read one layer of a Shapefile, GeoPackage, KML or FlatGeobuf file.

    Raises
    ------
    SourceError
        A missing sidecar or ``.prj``, several layers and no ``layer``, undeclared non-UTF-8
        text, or a file GDAL cannot read.
    """
    path = Path(path)
    name = name or path.name
    suffix = path.suffix.lower()
    read_encoding = gdal_encoding(encoding) if encoding else None
    if suffix == ".shp":
        if not _check_shapefile(path, name, crs, limits) and not encoding:
            read_encoding = "UTF-8-STRICT"
    elif suffix == ".kml":
        _check_kml(path, name, encoding, limits)
    else:
        check_file_size(path, limits, name=name)
    chosen = _pick_layer(path, name, layer)
    encoding_read = "utf-8" if read_encoding == "UTF-8-STRICT" else read_encoding
    # KML is read in one go: GDAL's KML driver can only skip features by reading them
    batch = None if suffix == ".kml" else BATCH_FEATURES
    frames: list[pd.DataFrame] = []
    geom_parts: list[Any] = []
    rejects: list[RawReject] = []
    seen: set[str] = set()
    meta: dict[str, Any] = {}
    while True:
        try:
            meta, fids, wkb, fields = _read_raw(path, name, chosen, encoding_read, sum(len(f) for f in frames) + len(rejects), batch, seen)
        except UnicodeDecodeError:
            raise _locate_bad_text(path, name, chosen) from None
        frame, geoms, broken = _decoded(meta, fids, wkb, fields)
        rejects += broken
        frames.append(frame)
        geom_parts.append(geoms)
        if batch is None or len(fids) < batch:
            break
    frame = pd.concat(frames) if len(frames) > 1 else frames[0]
    geoms = np.concatenate(geom_parts) if len(geom_parts) > 1 else geom_parts[0]
    file_crs = meta.get("crs")
    table = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index), crs=file_crs)
    logger.debug("%s: %d feature(s) read with %s", name, len(table), meta.get("driver", DRIVERS.get(suffix)))
    return FeatureTable(table, name, crs_declared=file_crs is not None, rejects=rejects)
