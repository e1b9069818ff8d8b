"""The space-time (x, y, t) ``rtree`` index that ``bench_matching`` measures against ``STRtree``.

Each clearing is one 3-D box: its bounding box grown by the radius in x and y, and
``[first_detected, first_detected + max_lag]`` in t (days). A seizure is the point (x, y, date):
the boxes that contain it are exactly the clearings whose grown box holds it and whose lag window
holds its date, so the index prunes by time as well as space, which a 2-D ``STRtree`` cannot.
The exact test on the candidates is the production one (:func:`geo.matching.keep_within`), so
the two indexes are compared on the candidates they give and the time they take, nothing else.

It lost (figures in ``docs/analysis.md``), so production matching uses ``STRtree`` and ``rtree``
is a benchmark-only dependency (the ``bench`` extra). It stays here so that the decision can be
measured again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
import shapely
from numpy.typing import NDArray
from rtree import index

from geo.matching import keep_within

PAD_M = 1e-3  # metres; widens the boxes for rounding only: the exact test decides
PAD_DAYS = 1e-6
_DAY_NS = 86_400 * 10**9


def days(when: NDArray[np.datetime64]) -> NDArray[np.float64]:
    """Dates as float days since 1970 (NaN for NaT)."""
    ns = when.astype("datetime64[ns]")
    out = ns.astype(np.int64) / _DAY_NS
    out[np.isnat(ns)] = np.nan
    return out


def _boxes(geoms: NDArray[np.object_], first: NDArray[np.datetime64], radius_m: float, max_lag_days: float) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """(ids, mins, maxs) of the clearings that can match anything (a geometry and a date)."""
    b = shapely.bounds(geoms)
    t = days(first)
    ids = np.flatnonzero(np.isfinite(b).all(axis=1) & np.isfinite(t)).astype(np.int64)
    pad = radius_m + PAD_M
    mins = np.column_stack([b[ids, 0] - pad, b[ids, 1] - pad, t[ids] - PAD_DAYS])
    maxs = np.column_stack([b[ids, 2] + pad, b[ids, 3] + pad, t[ids] + max_lag_days + PAD_DAYS])
    return ids, mins, maxs


def build(
    geoms: NDArray[np.object_], first: NDArray[np.datetime64], radius_m: float, max_lag_days: float,
    loader: Literal["arrays", "stream"] = "arrays",
) -> index.Index:
    """A 3-D in-memory ``rtree`` index of the clearings, bulk-loaded from NumPy arrays or a Python generator."""
    ids, mins, maxs = _boxes(geoms, first, radius_m, max_lag_days)
    props = index.Property(dimension=3)
    if loader == "arrays":
        return index.Index((ids, mins, maxs), properties=props) if len(ids) else index.Index(properties=props)

    def stream() -> Iterator[tuple[int, tuple[float, ...], None]]:
        for i, lo, hi in zip(ids.tolist(), mins.tolist(), maxs.tolist(), strict=True):
            yield i, (*lo, *hi), None

    return index.Index(stream(), properties=props) if len(ids) else index.Index(properties=props)


def query(
    idx: index.Index, geoms: NDArray[np.object_], first: NDArray[np.datetime64], points: NDArray[np.object_], when: NDArray[np.datetime64],
    radius_m: float, max_lag_days: float,
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """As :func:`geo.matching.space_time_pairs`, with the candidates from ``idx`` (one bulk ``intersection_v``)."""
    b = shapely.bounds(points)
    t = days(when)
    live = np.flatnonzero(np.isfinite(b).all(axis=1) & np.isfinite(t))
    if not len(live) or len(idx) == 0:
        empty = np.zeros(0, np.intp)
        return empty, empty.copy(), np.zeros(0), np.zeros(0)
    lo = np.column_stack([b[live, 0], b[live, 1], t[live]])
    hi = np.column_stack([b[live, 2], b[live, 3], t[live]])
    gi, counts = idx.intersection_v(lo, hi)
    pi = np.repeat(live, counts.astype(np.intp))
    return keep_within(points, when, geoms, first, pi.astype(np.intp), gi.astype(np.intp), radius_m, max_lag_days)


def rtree_pairs(
    geoms: NDArray[np.object_], first: NDArray[np.datetime64], points: NDArray[np.object_], when: NDArray[np.datetime64],
    radius_m: float, max_lag_days: float,
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """Build and query in one call; the signature of :func:`geo.matching.space_time_pairs` (a ``zone_pairs``)."""
    if not (len(points) and len(geoms)):
        empty = np.zeros(0, np.intp)
        return empty, empty.copy(), np.zeros(0), np.zeros(0)
    return query(build(geoms, first, radius_m, max_lag_days), geoms, first, points, when, radius_m, max_lag_days)
