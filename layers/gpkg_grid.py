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
    from layers.catalog import Layer
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
    clause, params = store.where_sql(lyr, where, None)
    if bbox is not None:  # on the R-tree itself (it drives the scan), not as a sub-query of ids
        w, s, e, n = (float(v) for v in bbox)
        clause += (" AND " if clause else " WHERE ") + "r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?"
        params += [e, w, n, s]
    sql, params = cell_select(store, lyr, cell_deg=cell_deg, clause=clause, params=params, where=where, sum_field=sum_field)
    return to_arrays(store.query(sql, params, what=f"aggregating layer {lyr.name!r}"))


def cell_select(store: GeoPackageStore, lyr: Layer, *, cell_deg: float, clause: str, params: list[Any],
                where: Mapping[str, Any] | None, sum_field: str | None) -> tuple[str, list[Any]]:
    """The query of (column, row, count, sum) per cell of the rows ``clause`` chooses (``r`` is the R-tree).

    The cell size is a bound parameter, so that SQLite divides by the very double that
    :mod:`layers.grid_pyramid` divides by (a literal would go through SQLite's own decimal
    parser): both place every feature in the same cell.
    """
    total = f"sum({_quote(store.field(lyr, sum_field).name)})" if sum_field else "0.0"
    step = float(cell_deg)
    cx = "((r.minx + r.maxx) / 2.0 / ?)"
    cy = "((r.miny + r.maxy) / 2.0 / ?)"
    table = _quote(lyr.name)
    # without conditions or a sum, the R-tree alone holds everything counted; with them, the
    # R-tree drives the scan (CROSS JOIN keeps SQLite from walking a filter's index instead: a
    # status filter would read every row of that status, seconds at a million)
    source = (f"{_quote(gpkg_rtree.index_name(lyr.name))} AS r" if not where and not sum_field else
              f"{_quote(gpkg_rtree.index_name(lyr.name))} AS r CROSS JOIN {table} ON {table}.fid = r.id")
    sql = f"SELECT {_floor(cx)} AS ix, {_floor(cy)} AS iy, count(*), {total} FROM {source}{clause} GROUP BY ix, iy"
    # each "?" of the floors stands for the step (a floor names its expression three times)
    return sql, [step] * 6 + list(params)


def to_arrays(rows: list[tuple[Any, ...]]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """(column, row, count, sum) arrays of the rows of :func:`cell_select`."""
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy(), np.zeros(0)
    ix, iy, count, sums = zip(*rows, strict=True)
    return (
        np.asarray(ix, dtype=np.int64), np.asarray(iy, dtype=np.int64), np.asarray(count, dtype=np.int64),
        np.asarray([0.0 if v is None else v for v in sums], dtype=np.float64),
    )


def extent(store: GeoPackageStore, layer: str, *, where: Mapping[str, Any] | None = None) -> tuple[float, float, float, float]:
    """(W, S, E, N) of the R-tree bounds of the rows of ``layer`` matching ``where`` (NaN when none)."""
    lyr = store.layer(layer)
    clause, params = store.where_sql(lyr, where, None)
    table = _quote(lyr.name)
    source = f"{_quote(gpkg_rtree.index_name(lyr.name))} AS r" + (f" JOIN {table} ON {table}.fid = r.id" if where else "")
    row = store.query(f"SELECT min(r.minx), min(r.miny), max(r.maxx), max(r.maxy) FROM {source}{clause}", params, what=f"extent of layer {lyr.name!r}")
    w, s, e, n = (float("nan") if v is None else float(v) for v in row[0])
    return w, s, e, n
