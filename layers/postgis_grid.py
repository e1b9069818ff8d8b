"""Counts and sums per grid cell, computed inside PostgreSQL (the PostGIS store's side of :mod:`layers.aggregates`).

The same cells as :mod:`layers.gpkg_grid`: a feature falls in the cell holding the centre of its
bounding box (PostGIS's exact bounds; features without a geometry, or with an empty one, are in
no cell, as they are in no R-tree), cells are ``cell_deg`` squares anchored at (0, 0) in lon/lat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import psycopg
from numpy.typing import NDArray

from layers.catalog import Layer
from layers.errors import LayerError
from layers.gpkg_schema import quote
from layers.postgis_where import field, where_sql
from layers.schema import GEOMETRY
from layers.store import BBox


def grid_sql(lyr: Layer, *, cell_deg: float, bbox: BBox | None, where: Mapping[str, Any] | None, sum_field: str | None) -> tuple[str, list[Any]]:
    """The aggregating query and its parameters.

    Raises
    ------
    LayerError
        When the layer has no geometry, or ``cell_deg`` is not positive.
    """
    if not lyr.geometry_type:
        raise LayerError(f"layer {lyr.name!r} has no geometry to aggregate")
    if not cell_deg > 0:
        raise LayerError(f"grid cell size must be positive, got {cell_deg!r}")
    clause, params = where_sql(lyr, where, bbox)
    present = f"{GEOMETRY} IS NOT NULL AND NOT ST_IsEmpty({GEOMETRY})"
    clause = f"{clause} AND {present}" if clause else f" WHERE {present}"
    total = f"sum({quote(field(lyr, sum_field).name)})" if sum_field else "0.0"
    step = float(cell_deg)
    sql = (
        f"SELECT floor((ST_XMin({GEOMETRY}) + ST_XMax({GEOMETRY})) / 2.0 / {step!r})::bigint AS ix, "
        f"floor((ST_YMin({GEOMETRY}) + ST_YMax({GEOMETRY})) / 2.0 / {step!r})::bigint AS iy, count(*), {total} "
        f"FROM {quote(lyr.name)}{clause} GROUP BY 1, 2"
    )
    return sql, params


def to_arrays(rows: list[tuple[Any, ...]]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy(), np.zeros(0)
    ix, iy, count, sums = zip(*rows, strict=True)
    return (
        np.asarray(ix, dtype=np.int64), np.asarray(iy, dtype=np.int64), np.asarray(count, dtype=np.int64),
        np.asarray([0.0 if v is None else float(v) for v in sums], dtype=np.float64),
    )


def grid_summary(conn: psycopg.Connection[Any], lyr: Layer, **query: Any) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """(column, row, count, sum) per cell: see :func:`layers.gpkg_grid.grid_summary`."""
    sql, params = grid_sql(lyr, **query)
    return to_arrays(list(conn.execute(sql, params).fetchall()))
