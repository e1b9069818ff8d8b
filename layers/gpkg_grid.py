"""Counts and sums per grid cell, computed inside the GeoPackage (the store's side of :mod:`layers.aggregates`).

A feature falls in the cell holding the centre of its bounding box, read from the layer's
R-tree (float32 bounds rounded outwards, so a centre may move by a few centimetres; a feature
is never counted twice and never left out). Cells are ``cell_deg`` squares of a grid anchored
at (0, 0) in lon/lat: column ``floor(x / cell_deg)``, row ``floor(y / cell_deg)``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from layers import gpkg_rtree
from layers.errors import LayerError

if TYPE_CHECKING:
    from layers.gpkg import GeoPackageStore
    from layers.store import BBox

logger = logging.getLogger(__name__)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _floor(expr: str) -> str:
    """SQL of ``floor(expr)`` as an integer (SQLite's CAST truncates toward zero)."""
    return f"(CAST({expr} AS INTEGER) - (({expr}) < CAST({expr} AS INTEGER)))"


def grid_summary(
    store: GeoPackageStore,
    layer: str,
    *,
    cell_deg: float,
    bbox: BBox | None = None,
    where: Mapping[str, Any] | None = None,
    sum_field: str | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """(column, row, count, sum of ``sum_field``) of each non-empty cell, for the rows of ``layer``
    matching ``where`` whose bounding box meets ``bbox`` (the rows :meth:`store.count` counts).

    Raises
    ------
    LayerError
        When the layer has no geometry, or ``cell_deg`` is not positive.
    """
    lyr = store.layer(layer)
    if not lyr.geometry_type:
        raise LayerError(f"layer {layer!r} has no geometry to aggregate")
    if not cell_deg > 0:
        raise LayerError(f"grid cell size must be positive, got {cell_deg!r}")
    clause, params = store.where_sql(lyr, where, bbox)
    total = f"sum({_quote(store.field(lyr, sum_field).name)})" if sum_field else "0.0"
    cx = f"((r.minx + r.maxx) / 2.0 / {float(cell_deg)!r})"
    cy = f"((r.miny + r.maxy) / 2.0 / {float(cell_deg)!r})"
    sql = (
        f"SELECT {_floor(cx)} AS ix, {_floor(cy)} AS iy, count(*), {total} "
        f"FROM {_quote(lyr.name)} JOIN {_quote(gpkg_rtree.index_name(lyr.name))} AS r ON r.id = {_quote(lyr.name)}.fid"
        f"{clause} GROUP BY ix, iy"
    )
    rows = store.query(sql, params, what=f"aggregating layer {lyr.name!r}")
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy(), np.zeros(0)
    ix, iy, count, sums = zip(*rows, strict=True)
    return (
        np.asarray(ix, dtype=np.int64), np.asarray(iy, dtype=np.int64), np.asarray(count, dtype=np.int64),
        np.asarray([0.0 if v is None else v for v in sums], dtype=np.float64),
    )
