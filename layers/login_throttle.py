"""Login throttling: wrong passwords counted per account and per client address, in the store.

Rule (both scopes alike): once ``max_failures`` wrong passwords for an account (or from an
address, across accounts) fall within the last ``window_s`` seconds, every further attempt for
that account (from that address) is refused — the right password too — until the oldest of
those failures leaves the window. Refused attempts are not counted, so waiting always works.
Other accounts and addresses are unaffected by each other's counters.

The counters live in the store's ``login_throttle`` table and each update is one store
transaction, so several server threads or processes sharing a store share the counts.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from layers.store import Store

logger = logging.getLogger(__name__)

Scope = Literal["account", "address"]


@dataclass(frozen=True)
class ThrottleRule:
    """How many wrong passwords (``max_failures``) within ``window_s`` seconds lock a subject."""

    max_failures: int = 5
    window_s: float = 900.0


def now() -> float:
    """The throttle's clock: seconds since the epoch (tests replace it)."""
    return time.time()


def _failures(store: Store, scope: Scope, subject: str) -> list[float]:
    rows = store.read("login_throttle", where={"scope": scope, "subject": subject}, columns=["failures"])
    if not len(rows):
        return []
    value: Any = rows.iloc[0]["failures"]
    return [float(t) for t in value] if isinstance(value, list) else []


def retry_after(store: Store, rule: ThrottleRule, subjects: Iterable[tuple[Scope, str]], *, clock: Callable[[], float] | None = None) -> int:
    """Seconds until an attempt for all of ``subjects`` may be tried (0: now).

    Parameters
    ----------
    subjects
        ``("account", login name)`` and ``("address", client address)`` pairs.
    clock
        Seconds since the epoch (default :func:`now`).
    """
    t = (clock or now)()
    wait = 0.0
    for scope, subject in subjects:
        recent = sorted(f for f in _failures(store, scope, subject) if f > t - rule.window_s)
        if len(recent) >= rule.max_failures:
            # locked until enough of the failures age out to leave max_failures - 1 in the window
            unlock = recent[len(recent) - rule.max_failures] + rule.window_s
            wait = max(wait, unlock - t)
    return math.ceil(wait) if wait > 0 else 0


def record_failure(store: Store, rule: ThrottleRule, subjects: Iterable[tuple[Scope, str]], *, clock: Callable[[], float] | None = None) -> None:
    """Count one wrong password against each of ``subjects`` (older failures are dropped)."""
    t = (clock or now)()
    with store.transaction():  # read-modify-write under the store's write lock
        rows = []
        for scope, subject in subjects:
            kept = [f for f in _failures(store, scope, subject) if f > t - rule.window_s]
            rows.append({"scope": scope, "subject": subject, "failures": [*kept, t]})
        store.upsert("login_throttle", pd.DataFrame(rows))


def clear(store: Store, scope: Scope, subject: str) -> None:
    """Forget the failures of one subject (an account after a successful login)."""
    store.delete("login_throttle", where={"scope": scope, "subject": subject})
