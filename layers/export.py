"""Exports of a layer: RFC 7946 GeoJSON (lon/lat, right-hand rings, no ``crs`` member)."""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import shapely

from layers.catalog import Layer, get_layer
from layers.errors import LayerError
from layers.files import atomic_path
from layers.redaction import check_role, read_redacted, visible_fields
from layers.store import Store

FORMATS = ("geojson",)


def _jsonable(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat() if value == pd.Timestamp(value).normalize() else pd.Timestamp(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def feature_properties(frame: pd.DataFrame, fields: list[str]) -> list[dict[str, Any]]:
    """JSON-ready properties (ISO dates, no NaN) of each row, for ``fields``."""
    columns = {f: frame[f].tolist() for f in fields}
    return [{f: _jsonable(columns[f][i]) for f in fields} for i in range(len(frame))]


def geojson_features(frame: pd.DataFrame, layer: Layer, fields: list[str]) -> Iterator[bytes]:
    """Encoded GeoJSON Feature objects (RFC 7946: counter-clockwise exteriors) for a layer's rows."""
    geoms: list[str | None]
    if layer.geometry_type:
        oriented = shapely.orient_polygons(np.asarray(frame.geometry.values, dtype=object))
        geoms = list(shapely.to_geojson(oriented))
    else:
        geoms = [None] * len(frame)
    for props, geom in zip(feature_properties(frame, fields), geoms, strict=True):
        yield b'{"type":"Feature","properties":' + orjson.dumps(props) + b',"geometry":' + (geom.encode() if geom else b"null") + b"}"


def write_geojson(frame: pd.DataFrame, layer: Layer, path: Path, fields: list[str] | None = None) -> int:
    """Write ``frame`` (EPSG:4326) as an RFC 7946 FeatureCollection to ``path``, atomically.

    Returns the number of features written.
    """
    fields = list(fields if fields is not None else layer.field_names)
    n = 0
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        fh.write(b'{"type":"FeatureCollection","features":[')
        for i, feature in enumerate(geojson_features(frame, layer, fields)):
            fh.write((b",\n" if i else b"\n") + feature)
            n += 1
        fh.write(b"\n]}\n")
    return n


def parse_where(layer_name: str, pairs: tuple[str, ...] | list[str], role: str) -> dict[str, str]:
    """``FIELD=VALUE`` filters on the fields ``role`` may see (a hidden field cannot be probed by filtering)."""
    layer = get_layer(layer_name)
    names = [f.name for f in visible_fields(layer, layer.field_names, check_role(role))]
    where: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in names:
            raise ValueError(f"--where {pair!r}: expected FIELD=VALUE with FIELD one of {', '.join(names)}")
        where[name] = value
    return where


def export_layer(
    store: Store,
    layer_name: str,
    output: Path | None,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    where: dict[str, str] | None = None,
    role: str,
) -> int:
    """Write a layer (or the part in ``bbox`` / matching ``where``) to ``output`` (stdout when ``None``),
    as ``role`` may see it (:func:`layers.redaction.redact`)."""
    try:
        layer = get_layer(layer_name)
    except KeyError as err:
        raise LayerError(str(err.args[0])) from None
    who = check_role(role)
    hidden = set(layer.field_names) - {f.name for f in visible_fields(layer, layer.field_names, who)}
    if hidden & set(where or {}):
        raise LayerError(f"role {who!r} cannot filter on {sorted(hidden & set(where or {}))}")
    frame = read_redacted(store, layer, who, bbox=bbox if layer.geometry_type else None, where=where)
    if output is None:
        out = sys.stdout.buffer
        out.write(b'{"type":"FeatureCollection","features":[')
        for i, feature in enumerate(geojson_features(frame, layer, [f for f in layer.field_names if f in frame.columns])):
            out.write((b",\n" if i else b"\n") + feature)
        out.write(b"\n]}\n")
        out.flush()
        return len(frame)
    return write_geojson(frame, layer, output, [f for f in layer.field_names if f in frame.columns])
