"""Connections to one PostGIS store: a pool shared by the threads, a connection held by a thread
for its transaction, and PostgreSQL's errors in words.

A read outside a transaction borrows a pooled connection for one statement (autocommit: it sees
the last committed state, and a writer's open transaction never makes it wait). A transaction
holds one connection for the thread until it ends; the outermost takes the store's writer lock
(a transaction-level advisory lock), so that a store's writers follow one another as they do on a
GeoPackage and a read-compare-write inside a transaction (a review decision) sees no write slip
in between. The web app's threads share the pool (``psycopg_pool``), so a server holds at most
:data:`POOL_MAX` connections whatever its thread count.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from layers.errors import StoreBusyError, StoreError, StoreFullError, StoreReadOnlyError

logger = logging.getLogger(__name__)

WRITE_WAIT_S = 30.0
"""How long a writer waits for another writer's lock before failing (as on a GeoPackage)."""
CONNECT_WAIT_S = 10.0
"""How long opening the store, or borrowing a pooled connection, may take."""
POOL_MAX = 10
"""Connections one store object keeps open at most (the web app's threads share them)."""


def store_error(where: str, doing: str, err: psycopg.Error) -> StoreError:
    """PostgreSQL's ``err`` met while ``doing`` something to the store ``where``, as the error a user can act on."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, pg_errors.DiskFull):
        return StoreFullError(f"{where}: {doing}: the server's disk is full ({text}); nothing of this write was kept")
    if isinstance(err, pg_errors.LockNotAvailable | pg_errors.DeadlockDetected):
        return StoreBusyError(f"{where}: {doing}: another writer held the store and did not finish within {WRITE_WAIT_S:g} s ({text})")
    if isinstance(err, pg_errors.ReadOnlySqlTransaction):
        return StoreReadOnlyError(f"{where}: {doing}: the store is read-only here ({text})")
    if isinstance(err, pg_errors.InsufficientPrivilege):
        return StoreReadOnlyError(f"{where}: {doing}: the database user may not do this ({text})")
    return StoreError(f"{where}: {doing}: {text}")


@contextmanager
def pg_errors_as_store_errors(where: str, doing: str) -> Iterator[None]:
    """PostgreSQL's (and the pool's) errors inside as :func:`store_error` makes them."""
    try:
        yield
    except psycopg.Error as err:
        raise store_error(where, doing, err) from err
    except PoolTimeout as err:
        raise StoreBusyError(f"{where}: {doing}: no connection to the server within {CONNECT_WAIT_S:g} s ({err})") from err


def connect(url: str, where: str, *, readonly: bool) -> psycopg.Connection[Any]:
    """One connection to the store's database, configured as the pool's are."""
    with pg_errors_as_store_errors(where, "connecting"):
        conn = psycopg.connect(url, autocommit=True, connect_timeout=int(CONNECT_WAIT_S))
        try:
            configure(conn, readonly=readonly)
        except BaseException:
            conn.close()
            raise
        return conn


def configure(conn: psycopg.Connection[Any], *, readonly: bool) -> None:
    """Session settings of every connection: UTC, orjson for JSON, read-only for readers."""
    set_json_loads(orjson.loads, conn)
    conn.execute("SET TIME ZONE 'UTC'")
    if readonly:
        conn.execute("SET default_transaction_read_only = on")


def writer_lock_key(schema: str) -> int:
    """The advisory lock key of the store in ``schema`` (a signed 64-bit integer)."""
    digest = hashlib.blake2b(f"ecowatch store {schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass
class HeldConnection:
    """A thread's connection for the length of its transaction, and how deep it is nested."""

    conn: psycopg.Connection[Any]
    depth: int = 0


class Connections:
    """The connections of one store: a pool, and the connection each thread holds in a transaction."""

    def __init__(self, url: str, where: str, *, readonly: bool, max_size: int = POOL_MAX) -> None:
        self.where = where
        self.readonly = readonly
        self._local = threading.local()
        with pg_errors_as_store_errors(where, "opening a connection pool"):
            self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                url, min_size=1, max_size=max_size, kwargs={"autocommit": True, "connect_timeout": int(CONNECT_WAIT_S)},
                configure=lambda conn: configure(conn, readonly=readonly), timeout=CONNECT_WAIT_S,
                name=f"ecowatch {where}", open=True,
            )

    def held(self) -> HeldConnection | None:
        """The connection this thread holds for a transaction, if any."""
        return getattr(self._local, "held", None)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """This thread's transaction connection, or a pooled one for the statements inside."""
        held = self.held()
        if held is not None:
            yield held.conn
            return
        with pg_errors_as_store_errors(self.where, "borrowing a connection"):
            conn = self._pool.getconn()
        try:
            yield conn
        finally:
            self._pool.putconn(conn)

    def hold(self) -> HeldConnection:
        """A connection held by this thread until :meth:`release`."""
        held = self.held()
        if held is None:
            with pg_errors_as_store_errors(self.where, "borrowing a connection"):
                held = HeldConnection(self._pool.getconn())
            self._local.held = held
        return held

    def release(self) -> None:
        held = self.held()
        if held is not None:
            self._local.held = None
            self._pool.putconn(held.conn)

    def close(self) -> None:
        """Close the pool (connections held by other threads are closed when they come back)."""
        self.release()
        self._pool.close()
