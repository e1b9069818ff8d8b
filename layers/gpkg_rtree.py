"""The GeoPackage R-tree spatial index (extension ``gpkg_rtree_index``): its triggers, and bulk upkeep.

Every feature table has a virtual table ``rtree_<table>_geom`` (SQLite's R*-tree module) holding
each feature's bounding box, kept in step by the GeoPackage 1.3 triggers (:func:`trigger_sql`).
They call the ``ST_*`` functions registered here, in Python, once per row; for a large batch those
calls cost more than the write itself.

:func:`bulk_upkeep` sets a table's triggers aside for the length of one write inside the caller's
transaction (as the spec suggests for many updates), finds the features the write touched (new
rows by their fid, which ``AUTOINCREMENT`` puts above every earlier one; changed geometries, fids
and deleted rows through temporary triggers that exist on this connection only), reads their
envelopes from the blob headers in one vectorised pass, writes their index entries through the
R-tree's own SQL interface, and re-creates the triggers from their own SQL before the transaction
ends. Other writers (QGIS, GDAL) find the same triggers afterwards, and a rollback restores
triggers and index together with the rows. SQLite alone writes the R-tree's internal tables.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray

from layers import gpkg_blob

logger = logging.getLogger(__name__)

FID = "fid"
GEOMETRY = "geom"
_TOUCHED = "ecowatch_rtree_touched"
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


EXTENSION_DEFINITION = "http://www.geopackage.org/spec130/#extension_rtree"
"""The ``gpkg_extensions`` definition of the R-tree extension, of the spec version the store declares."""

TRIGGER_SUFFIXES = ("insert", "update1", "update2", "update3", "update4", "delete")
"""The R-tree triggers of GeoPackage 1.3 (clause F.3), which GDAL's validator requires."""


def trigger_sql(table: str) -> dict[str, str]:
    """The GeoPackage 1.3 R-tree triggers of ``table``, by name, as the spec words them.

    ``insert`` indexes a new non-empty geometry; ``update1``/``update2`` follow a geometry that
    changes (to non-empty / to NULL or empty) under the same fid; ``update3``/``update4`` follow a
    row whose fid changes; ``delete`` drops a deleted row's entry.
    """
    r = index_name(table)
    q, t = _quote(r), _quote(table)
    new_box = f"NEW.{FID}, ST_MinX(NEW.{GEOMETRY}), ST_MaxX(NEW.{GEOMETRY}), ST_MinY(NEW.{GEOMETRY}), ST_MaxY(NEW.{GEOMETRY})"
    present = f"(NEW.{GEOMETRY} NOTNULL AND NOT ST_IsEmpty(NEW.{GEOMETRY}))"
    absent = f"(NEW.{GEOMETRY} ISNULL OR ST_IsEmpty(NEW.{GEOMETRY}))"
    body = {
        "insert": (f"AFTER INSERT ON {t} WHEN (NEW.{GEOMETRY} NOT NULL AND NOT ST_IsEmpty(NEW.{GEOMETRY}))",
                   f"INSERT OR REPLACE INTO {q} VALUES ({new_box});"),
        "update1": (f"AFTER UPDATE OF {GEOMETRY} ON {t} WHEN OLD.{FID} = NEW.{FID} AND {present}",
                    f"INSERT OR REPLACE INTO {q} VALUES ({new_box});"),
        "update2": (f"AFTER UPDATE OF {GEOMETRY} ON {t} WHEN OLD.{FID} = NEW.{FID} AND {absent}",
                    f"DELETE FROM {q} WHERE id = OLD.{FID};"),
        "update3": (f"AFTER UPDATE ON {t} WHEN OLD.{FID} != NEW.{FID} AND {present}",
                    f"DELETE FROM {q} WHERE id = OLD.{FID}; INSERT OR REPLACE INTO {q} VALUES ({new_box});"),
        "update4": (f"AFTER UPDATE ON {t} WHEN OLD.{FID} != NEW.{FID} AND {absent}",
                    f"DELETE FROM {q} WHERE id IN (OLD.{FID}, NEW.{FID});"),
        "delete": (f"AFTER DELETE ON {t} WHEN OLD.{GEOMETRY} NOT NULL", f"DELETE FROM {q} WHERE id = OLD.{FID};"),
    }
    return {f"{r}_{k}": f"CREATE TRIGGER {_quote(f'{r}_{k}')} {when} BEGIN {action} END" for k, (when, action) in body.items()}


def create(conn: sqlite3.Connection, table: str) -> None:
    """The R-tree of ``table``, its ``gpkg_extensions`` row and the GeoPackage 1.3 triggers."""
    conn.execute(f"CREATE VIRTUAL TABLE {_quote(index_name(table))} USING rtree(id, minx, maxx, miny, maxy)")
    conn.execute(
        "INSERT INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', ?, 'write-only')", (table, GEOMETRY, EXTENSION_DEFINITION)
    )
    for sql in trigger_sql(table).values():
        conn.execute(sql)


def triggers(conn: sqlite3.Connection, table: str) -> dict[str, str]:
    """The R-tree triggers ``table`` has now (any spec version's), by name."""
    prefix = index_name(table) + "_"
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,))
    return {name: sql for name, sql in rows if name.startswith(prefix)}


def replace_triggers(conn: sqlite3.Connection, table: str) -> None:
    """Replace ``table``'s R-tree triggers (an older set) with the GeoPackage 1.3 set, and its extension row."""
    for name in triggers(conn, table):
        conn.execute(f"DROP TRIGGER main.{_quote(name)}")
    for sql in trigger_sql(table).values():
        conn.execute(sql)
    conn.execute(
        "UPDATE gpkg_extensions SET definition = ? WHERE table_name = ? AND extension_name = 'gpkg_rtree_index'", (EXTENSION_DEFINITION, table)
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
    kept = triggers(conn, table)
    for name in kept:
        conn.execute(f"DROP TRIGGER main.{_quote(name)}")
    last = _last_fid(conn, table)
    _watch(conn, table, inserts=last is None)
    yield
    _refresh(conn, table, _NO_FID if last is None else last)
    _unwatch(conn)
    for sql in kept.values():
        conn.execute(sql)


_NO_FID = 2**63 - 1


def _last_fid(conn: sqlite3.Connection, table: str) -> int | None:
    """The fid above which every row inserted from now on lands, or None when SQLite may reuse fids.

    With ``AUTOINCREMENT`` (as the store and GDAL create feature tables) a new fid is larger than
    both the table's ``sqlite_sequence`` entry and its largest fid at the time of the insert; the
    largest fid now is no bound (an update may lower it before the insert), the sequence is.
    Without ``AUTOINCREMENT``, a deleted fid can come back.
    """
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
    if "AUTOINCREMENT" not in sql.upper():
        return None
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    return 0 if row is None else int(row[0])


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
    # every noted fid counts, those above ``last`` too: a row whose fid an earlier update raised
    # above the sequence, deleted now, is found by no SELECT above but its entry must go
    noted = int(conn.execute(f"SELECT count(*) FROM temp.{_TOUCHED}").fetchone()[0])
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
    r = _quote(index_name(table))
    conn.execute(f"DELETE FROM main.{r} WHERE id IN (SELECT fid FROM temp.{_TOUCHED})")
    # rows above ``last`` that were there before (a fid raised by an update) already have an entry
    conn.executemany(f"INSERT OR REPLACE INTO main.{r} VALUES (?, ?, ?, ?, ?)", zip(fids.tolist(), *bounds.T.tolist(), strict=True))


def outward_float32(bounds: NDArray[np.float64]) -> NDArray[np.float32]:
    """Bounds ``(n, 4)`` as (minx, maxx, miny, maxy) in float32, mins rounded down and maxes up as SQLite's R-tree does."""
    out = bounds.astype(np.float32)
    for col, down in ((0, True), (1, False), (2, True), (3, False)):
        d, f = bounds[:, col], out[:, col]
        fix = f > d if down else f < d
        away = (d[fix] < 0) == down  # rounding down a negative value, or up a positive one, moves away from zero
        f[fix] = (d[fix] * np.where(away, _ROUND_AWAY, _ROUND_TOWARDS)).astype(np.float32)
    return out
