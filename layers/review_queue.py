"""The review queue: clearings matching a filter, riskiest first, then by confidence, a page at a time.

Order: risk descending (no risk last), then confidence (``high`` before ``low``), then id, so
that pages are stable. The catalogue declares indexes in this order, so a page is read from the
index, not by sorting every clearing. Clearings merged into others are not queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from layers.catalog import get_layer
from layers.filters import ClearingFilter
from layers.redaction import Role, read_redacted
from layers.store import Store

QUEUE_ORDER = ("-risk", "confidence", "clearing_id")
QUEUE_COLUMNS = ["clearing_id", "aoi", "area_ha", "first_detected", "confidence", "flags", "risk", "review_status", "status_version"]
PER_PAGE = 50


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: its rows (no geometry), its number (from 1) and whether more follow."""

    rows: pd.DataFrame
    page: int
    per_page: int
    has_next: bool

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _where(flt: ClearingFilter) -> dict[str, Any]:
    return {**flt.where(), "merged_into": None}


def queue_page(store: Store, flt: ClearingFilter, role: Role, page: int = 1, per_page: int = PER_PAGE) -> QueuePage:
    """Page ``page`` (from 1) of the queue under ``flt``, as ``role`` may see it."""
    offset = (page - 1) * per_page
    rows = read_redacted(store, get_layer("clearings"), role, where=_where(flt), columns=QUEUE_COLUMNS, order_by=QUEUE_ORDER,
                         limit=per_page + 1, offset=offset, geometry=False)
    return QueuePage(rows.iloc[:per_page], page, per_page, len(rows) > per_page)


def neighbour(store: Store, flt: ClearingFilter, position: int, current: str, step: int) -> tuple[str, int] | None:
    """The clearing ``step`` (+1 next, -1 previous) from ``current``, which was at ``position`` (0-based).

    A decision may have taken ``current`` out of the filtered queue since; the rows around
    ``position`` are read and the neighbour is found relative to where ``current`` is or was.
    Returns the neighbour's id and position, or ``None`` at either end.
    """
    start = max(position - 2, 0)
    rows = store.read("clearings", where=_where(flt), columns=["clearing_id"], order_by=QUEUE_ORDER, limit=6, offset=start, geometry=False)
    ids = [str(c) for c in rows["clearing_id"]]
    # when it left the queue, the row now at its position is the next one
    i = ids.index(current) + step if current in ids else position - start + (0 if step > 0 else -1)
    if not 0 <= i < len(ids):
        return None
    return ids[i], start + i
