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

API::

    agg = grid_aggregate(store, get_layer("clearings"), access, bbox=(w, s, e, n), where=...)
    agg.total            # == count_redacted(store, layer, access, bbox=bbox, where=where)
    agg.features()       # GeoJSON Features: one cell polygon each, id "column,row", properties count, area_ha
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from layers.catalog import Layer
from layers.errors import LayerError
from layers.redaction import (
    Access,
    Role,
    StoredRows,
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
        for i in range(len(self.count)):
            ix, iy = int(self.ix[i]), int(self.iy[i])
            x0, y0 = round(ix * step, decimals), round(iy * step, decimals)
            x1, y1 = round((ix + 1) * step, decimals), round((iy + 1) * step, decimals)
            props: dict[str, Any] = {"count": int(self.count[i])}
            if self.area_ha is not None:
                props["area_ha"] = round(float(self.area_ha[i]), 1)
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


BASE_CELL_DEG = 0.05
"""The grid of the whole-layer summaries kept in memory; every step from it up divides by it."""
WHOLE_LAYER_CACHE = 16


@dataclass(frozen=True)
class _WholeLayer:
    """Counts and sums of every row of a layer (with filters) on the :data:`BASE_CELL_DEG` grid,
    and the extent of the rows' bounding boxes."""

    extent: tuple[float, float, float, float]
    ix: NDArray[np.int64]
    iy: NDArray[np.int64]
    count: NDArray[np.int64]
    sums: NDArray[np.float64]

    def inside(self, bbox: BBox) -> bool:
        """Whether ``bbox`` meets every row's bounding box (then it counts them all)."""
        w, s, e, n = self.extent
        return bool(len(self.count)) and bbox[0] <= w and bbox[1] <= s and bbox[2] >= e and bbox[3] >= n

    def regrid(self, step: float) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        k = round(step / BASE_CELL_DEG)
        keys, inverse = np.unique(np.stack([self.ix // k, self.iy // k], axis=1), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        return (keys[:, 0], keys[:, 1], np.bincount(inverse, weights=self.count, minlength=len(keys)).astype(np.int64),
                np.bincount(inverse, weights=self.sums, minlength=len(keys)).astype(np.float64))


class _WholeLayers:
    """Whole-layer summaries per store state (the GeoPackage file and its WAL: any write makes a
    new one), filters and area field, least recently used dropped beyond :data:`WHOLE_LAYER_CACHE`.

    A region-wide view reads every row; with this it does so once per store state and filter.
    """

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[object, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _state(store: Store) -> tuple[object, ...] | None:
        path = getattr(store, "path", None)
        if not isinstance(path, Path):
            return None
        parts: list[object] = [str(path)]
        for p in (path, path.with_name(path.name + "-wal")):
            try:
                st = p.stat()
            except FileNotFoundError:
                parts.append(None)
                continue
            parts.append((st.st_mtime_ns, st.st_size))
        return tuple(parts)

    def _cached(self, key: tuple[object, ...]) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def _keep(self, key: tuple[object, ...], value: Any) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > WHOLE_LAYER_CACHE:
                self._items.popitem(last=False)

    def get(self, store: Store, rows: StoredRows, area: str | None, bbox: BBox) -> _WholeLayer | None:
        """The whole-layer summary when ``bbox`` holds every row of the table (else ``None``:
        nothing is computed)."""
        state = self._state(store)
        if state is None:
            return None
        # the extent of every row (an upper bound of any filtered subset's), from the R-tree alone
        extent_key = (state, rows.table, "extent")
        extent = self._cached(extent_key)
        if extent is None:
            extent = summary_extent(store, StoredRows(rows.table, None))
            self._keep(extent_key, extent)
        w, s, e, n = extent
        if not (bbox[0] <= w and bbox[1] <= s and bbox[2] >= e and bbox[3] >= n):
            return None
        key = (state, rows.table, repr(sorted((rows.where or {}).items())), area)
        found = self._cached(key)
        if found is not None:
            return found
        summary = store.grid_summary  # type: ignore[attr-defined]
        ix, iy, count, sums = summary(rows.table, cell_deg=BASE_CELL_DEG, bbox=None, where=rows.where, sum_field=area)
        whole = _WholeLayer(extent, ix, iy, count, sums)
        self._keep(key, whole)
        return whole


def summary_extent(store: Store, rows: StoredRows) -> tuple[float, float, float, float]:
    """The extent (W, S, E, N) of the bounding boxes of the rows ``rows`` names."""
    extent = getattr(store, "extent", None)
    if extent is None:
        raise LayerError("this store cannot tell a layer's extent")
    result: tuple[float, float, float, float] = extent(rows.table, where=rows.where)
    return result


_WHOLE_LAYERS = _WholeLayers()


def whole_layer_total(store: Store, layer: Layer, who: Access | Role, *, bbox: BBox, where: Mapping[str, Any] | None = None) -> int | None:
    """How many rows ``who`` sees of ``layer`` matching ``where`` when ``bbox`` holds the whole
    layer (from the cached whole-layer summary, without reading rows); ``None`` otherwise, or
    when the store keeps no such summary (then ask :func:`~layers.redaction.count_redacted`)."""
    if not layer.geometry_type or getattr(store, "grid_summary", None) is None:
        return None
    access = who if isinstance(who, Access) else Access(check_role(who))
    rows = stored_rows(layer, access, where)
    if rows is None:
        return None
    src = source_layer(layer, access)
    area = AREA_FIELD if AREA_FIELD in src.field_names and any(
        f.name == AREA_FIELD for f in visible_fields(src, src.field_names, access.role)
    ) else None
    whole = _WHOLE_LAYERS.get(store, rows, area, bbox)
    return None if whole is None else int(whole.count.sum())


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
    src = source_layer(layer, access)
    area = AREA_FIELD if AREA_FIELD in src.field_names and any(
        f.name == AREA_FIELD for f in visible_fields(src, src.field_names, access.role)
    ) else None
    rows = stored_rows(layer, access, where)
    summary = getattr(store, "grid_summary", None)
    whole = _WHOLE_LAYERS.get(store, rows, area, bbox) if rows is not None and summary is not None and step >= BASE_CELL_DEG else None
    if whole is not None:
        # the view holds every feature of the layer (the region): regrid the layer's cached summary
        ix, iy, count, sums = whole.regrid(step)
    elif rows is not None and summary is not None:
        ix, iy, count, sums = summary(rows.table, cell_deg=step, bbox=bbox, where=rows.where, sum_field=area)
    elif rows is not None:  # a backend without grid_summary: the same rows, binned here
        frame = store.read(rows.table, bbox=bbox, where=rows.where, columns=[area] if area else [])
        ix, iy, count, sums = _bin(frame, step, area)
    else:  # generalised points or opaque ids: what the role sees is known only after redaction
        frame = read_redacted(store, layer, access, bbox=bbox, where=where, columns=[area] if area else [])
        ix, iy, count, sums = _bin(frame, step, area)
    order = np.lexsort((ix, iy))
    return GridAggregate(
        layer=layer.name, cell_deg=step, ix=ix[order], iy=iy[order], count=count[order],
        area_ha=sums[order] if area else None,
    )
