"""A small Mapbox Vector Tile 2.1 writer for points and polygons already in tile units.

``mapbox-vector-tile`` builds shapely objects and checks winding per feature (about 2 ms a
polygon on this machine): more than the rest of a cell tile together. Grid cells and
generalised points need none of that — their coordinates are whole tile units already
(:func:`layers.vector_tiles._to_tile_units`, y up) — so they are written here straight to the
protocol buffer of the specification (``vector_tile.proto``: a Tile of Layers of Features with
``tags`` into the layer's ``keys`` and ``values`` and zig-zag delta ``geometry`` commands).
Exterior rings are written with a positive area in the tile's y-down coordinates and holes with
a negative one, as the specification asks. Other geometry types go through ``mapbox-vector-tile``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import shapely

_MOVE_TO, _LINE_TO, _CLOSE_PATH = 1, 2, 7
_POINT, _POLYGON = 1, 3


def writes(geom: Any) -> bool:
    """Whether :func:`encode_layer` writes this geometry (points and polygons); others go elsewhere."""
    return geom is None or geom.geom_type in ("Point", "MultiPoint", "Polygon", "MultiPolygon")


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def _field(number: int, data: bytes) -> bytes:
    """A length-delimited field."""
    return _varint((number << 3) | 2) + _varint(len(data)) + data


def _uint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _packed(number: int, values: Sequence[int]) -> bytes:
    return _field(number, b"".join([_varint(v) if v >= 0x80 else bytes((v,)) for v in values]))


def _command(cid: int, count: int) -> int:
    return (cid & 0x7) | (count << 3)


def _ring(coords: list[list[float]], extent: int, cursor: list[int], exterior: bool) -> list[int]:
    """Commands of one ring (closing point dropped), wound as the specification asks; [] if degenerate.

    Plain Python: rings here are short (cell squares, simplified outlines), and numpy's per-call
    cost would exceed the work."""
    pts: list[tuple[int, int]] = []
    for x, y in coords[:-1]:
        p = (round(x), extent - round(y))  # y down
        if not pts or p != pts[-1]:  # repeated points say nothing
            pts.append(p)
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts.pop()
    if len(pts) < 3:
        return []
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True))
    if area2 == 0:
        return []
    if (area2 > 0) != exterior:
        pts.reverse()
    out = []
    for i, (px, py) in enumerate(pts):
        dx, dy = px - cursor[0], py - cursor[1]
        cursor[0], cursor[1] = px, py
        if i == 0:
            out += [_command(_MOVE_TO, 1), _zigzag(dx), _zigzag(dy), _command(_LINE_TO, len(pts) - 1)]
        else:
            out += [_zigzag(dx), _zigzag(dy)]
    out.append(_command(_CLOSE_PATH, 1))
    return out


def _geometry(geom: Any, extent: int) -> tuple[int, list[int]]:
    cursor = [0, 0]
    if geom.geom_type in ("Point", "MultiPoint"):
        out = [_command(_MOVE_TO, len(shapely.get_coordinates(geom)))]
        for x, y in shapely.get_coordinates(geom).tolist():
            px, py = round(x), extent - round(y)
            out += [_zigzag(px - cursor[0]), _zigzag(py - cursor[1])]
            cursor = [px, py]
        return _POINT, out
    out = []
    for poly in getattr(geom, "geoms", [geom]):
        shell = _ring(shapely.get_coordinates(poly.exterior).tolist(), extent, cursor, True)
        if not shell:
            continue
        out += shell
        for hole in poly.interiors:
            out += _ring(shapely.get_coordinates(hole).tolist(), extent, cursor, False)
    return _POLYGON, out


def _value(value: Any) -> bytes:
    if isinstance(value, bool):
        return _uint_field(7, int(value))
    if isinstance(value, int | np.integer):
        return _uint_field(6, _zigzag(int(value)))  # sint_value
    if isinstance(value, float | np.floating):
        return _varint((3 << 3) | 1) + struct.pack("<d", float(value))  # double_value
    return _field(1, str(value).encode())


def encode_layer(name: str, features: Sequence[Mapping[str, Any]], extent: int) -> bytes:
    """One tile holding one layer ``name`` of ``features`` (``{"geometry": shapely geometry in
    whole tile units, y up, "properties": {...}}``; points and polygons only, see :func:`writes`).
    Empty geometries and rings with no area are left out."""
    keys: dict[str, int] = {}
    values: dict[tuple[str, Any], int] = {}
    body = bytearray()
    for feature in features:
        geom = feature["geometry"]
        if geom is None or geom.is_empty:
            continue
        kind, commands = _geometry(geom, extent)
        if not commands:
            continue
        tags: list[int] = []
        for key, value in feature["properties"].items():
            if value is None:
                continue
            typed = (type(value).__name__, value)
            tags += [keys.setdefault(key, len(keys)), values.setdefault(typed, len(values))]
        body += _field(2, _packed(2, tags) + _uint_field(3, kind) + _packed(4, commands))
    layer = _uint_field(15, 2) + _field(1, name.encode()) + bytes(body)
    layer += b"".join(_field(3, k.encode()) for k in keys)
    layer += b"".join(_field(4, _value(v)) for (_, v) in values)
    layer += _uint_field(5, extent)
    return _field(3, layer)
