"""The GeoPackage store: one SQLite file (WAL), one table per catalogue layer, an R-tree per geometry.

The file is a standard GeoPackage 1.3 that QGIS, GDAL (``ogrinfo``) and geopandas open, and that
GDAL's validator accepts. ecowatch writes it through ``sqlite3`` so that a whole run is one
transaction and upserts are single statements; the R-tree triggers use ``ST_*`` functions
registered on each writing connection, and batches of :data:`BULK_ROWS` rows or more keep the
R-tree in bulk instead (:mod:`layers.gpkg_rtree`).

A store opened ``readonly`` reads through read-only connections, one per thread
(:mod:`layers.gpkg_connections`): it never writes, never waits for a writer, and refuses a file
whose schema is older than the catalogue, naming the command that migrates it. A writer migrates
the file when it opens it (:mod:`layers.gpkg_schema`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd

from layers import gpkg_blob, gpkg_grid, gpkg_grid_border, gpkg_rtree, gpkg_schema
from layers.catalog import Field, Layer, get_layer
from layers.conditions import Between, Contains, Not
from layers.errors import LayerError, SchemaError, StoreError, StoreReadOnlyError
from layers.geometry import promote_for_layer
from layers.gpkg_connections import WRITE_WAIT_S, Connections, sqlite_errors, store_error
from layers.gpkg_schema import quote as _quote
from layers.gpkg_state import ChangeWatch
from layers.gpkg_where import condition_sql
from layers.schema import MIGRATE_COMMAND, SRS_ID
from layers.store import STORE_CRS, BBox, WriteCounts
from layers.values import from_sql, to_sql, to_sql_column

logger = logging.getLogger(__name__)

BULK_ROWS = 500
"""A write of at least this many rows (written or deleted) keeps the spatial index in bulk."""
WRITE_SLICE = 5_000
"""Rows whose geometries are encoded at a time during one write."""


def _use_wal(conn: sqlite3.Connection) -> None:
    """The file in WAL mode (readers then read while a writer writes). Two writers opening a new
    file at once both hold a read lock and want the exclusive one: SQLite answers one of them
    "database is locked" at once, without waiting (its deadlock rule), so that one asks again."""
    deadline = time.monotonic() + WRITE_WAIT_S
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class GeoPackageStore:
    """A :class:`layers.store.Store` in a GeoPackage file.

    Parameters
    ----------
    path
        The ``.gpkg`` file.
    create
        Create the file when it does not exist (writers only).
    readonly
        Read only: no schema statement, no lock, no write; a file that needs a migration is a
        :class:`~layers.errors.SchemaError` naming ``ecowatch store migrate``.
    """

    def __init__(self, path: Path, *, create: bool = True, readonly: bool = False) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        self.readonly = readonly
        if not self.path.exists() and (readonly or not create):
            raise StoreError(f"{self.path}: no such store; run `ecowatch demo` or an ingest first")
        if not readonly:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(f"{self.path}: cannot create the store's folder: {err}") from err
        self._conns = Connections(self.path, readonly=readonly)
        self.migrated: list[str] = []
        """What opening the store changed in its schema (a writer's migration), one phrase each."""
        try:
            self._check_schema()
        except BaseException:
            self._conns.close()
            raise
        self._watch = ChangeWatch(self.path, immutable=self._conns.immutable)  # connects on first use

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._conns.get().conn

    # -- schema -------------------------------------------------------------------------------
    def _check_schema(self) -> None:
        conn = self._conn
        try:
            if not gpkg_schema.is_geopackage(conn):
                raise SchemaError(f"{self.path}: not a GeoPackage store ecowatch can use: an SQLite file that is not a GeoPackage")
            changes = gpkg_schema.differences(conn)
        except sqlite3.DatabaseError as err:
            raise SchemaError(f"{self.path}: not a GeoPackage store ecowatch can use: {err}") from err
        if not self.readonly:
            with sqlite_errors(self.path, "opening the store"):
                _use_wal(conn)
        if not changes:
            return
        if self.readonly:
            listed = "; ".join(changes[:3]) + (f"; and {len(changes) - 3} more" if len(changes) > 3 else "")
            raise SchemaError(f"{self.path}: the store needs a migration ({listed}); run `{MIGRATE_COMMAND} --store {self.path}`")
        # another writer may have migrated it meanwhile: migrate() looks again under the lock
        with self.transaction(), sqlite_errors(self.path, "migrating the store"):
            self.migrated = gpkg_schema.migrate(conn)

    # -- transactions ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside land together; an exception rolls every one of them back.

        When SQLite has already rolled the transaction back itself (a full disk, an I/O error), it
        is not rolled back again: the original error is what the caller sees.
        """
        if self.readonly:
            raise StoreReadOnlyError(f"{self.path}: opened read-only; cannot write")
        held = self._conns.get()
        conn = held.conn
        outer = held.depth == 0
        savepoint = f"ecowatch_{held.depth}"
        # an inner transaction is a savepoint: its failure undoes its own writes only
        with sqlite_errors(self.path, "starting a transaction"):
            conn.execute("BEGIN IMMEDIATE" if outer else f"SAVEPOINT {savepoint}")
        held.depth += 1
        try:
            yield
        except BaseException:
            held.depth -= 1
            self._undo(conn, outer, savepoint)
            raise
        held.depth -= 1
        if not conn.in_transaction:
            raise StoreError(f"{self.path}: SQLite rolled the transaction back after an error inside it; nothing was written")
        if outer:
            self._commit(conn)
        else:
            with sqlite_errors(self.path, "ending a savepoint"):
                conn.execute(f"RELEASE {savepoint}")

    def _commit(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error as again:
                    logger.warning("%s: rolling back after a failed commit: %s", self.path, again)
            raise store_error(self.path, "committing", err) from err

    def _undo(self, conn: sqlite3.Connection, outer: bool, savepoint: str) -> None:
        """Roll back what is still open: SQLite may have ended the transaction itself."""
        if not conn.in_transaction:
            return
        try:
            if outer:
                conn.execute("ROLLBACK")
            else:
                conn.execute(f"ROLLBACK TO {savepoint}")
                conn.execute(f"RELEASE {savepoint}")
        except sqlite3.Error as err:  # the error being raised says more than this one
            logger.warning("%s: rolling back: %s", self.path, err)

    # -- reading --------------------------------------------------------------------------------
    def _where_sql(self, layer: Layer, where: Mapping[str, Any] | None, bbox: BBox | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for name, value in (where or {}).items():
            fld = _FID_FIELD if name == "fid" else self._field(layer, name)
            if isinstance(value, Between | Contains | Not):
                clause, values = condition_sql(name, fld.type, value)
                clauses.append(clause)
                params += values
            elif isinstance(value, list | tuple | set | np.ndarray | pd.Series):
                values = [to_sql(fld.type, v) for v in value]
                if not values:
                    clauses.append("0")
                    continue
                clauses.append(f"{_quote(name)} IN ({','.join('?' * len(values))})")
                params += values
            elif value is None:
                clauses.append(f"{_quote(name)} IS NULL")
            else:
                clauses.append(f"{_quote(name)} = ?")
                params.append(to_sql(fld.type, value))
        if bbox is not None:
            if not layer.geometry_type:
                raise LayerError(f"layer {layer.name!r} has no geometry to filter by bbox")
            w, s, e, n = (float(v) for v in bbox)
            clauses.append(
                f"fid IN (SELECT id FROM {_quote(gpkg_rtree.index_name(layer.name))} WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)"
            )
            params += [e, w, n, s]
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    @staticmethod
    def _field(layer: Layer, name: str) -> Any:
        try:
            return layer.field(name)
        except KeyError as err:
            raise LayerError(f"layer {layer.name!r} has no field {name!r}; fields: {', '.join(layer.field_names)}") from err

    def read(
        self,
        layer: str,
        *,
        bbox: BBox | None = None,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
        order_by: Sequence[str] = (),
        offset: int = 0,
        geometry: bool = True,
    ) -> pd.DataFrame:
        lyr = self._layer(layer)
        names = list(columns) if columns is not None else list(lyr.field_names)
        fields = [self._field(lyr, n) for n in names]
        spatial = bool(lyr.geometry_type) and geometry
        select = ["fid"] + (["geom"] if spatial else []) + [_quote(n) for n in names]
        clause, params = self._where_sql(lyr, where, bbox)
        order = [_quote(self._field(lyr, n.lstrip("-")).name) + (" DESC" if n.startswith("-") else "") for n in order_by]
        sql = f"SELECT {', '.join(select)} FROM {_quote(lyr.name)}{clause} ORDER BY {', '.join([*order, 'fid'])}"
        if limit is not None or offset:
            sql += f" LIMIT {-1 if limit is None else int(limit)}"
        if offset:
            sql += f" OFFSET {int(offset)}"
        with sqlite_errors(self.path, f"reading layer {lyr.name!r}"):
            rows = self._conn.execute(sql, params).fetchall()
        cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[] for _ in select]
        data: dict[str, Any] = {}
        first = 2 if spatial else 1
        for f, values in zip(fields, cols[first:], strict=True):
            data[f.name] = from_sql(f.type, list(values))
        index = pd.Index(list(cols[0]), name="fid", dtype="int64")
        frame = pd.DataFrame(data, index=index, columns=names)
        if not spatial:
            return frame
        geoms = gpkg_blob.decode(list(cols[1]))
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=index, crs=STORE_CRS), crs=STORE_CRS)

    def count(self, layer: str, *, bbox: BBox | None = None, where: Mapping[str, Any] | None = None) -> int:
        lyr = self._layer(layer)
        clause, params = self._where_sql(lyr, where, bbox)
        with sqlite_errors(self.path, f"counting layer {lyr.name!r}"):
            return int(self._conn.execute(f"SELECT count(*) FROM {_quote(lyr.name)}{clause}", params).fetchone()[0])

    # -- writing --------------------------------------------------------------------------------
    def _rows(self, lyr: Layer, frame: pd.DataFrame) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        """Column names and the SQLite values of ``frame``'s rows, made as they are consumed (once).

        Geometries are encoded :data:`WRITE_SLICE` rows at a time, so that a big write never holds
        the blobs of all its rows at once.
        """
        cols, first = self._slice_rows(lyr, frame.iloc[:WRITE_SLICE], 0)

        def rows() -> Iterator[tuple[Any, ...]]:
            yield from first
            for start in range(WRITE_SLICE, len(frame), WRITE_SLICE):
                yield from self._slice_rows(lyr, frame.iloc[start : start + WRITE_SLICE], start)[1]

        return cols, rows()

    def _slice_rows(self, lyr: Layer, frame: pd.DataFrame, offset: int) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        names = [n for n in frame.columns if n in lyr.field_names]
        missing = [k for k in lyr.key if k not in names]
        if missing:
            raise LayerError(f"writing {lyr.name!r}: key field(s) {missing} missing from the records")
        columns: list[list[Any]] = []
        # a plain DataFrame updates attributes only and leaves geometries as they are
        with_geometry = bool(lyr.geometry_type) and isinstance(frame, gpd.GeoDataFrame)
        if with_geometry:
            geo = frame.geometry
            if geo.crs is None:
                raise LayerError(f"writing {lyr.name!r}: geometries have no CRS")
            if not geo.crs.equals(STORE_CRS):
                geo = geo.to_crs(STORE_CRS)
            columns.append(gpkg_blob.encode(promote_for_layer(np.asarray(geo.values, dtype=object), lyr.name, str(lyr.geometry_type), offset), SRS_ID))
        for n in names:
            columns.append(to_sql_column(lyr.field(n).type, frame[n]))
        # rows made one at a time die young: a list of them all would keep the garbage collector busy
        return (["geom"] if with_geometry else []) + names, zip(*columns, strict=True)

    def upsert(self, layer: str, frame: pd.DataFrame) -> WriteCounts:
        lyr = self._layer(layer)
        if len(frame) == 0:
            return WriteCounts()
        cols, rows = self._rows(lyr, frame)
        quoted = [_quote(c) for c in cols]
        updatable = [q for c, q in zip(cols, quoted, strict=True) if c not in lyr.key]
        sql = f"INSERT INTO {_quote(lyr.name)} ({', '.join(quoted)}) VALUES ({', '.join('?' * len(cols))})"
        conflict = ", ".join(_quote(k) for k in lyr.key)
        if updatable:
            sets = ", ".join(f"{q} = excluded.{q}" for q in updatable)
            differs = " OR ".join(f"{_quote(lyr.name)}.{q} IS NOT excluded.{q}" for q in updatable)
            sql += f" ON CONFLICT ({conflict}) DO UPDATE SET {sets} WHERE {differs}"
        else:
            sql += f" ON CONFLICT ({conflict}) DO NOTHING"
        bulk = len(frame) >= BULK_ROWS
        with self.transaction():
            if "geom" in cols and not bulk:
                with self._writing(lyr, len(frame)):
                    inserted, updated = self._upsert_by_row(lyr, cols, rows)
                return WriteCounts(inserted, updated, len(frame) - inserted - updated)
            before = self.count(layer)
            with self._writing(lyr, len(frame)):
                # the number of rows inserted or updated (triggers excluded)
                changed = self._conn.executemany(sql, rows).rowcount
            inserted = self.count(layer) - before
        updated = changed - inserted
        return WriteCounts(inserted, updated, len(frame) - inserted - updated)

    def _upsert_by_row(self, lyr: Layer, cols: list[str], rows: Iterator[tuple[Any, ...]]) -> tuple[int, int]:
        """Upsert row by row as an UPDATE, then an INSERT when no row has the key; returns (inserted, updated).

        The GeoPackage 1.3 R-tree triggers replace an entry with ``INSERT OR REPLACE``, and an
        ``INSERT ... ON CONFLICT DO UPDATE`` imposes its own conflict policy on the statements of
        the triggers it fires, so that a changed geometry would fail on its R-tree entry: while the
        triggers are in place, a changed geometry is written by a plain UPDATE.
        """
        t = _quote(lyr.name)
        key_at = [cols.index(k) for k in lyr.key]
        rest_at = [i for i, c in enumerate(cols) if c not in lyr.key]
        match = " AND ".join(f"{_quote(k)} IS ?" for k in lyr.key)
        sets = ", ".join(f"{_quote(cols[i])} = ?" for i in rest_at)
        differs = " OR ".join(f"{_quote(cols[i])} IS NOT ?" for i in rest_at)
        update = f"UPDATE {t} SET {sets} WHERE {match} AND ({differs})" if rest_at else None
        insert = (
            f"INSERT INTO {t} ({', '.join(_quote(c) for c in cols)}) SELECT {', '.join('?' * len(cols))} "
            f"WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE {match})"
        )
        inserted = updated = 0
        conn = self._conn
        for row in rows:
            key = [row[i] for i in key_at]
            rest = [row[i] for i in rest_at]
            if update is not None and conn.execute(update, [*rest, *key, *rest]).rowcount:
                updated += 1
            elif conn.execute(insert, [*row, *key]).rowcount:
                inserted += 1
        return inserted, updated

    @contextmanager
    def _writing(self, lyr: Layer, n_rows: int) -> Iterator[None]:
        """Writes of ``n_rows`` rows to ``lyr``, inside a transaction: SQLite's errors as StoreError.

        From :data:`BULK_ROWS` rows on, the R-tree triggers are set aside and the index is kept
        in bulk after the writes (:func:`layers.gpkg_rtree.bulk_upkeep`).
        """
        upkeep: AbstractContextManager[None] = nullcontext()
        if lyr.geometry_type and n_rows >= BULK_ROWS:
            upkeep = gpkg_rtree.bulk_upkeep(self._conn, lyr.name)
        try:
            with upkeep:
                yield
        except sqlite3.Error as err:
            raise store_error(self.path, f"writing layer {lyr.name!r} failed", err) from err
        except ValueError as err:
            raise StoreError(f"{self.path}: writing layer {lyr.name!r} failed: {err}") from err

    def replace(self, layer: str, frame: pd.DataFrame, *, where: Mapping[str, Any] | None = None) -> WriteCounts:
        lyr = self._layer(layer)
        with self.transaction():
            clause, params = self._where_sql(lyr, where, None)
            cols, rows = self._rows(lyr, frame) if len(frame) else ([], iter([]))
            # what is deleted counts too: replacing a whole layer rewrites its index
            n_rows = len(frame) if len(frame) >= BULK_ROWS else len(frame) + self.count(layer, where=where)
            with self._writing(lyr, n_rows):
                self._conn.execute(f"DELETE FROM {_quote(lyr.name)}{clause}", params)
                if len(frame):
                    sql = f"INSERT INTO {_quote(lyr.name)} ({', '.join(_quote(c) for c in cols)}) VALUES ({', '.join('?' * len(cols))})"
                    self._conn.executemany(sql, rows)
        return WriteCounts(inserted=len(frame))

    def delete(self, layer: str, *, where: Mapping[str, Any]) -> int:
        lyr = self._layer(layer)
        clause, params = self._where_sql(lyr, where, None)
        with self.transaction(), sqlite_errors(self.path, f"deleting from layer {lyr.name!r}"):
            return int(self._conn.execute(f"DELETE FROM {_quote(lyr.name)}{clause}", params).rowcount)

    # -- layer metadata ---------------------------------------------------------------------------
    def layer_info(self, layer: str) -> dict[str, Any]:
        self._layer(layer)
        with sqlite_errors(self.path, f"reading the metadata of layer {layer!r}"):
            row = self._conn.execute("SELECT info FROM ecowatch_layer_info WHERE layer = ?", (layer,)).fetchone()
        return dict(orjson.loads(row[0])) if row else {}

    def set_layer_info(self, layer: str, **info: Any) -> None:
        lyr = self._layer(layer)
        merged = {**self.layer_info(layer), **info}
        with self.transaction(), sqlite_errors(self.path, f"writing the metadata of layer {layer!r}"):
            self._conn.execute(
                "INSERT INTO ecowatch_layer_info (layer, info) VALUES (?, ?) ON CONFLICT(layer) DO UPDATE SET info = excluded.info",
                (layer, orjson.dumps(merged, option=orjson.OPT_SORT_KEYS).decode()),
            )
            description = lyr.description
            if merged.get("synthetic"):
                description = ("SYNTHETIC data, generated for demonstration. " + description).strip()
            self._conn.execute("UPDATE gpkg_contents SET description = ? WHERE table_name = ?", (description, layer))

    def _layer(self, name: str) -> Layer:
        try:
            return get_layer(name)
        except KeyError as err:
            raise LayerError(str(err.args[0])) from err

    # -- aggregates (SQL in layers.gpkg_grid; layers.aggregates calls it when a store has it) ----
    def grid_summary(
        self, layer: str, *, cell_deg: float, bbox: BBox | None = None, where: Mapping[str, Any] | None = None, sum_field: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(column, row, count, sum) per ``cell_deg`` grid cell of the rows :meth:`count` counts."""
        return gpkg_grid.grid_summary(self, layer, cell_deg=cell_deg, bbox=bbox, where=where, sum_field=sum_field)

    def grid_border(self, layer: str, *, cell_deg: float, bbox: BBox, whole: tuple[int, int, int, int],
                    where: Mapping[str, Any] | None = None, sum_field: str | None = None) -> tuple[Any, Any]:
        """The cells of a view's border around its whole cells (:func:`layers.gpkg_grid_border.border`)."""
        return gpkg_grid_border.border(self, layer, cell_deg=cell_deg, bbox=bbox, whole=whole, where=where, sum_field=sum_field)

    def rtree_centres(self, layer: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(id, centre x, centre y) of every entry of the layer's R-tree (:func:`layers.gpkg_grid_border.rtree_centres`)."""
        return gpkg_grid_border.rtree_centres(self, self._layer(layer).name)

    def stored_columns(self, layer: str, names: list[str]) -> tuple[np.ndarray, list[list[Any]]]:
        """(fid, stored values of each field) of every row (:func:`layers.gpkg_grid_border.stored_columns`)."""
        return gpkg_grid_border.stored_columns(self, layer, names)

    def state_token(self) -> tuple[str, int, int]:
        """A token that changes with every commit to the file, by any connection (:mod:`layers.gpkg_state`)."""
        return self._watch.token()

    def extent(self, layer: str, *, where: Mapping[str, Any] | None = None) -> tuple[float, float, float, float]:
        """(W, S, E, N) of the rows matching ``where``, from the R-tree."""
        return gpkg_grid.extent(self, layer, where=where)

    def layer(self, name: str) -> Layer:
        return self._layer(name)

    def field(self, layer: Layer, name: str) -> Any:
        return self._field(layer, name)

    def where_sql(self, layer: Layer, where: Mapping[str, Any] | None, bbox: BBox | None) -> tuple[str, list[Any]]:
        return self._where_sql(layer, where, bbox)

    def query(self, sql: str, params: Sequence[Any], *, what: str) -> list[tuple[Any, ...]]:
        """Rows of a read-only ``sql`` (built by this package's modules, never from user text)."""
        with sqlite_errors(self.path, what):
            return list(self._conn.execute(sql, list(params)).fetchall())

    def close(self) -> None:
        self._watch.close()
        self._conns.close()

    def __enter__(self) -> GeoPackageStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_FID_FIELD = Field("fid", "integer", "The store's row id.")
