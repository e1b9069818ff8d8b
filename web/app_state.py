"""What one app holds for its lifetime: the settings and one read-only store, opened on first use.

The store is opened ``readonly``: every request thread reads through its own SQLite connection
(WAL lets them read while a job writes), the map never creates or migrates a store, and a missing
or outdated one is reported as such (the error pages turn it into 503). The few requests that
write (review decisions) use :meth:`AppState.writer`, a second handle opened for writing on first
use (it never creates the store).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from flask import current_app

from config import Settings
from layers import Store, open_store
from layers.opaque_ids import load_id_key
from layers.redaction import Access, Role

logger = logging.getLogger(__name__)

EXTENSION_KEY = "ecowatch"


@dataclass
class AppState:
    """The settings an app was created with and its store (opened lazily, closed by :meth:`close`)."""

    settings: Settings
    store_url: str
    role: Role = "planner"
    _store: Store | None = field(default=None, init=False, repr=False)
    _access: Access | None = field(default=None, init=False, repr=False)
    _writer: Store | None = field(default=None, init=False, repr=False)
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
                logger.info("opening store %s (read-only)", self.store_url)
                self._store = open_store(self.store_url, readonly=True)
            return self._store

    def access(self) -> Access:
        """How this app's users read the store: its role, with the id key a generalised role needs."""
        with self._lock:
            if self._access is None:
                probe = Access(self.role)
                self._access = Access(self.role, load_id_key(self.settings)) if probe.generalised else probe
            return self._access

    def writer(self) -> Store:
        """The app's store opened for writing (review decisions), on the first call.

        Raises
        ------
        layers.errors.StoreError
            When the store does not exist or cannot be opened for writing.
        """
        with self._lock:
            if self._writer is None:
                logger.info("opening store %s for writing", self.store_url)
                self._writer = open_store(self.store_url, create=False)
            return self._writer

    def close(self) -> None:
        """Close the store (and the writer) if opened; a later call opens them again."""
        with self._lock:
            for handle in (self._store, self._writer):
                if handle is not None:
                    handle.close()
            self._store = self._writer = None


def app_state() -> AppState:
    """The :class:`AppState` of the current Flask app."""
    state = current_app.extensions[EXTENSION_KEY]
    assert isinstance(state, AppState)
    return state


def get_store() -> Store:
    """The current app's store (see :meth:`AppState.store`)."""
    return app_state().store()


def get_writer() -> Store:
    """The current app's store opened for writing (see :meth:`AppState.writer`)."""
    return app_state().writer()
