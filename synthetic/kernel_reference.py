"""The change detector written as whole-array float64 NumPy: the reference for the numba kernel.

Same algorithm as :mod:`geo.change.kernel` (same validity tests, same order statistics, same
state machine), one whole-array step per date, so that :func:`detect_change_numpy` returns
exactly what :func:`geo.change.detection.detect_change` does. It is what the kernel is measured against in
``benchmarks/bench_change.py`` ("(b)") and checked against in ``tests/geo/test_change.py``.
It makes many temporary ``(date, row, col)`` float64 arrays: use it on small stacks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from geo.change.baseline import season_order, season_window
from geo.change.detection import HIGH, LOW, NONE, UNASSESSED, WEAK, ChangeParams, ChangeResult
from geo.change.masks import SCL_WATER, dilate_clouds, range_bounds, valid_ranges


def _median(sorted_values: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Median along axis 0 of values sorted with NaN last, ``n`` valid per pixel (>= 1)."""
    h = (n // 2)[None]
    hi = np.take_along_axis(sorted_values, h, axis=0)[0]
    lo = np.take_along_axis(sorted_values, np.maximum(h - 1, 0), axis=0)[0]
    return np.where(n % 2 == 1, hi, (lo + hi) / 2.0)


class _Machine:
    """A candidate's state per pixel (start, confirmations, status, first drops), stepped date by date."""

    def __init__(self, h: int, w: int) -> None:
        self.start = np.full((h, w), -1, np.int64)
        self.confirms = np.zeros((h, w), np.int64)
        self.status = np.full((h, w), NONE, np.uint8)
        self.dn0 = np.full((h, w), np.nan)
        self.ds0 = np.full((h, w), np.nan)

    def step(self, m: int, dropped: np.ndarray, ends: np.ndarray, dn: np.ndarray, ds: np.ndarray, n_confirm: int) -> None:
        """Date ``m``: where ``dropped`` a drop (starts or confirms), where ``ends`` a candidate ends."""
        fresh = dropped & (self.start < 0)
        self.confirms = np.where(fresh, 0, np.where(dropped, self.confirms + 1, self.confirms))
        self.dn0 = np.where(fresh, dn, self.dn0)
        self.ds0 = np.where(fresh, ds, self.ds0)
        self.start = np.where(fresh, m, self.start)
        self.status = np.where(dropped, np.where(self.confirms >= n_confirm, HIGH, LOW), self.status).astype(np.uint8)
        reset = ends & (self.start >= 0)
        self.start = np.where(reset, -1, self.start)
        self.status = np.where(reset, NONE, self.status).astype(np.uint8)


def detect_change_numpy(
    red: np.ndarray, nir: np.ndarray, swir: np.ndarray, scl: np.ndarray, n_baseline: int,
    params: ChangeParams | None = None, *, dates: Sequence[dt.date] | None = None, forest: np.ndarray | None = None,
) -> ChangeResult:
    """:func:`geo.change.detection.detect_change`, whole-array float64 NumPy (same arguments, same result)."""
    params = params or ChangeParams()
    nb = n_baseline
    n_t, h, w = red.shape
    codes = dilate_clouds(scl, params.cloud_dilation_px) if params.cloud_dilation_px else scl.astype(np.uint8)
    range_bounds(params.invalid_scl_classes)  # the same limits as the kernel (at most three runs)
    ok = np.zeros(codes.shape, bool)
    for lo, hi in valid_ranges(params.invalid_scl_classes):
        ok |= (codes >= lo) & (codes <= hi)
    r, n, s = (a.astype(np.float64) for a in (red, nir, swir))
    observed = ok & (r > 0) & (n > 0) & (s > 0)
    usable = observed & (codes != SCL_WATER) & ((n > r) | (s >= n))  # NDVI <= 0 counts when SWIR >= NIR: bare ground
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (n - r) / (n + r)
        nbr = (n - s) / (n + s)
    bn = np.where(usable[:nb], ndvi[:nb], np.nan)
    bs = np.where(usable[:nb], nbr[:nb], np.nan)
    k = usable[:nb].sum(axis=0)
    k1 = np.maximum(k, 1)
    srt = np.sort(bn, axis=0)
    med = _median(srt, k1)
    bx = np.where(usable[:nb], n[:nb], np.nan)
    assessed = (k >= params.min_baseline_observations) & (k > 0)
    watched = assessed & ((forest != 0) if forest is not None else (med >= params.forest_ndvi_min))
    order = season_order(None if dates is None else list(dates[:nb]), None if dates is None else list(dates[nb:]), nb, n_t - nb)
    n_season = params.season_observations if dates is not None else nb
    n_low = season_window(None if dates is None else list(dates[:nb]), None if dates is None else list(dates[nb:]), nb, n_t - nb,
                          params.low_window_days)
    status = np.where(watched, NONE, UNASSESSED).astype(np.uint8)
    last = np.full((h, w), -1, np.int64)
    start = np.full((h, w), -1, np.int64)
    confirms = np.zeros((h, w), np.int64)
    dn0 = np.full((h, w), np.nan)
    ds0 = np.full((h, w), np.nan)
    weak = _Machine(h, w)  # the weak candidate (hysteresis growth): the same machine at grow_share of the drops
    n_withdraw = params.withdraw_observations if dates is not None else 0
    days = np.array([d.toordinal() for d in dates[nb:]], np.int64) if dates is not None else np.zeros(n_t - nb, np.int64)
    greened = np.zeros((h, w), np.int64)  # a confirmed candidate's green observations in a row
    bright0 = np.zeros((h, w), bool)  # the candidate's first drop was brighter in NIR than the season's
    w_ndvi, w_swir = params.ndvi_drop * params.grow_share, params.nbr_drop * params.grow_share
    for m in range(n_t - nb):
        t = nb + m
        last = np.where(observed[t], m, last)
        evaluated = watched & observed[t] & (status != HIGH) & (codes[t] != SCL_WATER) & (n[t] > r[t])
        followed = watched & observed[t] & (status == HIGH) & (codes[t] != SCL_WATER) & (n[t] > r[t])  # confirmed, before this date
        vn, vs = ndvi[t], nbr[t]
        vals_n, vals_s = bn[order[m]], bs[order[m]]
        valid = ~np.isnan(vals_n)
        take = valid & (np.cumsum(valid, axis=0) <= n_season)
        j = np.maximum(take.sum(axis=0), 1)
        sorted_n = np.sort(np.where(take, vals_n, np.nan), axis=0)
        rn = _median(sorted_n, j)
        rs = _median(np.sort(np.where(take, vals_s, np.nan), axis=0), j)
        rx = _median(np.sort(np.where(take, bx[order[m]], np.nan), axis=0), j)
        bright = n[t] > rx * (1.0 + params.nir_rise_max)  # brighter than the season's NIR: haze, or a greener canopy
        cum = np.cumsum(valid, axis=0)  # the low range: dates within the window, and at least n_season valid ones
        rank = np.arange(nb)[:, None, None]
        in_low = valid & ((rank < n_low[m]) | (cum - valid < n_season))
        jl = np.maximum(in_low.sum(axis=0), 1)
        sorted_l = np.sort(np.where(in_low, vals_n, np.nan), axis=0)
        rlow = np.take_along_axis(sorted_l, (params.low_quantile * (jl - 1)).astype(np.int64)[None], axis=0)[0]
        sorted_ls = np.sort(np.where(in_low, vals_s, np.nan), axis=0)
        rlow_s = np.take_along_axis(sorted_ls, (params.low_quantile * (jl - 1)).astype(np.int64)[None], axis=0)[0]
        informative = evaluated & ~(rn < np.minimum(params.forest_ndvi_min, med - params.ndvi_drop))  # not a dormant season
        if nb == 1:  # the kernel's one-date path compares against the date itself, in this order; any non-drop ends
            informative &= ~bright
            dropped = informative & (rn - vn >= params.ndvi_drop) & (vn <= rn - params.low_margin) & (rs - vs >= params.nbr_drop)
            ends = informative & ~dropped
        else:
            big = (rn - vn >= params.ndvi_drop) & (rs - vs >= params.nbr_drop)
            ylow = np.take_along_axis(srt, (params.low_quantile * (k1 - 1)).astype(np.int64)[None], axis=0)[0]
            ylow = np.where(ylow > params.bare_ndvi_max, np.inf, ylow)
            below = (vn < rlow - params.low_margin) | (vs < rlow_s - params.low_margin)  # out of the season's range in either index
            greener = bright & (rn - vn < params.ndvi_drop * params.recovery_share) & (rs - vs < params.nbr_drop * params.recovery_share)
            ends_green = informative & greener  # green again in both indices: a canopy, not haze; it ends a candidate
            informative &= ~bright
            dropped = informative & big & below & (vn < ylow - params.low_margin)
            recovered = (rn - vn < params.ndvi_drop * params.recovery_share) | (rs - vs < params.nbr_drop * params.recovery_share)
            ends = ends_green | (informative & ((big & ~dropped) | (~big & recovered)))
            w_big = (rn - vn >= w_ndvi) & (rs - vs >= w_swir)
            w_dropped = informative & w_big & below & (vn < ylow - params.low_margin)
            w_ends = ends_green | (informative & ((w_big & ~w_dropped) | (~w_big & recovered)))
            weak.step(m, w_dropped, w_ends, rn - vn, rs - vs, params.confirm_observations)
        if nb > 1 and n_withdraw > 0:  # a confirmed candidate green again soon after its drop: withdrawn
            followed &= ~(rn < np.minimum(params.forest_ndvi_min, med - params.ndvi_drop))
            green = (rn - vn < params.ndvi_drop * params.recovery_share) & (rs - vs < params.nbr_drop * params.recovery_share)
            followed &= green | ~bright
            soon = days[m] - days[np.maximum(start, 0)] <= params.transient_days
            greened = np.where(followed & ~green, 0, np.where(followed & green & ((greened > 0) | soon), greened + 1, greened))
            out = followed & (greened >= n_withdraw)
            status = np.where(out, NONE, status).astype(np.uint8)
            start, confirms, greened = np.where(out, -1, start), np.where(out, 0, confirms), np.where(out, 0, greened)
            weak.status = np.where(out, NONE, weak.status).astype(np.uint8)
            weak.start, weak.confirms = np.where(out, -1, weak.start), np.where(out, 0, weak.confirms)
        fresh = dropped & (start < 0)
        if nb > 1:
            bright0 = np.where(fresh, n[t] > rx * (1.0 + params.unconfirmed_nir_rise_max), bright0)
        confirms = np.where(fresh, 0, np.where(dropped, confirms + 1, confirms))
        dn0 = np.where(fresh, rn - vn, dn0)
        ds0 = np.where(fresh, rs - vs, ds0)
        start = np.where(fresh, m, start)
        status = np.where(dropped, np.where(confirms >= params.confirm_observations, HIGH, LOW), status).astype(np.uint8)
        reset = ends & (start >= 0)
        start = np.where(reset, -1, start)
        status = np.where(reset, NONE, status).astype(np.uint8)
    if nb > 1:  # unconfirmed, and NIR did not fall at the first drop: not published, nor grown
        withheld = (status == LOW) & bright0
        status = np.where(withheld, NONE, status).astype(np.uint8)
        weak.status = np.where(withheld & (weak.start == start), NONE, weak.status).astype(np.uint8)  # a weak run begun earlier stays
    grown = (status == NONE) & ((weak.status == LOW) | (weak.status == HIGH))
    status = np.where(grown, WEAK, status).astype(np.uint8)
    start, dn0, ds0 = np.where(grown, weak.start, start), np.where(grown, weak.dn0, dn0), np.where(grown, weak.ds0, ds0)
    flagged = (status == LOW) | (status == HIGH) | grown
    return ChangeResult(
        status=status, first=np.where(flagged, start, -1).astype(np.int16), last=last.astype(np.int16),
        ndvi_drop=np.where(flagged, dn0, np.nan).astype(np.float32), nbr_drop=np.where(flagged, ds0, np.nan).astype(np.float32),
        baseline_ndvi=np.where(assessed, med, np.nan).astype(np.float32),
    )
