"""Which committed state a GeoPackage store is in: a token that changes with every commit.

Caches of derived data (the grid pyramids of :mod:`layers.grid_pyramid`, a generalised role's
redacted layers in :mod:`layers.state_cache`) are keyed by it, so that any write — by this
process or another — makes them start afresh.

SQLite's ``PRAGMA data_version`` changes on a connection whenever *another* connection has
committed to the file since the connection last asked (WAL or not). One read-only connection
that never writes asks it on every :meth:`ChangeWatch.token`; the token's generation grows each
time the answer differs. A token is unique to the watch (and so to the store object), so two
store objects on one file never share a cache entry by accident.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from pathlib import Path
from urllib.parse import quote

from layers.gpkg_connections import sqlite_errors

_WATCH_IDS = itertools.count(1)


class ChangeWatch:
    """A generation counter of one GeoPackage file, grown by every commit to it (see the module docstring)."""

    def __init__(self, path: Path, *, immutable: bool) -> None:
        self.path = path
        self._id = next(_WATCH_IDS)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._immutable = immutable
        self._seen: int | None = None
        self._generation = 0

    def _open(self) -> sqlite3.Connection:
        mode = "immutable=1" if self._immutable else "mode=ro"
        conn = sqlite3.connect(f"file:{quote(str(self.path.resolve()))}?{mode}", uri=True, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only=1")
        return conn

    def token(self) -> tuple[str, int, int]:
        """(file, watch, generation): equal tokens mean nothing was committed in between."""
        with self._lock, sqlite_errors(self.path, "checking the store for changes"):
            if self._conn is None:
                self._conn = self._open()
            version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            if version != self._seen:
                self._seen = version
                self._generation += 1
            return str(self.path), self._id, self._generation

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
