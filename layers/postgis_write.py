"""Writing rows into a PostGIS store's table: inserts and upserts by natural key, with the
GeoPackage store's counts.

An upsert is ``INSERT … ON CONFLICT (key) DO UPDATE … WHERE`` some value differs, so an identical
row is left alone (and counted unchanged); ``RETURNING (xmax = 0)`` tells an inserted row from an
updated one. Up to :data:`VALUES_ROWS` rows go as one statement with their values as
parameters; more are first copied (``COPY``) into a temporary table and inserted from it in the
frame's order, so that a million rows are one statement. A frame that holds a key twice is
written in rounds (each key's first rows, then its second ones, …), so that its later rows
update its earlier ones as they do on a GeoPackage.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely

from layers.catalog import Layer
from layers.errors import LayerError
from layers.geometry import promote_for_layer
from layers.gpkg_schema import quote
from layers.postgis_values import PG_TYPES, placeholder, to_pg_column
from layers.schema import GEOMETRY, SRS_ID
from layers.store import STORE_CRS, WriteCounts

VALUES_ROWS = 500
"""Up to this many rows, a write sends its values as statement parameters; above, it copies them."""
ANALYZE_ROWS = 10_000
"""A write inserting at least this many rows may refresh the table's statistics (:func:`_analyze_when_grown`)."""
COPY_SLICE = 5_000
"""Rows whose values are made at a time while copying."""

_stage_names = itertools.count()


def columns(lyr: Layer, frame: pd.DataFrame) -> tuple[list[str], bool]:
    """The fields ``frame`` writes, and whether it writes geometries (a plain DataFrame updates attributes only)."""
    names = [n for n in frame.columns if n in lyr.field_names]
    missing = [k for k in lyr.key if k not in names]
    if missing:
        raise LayerError(f"writing {lyr.name!r}: key field(s) {missing} missing from the records")
    with_geometry = bool(lyr.geometry_type) and isinstance(frame, gpd.GeoDataFrame)
    if with_geometry and frame.geometry.crs is None:
        raise LayerError(f"writing {lyr.name!r}: geometries have no CRS")
    return names, with_geometry


def _values(lyr: Layer, frame: pd.DataFrame, names: list[str], with_geometry: bool, offset: int) -> list[list[Any]]:
    """Column-wise parameters of ``frame``: the WKB first when ``with_geometry``, then each field."""
    cols: list[list[Any]] = []
    if with_geometry:
        geo = frame.geometry
        if not geo.crs.equals(STORE_CRS):
            geo = geo.to_crs(STORE_CRS)
        geoms = promote_for_layer(np.asarray(geo.values, dtype=object), lyr.name, str(lyr.geometry_type), offset)
        wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso")
        cols.append([None if w is None else w for w in wkb.tolist()])
    for n in names:
        cols.append(to_pg_column(lyr.field(n).type, frame[n]))
    return cols


def _rounds(lyr: Layer, frame: pd.DataFrame) -> list[pd.DataFrame]:
    """``frame`` in rounds within which no key repeats (one round when none does)."""
    keys = list(zip(*(frame[k].tolist() for k in lyr.key), strict=True))
    if len(set(keys)) == len(keys):
        return [frame]
    seen: dict[tuple[Any, ...], int] = {}
    occurrence = np.empty(len(keys), dtype=np.int64)
    for i, key in enumerate(keys):
        occurrence[i] = seen.get(key, 0)
        seen[key] = occurrence[i] + 1
    return [frame.iloc[np.flatnonzero(occurrence == k)] for k in range(int(occurrence.max()) + 1)]


def write(conn: psycopg.Connection[Any], lyr: Layer, frame: pd.DataFrame, *, upsert: bool) -> WriteCounts:
    """Insert ``frame`` into ``lyr``'s table (``upsert``: or update the rows with its keys), inside the caller's transaction."""
    if len(frame) == 0:
        return WriteCounts()
    names, with_geometry = columns(lyr, frame)
    total = WriteCounts()
    for part in (_rounds(lyr, frame) if upsert else [frame]):
        total += _write(conn, lyr, part, names, with_geometry, upsert=upsert)
    if total.inserted >= ANALYZE_ROWS:
        _analyze_when_grown(conn, lyr, total.inserted)
    return total


def _analyze_when_grown(conn: psycopg.Connection[Any], lyr: Layer, inserted: int) -> None:
    """Refresh the planner's statistics of a table that a write grew by a fifth or more (or that
    has none): a freshly loaded layer is then read through its indexes at once, not after autovacuum."""
    row = conn.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (quote(lyr.name),)).fetchone()
    known = float(row[0]) if row else -1.0
    if known < 0 or inserted >= 0.2 * known:
        conn.execute(f"ANALYZE {quote(lyr.name)}")


def _conflict_sql(lyr: Layer, cols: list[str], upsert: bool) -> str:
    if not upsert:
        return ""
    conflict = ", ".join(quote(k) for k in lyr.key)
    rest = [c for c in cols if c not in lyr.key]
    if not rest:
        return f" ON CONFLICT ({conflict}) DO NOTHING"
    sets = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in rest)
    t = quote(lyr.name)

    def seen(side: str, c: str) -> str:  # geometries compare by their exact WKB
        return f"ST_AsBinary({side}.{GEOMETRY})" if c == GEOMETRY else f"{side}.{quote(c)}"

    old = ", ".join(seen(t, c) for c in rest)
    new = ", ".join(seen("excluded", c) for c in rest)
    return f" ON CONFLICT ({conflict}) DO UPDATE SET {sets} WHERE ROW({old}) IS DISTINCT FROM ROW({new})"


def _write(conn: psycopg.Connection[Any], lyr: Layer, frame: pd.DataFrame, names: list[str], with_geometry: bool, *, upsert: bool) -> WriteCounts:
    cols = ([GEOMETRY] if with_geometry else []) + names
    target = f"INSERT INTO {quote(lyr.name)} ({', '.join(quote(c) for c in cols)}) "
    tail = _conflict_sql(lyr, cols, upsert) + " RETURNING (xmax = 0) AS inserted"
    count = "SELECT count(*) FILTER (WHERE inserted), count(*) FROM written"
    if len(frame) <= VALUES_ROWS:
        marks = [f"ST_GeomFromWKB(%s::bytea, {SRS_ID})" if c == GEOMETRY else placeholder(lyr.field(c).type) for c in cols]
        row_sql = "(" + ", ".join(marks) + ")"
        values = _values(lyr, frame, names, with_geometry, 0)
        params = [v for row in zip(*values, strict=True) for v in row]
        sql = f"WITH written AS ({target}VALUES {', '.join([row_sql] * len(frame))}{tail}) {count}"
        got = conn.execute(sql, params).fetchone()
    else:
        stage = _stage(conn, lyr, frame, names, with_geometry)
        select = ", ".join(f"ST_GeomFromWKB({GEOMETRY}, {SRS_ID})" if c == GEOMETRY else quote(c) for c in cols)
        sql = f"WITH written AS ({target}SELECT {select} FROM {stage} ORDER BY n{tail}) {count}"
        got = conn.execute(sql).fetchone()
        conn.execute(f"DROP TABLE {stage}")
    assert got is not None
    inserted, changed = int(got[0]), int(got[1])
    return WriteCounts(inserted, changed - inserted, len(frame) - changed)


def _stage(conn: psycopg.Connection[Any], lyr: Layer, frame: pd.DataFrame, names: list[str], with_geometry: bool) -> str:
    """A temporary table (dropped at commit) holding ``frame``'s values, numbered in its order."""
    stage = quote(f"ecowatch_stage_{next(_stage_names)}")
    defs = ["n bigint"] + ([f"{GEOMETRY} bytea"] if with_geometry else []) + [f"{quote(n)} {PG_TYPES[lyr.field(n).type]}" for n in names]
    conn.execute(f"CREATE TEMPORARY TABLE {stage} ({', '.join(defs)}) ON COMMIT DROP")
    cols = ["n"] + ([GEOMETRY] if with_geometry else []) + names
    with conn.cursor().copy(f"COPY {stage} ({', '.join(quote(c) for c in cols)}) FROM STDIN") as copy:
        for row in _numbered_rows(lyr, frame, names, with_geometry):
            copy.write_row(row)
    return stage


def _numbered_rows(lyr: Layer, frame: pd.DataFrame, names: list[str], with_geometry: bool) -> Iterator[tuple[Any, ...]]:
    for start in range(0, len(frame), COPY_SLICE):
        part = frame.iloc[start : start + COPY_SLICE]
        values = _values(lyr, part, names, with_geometry, start)
        yield from zip(range(start, start + len(part)), *values, strict=True)
