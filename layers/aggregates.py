"""Grid aggregates of a layer: how many features (and hectares) lie in each cell of a view.

What the map shows instead of a truncated sample when a view holds more features than one
answer may carry (and what vector tiles may show at low zoom). Aggregates go through the
redaction gate like every read: a role's aggregate counts exactly the rows
:func:`layers.redaction.count_redacted` counts for the same box and filters, so the sum of the
cells' counts is that count, and a role that sees generalised points (ngo) gets cells built
from the points as it sees them (cell centres, suppressed cells left out), never from the
stored ones.

A feature falls in the cell holding the centre of its bounding box. Cells are squares of
``cell_deg`` degrees on a grid anchored at (0, 0) in lon/lat (EPSG:4326): column
``floor(x / cell_deg)``, row ``floor(y / cell_deg)``. :func:`cell_size_for` picks the size from
the view, from the fixed steps :data:`CELL_STEPS_DEG`, so that neighbouring views share cells.

Where the store keeps a grid pyramid (:mod:`layers.grid_pyramid`: the GeoPackage, per committed
state), the stored rows' cells of a view come from it and the view's border; the cells and counts
are the same as the store's live ``grid_summary`` (a property test holds them equal), so which
path answered is invisible. :func:`pyramid_aggregate` answers only from the pyramid (``None``
when it does not cover the view's filters), so a caller can learn a view's count without
reading a row.

API::

    agg = grid_aggregate(store, get_layer("clearings"), access, bbox=(w, s, e, n), where=...)
    agg.total            # == count_redacted(store, layer, access, bbox=bbox, where=where)
    agg.features()       # GeoJSON Features: one cell polygon each, id "column,row", properties count, area_ha
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from layers.catalog import Layer
from layers.errors import LayerError
from layers.grid_pyramid import pyramid_cells
from layers.redaction import (
    Access,
    Role,
    check_role,
    read_redacted,
    source_layer,
    stored_rows,
    visible_fields,
)
from layers.store import BBox, Store

logger = logging.getLogger(__name__)

CELL_STEPS_DEG = (0.001, 0.002, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0)
"""Cell sizes (degrees) a view may get: fixed steps, so that views at one zoom share a grid."""
CELLS_ACROSS = 32
"""At most this many cells across the longer side of a view (so at most 1 024 in a view, about
200 bytes each as GeoJSON: an answer stays under 200 KB)."""
AREA_FIELD = "area_ha"


def cell_size_for(bbox: BBox, across: int = CELLS_ACROSS) -> float:
    """The smallest step of :data:`CELL_STEPS_DEG` that covers ``bbox`` (W, S, E, N degrees)
    with at most ``across`` cells along its longer side."""
    w, s, e, n = bbox
    span = max(float(e) - float(w), float(n) - float(s))
    for step in CELL_STEPS_DEG:
        if span / step <= across:
            return step
    return CELL_STEPS_DEG[-1]


@dataclass(frozen=True)
class GridAggregate:
    """Non-empty cells of one layer in one view: column, row, features and summed hectares.

    ``area_ha`` is ``None`` when the layer has no area field the role may see.
    """

    layer: str
    cell_deg: float
    ix: NDArray[np.int64]
    iy: NDArray[np.int64]
    count: NDArray[np.int64]
    area_ha: NDArray[np.float64] | None

    @property
    def total(self) -> int:
        """Features counted over all cells."""
        return int(self.count.sum())

    def features(self) -> list[dict[str, Any]]:
        """One GeoJSON Feature per cell: a lon/lat square (counter-clockwise) with the decimals the
        cell size needs, ``id`` ``"column,row"``, properties ``count`` (and ``area_ha``)."""
        out: list[dict[str, Any]] = []
        step = self.cell_deg
        decimals = max(0, -math.floor(math.log10(step))) + 1
        edges: dict[int, float] = {}  # a column's or row's edge, rounded once (cells share them)

        def edge(k: int) -> float:
            found = edges.get(k)
            if found is None:
                found = edges[k] = round(k * step, decimals)
            return found

        counts = self.count.tolist()
        areas = self.area_ha.tolist() if self.area_ha is not None else None
        for i, (ix, iy) in enumerate(zip(self.ix.tolist(), self.iy.tolist(), strict=True)):
            x0, y0, x1, y1 = edge(ix), edge(iy), edge(ix + 1), edge(iy + 1)
            props: dict[str, Any] = {"count": counts[i]}
            if areas is not None:
                props["area_ha"] = round(areas[i], 1)
            out.append({
                "type": "Feature", "id": f"{ix},{iy}",
                "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]},
                "properties": props,
            })
        return out


def _bin(frame: Any, cell_deg: float, area: str | None) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Cells of the rows of a GeoDataFrame, by the centres of their bounding boxes."""
    if len(frame) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy(), np.zeros(0)
    bounds = shapely.bounds(np.asarray(frame.geometry.array))
    ix = np.floor((bounds[:, 0] + bounds[:, 2]) / 2.0 / cell_deg).astype(np.int64)
    iy = np.floor((bounds[:, 1] + bounds[:, 3]) / 2.0 / cell_deg).astype(np.int64)
    keys, inverse, count = np.unique(np.stack([ix, iy], axis=1), axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    sums = np.zeros(len(keys))
    if area is not None:
        values = np.nan_to_num(np.asarray(frame[area], dtype=float))
        np.add.at(sums, inverse, values)
    return keys[:, 0], keys[:, 1], count.astype(np.int64), sums


def _area_field(layer: Layer, access: Access) -> str | None:
    """The area field summed per cell, when ``layer`` (as ``access`` reads it) has one the role sees."""
    src = source_layer(layer, access)
    visible = any(f.name == AREA_FIELD for f in visible_fields(src, src.field_names, access.role)) if AREA_FIELD in src.field_names else False
    return AREA_FIELD if visible else None


def _make(layer: Layer, step: float, cells: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]],
          area: str | None) -> GridAggregate:
    ix, iy, count, sums = cells
    order = np.lexsort((ix, iy))
    return GridAggregate(layer=layer.name, cell_deg=step, ix=ix[order], iy=iy[order], count=count[order], area_ha=sums[order] if area else None)


def pyramid_aggregate(store: Store, layer: Layer, who: Access | Role, *, bbox: BBox, where: Mapping[str, Any] | None = None,
                      cell_deg: float | None = None, areas: bool = True) -> GridAggregate | None:
    """:func:`grid_aggregate` when the store's grid pyramid answers it (:mod:`layers.grid_pyramid`:
    stored rows, equality filters on its fields, cells of at least its smallest size), else
    ``None`` — without reading a row. The same cells and counts as :func:`grid_aggregate`;
    ``areas=False`` leaves the hectares out (the view's border is then counted on the spatial
    index alone: cheaper, for a caller that wants the count)."""
    if not layer.geometry_type:
        return None
    access = who if isinstance(who, Access) else Access(check_role(who))
    step = float(cell_deg) if cell_deg is not None else cell_size_for(bbox)
    rows = stored_rows(layer, access, where)
    if rows is None or step not in CELL_STEPS_DEG:
        return None
    area = _area_field(layer, access) if areas else None
    cells = pyramid_cells(store, rows, bbox=bbox, cell_deg=step, sum_field=area)
    return None if cells is None else _make(layer, step, cells, area)


def grid_aggregate(
    store: Store,
    layer: Layer,
    who: Access | Role,
    *,
    bbox: BBox,
    where: Mapping[str, Any] | None = None,
    cell_deg: float | None = None,
) -> GridAggregate:
    """Counts (and hectares) per grid cell of the rows of ``layer`` that ``who`` sees, matching
    ``where`` and meeting ``bbox`` (as :func:`~layers.redaction.count_redacted` counts them).

    Parameters
    ----------
    cell_deg
        Cell size in degrees; by default :func:`cell_size_for` the box.

    Raises
    ------
    LayerError, AccessError
        When the role may not read the layer or filter on a field of ``where``; a layer without
        geometry.
    """
    if not layer.geometry_type:
        raise LayerError(f"layer {layer.name!r} has no geometry to aggregate")
    access = who if isinstance(who, Access) else Access(check_role(who))
    step = float(cell_deg) if cell_deg is not None else cell_size_for(bbox)
    if not (step > 0 and math.isfinite(step)):
        raise LayerError(f"grid cell size must be a positive number of degrees, got {cell_deg!r}")
    area = _area_field(layer, access)
    rows = stored_rows(layer, access, where)
    summary = getattr(store, "grid_summary", None)
    cells = pyramid_cells(store, rows, bbox=bbox, cell_deg=step, sum_field=area) if rows is not None and step in CELL_STEPS_DEG else None
    if cells is None and rows is not None and summary is not None:
        cells = summary(rows.table, cell_deg=step, bbox=bbox, where=rows.where, sum_field=area)
    elif cells is None and rows is not None:  # a backend without grid_summary: the same rows, binned here
        frame = store.read(rows.table, bbox=bbox, where=rows.where, columns=[area] if area else [])
        cells = _bin(frame, step, area)
    elif cells is None:  # generalised points or opaque ids: what the role sees is known only after redaction
        frame = read_redacted(store, layer, access, bbox=bbox, where=where, columns=[area] if area else [])
        cells = _bin(frame, step, area)
    return _make(layer, step, cells, area)
