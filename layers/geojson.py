"""The one GeoJSON (RFC 7946) feature writer, shared by the API and every export.

One rule for each thing, so the map and an export say the same of a feature:

- properties by their declared type: ``date`` as ``YYYY-MM-DD``, ``datetime`` as
  ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), integers and reals as JSON numbers, booleans, ``json`` fields
  as the list or object they hold, text as a string; missing values and NaN as ``null``;
- geometries in lon/lat (the store keeps EPSG:4326), polygon exteriors counter-clockwise and
  holes clockwise (RFC 7946 §3.1.6), coordinates rounded to :data:`COORDINATE_DECIMALS` places
  (≈ 1 cm, RFC 7946 §11.2), no ``crs`` member;
- each feature's ``id`` is the frame's index: the store's row id, or the (opaque) key for rows
  redacted for a generalised role (:func:`layers.redaction.redact`).

Geometries go through shapely's ``to_geojson`` and the rest through orjson, about ten times
faster than ``GeoDataFrame.to_json()`` (see ``NOTES.md``).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from layers.catalog import Field

logger = logging.getLogger(__name__)

COORDINATE_DECIMALS = 7


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and not np.isfinite(value)


def plain_value(field_type: str, value: Any) -> Any:
    """One stored value as JSON: dates as ISO strings, JSON fields as lists/objects, NaN as null."""
    if _is_missing(value):
        return None
    if field_type == "date":
        return pd.Timestamp(value).date().isoformat()
    if field_type == "datetime":
        ts = pd.Timestamp(value)
        ts = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts
        return ts.isoformat(timespec="seconds") + "Z"
    if field_type == "integer":
        return int(value)
    if field_type == "real":
        return float(value)
    if field_type == "boolean":
        return bool(value)
    if field_type == "json":
        return value
    return str(value)


def property_columns(frame: pd.DataFrame, fields: Sequence[Field]) -> dict[str, list[Any]]:
    """The columns of ``frame`` named by ``fields`` as lists of JSON-ready values."""
    return {f.name: [plain_value(f.type, v) for v in frame[f.name].tolist()] for f in fields if f.name in frame.columns}


def _geometries(frame: pd.DataFrame) -> list[str | None]:
    if not isinstance(frame, gpd.GeoDataFrame) or not len(frame):
        return [None] * len(frame)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    geoms = shapely.orient_polygons(geoms, exterior_cw=False)
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, COORDINATE_DECIMALS))
    return list(shapely.to_geojson(geoms).tolist())


def _feature_id(value: Any) -> Any:
    if isinstance(value, int | np.integer):
        return int(value)
    return None if _is_missing(value) else str(value)


def features(frame: pd.DataFrame, fields: Sequence[Field]) -> Iterator[bytes]:
    """Encoded GeoJSON Feature objects of the rows of ``frame`` (properties: ``fields``, in order)."""
    columns = property_columns(frame, fields)
    names = list(columns)
    for i, (fid, geom) in enumerate(zip(frame.index.tolist(), _geometries(frame), strict=True)):
        yield orjson.dumps(
            {
                "type": "Feature",
                "id": _feature_id(fid),
                "geometry": orjson.Fragment(geom) if geom is not None else None,
                "properties": {name: columns[name][i] for name in names},
            }
        )


def write_collection(out: IO[bytes], frame: pd.DataFrame, fields: Sequence[Field], extra: Mapping[str, Any] | None = None) -> int:
    """Stream a FeatureCollection to ``out``, one feature a line; returns the number of features.

    ``extra`` members (e.g. ``numberReturned``) come before ``features``.
    """
    head = orjson.dumps({"type": "FeatureCollection", **(extra or {})})
    out.write(head[:-1] + b',"features":[')
    n = 0
    for feature in features(frame, fields):
        out.write((b",\n" if n else b"\n") + feature)
        n += 1
    out.write(b"\n]}\n" if n else b"]}\n")
    return n


def feature_collection(frame: pd.DataFrame, fields: Sequence[Field], extra: Mapping[str, Any] | None = None) -> bytes:
    """A FeatureCollection of the rows of ``frame`` (a GeoDataFrame in EPSG:4326), as UTF-8 JSON.

    Parameters
    ----------
    frame
        Rows as read (and redacted): the index becomes each feature's ``id``; a geometry column
        (or none for a layer without geometry) and the property columns.
    fields
        The fields to write as properties, in this order (already limited to what the reader
        may see).
    extra
        Foreign members added at the top level (e.g. ``numberReturned``, ``truncated``).
    """
    buf = io.BytesIO()
    write_collection(buf, frame, fields, extra)
    return buf.getvalue()
