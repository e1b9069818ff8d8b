"""What one app holds for its lifetime: the settings, one read-only store and one writer, each
opened on first use.

The store is opened ``readonly``: every request thread reads through its own SQLite connection
(WAL lets them read while a job writes), the map never creates or migrates a store, and a missing
or outdated one is reported as such (the error pages turn it into 503). The app's own writes —
sessions, login-throttle counters, the access log, an account's last login — go through a
writer (:meth:`AppState.writer`), opened only after the read-only store has accepted the
schema, so the app never migrates a store either. Only logins, logouts and refusals write; a
login waits for a job's write transaction (at most the store's write wait, 30 s).

A store that cannot be written here (a read-only file system) is still served: the accounts are
read from it, and sessions, throttle counters and the access log go to a GeoPackage of this
process's own in a temporary folder instead (they then last as long as the process, and are not
shared with other server processes; the log says so).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from config import Settings
from layers import Store, open_store
from layers.errors import StoreBusyError, StoreError, StoreFullError
from layers.opaque_ids import load_id_key
from layers.redaction import Access, Role, check_role
from layers.store import display_url

logger = logging.getLogger(__name__)

EXTENSION_KEY = "ecowatch"


@dataclass
class AppState:
    """The settings an app was created with and its store (opened lazily, closed by :meth:`close`)."""

    settings: Settings
    store_url: str
    _store: Store | None = field(default=None, init=False, repr=False)
    _writer: Store | None = field(default=None, init=False, repr=False)
    _id_key: bytes | None = field(default=None, init=False, repr=False)
    _side_folder: Path | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def store(self) -> Store:
        """The app's store, opened read-only on the first call.

        Raises
        ------
        layers.errors.StoreError
            When the store does not exist, cannot be opened or needs a migration.
        """
        with self._lock:
            if self._store is None:
                logger.info("opening store %s (read-only)", display_url(self.store_url))
                self._store = open_store(self.store_url, readonly=True)
            return self._store

    def writer(self) -> Store:
        """The app's writer, for its internal tables only (see the module docstring).

        Raises
        ------
        layers.errors.StoreError
            As :meth:`store`; also when the store cannot be written here (a read-only file).
        """
        self.store()  # refuses a missing or outdated store before anything could migrate it
        with self._lock:
            if self._writer is None:
                logger.info("opening store %s for sessions and the access log", display_url(self.store_url))
                try:
                    self._writer = open_store(self.store_url, create=False)
                except (StoreBusyError, StoreFullError):
                    raise  # a store that is writable, just not now: never split its sessions off
                except StoreError as err:  # the reader works, the writer cannot open: read-only here
                    self._side_folder = Path(tempfile.mkdtemp(prefix="ecowatch-web-"))
                    logger.warning(
                        "%s; sessions, login throttle and access log kept in %s for this process only", err, self._side_folder
                    )
                    self._writer = open_store(self._side_folder / "web-state.gpkg")
            return self._writer

    @property
    def accounts_writable(self) -> bool:
        """Whether the writer is the store itself (not this process's side store)."""
        self.writer()
        return self._side_folder is None

    def session_store(self) -> Store:
        """Where sessions are read: the read-only store, or the side store when the store is read-only."""
        return self.store() if self.accounts_writable else self.writer()

    def access(self, role: Role | str) -> Access:
        """How a caller of ``role`` reads the store: the role, with the id key a generalised role needs."""
        probe = Access(check_role(role))
        if not probe.generalised:
            return probe
        with self._lock:
            if self._id_key is None:
                self._id_key = load_id_key(self.settings)
            return Access(probe.role, self._id_key)

    def close(self) -> None:
        """Close the stores that were opened; a later :meth:`store` call opens them again."""
        with self._lock:
            for st in (self._store, self._writer):
                if st is not None:
                    st.close()
            self._store = self._writer = None
            if self._side_folder is not None:
                shutil.rmtree(self._side_folder, ignore_errors=True)
                self._side_folder = None


def app_state() -> AppState:
    """The :class:`AppState` of the current Flask app."""
    state = current_app.extensions[EXTENSION_KEY]
    assert isinstance(state, AppState)
    return state


def get_store() -> Store:
    """The current app's read-only store (see :meth:`AppState.store`)."""
    return app_state().store()


def get_writer() -> Store:
    """The current app's writer, for sessions, throttle counters and the access log (see :meth:`AppState.writer`)."""
    return app_state().writer()
