"""The per-pixel baseline: robust statistics of the baseline period's valid observations.

Two references are drawn from a pixel's baseline, so that seasons are not read as change:

* the **seasonal reference** of a monitoring date: the median of the ``season_observations``
  valid baseline observations nearest to it in day of year (:func:`season_order` ranks the
  baseline dates once for all pixels; :func:`season_reference` walks that ranking in a kernel);
* the **low range** of a monitoring date: a low quantile of the pixel's valid baseline NDVI
  within ``low_window_days`` of it in day of year (and at least its seasonal observations;
  :func:`season_window` counts those dates, :func:`season_low` takes the quantile). Harvests
  and leaf-off that the baseline saw within a couple of months of the date reach it; a clearing
  falls below it. (A low range over the whole year hides every clearing in a deciduous or
  snowy forest, whose spring is as low as bare soil.) The SWIR index has a low range of its own
  over the same dates: an observation is "within the baseline's range" only when both indices
  are, since one hazy or shadowed baseline date the SCL called clear lowers the NDVI's range
  but rarely the SWIR index's, while a harvest or leaf-off seen in the baseline lowers both.

The numba helpers here are inlined into the kernels of :mod:`geo.change.kernel`. They use only
comparisons, additions and one halving, so a NumPy version (``synthetic/kernel_reference.py``)
reproduces their results bit for bit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import numba
import numpy as np
from numpy.typing import NDArray

from geo.errors import InputShapeError

logger = logging.getLogger(__name__)

YEAR_DAYS = 365.25


def season_order(baseline_dates: Sequence[dt.date] | None, monitor_dates: Sequence[dt.date] | None, n_baseline: int, n_monitor: int) -> NDArray[np.int64]:
    """For each monitoring date, the baseline date indices nearest first in day of year.

    The distance is circular (31 December is next to 1 January); ties go to the later baseline
    date. Without dates every monitoring date gets the baseline dates latest first (the
    seasonal reference then needs ``season_observations >= n_baseline`` to mean "all of them").

    Parameters
    ----------
    baseline_dates, monitor_dates
        Acquisition dates of the baseline and monitoring periods, or both ``None``.
    n_baseline, n_monitor
        Their numbers of dates (checked against the sequences when given).

    Returns
    -------
    numpy.ndarray
        int64, shape ``(n_monitor, n_baseline)``.

    Raises
    ------
    InputShapeError
        When only one of the date sequences is given, or a length does not match.
    """
    if (baseline_dates is None) != (monitor_dates is None):
        raise InputShapeError("give both baseline and monitoring dates, or neither")
    if baseline_dates is None or monitor_dates is None:
        return np.tile(np.arange(n_baseline - 1, -1, -1, dtype=np.int64), (n_monitor, 1))
    if len(baseline_dates) != n_baseline or len(monitor_dates) != n_monitor:
        raise InputShapeError(
            f"{len(baseline_dates)} baseline and {len(monitor_dates)} monitoring dates for arrays of "
            f"{n_baseline} and {n_monitor} dates"
        )
    base = np.array([d.timetuple().tm_yday for d in baseline_dates], dtype=np.float64)
    order = np.empty((n_monitor, n_baseline), dtype=np.int64)
    later_first = -np.arange(n_baseline, dtype=np.float64)
    for m, day in enumerate(monitor_dates):
        gap = np.abs(base - day.timetuple().tm_yday) % YEAR_DAYS
        gap = np.minimum(gap, YEAR_DAYS - gap)
        order[m] = np.lexsort((later_first, gap))
    return order


def season_window(baseline_dates: Sequence[dt.date] | None, monitor_dates: Sequence[dt.date] | None, n_baseline: int,
                  n_monitor: int, days: float) -> NDArray[np.int64]:
    """For each monitoring date, how many baseline dates lie within ``days`` of it in day of year
    (circular): the first that many entries of its :func:`season_order` row. Without dates, all.
    """
    if baseline_dates is None or monitor_dates is None:
        return np.full(n_monitor, n_baseline, dtype=np.int64)
    base = np.array([d.timetuple().tm_yday for d in baseline_dates], dtype=np.float64)
    out = np.empty(n_monitor, dtype=np.int64)
    for m, day in enumerate(monitor_dates):
        gap = np.abs(base - day.timetuple().tm_yday) % YEAR_DAYS
        out[m] = int((np.minimum(gap, YEAR_DAYS - gap) <= days).sum())
    return out


@numba.njit(inline="always", cache=True)
def sort_prefix(buf, n):  # numba: float64 buffer, sorts buf[:n] in place  # pragma: no cover
    """Insertion sort of the first ``n`` values (n is a few dozen at most)."""
    for i in range(1, n):
        v = buf[i]
        j = i - 1
        while j >= 0 and buf[j] > v:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = v


@numba.njit(inline="always", cache=True)
def median_sorted(buf, n):  # numba: float64 buffer sorted over [:n], n >= 1  # pragma: no cover
    """Median of a sorted prefix: the middle value, or the mean of the two middle values."""
    h = n // 2
    if n % 2 == 1:
        return buf[h]
    return (buf[h - 1] + buf[h]) / 2.0


@numba.njit(inline="always", cache=True)
def order_statistic(buf, n, q):  # numba: float64 buffer sorted over [:n], quantile q in [0, 1]  # pragma: no cover
    """The value of rank ``floor(q * (n - 1))`` (0-based) of a sorted prefix: a quantile without interpolation."""
    return buf[int(q * (n - 1))]


@numba.njit(inline="always", cache=True)
def season_reference(order_row, ndvi, nir, swir, n_season, buf_n, buf_s, buf_x):  # pragma: no cover - compiled
    """Medians of NDVI, of the SWIR index and of NIR over the ``n_season`` valid baseline
    observations nearest in season.

    ``order_row`` is one row of :func:`season_order`; ``ndvi`` holds a pixel's baseline NDVI by
    date (NaN where invalid), ``nir`` and ``swir`` its reflectances, from which the SWIR index
    ``(nir - swir) / (nir + swir)`` is computed here, for the few dates used. Returns
    ``(nan, nan, nan)`` when no baseline value is valid.
    """
    j = 0
    for i in range(order_row.shape[0]):
        t = order_row[i]
        v = ndvi[t]
        if v == v:
            buf_n[j] = v
            buf_s[j] = (nir[t] - swir[t]) / (nir[t] + swir[t])
            buf_x[j] = nir[t]
            j += 1
            if j == n_season:
                break
    if j == 0:
        return np.nan, np.nan, np.nan
    sort_prefix(buf_n, j)
    sort_prefix(buf_s, j)
    sort_prefix(buf_x, j)
    return median_sorted(buf_n, j), median_sorted(buf_s, j), median_sorted(buf_x, j)


@numba.njit(inline="always", cache=True)
def season_low(order_row, ndvi, n_within, n_season, low_q, buf):  # pragma: no cover - compiled
    """The ``low_q`` quantile of a pixel's valid baseline NDVI (NaN where invalid) over the first
    ``n_within`` dates of ``order_row`` (those within the low-range window), taking more until at
    least ``n_season`` valid values are in; NaN when none is valid."""
    j = 0
    for i in range(order_row.shape[0]):
        if i >= n_within and j >= n_season:
            break
        v = ndvi[order_row[i]]
        if v == v:
            buf[j] = v
            j += 1
    if j == 0:
        return np.nan
    sort_prefix(buf, j)
    return order_statistic(buf, j, low_q)


@numba.njit(inline="always", cache=True)
def season_low_index(order_row, ndvi, nir, swir, n_within, n_season, low_q, buf):  # pragma: no cover - compiled
    """:func:`season_low` of the SWIR index ``(nir - swir) / (nir + swir)`` over the same dates
    (those whose NDVI is valid), computed here for the few dates used."""
    j = 0
    for i in range(order_row.shape[0]):
        if i >= n_within and j >= n_season:
            break
        t = order_row[i]
        v = ndvi[t]
        if v == v:
            buf[j] = (nir[t] - swir[t]) / (nir[t] + swir[t])
            j += 1
    if j == 0:
        return np.nan
    sort_prefix(buf, j)
    return order_statistic(buf, j, low_q)


@numba.njit(inline="always", cache=True)
def season_median(order_row, values, n_season, buf):  # pragma: no cover - compiled
    """Median of ``values`` (NaN where invalid) over the ``n_season`` valid baseline dates nearest in season."""
    j = 0
    for i in range(order_row.shape[0]):
        v = values[order_row[i]]
        if v == v:
            buf[j] = v
            j += 1
            if j == n_season:
                break
    if j == 0:
        return np.nan
    sort_prefix(buf, j)
    return median_sorted(buf, j)
