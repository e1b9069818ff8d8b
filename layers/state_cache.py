"""Values derived from a store, kept per committed state of it (least recently used dropped).

The redaction gate keeps here what a generalised role sees of a whole layer (generalised points,
opaque ids: judged on every row, so computed whole), so that a box or a tile does not redact the
layer again on every request; the web app's session check keeps a session's expiry and account
(:func:`layers.accounts.session_account`), so that a request does not read two tables first. An entry's key holds the store's state token (``state_token``,
:mod:`layers.gpkg_state`: any commit makes a new one) and whatever the caller puts in it — the
gate puts the role and a digest of its id key, so one role's entry is never another's. A store
without a state token (PostGIS) keeps nothing: every call computes afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

ENTRIES_KEPT = 16
MAX_ROWS = 200_000
"""A value with more rows than this (``len``) is not kept: it would hold too much memory."""


class StateCache:
    """A least-recently-used map from (store state, key) to a value."""

    def __init__(self, entries: int = ENTRIES_KEPT) -> None:
        self._entries = entries
        self._items: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: Any, key: tuple[Hashable, ...], build: Callable[[], T], *, rows: Callable[[T], int] = len) -> T:  # type: ignore[assignment]
        """The value kept for ``key`` in the store's current state, else ``build()`` (kept when
        ``rows(value)`` is at most :data:`MAX_ROWS`)."""
        state = getattr(store, "state_token", None)
        if state is None:
            return build()
        full = (state(), *key)
        with self._lock:
            if full in self._items:
                self._items.move_to_end(full)
                found: T = self._items[full]
                return found
        value = build()
        if rows(value) <= MAX_ROWS:
            with self._lock:
                self._items[full] = value
                while len(self._items) > self._entries:
                    self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
