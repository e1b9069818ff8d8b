"""SQLite connections to one GeoPackage file: one per thread, read-only or read-write, and SQLite's errors in words.

A reader opens the file with SQLite's ``mode=ro``: it runs no schema statement and takes no lock
that a writer waits for, and in WAL mode it reads the last committed state while a writer holds
its transaction. A WAL database needs its ``-shm`` file to be read; when the reader cannot create
it (a read-only folder or file system, a file owned by another user) and no ``-wal`` file holds
commits that are not yet in the database, the file is read as ``immutable``: SQLite then takes
no lock at all, which is right for a store that nobody may write. Each thread gets its own
connection, so the threads of a web server read in parallel.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from layers import gpkg_rtree
from layers.errors import StoreBusyError, StoreError, StoreFullError, StoreReadOnlyError

logger = logging.getLogger(__name__)

WRITE_WAIT_S = 30.0
"""How long a writer waits for another writer's lock before failing."""
READ_WAIT_S = 5.0
"""How long a reader waits (only while a WAL file is being recovered or reset)."""

# SQLite's primary result codes (sqlite3.h)
_BUSY, _LOCKED, _READONLY, _FULL, _CANTOPEN = 5, 6, 8, 13, 14


@dataclass
class ThreadConnection:
    """A thread's connection and how deep its transactions are nested."""

    conn: sqlite3.Connection
    depth: int = 0


def store_error(path: Path, doing: str, err: sqlite3.Error) -> StoreError:
    """SQLite's ``err`` met while ``doing`` something to the store at ``path``, as the error a user can act on."""
    code = (getattr(err, "sqlite_errorcode", 0) or 0) & 0xFF
    if code == _FULL:
        return StoreFullError(f"{path}: {doing}: the disk is full ({err}); nothing of this write was kept")
    if code in (_BUSY, _LOCKED):
        return StoreBusyError(f"{path}: {doing}: another process is writing the store and did not finish within {WRITE_WAIT_S:g} s ({err})")
    if code == _READONLY:
        return StoreReadOnlyError(f"{path}: {doing}: the store is read-only here ({err})")
    return StoreError(f"{path}: {doing}: {err}")


@contextmanager
def sqlite_errors(path: Path, doing: str) -> Iterator[None]:
    """SQLite's errors inside as :func:`store_error` makes them."""
    try:
        yield
    except sqlite3.Error as err:
        raise store_error(path, doing, err) from err


class Connections:
    """The connections of one store: one per thread, opened on the thread's first use, closed together."""

    def __init__(self, path: Path, *, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        self.immutable = False
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def get(self) -> ThreadConnection:
        """This thread's connection, opened on first use."""
        held: ThreadConnection | None = getattr(self._local, "held", None)
        if held is not None:
            return held
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path}: the store was closed")
            conn = self._open()
            self._all.append(conn)
        held = ThreadConnection(conn)
        self._local.held = held
        return held

    def _open(self) -> sqlite3.Connection:
        with sqlite_errors(self.path, "opening the store"):
            if not self.readonly:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=WRITE_WAIT_S)
                try:
                    gpkg_rtree.register_functions(conn)
                    conn.execute("PRAGMA synchronous=NORMAL")
                except sqlite3.Error:
                    conn.close()  # e.g. a file that cannot be written here: no descriptor left open on it
                    raise
                return conn
            if not self.immutable:
                conn = self._connect_ro("mode=ro")
                try:
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                    return conn
                except sqlite3.OperationalError as err:
                    conn.close()
                    if (getattr(err, "sqlite_errorcode", 0) or 0) & 0xFF not in (_READONLY, _CANTOPEN):
                        raise
                    self._read_as_immutable(err)
            return self._connect_ro("immutable=1")

    def _connect_ro(self, mode: str) -> sqlite3.Connection:
        uri = f"file:{quote(str(self.path.resolve()))}?{mode}"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=READ_WAIT_S)
        conn.execute("PRAGMA query_only=1")
        return conn

    def _read_as_immutable(self, err: sqlite3.Error) -> None:
        """Decide to read a WAL store whose ``-shm`` file cannot be made as an immutable file, or say why not."""
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreReadOnlyError(
                f"{self.path}: cannot be read here: its write-ahead log {wal.name} holds changes and its shared-memory file "
                f"cannot be created ({err}); open the store once where it is writable (any ecowatch command that writes, "
                "or `ecowatch store migrate`) so that the log is folded into the file"
            )
        logger.info("%s: the store's folder or file is read-only here; reading it as an immutable file", self.path)
        self.immutable = True

    def close(self) -> None:
        """Close every thread's connection; the last one out folds the WAL into the file."""
        with self._lock:
            self._closed = True
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error as err:  # a connection that cannot checkpoint leaves the WAL for the next writer
                logger.warning("%s: closing a connection: %s", self.path, err)
        self._local = threading.local()
