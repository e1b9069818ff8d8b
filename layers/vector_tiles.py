"""Mapbox vector tiles (MVT) of a layer, as a role may see it: simplified per zoom, aggregated when large.

A tile ``z/x/y`` (the XYZ scheme of web maps: Web Mercator, ``y`` from the north) is read through
the one gate (:func:`layers.redaction.read_redacted` / :func:`~layers.redaction.count_redacted`,
for the tile's lon/lat box) and encoded (4096 units a side; points, cells and valid polygons by
:mod:`layers.mvt_encode`, anything else by ``mapbox-vector-tile``):

- **features** when the tile holds at most :data:`MAX_TILE_FEATURES` of them (reading and
  encoding cost about 300 µs a polygon; the grid pyramid, when it covers the tile, counts them
  without reading) and the zoom is at least the layer's ``min_zoom``: geometries in Web Mercator,
  clipped to the tile (plus a small buffer) and simplified to one tile unit (what the tile can
  show at all); properties: the feature's id (``feature_id``) and the layer's popup fields the
  role sees;
- **cells** otherwise (:func:`layers.aggregates.grid_aggregate`, through the same gate: an ngo's
  cells are built from the seizures as it sees them): one square per grid cell with ``count``
  (and ``area_ha``), in a layer named ``<layer>_cells``.

A tile stays under :data:`MAX_TILE_BYTES`: a feature tile over it is replaced by cells, cells
over it by coarser cells. :func:`tile_etag` is a hash of the bytes.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mapbox_vector_tile
import numpy as np
import orjson
import pandas as pd
import shapely
from pyproj import Transformer

from layers.aggregates import CELL_STEPS_DEG, cell_size_for, grid_aggregate, pyramid_aggregate
from layers.catalog import Layer
from layers.errors import LayerError
from layers.geojson import plain_value
from layers.mvt_encode import encode_layer, writes
from layers.redaction import Access, read_redacted, source_layer, visible_fields
from layers.store import Store

logger = logging.getLogger(__name__)

MAX_ZOOM = 22
EXTENT = 4096
BUFFER_UNITS = 64  # tile units of geometry kept beyond each edge (lines and polygons join across tiles)
MAX_TILE_FEATURES = 1_000  # reading, clipping and encoding cost ~0.3 ms a polygon: a tile of more is drawn as cells (bench_tiles)
MAX_TILE_BYTES = 500_000
CELLS_ACROSS_TILE = 16
_WEB_MERCATOR_HALF = 20037508.342789244
_TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


@dataclass(frozen=True)
class Tile:
    """An encoded tile: its bytes, whether it holds cells instead of features, and how many of either."""

    data: bytes
    aggregated: bool
    items: int


def check_tile(z: int, x: int, y: int) -> None:
    """Refuse a tile outside the XYZ scheme (``LayerError`` naming what is wrong)."""
    if not 0 <= z <= MAX_ZOOM:
        raise LayerError(f"zoom {z} is outside 0..{MAX_ZOOM}")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise LayerError(f"tile {z}/{x}/{y}: x and y must be 0..{2**z - 1} at zoom {z}")


def mercator_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of the tile in EPSG:3857 metres."""
    size = 2 * _WEB_MERCATOR_HALF / 2**z
    minx = -_WEB_MERCATOR_HALF + x * size
    maxy = _WEB_MERCATOR_HALF - y * size
    return minx, maxy - size, minx + size, maxy


def lonlat_bounds(z: int, x: int, y: int, buffer: float = 0.0) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the tile in degrees, widened by ``buffer`` of its width on each side."""
    n = 2**z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    w, e = x / n * 360 - 180, (x + 1) / n * 360 - 180
    s, north = lat(y + 1), lat(y)
    dx, dy = (e - w) * buffer, (north - s) * buffer
    return max(-180.0, w - dx), max(-85.06, s - dy), min(180.0, e + dx), min(85.06, north + dy)


def _to_mercator(geoms: np.ndarray) -> np.ndarray:
    def project(xy: np.ndarray) -> np.ndarray:
        lon = xy[:, 0]
        lat = np.clip(xy[:, 1], -85.0511, 85.0511)
        mx, my = _TO_MERCATOR.transform(lon, lat)
        return np.column_stack([mx, my])

    return shapely.transform(geoms, project)


def _property(field_type: str, value: Any) -> Any:
    out = plain_value(field_type, value)
    if isinstance(out, list | dict):
        return orjson.dumps(out).decode()
    return out


def _to_tile_units(geoms: np.ndarray, bounds: tuple[float, float, float, float], simplify: bool = True) -> np.ndarray:
    """Web Mercator metres to tile units (0..EXTENT, y up), simplified to one unit and rounded to whole units
    (done here with shapely 2, not by the encoder's quantizer, which uses the deprecated ``shapely.ops.transform``)."""
    minx, miny, maxx, maxy = bounds
    scale = np.array([EXTENT / (maxx - minx), EXTENT / (maxy - miny)])
    units = shapely.transform(geoms, lambda xy: (xy - np.array([minx, miny])) * scale)
    if simplify:  # (cell squares have nothing to simplify)
        units = shapely.simplify(units, 1.0, preserve_topology=True)
    return shapely.transform(units, np.round)


def _encode(name: str, features: list[dict[str, Any]]) -> bytes:
    return bytes(mapbox_vector_tile.encode(
        {"name": name, "features": features},
        default_options={"extents": EXTENT, "on_invalid_geometry": mapbox_vector_tile.encoder.on_invalid_geometry_make_valid},
    ))


def _feature_tile(layer: Layer, frame: pd.DataFrame, access: Access, bounds: tuple[float, float, float, float]) -> Tile:
    src = source_layer(layer, access)
    shown = [f for f in visible_fields(src, [p for p in layer.popup if p in src.field_names], access) if f.name in frame.columns]
    unit = (bounds[2] - bounds[0]) / EXTENT
    pad = unit * BUFFER_UNITS
    geoms = _to_mercator(np.asarray(frame.geometry.values, dtype=object))
    geoms = shapely.clip_by_rect(geoms, bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad)
    geoms = _to_tile_units(geoms, bounds)
    columns = {f.name: frame[f.name].tolist() for f in shown}
    features = []
    for i, (fid, geom) in enumerate(zip(frame.index.tolist(), geoms, strict=True)):
        if geom is None or geom.is_empty:
            continue
        props = {"feature_id": str(fid)}
        for f in shown:
            value = _property(f.type, columns[f.name][i])
            if value is not None:
                props[f.name] = value
        features.append({"geometry": geom, "properties": props})
    # points, and polygons still valid in whole tile units, are written directly; anything else
    # (lines, a polygon that rounding made invalid) through mapbox-vector-tile, which repairs it
    shapes = np.asarray([f["geometry"] for f in features], dtype=object)
    direct = all(writes(g) for g in shapes) and bool(shapely.is_valid(shapes).all()) if len(shapes) else True
    data = encode_layer(layer.name, features, EXTENT) if direct else _encode(layer.name, features)
    return Tile(data, False, len(features))


def _cell_tile(store: Store, layer: Layer, access: Access, box: tuple[float, float, float, float], where: Mapping[str, Any] | None,
               bounds: tuple[float, float, float, float], cell_deg: float) -> Tile:
    # the box out to whole cells, so that a cell across the tile's edge counts all its features in both tiles
    w, s, e, n = box
    whole = (math.floor(w / cell_deg) * cell_deg, math.floor(s / cell_deg) * cell_deg, math.ceil(e / cell_deg) * cell_deg, math.ceil(n / cell_deg) * cell_deg)
    whole = (max(-180.0, whole[0]), max(-90.0, whole[1]), min(180.0, whole[2]), min(90.0, whole[3]))
    agg = grid_aggregate(store, layer, access, bbox=whole, where=where, cell_deg=cell_deg)
    cells = agg.features()
    corners = np.asarray([f["geometry"]["coordinates"][0][0] + f["geometry"]["coordinates"][0][2] for f in cells], dtype=float).reshape(-1, 4)
    squares = _to_mercator(shapely.box(corners[:, 0], corners[:, 1], corners[:, 2], corners[:, 3], ccw=True))
    squares = _to_tile_units(shapely.clip_by_rect(squares, *bounds), bounds, simplify=False)
    features = [{"geometry": g, "properties": {k: v for k, v in f["properties"].items() if v is not None}}
                for f, g in zip(cells, squares, strict=True) if not g.is_empty]
    return Tile(encode_layer(f"{layer.name}_cells", features, EXTENT), True, len(features))  # squares: written directly


def render_tile(store: Store, layer: Layer, access: Access, z: int, x: int, y: int, *, where: Mapping[str, Any] | None = None,
                max_features: int = MAX_TILE_FEATURES, max_bytes: int = MAX_TILE_BYTES) -> Tile:
    """The tile ``z/x/y`` of ``layer`` as ``access`` may see it (see the module docstring).

    Raises
    ------
    LayerError
        A tile outside the scheme, a layer without geometry, or cells that cannot fit the byte cap.
    """
    check_tile(z, x, y)
    if not source_layer(layer, access).geometry_type:
        raise LayerError(f"layer {layer.name!r} has no geometry to tile")
    box = lonlat_bounds(z, x, y, buffer=BUFFER_UNITS / EXTENT)
    bounds = mercator_bounds(z, x, y)
    detailed = z >= (layer.min_zoom or 0)
    # the grid pyramid (when it covers the tile) counts the tile's features without reading them
    counted = pyramid_aggregate(store, layer, access, bbox=box, where=where, cell_deg=cell_size_for(box, CELLS_ACROSS_TILE), areas=False) if detailed else None
    if detailed and (counted is None or counted.total <= max_features):
        # one read through the gate: at most one feature more than a tile may hold
        frame = read_redacted(store, layer, access, bbox=box, where=where, limit=max_features + 1)
        if len(frame) <= max_features:
            tile = _feature_tile(layer, frame, access, bounds)
            if len(tile.data) <= max_bytes:
                return tile
            logger.info("tile %s %d/%d/%d: %d bytes of features, over %d: cells instead", layer.name, z, x, y, len(tile.data), max_bytes)
    tile_box = lonlat_bounds(z, x, y)
    step = CELL_STEPS_DEG.index(cell_size_for(tile_box, CELLS_ACROSS_TILE))
    for cell_deg in CELL_STEPS_DEG[step:]:
        tile = _cell_tile(store, layer, access, tile_box, where, bounds, cell_deg)
        if len(tile.data) <= max_bytes:
            return tile
    raise LayerError(f"tile {z}/{x}/{y} of {layer.name!r} does not fit {max_bytes} bytes even as {CELL_STEPS_DEG[-1]}-degree cells")


def tile_etag(data: bytes) -> str:
    """A strong ETag of a tile's bytes."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
