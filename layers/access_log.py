"""The access log: logins, failed and throttled logins, logouts, refused authorisations, exports.

One row per event in the store's ``access_log`` table (an internal table: no role reads it
through the map or an export). The web app and the command line both write it.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Literal

import pandas as pd

from layers.store import Store

logger = logging.getLogger(__name__)

Event = Literal["login", "login_failed", "login_throttled", "logout", "refused", "export"]
MAX_TEXT = 500  # a path or detail longer than this is cut (the log must not become a store of its own)


def record_event(
    store: Store,
    event: Event,
    *,
    username: str | None = None,
    role: str | None = None,
    address: str | None = None,
    method: str | None = None,
    path: str | None = None,
    status: int | None = None,
    detail: str | None = None,
) -> str:
    """Append one event; returns its id."""
    event_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(6)

    def cut(text: str | None) -> str | None:
        return None if text is None else text[:MAX_TEXT]

    store.upsert("access_log", pd.DataFrame([{
        "event_id": event_id, "time": dt.datetime.now(dt.UTC), "event": event, "username": cut(username),
        "role": role, "address": cut(address), "method": method, "path": cut(path), "status": status, "detail": cut(detail),
    }]))
    logger.info("access: %s user=%s role=%s address=%s %s %s -> %s %s", event, username, role, address, method, path, status, detail or "")
    return event_id


def read_events(store: Store, event: Event | None = None) -> pd.DataFrame:
    """The log (or one kind of event), in the order written."""
    return store.read("access_log", where={"event": event} if event else None).reset_index(drop=True)
