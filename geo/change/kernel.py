"""The compiled kernels of :mod:`geo.change.detection`: one fused pass per pixel over its time series.

Per pixel and row, no temporary ``(date, row, col)`` array is made: the baseline observations'
indices go into a few scratch buffers of length ``n_baseline``, the monitoring observations are
tested one by one. Each kernel exists twice: ``*_parallel`` (rows spread over numba's threads,
for in-memory use) and ``*_serial`` (GIL released, for jobs that run windows in parallel
through Dask). Both call the same row function, so their results are identical.

Per pixel (see :mod:`geo.change.detection` for the parameters):

1. baseline: the NDVI and SWIR index of every *usable* baseline observation (valid SCL, no
   reflectance 0, not water: SCL 6, or NDVI <= 0 with SWIR darker than NIR — an NDVI <= 0 with
   SWIR at least as bright as NIR is bare ground, tilled soil or rock, and counts: water and snow
   are dark in SWIR); fewer than ``min_obs`` leaves the pixel
   ``UNASSESSED``; its median NDVI is ``base_ndvi``;
2. forest: the supplied mask, else median NDVI >= ``forest_min``; other pixels are
   ``UNASSESSED`` (their last valid observation is still recorded, for observation gaps);
3. monitoring: the seasonal reference (:func:`geo.change.baseline.season_reference`) is the
   median NDVI, SWIR index and NIR of the ``n_season`` baseline observations nearest in day of
   year (any baseline year). An observation whose NIR exceeds that seasonal NIR by more than
   ``nir_rise`` (a share) is skipped: clouds and haze brighten NIR, clearings darken it (against
   the whole year's NIR a deciduous forest's summer would always look "too bright"). An observation whose seasonal NDVI
   reference is below ``forest_min`` and more than ``d_ndvi`` below the pixel's baseline median
   (a dormant season for it: leaf-off, snow) tells nothing: it is neither a drop nor a recovery.
   A pixel that was bare in its baseline (the ``low_q`` quantile of all its baseline NDVI at or
   below ``bare``: fields, swidden) must also fall below that whole-baseline low range: its
   harvests come when they come, not on the baseline's calendar. Otherwise it *drops* when both indices fall below their
   seasonal reference by at least ``d_ndvi`` and ``d_swir`` and its NDVI is at least
   ``low_margin`` below the seasonal low range (harvests and leaf-off seen in the baseline's same
   season; strictly below it), or its SWIR index below that index's own seasonal low range. The first drop makes a ``LOW`` candidate (``first``); ``n_confirm`` further drops
   make it ``HIGH`` (kept unless withdrawn, below); an informative observation that does not drop before
   that ends the candidate (regrowth, haze, a cloud SCL missed). A confirmed candidate is
   still followed: ``n_withdraw`` informative observations in a row green again in both indices
   (drops below ``recovery`` of the thresholds; an NIR-bright one counts only when green), the
   first within ``transient`` days (``mday``: the monitoring dates' day numbers) of its first
   drop, withdraw it (``NONE``, free to drop again): wintering rubber, leaf-off deeper than the
   baseline's, a crop cycle, a flood; a clearing regrows later than that. At the end, a
   candidate still unconfirmed whose first drop was brighter in NIR than the season's baseline
   by more than ``low_nir`` (a share) is not published, nor grown as weak when its weak run began
   on that same observation: thin cloud and haze brighten every band, canopy loss rarely
   brightens NIR (``low_nir`` at or above ``nir_rise`` turns this off: such drops are skipped).

The NDVI-only kernel (``index_*``) is the same without the SWIR and NIR tests, and with one more
rule: a drop counts only when the seasonal reference is itself forest-green (>= ``forest_min``).
In a dormant season (winter, leaf-off) NDVI alone cannot tell loss from snow or senescence,
which the bands kernel does with the SWIR index.

While no candidate is open, an observation is first tested cross-multiplied against the highest
baseline NDVI less ``d_ndvi``, ``nir - red <= t * (nir + red)`` with a slack of 1e-9, so that the
divisions and the seasonal reference are computed only for observations that can drop; the exact
test follows, so the result is that of the divisions.
"""

from __future__ import annotations

import numba
import numpy as np

from geo.change.baseline import season_low, season_low_index, season_median, season_reference
from geo.change.masks import in_ranges

NONE, LOW, HIGH, WEAK = 0, 1, 2, 3  # WEAK: not flagged, but would be with drops of grow_share of the thresholds
UNASSESSED = 255  # too few usable baseline observations, or not forest
_SLACK = 1e-9


@numba.njit(inline="always", cache=True)
def _advance(verdict, m, start, confirms, st, n_confirm):  # pragma: no cover - compiled
    """An informative monitoring observation ``m``: the candidate's ``(start, confirms, status,
    began)`` after it. ``verdict`` 1, a drop, starts a candidate (``began``: the caller records its
    drops) or confirms it; -1, a recovery, ends the candidate; 0 (partly dropped) changes nothing."""
    if verdict > 0:
        if start < 0:
            return m, 0, (HIGH if n_confirm <= 0 else LOW), True
        confirms += 1
        return start, confirms, (HIGH if confirms >= n_confirm else LOW), False
    if verdict < 0 and start >= 0:
        return -1, confirms, NONE, False
    return start, confirms, st, False


@numba.njit(inline="always", cache=True)
def _write(r, c, st, start, lst, med, dn0, ds0, status, first, last, drop_ndvi, drop_swir, base_ndvi):  # pragma: no cover - compiled
    """A pixel's results; the first drop and its date only for a candidate (LOW, HIGH or WEAK)."""
    status[r, c] = st
    last[r, c] = lst
    base_ndvi[r, c] = med
    if st == LOW or st == HIGH or st == WEAK:  # noqa: SIM109 - numba: plain comparisons
        first[r, c] = start
        drop_ndvi[r, c] = dn0
        drop_swir[r, c] = ds0
    else:
        first[r, c] = -1
        drop_ndvi[r, c] = np.nan
        drop_swir[r, c] = np.nan


@numba.njit(cache=True, nogil=True)
def _bands_row(r, red, nir, swir, scl, n_base, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest, order, n_low, n_season,
               forest_min, low_q, low_margin, d_ndvi, d_swir, nir_rise, min_obs, n_confirm, recovery, bare, w_ndvi, w_swir, n_withdraw, transient, mday, low_nir,
               status, first, last, drop_ndvi, drop_swir, base_ndvi,
               bn, bx, bz, srt, snir, sn, ss, sx):  # pragma: no cover - compiled
    n_t, _, n_c = red.shape
    n_mon = n_t - n_base
    for c in range(n_c):
        k = 0
        for t in range(n_base):
            code = scl[t, r, c]
            y = np.float64(red[t, r, c])
            x = np.float64(nir[t, r, c])
            z = np.float64(swir[t, r, c])
            if in_ranges(code, lo0, hi0, lo1, hi1, lo2, hi2) and code != water and y > 0.0 and z > 0.0 and x > 0.0 and (x > y or z >= x):
                v = (x - y) / (x + y)
                bn[t] = v
                bx[t] = x  # the SWIR index is computed only when needed (season_reference)
                bz[t] = z
                srt[k] = v
                k += 1
            else:
                bn[t] = np.nan
        st = UNASSESSED
        med = np.nan
        thr = 0.0
        ylow = np.inf
        watched = False
        if k >= min_obs and k > 0:
            # the sorts and order statistics of geo.change.baseline, written out: handing the scratch
            # buffers to helper functions costs reference counting here, twice the run time
            for i in range(1, k):
                v = srt[i]
                j = i - 1
                while j >= 0 and srt[j] > v:
                    srt[j + 1] = srt[j]
                    j -= 1
                srt[j + 1] = v
            h = k // 2
            med = srt[h] if k % 2 == 1 else (srt[h - 1] + srt[h]) / 2.0
            thr = srt[k - 1] - w_ndvi  # no observation above this can drop (even weakly) from any seasonal reference
            ylow = srt[int(low_q * (k - 1))]  # the whole baseline's low range
            if ylow > bare:  # never bare in the baseline: the seasonal low range alone applies
                ylow = np.inf
            watched = forest[r, c] != 0 if use_forest else med >= forest_min
            if watched:
                st = NONE
        lst = -1
        start = -1
        confirms = 0
        dn0 = np.nan
        ds0 = np.nan
        wstart = -1  # the weak candidate: the same state machine with drops of w_ndvi / w_swir
        wconfirms = 0
        wst = NONE
        wdn0 = np.nan
        wds0 = np.nan
        bright0 = False  # the candidate's first drop was not darker in NIR than the season's baseline
        greened = 0  # a confirmed candidate's informative observations in a row back at the seasonal reference
        for m in range(n_mon):
            t = n_base + m
            code = scl[t, r, c]
            yi = red[t, r, c]
            xi = nir[t, r, c]
            zi = swir[t, r, c]
            if not (in_ranges(code, lo0, hi0, lo1, hi1, lo2, hi2) and yi > 0 and xi > 0 and zi > 0):
                continue
            lst = m
            if not watched or (st == HIGH and n_withdraw <= 0) or code == water or not xi > yi:
                continue
            x = np.float64(xi)
            y = np.float64(yi)
            if start < 0 and wstart < 0 and x - y > (thr + _SLACK) * (x + y):
                continue  # cannot drop, and no candidate to end: nothing changes
            vn = (x - y) / (x + y)
            z = np.float64(zi)
            vs = (x - z) / (x + z)
            rn, rs, rx = season_reference(order[m], bn, bx, bz, n_season, sn, ss, sx)
            if rn < min(forest_min, med - d_ndvi):  # a dormant season (leaf-off, snow): neither a drop nor a recovery
                continue
            dn = rn - vn
            ds = rs - vs
            if st == HIGH:  # confirmed: withdrawn once green again in both indices n_withdraw times in a row (a transient)
                green = dn < d_ndvi * recovery and ds < d_swir * recovery
                if x > rx * (1.0 + nir_rise) and not green:
                    continue  # NIR-bright and not green: haze over the loss, tells nothing
                if not green:
                    greened = 0
                elif greened > 0 or mday[m] - mday[start] <= transient:  # greened soon after the drop: a transient
                    greened += 1
                if greened >= n_withdraw:
                    st, start, confirms, greened = NONE, -1, 0, 0
                    wst, wstart, wconfirms = NONE, -1, 0
                continue
            if x > rx * (1.0 + nir_rise):  # brighter in NIR than the season's baseline: haze or thin cloud, never a drop ...
                if dn < d_ndvi * recovery and ds < d_swir * recovery:  # ... unless green again in both indices: a canopy (a crop regrown)
                    start, confirms, st, began = _advance(-1, m, start, confirms, st, n_confirm)
                    wstart, wconfirms, wst, began = _advance(-1, m, wstart, wconfirms, wst, n_confirm)
                continue
            weak = dn >= w_ndvi and ds >= w_swir
            within = weak and (
                (vn >= season_low(order[m], bn, n_low[m], n_season, low_q, snir) - low_margin
                 and vs >= season_low_index(order[m], bn, bx, bz, n_low[m], n_season, low_q, snir) - low_margin)
                or vn >= ylow - low_margin
            )  # within the baseline's own range (both indices for the season; for fields bare in it, NDVI any time): harvest, leaf-off
            recovered = dn < d_ndvi * recovery or ds < d_swir * recovery  # regrowth, or the drop was haze or a cloud the SCL missed
            other = -1 if recovered else 0  # not a drop: recovered, or partly dropped (changes nothing)
            if weak:
                wverdict = -1 if within else 1
                verdict = wverdict if dn >= d_ndvi and ds >= d_swir else other
            else:
                wverdict = other
                verdict = other
            start, confirms, st, began = _advance(verdict, m, start, confirms, st, n_confirm)
            if began:
                dn0 = dn
                ds0 = ds
                bright0 = x > rx * (1.0 + low_nir)
            wstart, wconfirms, wst, began = _advance(wverdict, m, wstart, wconfirms, wst, n_confirm)
            if began:
                wdn0 = dn
                wds0 = ds
        if st == LOW and bright0:  # unconfirmed, and NIR did not fall: thin cloud or haze as likely as loss
            st = NONE
            if wstart == start:  # its weak twin began on the same observation: the same doubt (an earlier weak run stays)
                wst = NONE
        if st == NONE and (wst == LOW or wst == HIGH):  # noqa: SIM109 - numba: plain comparisons
            st, start, dn0, ds0 = WEAK, wstart, wdn0, wds0
        _write(r, c, st, start, lst, med, dn0, ds0, status, first, last, drop_ndvi, drop_swir, base_ndvi)


@numba.njit(cache=True, nogil=True)
def _bands_row_one(r, red, nir, swir, scl, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest,
                   forest_min, low_margin, d_ndvi, d_swir, nir_rise, min_obs, n_confirm,
                   status, first, last, drop_ndvi, drop_swir, base_ndvi, med, cap, start, confirms):  # pragma: no cover - compiled
    """:func:`_bands_row` for one baseline date: that observation is the median, the low quantile
    and the seasonal reference, so no sort is needed (same results, bit for bit).

    Done date by date along the row rather than pixel by pixel: each pass reads one date's
    planes in order, and the per-pixel state lives in the row buffers ``med``, ``cap``
    (float64), ``start`` and ``confirms``; ``status`` holds the state, ``drop_*`` the first drop.
    """
    n_t, _, n_c = red.shape
    for c in range(n_c):  # the baseline date
        code = scl[0, r, c]
        y0 = np.float64(red[0, r, c])
        x0 = np.float64(nir[0, r, c])
        z0 = np.float64(swir[0, r, c])
        usable = in_ranges(code, lo0, hi0, lo1, hi1, lo2, hi2) and code != water and y0 > 0.0 and z0 > 0.0 and x0 > 0.0 and (x0 > y0 or z0 >= x0) and min_obs <= 1
        m = (x0 - y0) / (x0 + y0) if usable else np.nan
        med[c] = m
        base_ndvi[r, c] = m
        cap[c] = x0 * (1.0 + nir_rise)
        watched = usable and (forest[r, c] != 0 if use_forest else m >= forest_min)
        status[r, c] = NONE if watched else UNASSESSED
        last[r, c] = -1
        start[c] = -1
        confirms[c] = 0
    for t in range(1, n_t):
        for c in range(n_c):
            code = scl[t, r, c]
            yi = red[t, r, c]
            xi = nir[t, r, c]
            zi = swir[t, r, c]
            if not (in_ranges(code, lo0, hi0, lo1, hi1, lo2, hi2) and yi > 0 and xi > 0 and zi > 0):
                continue
            last[r, c] = t - 1
            st = status[r, c]
            if st == UNASSESSED or st == HIGH or code == water or not xi > yi:  # noqa: SIM109 - numba: plain comparisons
                continue
            x = np.float64(xi)
            y = np.float64(yi)
            if x > cap[c]:  # brighter than the baseline in NIR: thin cloud or haze
                continue
            m = med[c]
            thr = min(m - low_margin, m - d_ndvi)
            dropped = False
            rs = 0.0
            vn = 0.0
            vs = 0.0
            if x - y <= (thr + _SLACK) * (x + y):
                vn = (x - y) / (x + y)
                if m - vn >= d_ndvi and vn <= m - low_margin:
                    z = np.float64(zi)
                    vs = (x - z) / (x + z)
                    x0 = np.float64(nir[0, r, c])
                    z0 = np.float64(swir[0, r, c])
                    rs = (x0 - z0) / (x0 + z0)
                    dropped = rs - vs >= d_swir
            if dropped or start[c] >= 0:  # else nothing changes: no stores
                start[c], confirms[c], st, began = _advance(1 if dropped else -1, t - 1, start[c], confirms[c], st, n_confirm)
                status[r, c] = st
                if began:
                    drop_ndvi[r, c] = m - vn
                    drop_swir[r, c] = rs - vs
    for c in range(n_c):
        st = status[r, c]
        if st == LOW or st == HIGH:  # noqa: SIM109 - numba: plain comparisons
            first[r, c] = start[c]
        else:
            first[r, c] = -1
            drop_ndvi[r, c] = np.nan
            drop_swir[r, c] = np.nan


@numba.njit(parallel=True, cache=True)
def bands_parallel(red, nir, swir, scl, n_base, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest, order, n_low, n_season,
                   forest_min, low_q, low_margin, d_ndvi, d_swir, nir_rise, min_obs, n_confirm, recovery, bare, w_ndvi, w_swir, n_withdraw, transient, mday, low_nir,
                   status, first, last, drop_ndvi, drop_swir, base_ndvi):  # pragma: no cover - compiled
    nb = max(n_base, 1)
    ns = max(n_season, 1)
    n_c = red.shape[2]
    for r in numba.prange(red.shape[1]):
        if n_base == 1:
            _bands_row_one(r, red, nir, swir, scl, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest,
                           forest_min, low_margin, d_ndvi, d_swir, nir_rise, min_obs, n_confirm,
                           status, first, last, drop_ndvi, drop_swir, base_ndvi,
                           np.empty(n_c), np.empty(n_c), np.empty(n_c, np.int64), np.empty(n_c, np.int64))
            continue
        _bands_row(r, red, nir, swir, scl, n_base, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest, order, n_low, n_season,
                   forest_min, low_q, low_margin, d_ndvi, d_swir, nir_rise, min_obs, n_confirm, recovery, bare, w_ndvi, w_swir, n_withdraw, transient, mday, low_nir,
                   status, first, last, drop_ndvi, drop_swir, base_ndvi,
                   np.empty(nb), np.empty(nb), np.empty(nb), np.empty(nb), np.empty(nb), np.empty(ns), np.empty(ns), np.empty(ns))


@numba.njit(cache=True, nogil=True)
def bands_serial(red, nir, swir, scl, n_base, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest, order, n_low, n_season,
                 forest_min, low_q, low_margin, d_ndvi, d_swir, nir_rise, min_obs, n_confirm, recovery, bare, w_ndvi, w_swir, n_withdraw, transient, mday, low_nir,
                 status, first, last, drop_ndvi, drop_swir, base_ndvi):  # pragma: no cover - compiled
    nb = max(n_base, 1)
    ns = max(n_season, 1)
    bn, bx, bz, srt, snir = np.empty(nb), np.empty(nb), np.empty(nb), np.empty(nb), np.empty(nb)
    sn, ss, sx = np.empty(ns), np.empty(ns), np.empty(ns)
    n_c = red.shape[2]
    med, cap, start, confirms = np.empty(n_c), np.empty(n_c), np.empty(n_c, np.int64), np.empty(n_c, np.int64)
    for r in range(red.shape[1]):
        if n_base == 1:
            _bands_row_one(r, red, nir, swir, scl, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest,
                           forest_min, low_margin, d_ndvi, d_swir, nir_rise, min_obs, n_confirm,
                           status, first, last, drop_ndvi, drop_swir, base_ndvi, med, cap, start, confirms)
            continue
        _bands_row(r, red, nir, swir, scl, n_base, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest, order, n_low, n_season,
                   forest_min, low_q, low_margin, d_ndvi, d_swir, nir_rise, min_obs, n_confirm, recovery, bare, w_ndvi, w_swir, n_withdraw, transient, mday, low_nir,
                   status, first, last, drop_ndvi, drop_swir, base_ndvi, bn, bx, bz, srt, snir, sn, ss, sx)


@numba.njit(cache=True, nogil=True)
def _index_row(r, ndvi, scl, n_base, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest, order, n_season,
               forest_min, low_q, low_margin, d_ndvi, min_obs, n_confirm,
               status, first, last, drop_ndvi, drop_swir, base_ndvi, bn, srt, sn, ss):  # pragma: no cover - compiled
    n_t, _, n_c = ndvi.shape
    n_mon = n_t - n_base
    for c in range(n_c):
        k = 0
        for t in range(n_base):
            v = np.float64(ndvi[t, r, c])
            code = scl[t, r, c]
            if in_ranges(code, lo0, hi0, lo1, hi1, lo2, hi2) and code != water and v > 0.0:
                bn[t] = v
                srt[k] = v
                k += 1
            else:
                bn[t] = np.nan
        st = UNASSESSED
        med = np.nan
        thr = 0.0
        watched = False
        if k >= min_obs and k > 0:
            for i in range(1, k):  # written out, as in _bands_row
                v = srt[i]
                j = i - 1
                while j >= 0 and srt[j] > v:
                    srt[j + 1] = srt[j]
                    j -= 1
                srt[j + 1] = v
            h = k // 2
            med = srt[h] if k % 2 == 1 else (srt[h - 1] + srt[h]) / 2.0
            thr = srt[int(low_q * (k - 1))] - low_margin
            watched = forest[r, c] != 0 if use_forest else med >= forest_min
            if watched:
                st = NONE
        lst = -1
        start = -1
        confirms = 0
        dn0 = np.nan
        for m in range(n_mon):
            t = n_base + m
            v = np.float64(ndvi[t, r, c])
            code = scl[t, r, c]
            if not (in_ranges(code, lo0, hi0, lo1, hi1, lo2, hi2) and v == v):
                continue
            lst = m
            if not watched or st == HIGH or code == water or not v > 0.0:
                continue
            dropped = False
            rn = 0.0
            if v <= thr:
                rn = season_median(order[m], bn, n_season, sn)
                if rn < forest_min:  # a dormant season: NDVI alone cannot tell loss from winter
                    continue
                dropped = rn - v >= d_ndvi
            start, confirms, st, began = _advance(1 if dropped else -1, m, start, confirms, st, n_confirm)
            if began:
                dn0 = rn - v
        _write(r, c, st, start, lst, med, dn0, np.nan, status, first, last, drop_ndvi, drop_swir, base_ndvi)


@numba.njit(parallel=True, cache=True)
def index_parallel(ndvi, scl, n_base, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest, order, n_season, forest_min, low_q, low_margin,
                   d_ndvi, min_obs, n_confirm, status, first, last, drop_ndvi, drop_swir, base_ndvi):  # pragma: no cover - compiled
    nb = max(n_base, 1)
    ns = max(n_season, 1)
    for r in numba.prange(ndvi.shape[1]):
        _index_row(r, ndvi, scl, n_base, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest, order, n_season, forest_min, low_q, low_margin,
                   d_ndvi, min_obs, n_confirm, status, first, last, drop_ndvi, drop_swir, base_ndvi,
                   np.empty(nb), np.empty(nb), np.empty(ns), np.empty(ns))


@numba.njit(cache=True, nogil=True)
def index_serial(ndvi, scl, n_base, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest, order, n_season, forest_min, low_q, low_margin,
                 d_ndvi, min_obs, n_confirm, status, first, last, drop_ndvi, drop_swir, base_ndvi):  # pragma: no cover - compiled
    nb = max(n_base, 1)
    ns = max(n_season, 1)
    bn, srt, sn, ss = np.empty(nb), np.empty(nb), np.empty(ns), np.empty(ns)
    for r in range(ndvi.shape[1]):
        _index_row(r, ndvi, scl, n_base, lo0, hi0, lo1, hi1, lo2, hi2, water, forest, use_forest, order, n_season, forest_min, low_q, low_margin,
                   d_ndvi, min_obs, n_confirm, status, first, last, drop_ndvi, drop_swir, base_ndvi, bn, srt, sn, ss)
