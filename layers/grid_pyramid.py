"""Grid pyramids: a layer's counts and sums per grid cell at every cell size, per store state.

A low-zoom tile or a region-wide view of a million clearings would count half a million rows per
request (seconds). A pyramid holds, for one layer in one committed state of the store, every
feature's cell at each cell size of :data:`layers.aggregates.CELL_STEPS_DEG` from
:data:`MIN_STEP` up, split by the values of a few fields the map filters on
(:data:`DIMENSIONS`), with the number of features and the sum of the area per cell. A view then
reads its whole cells from the pyramid and counts only its border in the store
(``grid_border``: the rows meeting the view whose cell is not whole, and the rows of whole cells
that miss the view), so its cells equal, count for count, what the store's own aggregate
(``grid_summary``) gives for the same rows — and so what :func:`layers.redaction.count_redacted`
counts for the view. Sums are added in another order than the store's and may differ from its
in the last digits.

What a pyramid covers: the rows a role sees as they are stored (:class:`layers.redaction.StoredRows`,
already narrowed to the role's rows — the viewer's ``public_where`` — by the one gate), filtered
only by equality on :data:`DIMENSIONS`. Anything else (a period, a risk range, generalised
points) is answered live. The cache is keyed by the store's state token (``state_token``: any
commit starts afresh; a store without one, e.g. PostGIS, has no pyramid) and holds no role: it
counts stored rows, and which rows a role may count is decided by the gate before it is asked.

The first coarse view after a write (cells of :data:`BUILD_STEP` or more: a region, a low-zoom
tile) builds the layer's pyramid: one pass over the R-tree's node table and one over the
table's filter fields (a few seconds at a million rows); finer views are counted live until then.
Each cell size is binned on first use.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from layers.catalog import get_layer
from layers.redaction import StoredRows
from layers.store import BBox, Store
from layers.values import to_sql

logger = logging.getLogger(__name__)

Cells = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]

DIMENSIONS: dict[str, tuple[str, ...]] = {"clearings": ("confidence", "review_status")}
"""Per table, the fields a pyramid splits its counts by (few distinct values each): an equality
filter on them is answered from the pyramid."""
MIN_STEP = 0.01
"""Cell sizes below this are counted live (a view that fine holds few features)."""
BUILD_STEP = 0.05
"""A view (or tile) with cells at least this large (about 1.6 degrees across or more; tiles to
zoom 8) builds the pyramid when the store's state has none yet; finer ones are counted live
meanwhile (a few thousand rows: cheaper than a build), so a write does not make the next small
view wait for it."""
PYRAMIDS_KEPT = 4
"""Pyramids kept in memory (store state × table), least recently used dropped."""
_OFFSET = 1 << 20  # cell columns and rows of steps >= MIN_STEP lie within +-18 000
_SPAN = 1 << 21


@dataclass
class _Level:
    """One cell size: sorted keys (column, row, category), each cell's count and sum."""

    keys: NDArray[np.int64]
    count: NDArray[np.int64]
    sums: NDArray[np.float64]


@dataclass
class _Pyramid:
    """Every feature of one table (those in its spatial index) in one store state."""

    cx: NDArray[np.float64]
    cy: NDArray[np.float64]
    category: NDArray[np.int64]
    values: tuple[list[Any], ...]  # per dimension, its stored values; a category is an index into their product
    area: NDArray[np.float64] | None
    levels: dict[float, _Level] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def categories(self) -> int:
        return math.prod(len(v) for v in self.values)

    def level(self, step: float) -> _Level:
        with self.lock:
            found = self.levels.get(step)
            if found is None:
                ix = np.floor(self.cx / step).astype(np.int64)
                iy = np.floor(self.cy / step).astype(np.int64)
                keys = ((ix + _OFFSET) * _SPAN + (iy + _OFFSET)) * self.categories + self.category
                order = np.argsort(keys, kind="stable")
                keys = keys[order]
                uniq, first, count = np.unique(keys, return_index=True, return_counts=True)
                sums = np.add.reduceat(self.area[order], first) if self.area is not None and len(first) else np.zeros(len(uniq))
                found = self.levels[step] = _Level(uniq, count.astype(np.int64), sums.astype(np.float64))
            return found


class _Pyramids:
    def __init__(self) -> None:
        self._items: OrderedDict[tuple[tuple[Any, ...], str], _Pyramid] = OrderedDict()
        self._building: dict[tuple[tuple[Any, ...], str], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, table: str) -> _Pyramid:
        token: tuple[Any, ...] = store.state_token()  # type: ignore[attr-defined]
        key = (token, table)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one thread builds, the others wait for it
            with self._lock:
                found = self._items.get(key)
            if found is None:
                found = _build(store, table)
                with self._lock:
                    self._items[key] = found
                    for old in [k for k in self._items if k[1] == table and k[0][:2] == key[0][:2] and k != key]:
                        del self._items[old]  # an older state of the same store: never asked again
                    while len(self._items) > PYRAMIDS_KEPT:
                        self._items.popitem(last=False)
        with self._lock:
            self._building.pop(key, None)
        return found

    def peek(self, store: Store, table: str) -> _Pyramid | None:
        """The pyramid of the store's current state if it is built already (never builds)."""
        token: tuple[Any, ...] = store.state_token()  # type: ignore[attr-defined]
        with self._lock:
            return self._items.get((token, table))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_PYRAMIDS = _Pyramids()


def _build(store: Store, table: str) -> _Pyramid:
    layer = get_layer(table)
    ids, cx, cy = store.rtree_centres(table)  # type: ignore[attr-defined]
    dims = DIMENSIONS.get(table, ())
    area_field = "area_ha" if "area_ha" in layer.field_names else None
    columns = [*dims, *([area_field] if area_field else [])]
    category = np.zeros(len(ids), dtype=np.int64)
    values: list[list[Any]] = []
    area = None
    if columns:
        fids, stored = store.stored_columns(table, columns)  # type: ignore[attr-defined]
        at = np.searchsorted(ids, fids)
        present = at < len(ids)
        present[present] &= ids[at[present]] == fids[present]
        rows = at[present]  # position in ids of each row that has an index entry
        chosen = np.flatnonzero(present)
        for col in stored[: len(dims)]:
            codes, uniques = pd.factorize(pd.Series(col, dtype=object).iloc[chosen], use_na_sentinel=False)
            category[rows] = category[rows] * len(uniques) + codes
            values.append([None if isinstance(u, float) and math.isnan(u) else u for u in uniques])
        if area_field:
            area = np.zeros(len(ids))
            area[rows] = np.nan_to_num(np.asarray(stored[-1], dtype=object)[chosen].astype(float))
    logger.info("grid pyramid of %s: %d features, %d categories", table, len(ids), math.prod(len(v) for v in values))
    return _Pyramid(cx, cy, category, tuple(values), area)


def _allowed(pyramid: _Pyramid, table: str, where: Mapping[str, Any] | None) -> NDArray[np.bool_] | None:
    """Which categories ``where`` keeps; ``None`` when it filters on anything else (then count live)."""
    dims = DIMENSIONS.get(table, ())
    keep = [np.ones(len(v), dtype=bool) for v in pyramid.values]
    layer = get_layer(table)
    for name, value in (where or {}).items():
        if name not in dims:
            return None
        wanted = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
        if any(v is None or not isinstance(v, str | int | float | bool) for v in wanted):
            return None  # IS NULL, conditions, ...: the store's SQL says what they match
        sql = {to_sql(layer.field(name).type, v) for v in wanted}
        d = dims.index(name)
        keep[d] &= np.array([v is not None and v in sql for v in pyramid.values[d]], dtype=bool)
    out = np.ones(1, dtype=bool)
    for k in keep:  # the product, in the order categories are numbered (first dimension most significant)
        out = (out[:, None] & k[None, :]).ravel()
    return out


def _whole_cells(bbox: BBox, step: float) -> tuple[int, int, int, int] | None:
    """First and last column and row of the cells lying wholly inside ``bbox``; ``None`` when none does."""
    w, s, e, n = (float(v) for v in bbox)
    c0, r0 = math.ceil(w / step), math.ceil(s / step)
    c1, r1 = math.floor(e / step) - 1, math.floor(n / step) - 1
    while c0 * step < w:
        c0 += 1
    while r0 * step < s:
        r0 += 1
    while (c1 + 1) * step > e:
        c1 -= 1
    while (r1 + 1) * step > n:
        r1 -= 1
    return (c0, c1, r0, r1) if c0 <= c1 and r0 <= r1 else None


def pyramid_cells(store: Store, rows: StoredRows, *, bbox: BBox, cell_deg: float, sum_field: str | None) -> Cells | None:
    """(column, row, count, sum) per cell of the rows ``rows`` names meeting ``bbox`` — what the
    store's ``grid_summary`` gives for them — from the layer's pyramid and the view's border;
    ``None`` when the store keeps no pyramid, the cell size is below :data:`MIN_STEP`, the filters
    are not all equalities on :data:`DIMENSIONS` or no cell lies wholly in the view."""
    if getattr(store, "state_token", None) is None or getattr(store, "grid_border", None) is None:
        return None
    if cell_deg < MIN_STEP or (sum_field is not None and sum_field != "area_ha"):
        return None
    whole = _whole_cells(bbox, cell_deg)
    if whole is None:
        return None
    # a view this coarse would count many rows live: it builds the pyramid (once per store state);
    # a finer one counts live until some view has built it
    pyramid = _PYRAMIDS.get(store, rows.table) if cell_deg >= BUILD_STEP else _PYRAMIDS.peek(store, rows.table)
    if pyramid is None:
        return None
    allowed = _allowed(pyramid, rows.table, rows.where)
    if allowed is None:
        return None
    c0, c1, r0, r1 = whole
    level = pyramid.level(float(cell_deg))
    ncat = pyramid.categories
    lo, hi = np.searchsorted(level.keys, [(c0 + _OFFSET) * _SPAN * ncat, (c1 + 1 + _OFFSET) * _SPAN * ncat])
    keys, count, sums = level.keys[lo:hi], level.count[lo:hi], level.sums[lo:hi]
    cell = keys // ncat
    iy = cell % _SPAN - _OFFSET
    keep = (iy >= r0) & (iy <= r1) & allowed[keys % ncat]
    cell, count, sums = cell[keep], count[keep], sums[keep]
    inner: Cells = (cell // _SPAN - _OFFSET, cell % _SPAN - _OFFSET, count, sums)
    plus, minus = store.grid_border(rows.table, cell_deg=cell_deg, bbox=bbox, whole=whole, where=rows.where, sum_field=sum_field)  # type: ignore[attr-defined]
    return _combine(inner, plus, minus)


def _combine(inner: Cells, plus: Cells, minus: Cells) -> Cells:
    ix = np.concatenate([inner[0], plus[0], minus[0]])
    iy = np.concatenate([inner[1], plus[1], minus[1]])
    count = np.concatenate([inner[2], plus[2], -minus[2]])
    sums = np.concatenate([inner[3], plus[3], -minus[3]])
    if len(ix) == 0:
        return ix.astype(np.int64), iy.astype(np.int64), count.astype(np.int64), sums.astype(np.float64)
    keys, inverse = np.unique(np.stack([ix, iy], axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    total = np.bincount(inverse, weights=count, minlength=len(keys)).round().astype(np.int64)
    summed = np.bincount(inverse, weights=sums, minlength=len(keys)).astype(np.float64)
    kept = total > 0
    return keys[kept, 0].astype(np.int64), keys[kept, 1].astype(np.int64), total[kept], summed[kept]


def forget_pyramids() -> None:
    """Drop every pyramid kept (tests; memory)."""
    _PYRAMIDS.clear()
