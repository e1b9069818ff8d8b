"""The GeoPackage R-tree spatial index (extension ``gpkg_rtree_index``): its triggers, and bulk upkeep.

Every feature table has a virtual table ``rtree_<table>_geom`` (SQLite's R*-tree module) holding
each feature's bounding box, kept in step by the standard GeoPackage triggers. They call the
``ST_*`` functions registered here, in Python, once per row; for a large batch those calls and the
R-tree's one-at-a-time inserts cost more than the write itself.

:func:`bulk_upkeep` sets a table's triggers aside for the length of one write inside the caller's
transaction, finds the features the write touched (new rows by their fid, which ``AUTOINCREMENT``
puts above every earlier one; changed geometries and deleted rows through temporary triggers that
exist on this connection only), brings their index entries up to date in one pass, and re-creates
the triggers from their own SQL before the transaction ends. Other writers (QGIS, GDAL) find the
same triggers afterwards, and a rollback restores triggers and index together with the rows.

When a write changes a large share of the index (:data:`REBUILD_RATIO`: a first load, a whole-layer
replace), the index is rebuilt packed: entries grouped tile by tile (Sort-Tile-Recursive) and
written straight into the R-tree's ``_node``, ``_parent`` and ``_rowid`` tables in SQLite's own
format, the way GDAL bulk-loads a GeoPackage index. Otherwise entries are deleted and inserted
through the virtual table.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray

from layers import gpkg_blob

logger = logging.getLogger(__name__)

FID = "fid"
GEOMETRY = "geom"
REBUILD_RATIO = 10.0
"""Rebuild the index packed when it holds at most this many entries per entry the write changes.

Measured on 200 000 points: editing 10 000 entries through the virtual table costs about as much
as rebuilding the whole index; 50 000 cost twice as much.
"""

_TOUCHED = "ecowatch_rtree_touched"
# one R-tree cell: the rowid, then minx, maxx, miny, maxy, all big-endian (ext/rtree/rtree.c)
_CELL = np.dtype([("id", ">i8"), ("box", ">f4", (4,))])
# the R-tree stores float32, rounded outwards: rtreeValueDown / rtreeValueUp in ext/rtree/rtree.c
_ROUND_TOWARDS = 1.0 - 1.0 / 8388608.0
_ROUND_AWAY = 1.0 + 1.0 / 8388608.0


def index_name(table: str) -> str:
    """Name of the R-tree of ``table``'s geometry column."""
    return f"rtree_{table}_{GEOMETRY}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def register_functions(conn: sqlite3.Connection) -> None:
    """The ``ST_*`` SQL functions that the GeoPackage R-tree triggers call."""
    conn.create_function("ST_IsEmpty", 1, lambda b: int(gpkg_blob.is_empty(b)), deterministic=True)
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        conn.create_function(name, 1, lambda b, i=i: None if b is None else gpkg_blob.envelope(b)[i], deterministic=True)


def create(conn: sqlite3.Connection, table: str) -> None:
    """The R-tree of ``table``, its ``gpkg_extensions`` row and the standard triggers."""
    r = index_name(table)
    t = _quote(table)
    conn.execute(f"CREATE VIRTUAL TABLE {_quote(r)} USING rtree(id, minx, maxx, miny, maxy)")
    conn.execute(
        "INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
        (table,),
    )
    vals = "NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom)"
    conn.execute(
        f"CREATE TRIGGER {_quote(r + '_insert')} AFTER INSERT ON {t} WHEN (NEW.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom)) "
        f"BEGIN INSERT OR REPLACE INTO {_quote(r)} VALUES ({vals}); END"
    )
    conn.execute(
        f"CREATE TRIGGER {_quote(r + '_update6')} AFTER UPDATE OF geom ON {t} WHEN OLD.fid = NEW.fid AND "
        f"(NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) BEGIN DELETE FROM {_quote(r)} WHERE id = OLD.fid; "
        f"INSERT INTO {_quote(r)} VALUES ({vals}); END"
    )
    conn.execute(
        f"CREATE TRIGGER {_quote(r + '_update2')} AFTER UPDATE OF geom ON {t} WHEN OLD.fid = NEW.fid AND "
        f"(NEW.geom ISNULL OR ST_IsEmpty(NEW.geom)) BEGIN DELETE FROM {_quote(r)} WHERE id = OLD.fid; END"
    )
    conn.execute(
        f"CREATE TRIGGER {_quote(r + '_delete')} AFTER DELETE ON {t} WHEN OLD.geom NOT NULL "
        f"BEGIN DELETE FROM {_quote(r)} WHERE id = OLD.fid; END"
    )


@contextmanager
def bulk_upkeep(conn: sqlite3.Connection, table: str) -> Iterator[None]:
    """Set ``table``'s R-tree triggers aside for the writes inside; bring its index up to date after them.

    Use only inside a transaction or savepoint: when the writes fail nothing is restored here, the
    caller's rollback restores the triggers and the index together with the rows. Rows inserted
    inside must leave their fid to SQLite. A table without an R-tree is written as it is.

    Raises
    ------
    ValueError
        A written feature's header holds a bounding box with min > max, which the R-tree refuses.
    sqlite3.Error
        From SQLite, as the triggers would have raised it.
    """
    rtree = index_name(table)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (rtree,)).fetchone() is None:
        yield
        return
    triggers = [
        (name, sql)
        for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,))
        if name.startswith(rtree + "_")
    ]
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER main.{_quote(name)}")
    last = _last_fid(conn, table)
    _watch(conn, table, inserts=last is None)
    yield
    _refresh(conn, table, _NO_FID if last is None else last)
    _unwatch(conn)
    for _, sql in triggers:
        conn.execute(sql)


_NO_FID = 2**63 - 1


def _last_fid(conn: sqlite3.Connection, table: str) -> int | None:
    """The fid above which every row inserted from now on lands, or None when SQLite may reuse fids.

    With ``AUTOINCREMENT`` (as the store and GDAL create feature tables) a new fid is larger than
    any the table has ever had; without it, a deleted fid can come back.
    """
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
    if "AUTOINCREMENT" not in sql.upper():
        return None
    row = conn.execute(f"SELECT max({FID}) FROM main.{_quote(table)}").fetchone()
    return -1 if row[0] is None else int(row[0])


def _watch(conn: sqlite3.Connection, table: str, *, inserts: bool) -> None:
    """Temporary triggers (this connection only) noting the fid of each row whose index entry may change.

    Inserts are noted only when ``inserts``: otherwise new rows are known by their fid, and a
    trigger per inserted row would cost as much again as the insert.
    """
    _unwatch(conn)
    t = f"main.{_quote(table)}"
    # a trigger's statements name tables unqualified; no OR IGNORE either (an upsert's own conflict
    # policy overrides it), so a fid may be noted twice
    note = f"INSERT INTO {_TOUCHED} (fid) VALUES"
    conn.execute(f"CREATE TEMP TABLE {_TOUCHED} (fid INTEGER)")
    if inserts:
        conn.execute(f"CREATE TEMP TRIGGER {_TOUCHED}_insert AFTER INSERT ON {t} BEGIN {note} (NEW.fid); END")
    conn.execute(
        f"CREATE TEMP TRIGGER {_TOUCHED}_update AFTER UPDATE OF {GEOMETRY}, {FID} ON {t} "
        f"WHEN OLD.{GEOMETRY} IS NOT NEW.{GEOMETRY} OR OLD.{FID} IS NOT NEW.{FID} BEGIN {note} (OLD.fid), (NEW.fid); END"
    )
    conn.execute(f"CREATE TEMP TRIGGER {_TOUCHED}_delete AFTER DELETE ON {t} BEGIN {note} (OLD.fid); END")


def _unwatch(conn: sqlite3.Connection) -> None:
    for kind in ("insert", "update", "delete"):
        conn.execute(f"DROP TRIGGER IF EXISTS temp.{_TOUCHED}_{kind}")
    conn.execute(f"DROP TABLE IF EXISTS temp.{_TOUCHED}")


def _refresh(conn: sqlite3.Connection, table: str, last: int) -> None:
    """Index entries of the noted fids and of those above ``last``, as the standard triggers would have left them."""
    t = _quote(table)
    head = f"substr(f.{GEOMETRY}, 1, {gpkg_blob.ENVELOPE_END})"
    found: list[int] = []
    heads: list[bytes | None] = []
    # rows unpacked as they come: a list of them all would keep the garbage collector busy
    for fid, blob_head in conn.execute(
        f"SELECT f.{FID}, {head} FROM main.{t} AS f WHERE f.{FID} > ? UNION ALL "
        f"SELECT f.{FID}, {head} FROM (SELECT DISTINCT fid FROM temp.{_TOUCHED} WHERE fid <= ?) AS k JOIN main.{t} AS f ON f.{FID} = k.fid",
        (last, last),
    ):
        found.append(fid)
        heads.append(blob_head)
    noted = int(conn.execute(f"SELECT count(DISTINCT fid) FROM temp.{_TOUCHED} WHERE fid <= ?", (last,)).fetchone()[0])
    fids = np.array(found, dtype=np.int64)
    changes = noted + int((fids > last).sum())  # entries that may go or come
    if not changes:
        return
    bounds, indexed = gpkg_blob.envelopes(heads)
    # a header without an envelope (another writer's blob, e.g. a point): read the geometry itself
    for i in np.flatnonzero(indexed & np.isnan(bounds).any(axis=1)):
        blob = conn.execute(f"SELECT {GEOMETRY} FROM main.{t} WHERE {FID} = ?", (int(fids[i]),)).fetchone()[0]
        bounds[i] = gpkg_blob.envelope(blob)
    # a NaN bound never matches a bbox query: such a feature is left out, as an empty one is
    keep = indexed & ~np.isnan(bounds).any(axis=1)
    fids, bounds = fids[keep], bounds[keep]
    inverted = (bounds[:, 0] > bounds[:, 1]) | (bounds[:, 2] > bounds[:, 3])
    if inverted.any():
        j = int(np.flatnonzero(inverted)[0])
        raise ValueError(f"feature fid {fids[j]} of {table!r} has a bounding box with min > max {tuple(bounds[j])}; the R-tree refuses it")
    rtree = index_name(table)
    held = int(conn.execute(f"SELECT count(*) FROM main.{_quote(rtree + '_rowid')}").fetchone()[0])
    if held <= REBUILD_RATIO * changes and _rebuild(conn, rtree, last, fids, bounds):
        return
    r = _quote(rtree)
    conn.execute(f"DELETE FROM main.{r} WHERE id IN (SELECT fid FROM temp.{_TOUCHED})")
    conn.executemany(f"INSERT INTO main.{r} VALUES (?, ?, ?, ?, ?)", zip(fids.tolist(), *bounds.T.tolist(), strict=True))


def _rebuild(conn: sqlite3.Connection, rtree: str, last: int, fids: NDArray[np.int64], bounds: NDArray[np.float64]) -> bool:
    """Write the whole index packed: the entries of fids neither noted nor above ``last``, and ``fids`` with ``bounds``.

    False, with nothing written, when SQLite does not let ordinary statements write the R-tree's
    own tables (a connection in defensive mode).
    """
    kept_ids: list[int] = []
    kept_boxes: list[float] = []
    for entry in conn.execute(
        f"SELECT id, minx, maxx, miny, maxy FROM main.{_quote(rtree)} WHERE id <= ? AND id NOT IN (SELECT fid FROM temp.{_TOUCHED})", (last,)
    ):
        kept_ids.append(entry[0])
        kept_boxes.extend(entry[1:])
    ids = np.concatenate([np.array(kept_ids, dtype=np.int64), fids])
    # entries read back from the index are float32 values already; new ones are rounded outwards
    boxes = np.concatenate([np.array(kept_boxes, dtype=np.float32).reshape(-1, 4), outward_float32(bounds)])
    node_size = int(conn.execute(f"SELECT length(data) FROM main.{_quote(rtree + '_node')} WHERE nodeno = 1").fetchone()[0])
    numbers, blobs, parents, rowids = pack(ids, boxes, node_size)
    try:
        conn.execute(f"DELETE FROM main.{_quote(rtree + '_parent')}")
    except sqlite3.OperationalError as err:
        logger.debug("%s: its tables cannot be written directly (%s); updating it entry by entry", rtree, err)
        return False
    conn.execute(f"DELETE FROM main.{_quote(rtree + '_rowid')}")
    conn.execute(f"DELETE FROM main.{_quote(rtree + '_node')}")
    conn.executemany(f"INSERT INTO main.{_quote(rtree + '_node')} (nodeno, data) VALUES (?, ?)", zip(numbers.tolist(), blobs, strict=True))
    for table, columns, pairs in (("_parent", "nodeno, parentnode", parents), ("_rowid", "rowid, nodeno", rowids)):
        sql = f"INSERT INTO main.{_quote(rtree + table)} ({columns}) VALUES (?, ?)"
        conn.executemany(sql, zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), strict=True))
    logger.debug("%s: rebuilt packed with %d entries in %d nodes", rtree, len(ids), len(blobs))
    return True


def outward_float32(bounds: NDArray[np.float64]) -> NDArray[np.float32]:
    """Bounds ``(n, 4)`` as (minx, maxx, miny, maxy) in float32, mins rounded down and maxes up as SQLite's R-tree does."""
    out = bounds.astype(np.float32)
    for col, down in ((0, True), (1, False), (2, True), (3, False)):
        d, f = bounds[:, col], out[:, col]
        fix = f > d if down else f < d
        away = (d[fix] < 0) == down  # rounding down a negative value, or up a positive one, moves away from zero
        f[fix] = (d[fix] * np.where(away, _ROUND_AWAY, _ROUND_TOWARDS)).astype(np.float32)
    return out


def pack(
    ids: NDArray[np.int64], boxes: NDArray[np.float32], node_size: int
) -> tuple[NDArray[np.int64], list[bytes], NDArray[np.int64], NDArray[np.int64]]:
    """A packed R-tree in SQLite's format: the rows of its ``_node``, ``_parent`` and ``_rowid`` tables.

    ``boxes`` has shape (n, 4): minx, maxx, miny, maxy. Each level is split into nodes as even as
    possible (so none is less than about half full), grouped Sort-Tile-Recursive; the root is
    node 1 and holds the tree's depth. Returns node numbers and their blobs, (node, parent node)
    pairs of shape (m, 2), and (rowid, leaf node) pairs of shape (n, 2).
    """
    per_node = (node_size - 4) // _CELL.itemsize
    if len(ids) == 0:
        return np.array([1], dtype=np.int64), [bytes(node_size)], np.empty((0, 2), np.int64), np.empty((0, 2), np.int64)
    sizes = [max(1, math.ceil(len(ids) / per_node))]  # nodes per level, leaves first
    while sizes[-1] > 1:
        sizes.append(math.ceil(sizes[-1] / per_node))
    first = np.cumsum([1, *sizes[::-1]])[:-1][::-1]  # node number of each level's first node; the root is 1
    numbers_all: list[NDArray[np.int64]] = []
    blobs: list[bytes] = []
    pairs: list[NDArray[np.int64]] = []  # (item, node holding it), leaves first
    items, items_boxes = ids, boxes
    for level, k in enumerate(sizes):
        starts = (np.arange(k) * len(items)) // k
        order = _tile_order(items_boxes, starts)
        items, items_boxes = items[order], items_boxes[order]
        counts = np.diff(np.append(starts, len(items)))
        numbers = first[level] + np.arange(k, dtype=np.int64)
        pairs.append(np.column_stack([items, np.repeat(numbers, counts)]))
        depth = len(sizes) - 1 if level == len(sizes) - 1 else 0
        numbers_all.append(numbers)
        blobs.extend(_node_blobs(items, items_boxes, starts, counts, node_size, depth))
        parent_boxes = np.empty((k, 4), dtype=np.float32)
        for col, reduce in ((0, np.minimum), (1, np.maximum), (2, np.minimum), (3, np.maximum)):
            parent_boxes[:, col] = reduce.reduceat(items_boxes[:, col], starts)
        items, items_boxes = numbers, parent_boxes
    parents = np.concatenate(pairs[1:]) if len(pairs) > 1 else np.empty((0, 2), np.int64)
    return np.concatenate(numbers_all), blobs, parents, pairs[0]


def _tile_order(boxes: NDArray[np.float32], starts: NDArray[np.int64]) -> NDArray[np.intp]:
    """Sort-Tile-Recursive order: about √k slices of whole nodes along x, each sorted along y."""
    n, k = len(boxes), len(starts)
    cx = boxes[:, 0].astype(np.float64) + boxes[:, 1]
    cy = boxes[:, 2].astype(np.float64) + boxes[:, 3]
    by_x = np.argsort(cx, kind="stable")
    node_of = np.searchsorted(starts, np.arange(n), side="right") - 1
    slice_of = node_of // math.ceil(k / math.ceil(math.sqrt(k)))
    return by_x[np.lexsort((cy[by_x], slice_of))]


def _node_blobs(
    items: NDArray[np.int64], boxes: NDArray[np.float32], starts: NDArray[np.int64], counts: NDArray[np.int64], node_size: int, depth: int
) -> list[bytes]:
    """Node blobs: 2 bytes depth (root only), 2 bytes cell count, then the cells, zero-padded to ``node_size``."""
    k = len(starts)
    per_node = (node_size - 4) // _CELL.itemsize
    cells = np.zeros((k, per_node), dtype=_CELL)
    node = np.repeat(np.arange(k), counts)
    slot = np.arange(len(items)) - np.repeat(starts, counts)
    cells["id"][node, slot] = items
    cells["box"][node, slot] = boxes
    raw = np.zeros((k, node_size), dtype=np.uint8)
    raw[:, 0:2] = np.array([depth], dtype=">u2").view(np.uint8)
    raw[:, 2:4] = counts.astype(">u2").view(np.uint8).reshape(k, 2)
    raw[:, 4 : 4 + per_node * _CELL.itemsize] = cells.view(np.uint8).reshape(k, -1)
    return [row.tobytes() for row in raw]
