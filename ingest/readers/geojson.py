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

from ingest.errors import LimitError, SourceError, TextEncodingError
from ingest.limits import Limits, check_file_size, json_deep_path, json_max_depth
from ingest.readers.encoding import HINT, has_escapes, shown
from ingest.readers.features import FeatureTable, RawReject
from ingest.readers.json_stream import JsonStream, TooDeepError

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

    The file is parsed a feature at a time (:class:`~ingest.readers.json_stream.JsonStream`), so
    that memory holds the features' shapely geometries and properties, never the parsed document.

    Raises
    ------
    SourceError
        The file is too large, too deeply nested, not JSON, not GeoJSON, or not UTF-8 without a
        declared encoding (``TextEncodingError``, naming the feature and field).
    """
    path = Path(path)
    name = name or path.name
    check_file_size(path, limits, name=name)
    decoder = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_NonFinite)
    with JsonStream(path, name, encoding, decoder) as stream:
        collected = _Collected(name, limits)
        members = _read_document(stream, collected)
        if stream.bad_byte is not None:
            _refuse_escapes(name, stream.bad_byte, collected.escaped)
    kind = members.get("type")
    if kind == "FeatureCollection":
        if collected.n is None:
            raise SourceError(name, "is a FeatureCollection without a 'features' array")
    elif collected.n is not None:
        raise SourceError(name, f"has a 'features' array but its type is {kind!r}; expected a FeatureCollection")
    elif kind == "Feature":
        collected.add(0, members, "")
    elif kind in ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"):
        collected.add(0, _Object(type="Feature", properties={}, geometry=dict(members)), "")
    else:
        raise SourceError(name, f"cannot be read as GeoJSON: top-level type {kind!r}; expected a FeatureCollection")
    crs_declared = "crs" in members and members["crs"] is not None
    crs = _crs_member(members["crs"], name) if crs_declared else WGS84
    frame = pd.DataFrame(collected.records, index=pd.Index(collected.index, name="feature"), dtype=object)
    if "geometry" in frame.columns:
        frame = frame.rename(columns={"geometry": "properties.geometry"})
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(collected.geoms, index=frame.index), crs=crs)
    logger.debug("%s: %d feature(s) read, %d refused by the reader", name, len(gdf), len(collected.rejects))
    return FeatureTable(gdf, name, crs_declared, collected.rejects)


class _Collected:
    """The features read so far: records, geometries and feature numbers, and the refused ones."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.name = name
        self.limits = limits
        self.records: list[dict[str, Any]] = []
        self.geoms: list[Any] = []
        self.index: list[int] = []
        self.rejects: list[RawReject] = []
        self.escaped: list[tuple[str, str]] = []  # (where, value) of text holding bytes that were not UTF-8
        self.n: int | None = None  # features in the 'features' array, once it was read

    def add(self, i: int, feat: Any, text: str) -> None:
        if text:
            self.check_depth(i, text, base=2)
        if isinstance(feat, dict) and isinstance(feat.get("properties"), dict):
            for key, value in feat["properties"].items():
                if has_escapes(str(key)):
                    self.escaped.append((f"feature {i}, field name", str(key)))
                if isinstance(value, str) and has_escapes(value):
                    self.escaped.append((f"feature {i}, field '{key}'", value))
        got = _feature(i, feat, self.name)
        if isinstance(got, RawReject):
            self.rejects.append(got)
            return
        self.records.append(got[0])
        self.geoms.append(got[1])
        self.index.append(i)

    def check_depth(self, i: int | None, text: str, base: int) -> None:
        """``LimitError`` naming the feature and field when ``text`` (a value at depth ``base``) nests too deeply."""
        data = text.encode("utf-8", "surrogateescape")
        depth = json_max_depth(data) + base
        if depth <= self.limits.max_depth:
            return
        where, _ = json_deep_path(data, self.limits.max_depth - base)
        place = "the top level"
        if i is not None:
            place = f"feature {i}"
            if len(where) >= 2 and where[0] == "properties":
                place += f", field '{where[1]}'"
            elif where:
                place += f", field '{where[0]}'"
        raise LimitError(
            self.name,
            f"{place}: JSON nested {depth:,} levels deep, more than the limit of {self.limits.max_depth} "
            "(setting ingest_max_json_depth); nothing was read from this file",
        )


def _read_document(stream: JsonStream, collected: _Collected) -> _Object:
    """The top-level object's members but ``features``, whose items go to ``collected`` one by one."""
    first = stream.peek()
    if not first:
        raise SourceError(stream.name, "is empty; expected a GeoJSON FeatureCollection")
    if first != "{":
        stream.value()  # a syntax error is reported as such
        raise SourceError(stream.name, "cannot be read as GeoJSON: the top level is not an object")
    stream.expect("{")
    members = _Object()
    members.conflicts = []
    if stream.peek() == "}":
        stream.pos += 1
    else:
        while True:
            if stream.peek() != '"':
                raise stream.error("expected a member name in double quotes")
            key, _ = stream.value()
            stream.expect(":")
            if key == "features" and stream.peek() == "[":
                _read_features(stream, collected)
            else:
                try:
                    value, text = stream.value()
                except TooDeepError as err:
                    collected.check_depth(None, err.text, base=1)
                    raise
                collected.check_depth(None, text, base=1)
                if key in members and members[key] != value:
                    raise SourceError(stream.name, f"top-level key {key!r} given twice with different values; fix the file")
                members[key] = value
            if stream.expect(",}") == "}":
                break
    if stream.peek():
        raise stream.error("extra data after the top-level object")
    return members


def _read_features(stream: JsonStream, collected: _Collected) -> None:
    stream.expect("[")
    i = 0
    if stream.peek() == "]":
        stream.pos += 1
    else:
        while True:
            try:
                feat, text = stream.value()
            except TooDeepError as err:
                collected.check_depth(i, err.text, base=2)
                raise
            collected.add(i, feat, text)
            i += 1
            if stream.expect(",]") == "]":
                break
    collected.n = i


def _refuse_escapes(name: str, bad: tuple[int, int, int], escaped: list[tuple[str, str]]) -> None:
    """Undeclared text that is not UTF-8: refused, naming the first feature and field that hold it."""
    _, byte, line = bad
    if escaped:
        where, value = escaped[0]
        raise TextEncodingError(name, f"{where} = {shown(value)[:60]!r}: not UTF-8 text (byte {byte:#04x}, line {line}) and no encoding is declared; {HINT}")
    raise TextEncodingError(name, f"not UTF-8 text (byte {byte:#04x}, line {line}) and no encoding is declared; {HINT}")
