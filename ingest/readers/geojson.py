"""GeoJSON, read by ecowatch itself so that each bad feature is rejected by name.

Handles RFC 7946 files and the legacy ``crs`` member (e.g. ``urn:ogc:def:crs:EPSG::32648`` in
the Open Development Cambodia files). Before parsing: the size and nesting-depth limits. While
parsing: duplicate keys with different values, ``NaN``/``Infinity`` (not JSON, but written by
some tools), non-UTF-8 text. Per feature: a geometry shapely cannot build is a rejection with
shapely's reason, never a failed file.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.errors import GEOSException

from ingest.errors import SourceError
from ingest.limits import Limits, check_file_size, check_json_depth
from ingest.readers.encoding import decode, has_escapes, refuse
from ingest.readers.features import FeatureTable, RawReject

logger = logging.getLogger(__name__)

WGS84 = CRS.from_epsg(4326)


class _NonFinite(float):
    """``NaN`` / ``Infinity`` as read from the text, so that the feature holding one is named."""

    def __new__(cls, text: str) -> _NonFinite:
        obj = super().__new__(cls, math.nan)
        obj.text = text  # type: ignore[attr-defined]
        return obj


class _Object(dict[str, Any]):
    """A JSON object that remembers keys given twice with different values."""

    conflicts: list[tuple[str, Any, Any]]


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    obj.conflicts = []
    for key, value in pairs:
        if key in obj and obj[key] != value:
            obj.conflicts.append((key, obj[key], value))
        obj[key] = value
    return obj


def _crs_member(member: Any, name: str) -> CRS:
    try:
        text = member["properties"]["name"] if member.get("type") == "name" else None
    except (KeyError, TypeError, AttributeError):
        text = None
    if text is None:
        raise SourceError(name, f"has a 'crs' member ecowatch does not understand ({member!r:.80}); remove it or give --crs")
    try:
        return CRS.from_user_input(text)
    except CRSError as err:
        raise SourceError(name, f"'crs' member names {text!r}, which is not a CRS: {err}") from err


def _non_finite(value: Any) -> str | None:
    if isinstance(value, _NonFinite):
        return str(value.text)  # type: ignore[attr-defined]
    if isinstance(value, list | dict):
        for v in value.values() if isinstance(value, dict) else value:
            found = _non_finite(v)
            if found:
                return found
    return None


def _cell(value: Any) -> Any:
    """Property values as a table holds them: nested arrays and objects as JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _open_ring(geom: Any) -> str | None:
    """Why a Polygon's ring is unusable as written (RFC 7946: closed, four positions or more), or ``None``."""
    if not isinstance(geom, dict):
        return None
    kind, coords = geom.get("type"), geom.get("coordinates")
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    if not isinstance(polygons, list):
        return None
    for rings in polygons:
        for ring in rings if isinstance(rings, list) else []:
            if not isinstance(ring, list) or not ring:
                continue
            if len(ring) < 4:
                return f"a polygon ring with {len(ring)} positions; a ring needs 4 or more (the first repeated at the end)"
            if ring[0] != ring[-1]:
                return "a polygon ring that is not closed (its first and last positions differ)"
    return None


def _feature(i: int, feat: Any, name: str) -> tuple[dict[str, Any], Any] | RawReject:
    if not isinstance(feat, dict) or feat.get("type") != "Feature":
        return RawReject(i, "type", None, "not a GeoJSON Feature object")
    conflicts = list(getattr(feat, "conflicts", []))
    props = feat.get("properties") or {}
    if not isinstance(props, dict):
        return RawReject(i, "properties", str(props)[:80], "'properties' must be an object or null")
    record = {k: _cell(v) for k, v in props.items()}
    conflicts += getattr(props, "conflicts", [])
    if conflicts:
        key, first, second = conflicts[0]
        return RawReject(i, key, second, f"key given twice with different values ({first!r:.40} and {second!r:.40})", record)
    for key, value in props.items():
        bad = _non_finite(value)
        if bad:
            return RawReject(i, key, bad, "not a finite number (NaN and Infinity are not JSON)", record)
    geom_json = feat.get("geometry")
    if geom_json is None:
        return record, None
    bad = _non_finite(geom_json)
    if bad:
        return RawReject(i, "geometry", bad, "coordinates hold NaN or Infinity", record)
    open_ring = _open_ring(geom_json)
    if open_ring:
        return RawReject(i, "geometry", None, open_ring, record)
    try:
        geom = shapely.geometry.shape(geom_json)
    except (GEOSException, ValueError, TypeError, KeyError, AttributeError, IndexError) as err:
        kind = geom_json.get("type") if isinstance(geom_json, dict) else type(geom_json).__name__
        return RawReject(i, "geometry", kind, f"geometry cannot be read: {err}", record)
    return record, geom


def read_geojson(path: Path, *, limits: Limits, encoding: str | None = None, name: str | None = None) -> FeatureTable:
    """Read a GeoJSON file: features that parse, features that do not, the file's CRS.

    Raises
    ------
    SourceError
        The file is too large, too deeply nested, not JSON, not GeoJSON, or not UTF-8 without a
        declared encoding (``TextEncodingError``, naming the feature and field).
    """
    path = Path(path)
    name = name or path.name
    check_file_size(path, limits, name=name)
    data = path.read_bytes()
    if not data.strip():
        raise SourceError(name, "is empty; expected a GeoJSON FeatureCollection")
    check_json_depth(Path(name), data, limits)
    text, bad_at = decode(data, encoding, name)
    try:
        doc = json.loads(text, object_pairs_hook=_pairs, parse_constant=_NonFinite)
    except json.JSONDecodeError as err:
        raise SourceError(name, f"cannot be read as GeoJSON: {err.msg} (line {err.lineno}, column {err.colno})") from err
    except RecursionError as err:  # the depth check should have caught this; never a traceback
        raise SourceError(name, "is nested too deeply to read") from err
    if not isinstance(doc, dict):
        raise SourceError(name, "cannot be read as GeoJSON: the top level is not an object")
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise SourceError(name, "is a FeatureCollection without a 'features' array")
    elif kind == "Feature":
        features = [doc]
    elif kind in ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"):
        features = [{"type": "Feature", "properties": {}, "geometry": doc}]
    else:
        raise SourceError(name, f"cannot be read as GeoJSON: top-level type {kind!r}; expected a FeatureCollection")
    conflicts = getattr(doc, "conflicts", None)
    if conflicts:
        key = conflicts[0][0]
        raise SourceError(name, f"top-level key {key!r} given twice with different values; fix the file")
    crs_declared = "crs" in doc and doc["crs"] is not None
    crs = _crs_member(doc["crs"], name) if crs_declared else WGS84
    records: list[dict[str, Any]] = []
    geoms: list[Any] = []
    index: list[int] = []
    rejects: list[RawReject] = []
    for i, feat in enumerate(features):
        got = _feature(i, feat, name)
        if isinstance(got, RawReject):
            rejects.append(got)
            continue
        records.append(got[0])
        geoms.append(got[1])
        index.append(i)
    if bad_at is not None:
        _refuse_escapes(name, data, bad_at, features)
    frame = pd.DataFrame(records, index=pd.Index(index, name="feature"), dtype=object)
    if "geometry" in frame.columns:
        frame = frame.rename(columns={"geometry": "properties.geometry"})
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index), crs=crs)
    logger.debug("%s: %d feature(s) read, %d refused by the reader", name, len(gdf), len(rejects))
    return FeatureTable(gdf, name, crs_declared, rejects)


def _refuse_escapes(name: str, data: bytes, offset: int, features: list[Any]) -> None:
    for i, feat in enumerate(features):
        props = feat.get("properties") if isinstance(feat, dict) else None
        for key, value in (props or {}).items() if isinstance(props, dict) else ():
            if has_escapes(str(key)):
                raise refuse(name, f"feature {i}, field name", str(key), data, offset)
            if isinstance(value, str) and has_escapes(value):
                raise refuse(name, f"feature {i}, field '{key}'", value, data, offset)
    raise refuse(name, "", None, data, offset)
