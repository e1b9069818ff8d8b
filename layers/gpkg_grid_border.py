"""The GeoPackage's side of :mod:`layers.grid_pyramid`: every feature's R-tree centre, and the border of a view.

:func:`rtree_centres` reads the centres of every entry of a layer's R-tree (the bounds the
R-tree holds: float32, rounded outwards, exactly what :mod:`layers.gpkg_grid` divides) from the
R-tree's node table in one pass — a SQL scan of the virtual table costs seconds at a million rows.
The node format is SQLite's file format (``ext/rtree/rtree.c``: a 4-byte header whose last two
bytes count the cells, then per cell a big-endian 64-bit id and four big-endian float32s); the
read is checked against the R-tree's own row count and falls back to the SQL scan when they differ.

:func:`border` counts, with SQL over the R-tree, what a pyramid's whole cells cannot: the rows
meeting a view whose cell lies outside the view's whole cells (the *plus* side, found in thin
strips along the view's edges), and the rows in those whole cells that do not meet the view
(the *minus* side: a centre within rounding of an edge; nearly always none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from layers import gpkg_rtree
from layers.gpkg_grid import cell_select, to_arrays

if TYPE_CHECKING:
    from layers.gpkg import GeoPackageStore
    from layers.store import BBox

EDGE_DEG = 1e-6
"""Width of the strips and bands along a view's edges beyond exact arithmetic: far more than a
centre's rounding (about 1e-13 degrees), far less than any cell."""

_CELL = np.dtype([("id", ">i8"), ("box", ">f4", (4,))])
Cells = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rtree_centres(store: GeoPackageStore, layer: str) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """(feature id, centre x, centre y) of every entry of ``layer``'s R-tree, ids ascending.

    The centre is ``(min + max) / 2.0`` of the float32 bounds as doubles, as SQL computes it.
    """
    rtree = gpkg_rtree.index_name(layer)
    what = f"reading the spatial index of layer {layer!r}"
    interior = {int(r[0]) for r in store.query(f"SELECT DISTINCT parentnode FROM {_quote(rtree + '_parent')}", [], what=what)}
    nodes = store.query(f"SELECT nodeno, data FROM {_quote(rtree + '_node')}", [], what=what)
    parts = []
    for nodeno, data in nodes:
        if int(nodeno) in interior:
            continue
        n = int.from_bytes(data[2:4], "big")
        parts.append(np.frombuffer(data, dtype=_CELL, count=n, offset=4))
    cells = np.concatenate(parts) if parts else np.zeros(0, dtype=_CELL)
    expected = int(store.query(f"SELECT count(*) FROM {_quote(rtree + '_rowid')}", [], what=what)[0][0])
    if len(cells) != expected:  # not the format this reads: SQLite's own interface (slower)
        rows = store.query(f"SELECT id, minx, maxx, miny, maxy FROM {_quote(rtree)}", [], what=what)
        cells = np.zeros(len(rows), dtype=_CELL)
        if rows:
            arr = np.asarray(rows, dtype=np.float64)
            cells["id"], cells["box"] = arr[:, 0].astype(np.int64), arr[:, 1:]
    order = np.argsort(cells["id"], kind="stable")
    ids = cells["id"][order].astype(np.int64)
    box = cells["box"][order].astype(np.float64)  # minx, maxx, miny, maxy
    return ids, (box[:, 0] + box[:, 1]) / 2.0, (box[:, 2] + box[:, 3]) / 2.0


def _meets(box: BBox) -> tuple[str, list[float]]:
    w, s, e, n = box
    return "(r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?)", [e, w, n, s]


def _cells_of(store: GeoPackageStore, layer: str, step: float, parts: list[list[tuple[str, list[Any]]]],
              where: Mapping[str, Any] | None, sum_field: str | None) -> Cells:
    """Cells of the rows of several disjoint sets (each the conjunction of its conditions), in one statement."""
    lyr = store.layer(layer)
    queries, all_params = [], []
    for conditions in parts:
        clause, params = store.where_sql(lyr, where, None)
        for sql, values in conditions:
            clause += (" AND " if clause else " WHERE ") + sql
            params += values
        query, query_params = cell_select(store, lyr, cell_deg=step, clause=clause, params=params, where=where, sum_field=sum_field)
        queries.append(query)
        all_params += query_params
    rows = store.query(" UNION ALL ".join(queries), all_params, what=f"aggregating the border of a view of layer {lyr.name!r}")
    return _merge([to_arrays(rows)])


def border(store: GeoPackageStore, layer: str, *, cell_deg: float, bbox: BBox, whole: tuple[int, int, int, int],
           where: Mapping[str, Any] | None = None, sum_field: str | None = None) -> tuple[Cells, Cells]:
    """(plus, minus) cells of the rows of ``layer`` matching ``where`` around the whole cells
    ``whole`` (first and last column, first and last row, all inside ``bbox``): plus, the rows
    whose bounding box meets ``bbox`` and whose cell is not one of them; minus, the rows whose cell
    is one of them and whose bounding box does not meet ``bbox``.
    """
    w, s, e, n = (float(v) for v in bbox)
    c0, c1, r0, r1 = whole
    step = float(cell_deg)
    floor_x = "(CAST(((r.minx + r.maxx) / 2.0 / ?) AS INTEGER) - (((r.minx + r.maxx) / 2.0 / ?) < CAST(((r.minx + r.maxx) / 2.0 / ?) AS INTEGER)))"
    floor_y = floor_x.replace("minx", "miny").replace("maxx", "maxy")
    in_whole = (f"({floor_x} BETWEEN ? AND ? AND {floor_y} BETWEEN ? AND ?)", [step] * 3 + [c0, c1] + [step] * 3 + [r0, r1])
    # plus: the rows meeting the view with a cell outside the whole cells meet one of these strips
    x0, x1, y0, y1 = c0 * step + EDGE_DEG, (c1 + 1) * step - EDGE_DEG, r0 * step + EDGE_DEG, (r1 + 1) * step - EDGE_DEG
    strips = [(w, s, min(x0, e), n), (max(x1, w), s, e, n), (w, s, e, min(y0, n)), (w, max(y1, s), e, n)]
    # minus: a row of a whole cell that misses the view lies within EDGE_DEG outside one of its edges
    bands = [
        ("(r.maxx < ? AND r.maxx >= ?)", [w, w - EDGE_DEG]), ("(r.minx > ? AND r.minx <= ?)", [e, e + EDGE_DEG]),
        ("(r.maxy < ? AND r.maxy >= ?)", [s, s - EDGE_DEG]), ("(r.miny > ? AND r.miny <= ?)", [n, n + EDGE_DEG]),
    ]
    plus = _cells_of(store, layer, step, [
        [_meets(strip), ("NOT " + in_whole[0], in_whole[1])] + [("NOT " + sql, values) for sql, values in (_meets(o) for o in strips[:k])]
        for k, strip in enumerate(strips)
    ], where, sum_field)
    minus_parts = [[band, in_whole] + [("NOT " + sql, values) for sql, values in bands[:k]] for k, band in enumerate(bands)]
    # nearly always none: asked of the R-tree alone first
    rtree = _quote(gpkg_rtree.index_name(layer))
    probe = " + ".join(f"(SELECT count(*) FROM {rtree} AS r WHERE {band[0]})" for band in bands)
    probe_params = [v for band in bands for v in band[1]]
    if not int(store.query(f"SELECT {probe}", probe_params, what=f"the border of a view of layer {layer!r}")[0][0]):
        empty = np.zeros(0, dtype=np.int64)
        return plus, (empty, empty.copy(), empty.copy(), np.zeros(0))
    return plus, _cells_of(store, layer, step, minus_parts, where, sum_field)


def _merge(parts: list[Cells]) -> Cells:
    """Cells of several disjoint sets of rows, added up per cell."""
    ix, iy, count, sums = (np.concatenate([p[i] for p in parts]) for i in range(4))
    if len(ix) == 0:
        return ix.astype(np.int64), iy.astype(np.int64), count.astype(np.int64), sums.astype(np.float64)
    keys, inverse = np.unique(np.stack([ix, iy], axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    return (keys[:, 0].astype(np.int64), keys[:, 1].astype(np.int64),
            np.bincount(inverse, weights=count, minlength=len(keys)).astype(np.int64),
            np.bincount(inverse, weights=sums, minlength=len(keys)).astype(np.float64))


def stored_columns(store: GeoPackageStore, layer: str, names: list[str]) -> tuple[NDArray[np.int64], list[list[Any]]]:
    """(fid, the values of each of ``names`` as stored) of every row of ``layer``, in fid order."""
    lyr = store.layer(layer)
    cols = ", ".join(_quote(store.field(lyr, n).name) for n in names)
    rows = store.query(f"SELECT fid, {cols} FROM {_quote(lyr.name)} ORDER BY fid", [], what=f"reading the filter fields of layer {lyr.name!r}")
    fids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return fids, [[r[i] for r in rows] for i in range(1, len(names) + 1)]
