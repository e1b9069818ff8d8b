"""Emerging-trend labels of a location's hot-spot series.

Given, for one location and ``n`` periods in time order, whether it was a hot spot (Gi* z > 0 at
90 % confidence or more) or a cold spot in each period, and the intensity of its neighbourhood
(the Gi* numerator: the incidents of the location and its neighbours) — whose trend is tested
with Mann–Kendall. The intensity, not the z-score, is tested because z is relative to each
period's mean and spread: a cluster whose incidents stay the same would seem to fade when
others grow.

``new``           hot in the final period and in no earlier one.
``consecutive``   one uninterrupted run of at least two hot periods that ends with the final
                  period, no hot period before the run, and fewer than 90 % of all periods hot.
``intensifying``  hot in at least 90 % of the periods, the final one included, and the
                  intensity rises over time (Mann–Kendall, p < 0.05).
``persistent``    hot in at least 90 % of the periods, the final one included, with no
                  significant trend in the intensity.
``diminishing``   hot in at least 90 % of the periods, the final one included, and the
                  intensity falls over time (Mann–Kendall, p < 0.05).
``sporadic``      hot in the final period, on and off before (fewer than 90 % hot, not one
                  final run), and never a cold spot.
``oscillating``   hot in the final period, fewer than 90 % hot, and a cold spot in some earlier
                  period.
``historical``    not hot in the final period, but hot in at least 90 % of the earlier ones.
``no pattern``    none of the above (including every cold-only or never-significant series).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pymannkendall

LABELS = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating", "historical", "no pattern")
MOSTLY = 0.9
TREND_P = 0.05


def mann_kendall(z: Sequence[float]) -> tuple[str, float]:
    """Direction ("increasing", "decreasing" or "no trend") and p-value of a series' monotonic trend."""
    values = np.asarray(z, dtype=float)
    if len(values) < 3 or not np.isfinite(values).all() or np.ptp(values) == 0:
        return "no trend", 1.0
    result = pymannkendall.original_test(values, alpha=TREND_P)
    return str(result.trend), float(result.p)


def trend_label(hot: Sequence[bool], cold: Sequence[bool], intensity: Sequence[float]) -> str:
    """The emerging-trend label of one location (see the module docstring)."""
    hot_a = np.asarray(hot, dtype=bool)
    cold_a = np.asarray(cold, dtype=bool)
    n = len(hot_a)
    if n == 0:
        return "no pattern"
    share = hot_a.sum() / n
    if not hot_a[-1]:
        earlier = hot_a[:-1]
        return "historical" if len(earlier) and earlier.sum() >= MOSTLY * len(earlier) else "no pattern"
    if hot_a[:-1].sum() == 0:
        return "new"
    if share >= MOSTLY:
        direction, p = mann_kendall(intensity)
        if p < TREND_P and direction == "increasing":
            return "intensifying"
        if p < TREND_P and direction == "decreasing":
            return "diminishing"
        return "persistent"
    run = int(np.argmin(hot_a[::-1])) if not hot_a.all() else n  # length of the final hot run
    if run >= 2 and hot_a[: n - run].sum() == 0:
        return "consecutive"
    if cold_a[:-1].any():
        return "oscillating"
    return "sporadic"
