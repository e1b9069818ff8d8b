"""The PostGIS store: the catalogue's layers as tables of a PostgreSQL database with PostGIS, for
many analysts and machines at once.

Chosen by a ``postgresql://`` store URL (``ECOWATCH_DATABASE_URL``); the same interface and the
same schema as the GeoPackage store (:mod:`layers.postgis_schema` builds it from
:mod:`layers.schema`), so every test of the store's contract runs on both. The tables live in
the connection's current schema: ``?options=-csearch_path%3Dregion_a,public`` puts a store in a
schema of its own (``public`` must stay on the path for PostGIS's types).

Reads borrow a pooled connection (:mod:`layers.postgis_connections`) and never wait for a writer;
writes run in transactions that hold one connection and the store's writer lock, so that writers
follow one another and a read-compare-write inside one sees nothing slip in between. A store
opened ``readonly`` runs read-only transactions only, and refuses a schema older than the
catalogue, naming the command that migrates it; a writer migrates the schema when it opens it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import psycopg
import shapely

from layers import postgis_grid, postgis_schema, postgis_write
from layers.catalog import Layer, get_layer
from layers.errors import LayerError, SchemaError, StoreError, StoreReadOnlyError
from layers.gpkg_schema import quote
from layers.postgis_connections import (
    WRITE_WAIT_S,
    Connections,
    connect,
    pg_errors_as_store_errors,
    store_error,
    writer_lock_key,
)
from layers.postgis_values import from_pg
from layers.postgis_where import field, order_sql, where_sql
from layers.schema import GEOMETRY, MIGRATE_COMMAND
from layers.store import STORE_CRS, BBox, WriteCounts, display_url

logger = logging.getLogger(__name__)


class PostGISStore:
    """A :class:`layers.store.Store` in a PostgreSQL/PostGIS database.

    Parameters
    ----------
    url
        A libpq URL, ``postgresql://user@host:port/dbname`` (a password is best kept in
        ``~/.pgpass`` or ``PGPASSWORD``, not in the URL).
    create
        Accepted for the interface's sake: the database must exist; a writer creates the tables.
    readonly
        Read only: read-only transactions, no schema statement, no lock; a schema that needs a
        migration is a :class:`~layers.errors.SchemaError` naming ``ecowatch store migrate``.
    """

    def __init__(self, url: str, *, create: bool = True, readonly: bool = False) -> None:
        self.where = display_url(url)
        self.url = self.where
        """The store's URL without a password (for messages: a password never reaches a log)."""
        self.readonly = readonly
        self.migrated: list[str] = []
        """What opening the store changed in its schema (a writer's migration), one phrase each."""
        first = connect(url, self.where, readonly=readonly)
        try:
            self._lock_key = self._check_schema(first)
        finally:
            first.close()
        self._conns = Connections(url, self.where, readonly=readonly)

    def __repr__(self) -> str:
        return f"PostGISStore({self.where!r}, readonly={self.readonly})"

    # -- schema -------------------------------------------------------------------------------
    def _check_schema(self, conn: psycopg.Connection[Any]) -> int:
        with pg_errors_as_store_errors(self.where, "reading the store's schema"):
            try:
                schema = postgis_schema.current_schema(conn)
            except ValueError as err:
                raise SchemaError(f"{self.where}: {err}; create the schema or fix the URL's search_path") from err
            key = writer_lock_key(schema)
            changes = postgis_schema.differences(conn)
            if not changes:
                return key
            if self.readonly:
                listed = "; ".join(changes[:3]) + (f"; and {len(changes) - 3} more" if len(changes) > 3 else "")
                raise SchemaError(f"{self.where}: the store needs a migration ({listed}); run `{MIGRATE_COMMAND} --store {self.where}`")
            # another writer may be migrating too: under the writer lock, migrate() looks again
            with conn.transaction():
                self._lock(conn, key)
                self.migrated = postgis_schema.migrate(conn)
        return key

    @staticmethod
    def _lock(conn: psycopg.Connection[Any], key: int, *, begin: bool = False) -> None:
        """Take the store's writer lock (``begin``: start the transaction first), in one round trip."""
        start = "BEGIN; " if begin else ""
        conn.execute(f"{start}SET LOCAL lock_timeout = '{int(WRITE_WAIT_S * 1000)}ms'; SELECT pg_advisory_xact_lock({int(key)})")

    # -- transactions ---------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside land together; an exception rolls every one of them back.

        The outermost transaction takes the store's writer lock (waiting at most
        :data:`~layers.postgis_connections.WRITE_WAIT_S`); an inner one is a savepoint whose
        failure undoes its own writes only.
        """
        if self.readonly:
            raise StoreReadOnlyError(f"{self.where}: opened read-only; cannot write")
        held = self._conns.hold()
        conn = held.conn
        outer = held.depth == 0
        savepoint = f"ecowatch_{held.depth}"
        try:
            with pg_errors_as_store_errors(self.where, "starting a transaction"):
                if outer:
                    self._lock(conn, self._lock_key, begin=True)
                else:
                    conn.execute(f"SAVEPOINT {savepoint}", prepare=False)
        except BaseException:
            if outer:
                self._rollback(conn)
                self._conns.release()
            raise
        held.depth += 1
        try:
            yield
        except BaseException:
            held.depth -= 1
            if outer:
                self._rollback(conn)
                self._conns.release()
            else:
                self._rollback(conn, savepoint)
            raise
        held.depth -= 1
        if not outer:
            with pg_errors_as_store_errors(self.where, "ending a savepoint"):
                conn.execute(f"RELEASE SAVEPOINT {savepoint}", prepare=False)
            return
        try:
            conn.execute("COMMIT")
        except psycopg.Error as err:
            self._rollback(conn)
            raise store_error(self.where, "committing", err) from err
        finally:
            self._conns.release()

    def _rollback(self, conn: psycopg.Connection[Any], savepoint: str | None = None) -> None:
        try:
            if savepoint is None:
                conn.execute("ROLLBACK")
            else:
                conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                conn.execute(f"RELEASE SAVEPOINT {savepoint}", prepare=False)
        except psycopg.Error as err:  # the error being raised says more than this one
            logger.warning("%s: rolling back: %s", self.where, err)

    # -- reading --------------------------------------------------------------------------------
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
        fields = [field(lyr, n) for n in names]
        spatial = bool(lyr.geometry_type) and geometry
        select = ["fid"] + ([f"ST_AsBinary({GEOMETRY})"] if spatial else []) + [quote(n) for n in names]
        clause, params = where_sql(lyr, where, bbox)
        sql = f"SELECT {', '.join(select)} FROM {quote(lyr.name)}{clause}{order_sql(lyr, list(order_by))}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        if offset:
            sql += f" OFFSET {int(offset)}"
        with self._conns.connection() as conn, pg_errors_as_store_errors(self.where, f"reading layer {lyr.name!r}"):
            rows = conn.cursor(binary=True).execute(sql, params).fetchall()  # binary rows: a third quicker to decode
        cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[] for _ in select]
        first = 2 if spatial else 1
        data = {f.name: from_pg(f.type, list(values)) for f, values in zip(fields, cols[first:], strict=True)}
        index = pd.Index(list(cols[0]), name="fid", dtype="int64")
        frame = pd.DataFrame(data, index=index, columns=names)
        if not spatial:
            return frame
        geoms = shapely.from_wkb([None if b is None else bytes(b) for b in cols[1]])
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=index, crs=STORE_CRS), crs=STORE_CRS)

    def count(self, layer: str, *, bbox: BBox | None = None, where: Mapping[str, Any] | None = None) -> int:
        lyr = self._layer(layer)
        clause, params = where_sql(lyr, where, bbox)
        with self._conns.connection() as conn, pg_errors_as_store_errors(self.where, f"counting layer {lyr.name!r}"):
            row = conn.execute(f"SELECT count(*) FROM {quote(lyr.name)}{clause}", params).fetchone()
        return int(row[0]) if row else 0

    # -- writing --------------------------------------------------------------------------------
    def upsert(self, layer: str, frame: pd.DataFrame) -> WriteCounts:
        lyr = self._layer(layer)
        if len(frame) == 0:
            return WriteCounts()
        with self.transaction(), self._writing(lyr) as conn:
            return postgis_write.write(conn, lyr, frame, upsert=True)

    def replace(self, layer: str, frame: pd.DataFrame, *, where: Mapping[str, Any] | None = None) -> WriteCounts:
        lyr = self._layer(layer)
        clause, params = where_sql(lyr, where, None)
        with self.transaction(), self._writing(lyr) as conn:
            conn.execute(f"DELETE FROM {quote(lyr.name)}{clause}", params)
            postgis_write.write(conn, lyr, frame, upsert=False)
        return WriteCounts(inserted=len(frame))

    def delete(self, layer: str, *, where: Mapping[str, Any]) -> int:
        lyr = self._layer(layer)
        clause, params = where_sql(lyr, where, None)
        with self.transaction(), self._writing(lyr, "deleting from") as conn:
            return int(conn.execute(f"DELETE FROM {quote(lyr.name)}{clause}", params).rowcount)

    @contextmanager
    def _writing(self, lyr: Layer, doing: str = "writing") -> Iterator[psycopg.Connection[Any]]:
        """The transaction's connection; PostgreSQL's errors as StoreError naming the layer."""
        held = self._conns.held()
        assert held is not None, "writes run inside a transaction"
        try:
            yield held.conn
        except psycopg.Error as err:
            raise store_error(self.where, f"{doing} layer {lyr.name!r} failed", err) from err
        except ValueError as err:
            raise StoreError(f"{self.where}: {doing} layer {lyr.name!r} failed: {err}") from err

    # -- layer metadata ---------------------------------------------------------------------------
    def layer_info(self, layer: str) -> dict[str, Any]:
        self._layer(layer)
        with self._conns.connection() as conn, pg_errors_as_store_errors(self.where, f"reading the metadata of layer {layer!r}"):
            row = conn.execute("SELECT info FROM ecowatch_layer_info WHERE layer = %s", (layer,)).fetchone()
        return dict(row[0]) if row else {}

    def set_layer_info(self, layer: str, **info: Any) -> None:
        lyr = self._layer(layer)
        with self.transaction(), self._writing(lyr, "writing the metadata of") as conn:
            merged = {**self.layer_info(layer), **info}
            conn.execute(
                "INSERT INTO ecowatch_layer_info (layer, info) VALUES (%s, %s::jsonb) "
                "ON CONFLICT (layer) DO UPDATE SET info = excluded.info",
                (layer, orjson.dumps(merged, option=orjson.OPT_SORT_KEYS).decode()),
            )
            description = lyr.description
            if merged.get("synthetic"):
                description = ("SYNTHETIC data, generated for demonstration. " + description).strip()
            conn.execute(f"COMMENT ON TABLE {quote(layer)} IS {_literal(description)}")

    # -- aggregates (SQL in layers.postgis_grid; layers.aggregates calls it when a store has it) --
    def grid_summary(
        self, layer: str, *, cell_deg: float, bbox: BBox | None = None, where: Mapping[str, Any] | None = None, sum_field: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(column, row, count, sum) per ``cell_deg`` grid cell of the rows :meth:`count` counts."""
        lyr = self._layer(layer)
        with self._conns.connection() as conn, pg_errors_as_store_errors(self.where, f"aggregating layer {lyr.name!r}"):
            return postgis_grid.grid_summary(conn, lyr, cell_deg=cell_deg, bbox=bbox, where=where, sum_field=sum_field)

    def _layer(self, name: str) -> Layer:
        try:
            return get_layer(name)
        except KeyError as err:
            raise LayerError(str(err.args[0])) from err

    def close(self) -> None:
        self._conns.close()

    def __enter__(self) -> PostGISStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
