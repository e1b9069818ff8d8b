"""What the reviews say about the alerts: stratified estimators of accuracy and area (Olofsson et al. 2014).

Olofsson, Foody, Herold, Stehman, Woodcock & Wulder (2014), "Good practices for estimating area
and assessing accuracy of land change", Remote Sensing of Environment 148: 42-57. The map's
strata are the alert strata (confidence x AOI x period) and, when sampled, a no-alert stratum
per AOI (random points outside every alert). Each stratum h was sampled at random (simple random
sampling within the stratum); ``n_h`` units of it carry a reference label from a sample-mode
review (confirm = a clearing, dismiss = not one; "needs field check" is still pending), ``c_h``
of them are clearings, ``p_h = c_h / n_h``.

- **User's accuracy of a stratum** (the precision of its alerts): ``p_h``, with
  ``V = p_h (1 - p_h) / (n_h - 1)`` (Olofsson eq. 5).
- **User's accuracy of all alerts**: the alert strata as sub-strata of one map class "alert",
  weighted by their share of alerts ``w_h = N_h / N``: ``U = sum w_h p_h``,
  ``V = sum w_h^2 p_h (1 - p_h) / (n_h - 1)``.
- **Area of clearing** (needs the no-alert strata): with area weights ``W_h = A_h / A``,
  ``p = sum W_h p_h``, ``SE(p) = sqrt(sum W_h^2 p_h (1 - p_h) / (n_h - 1))`` (eqs. 9-10), area
  ``A p`` with interval ``A * z * SE`` (eq. 11).
- **Producer's accuracy of the alerts** (1 - omission): ``P = sum_alert W_h p_h / p``, with the
  variance of a combined ratio estimator (Stehman 2014, eq. 28; Olofsson eq. 7 for two classes).

Intervals are ``estimate +- z * SE`` with ``z = 1.96`` (95 %). A stratum needs two labelled units
for a variance, unless all its alerts were labelled (a census: no sampling error); an estimate
over strata needs a label in each of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

Z95 = 1.96
STRATUM_COLUMNS = ("stratum", "alert", "units", "area_ha", "decided", "confirmed")


@dataclass(frozen=True)
class Estimate:
    """An estimate and the half width of its confidence interval (``None`` when it cannot be had)."""

    value: float
    half_width: float | None

    @property
    def interval(self) -> tuple[float, float] | None:
        return None if self.half_width is None else (self.value - self.half_width, self.value + self.half_width)


@dataclass(frozen=True)
class StratumResult:
    """One stratum: its size, what was decided in it, and its user's accuracy (share of clearings)."""

    stratum: str
    alert: bool
    units: int
    area_ha: float
    decided: int
    confirmed: int
    accuracy: Estimate | None


@dataclass(frozen=True)
class AccuracyReport:
    """The estimates over one sample's strata; ``notes`` say why an estimate is missing."""

    strata: list[StratumResult]
    users_accuracy: Estimate | None
    area_ha: Estimate | None
    producers_accuracy: Estimate | None
    notes: list[str] = field(default_factory=list)

    @property
    def omission(self) -> Estimate | None:
        p = self.producers_accuracy
        return None if p is None else Estimate(1.0 - p.value, p.half_width)


def _share(decided: int, confirmed: int, units: int | None = None) -> tuple[float, float | None]:
    """``p_h`` and its variance ``p (1 - p) / (n - 1)`` (``None`` below two units; 0 when every
    one of the stratum's ``units`` alerts was decided: a census has no sampling error)."""
    p = confirmed / decided
    if units is not None and decided >= units:
        return p, 0.0
    return p, (p * (1 - p) / (decided - 1) if decided > 1 else None)


def estimate(strata: pd.DataFrame, z: float = Z95) -> AccuracyReport:
    """The estimates from a table of strata (columns :data:`STRATUM_COLUMNS`).

    ``alert`` is True for alert strata, ``units`` the alerts in the stratum (``N_h``; points:
    any), ``area_ha`` its mapped area (``A_h``), ``decided`` the labelled units (``n_h``) and
    ``confirmed`` how many of them are clearings (``c_h``).
    """
    missing = [c for c in STRATUM_COLUMNS if c not in strata.columns]
    if missing:
        raise ValueError(f"strata table lacks {', '.join(missing)}")
    results: list[StratumResult] = []
    notes: list[str] = []
    for row in strata.itertuples(index=False):
        n, c = int(row.decided), int(row.confirmed)
        if not 0 <= c <= n:
            raise ValueError(f"stratum {row.stratum}: {c} confirmed of {n} decided")
        acc = None
        if n:
            p, var = _share(n, c, int(row.units) if bool(row.alert) else None)
            acc = Estimate(p, None if var is None else z * math.sqrt(var))
        results.append(StratumResult(str(row.stratum), bool(row.alert), int(row.units), float(row.area_ha), n, c, acc))
    alerts = [r for r in results if r.alert]
    users = _users(alerts, z, notes)
    area, producers = _area(results, z, notes)
    return AccuracyReport(results, users, area, producers, notes)


def _users(alerts: list[StratumResult], z: float, notes: list[str]) -> Estimate | None:
    if not alerts:
        notes.append("no alert stratum was sampled")
        return None
    empty = [r.stratum for r in alerts if r.decided == 0]
    if empty:
        notes.append(f"user's accuracy of all alerts waits for decisions in {', '.join(empty)}")
        return None
    total = sum(r.units for r in alerts)
    w = np.array([r.units / total for r in alerts])
    shares = [_share(r.decided, r.confirmed, r.units) for r in alerts]
    value = float(np.sum(w * [p for p, _ in shares]))
    if any(v is None for _, v in shares):
        return Estimate(value, None)
    return Estimate(value, z * math.sqrt(float(np.sum(w ** 2 * [v for _, v in shares]))))


def _area(results: list[StratumResult], z: float, notes: list[str]) -> tuple[Estimate | None, Estimate | None]:
    if not any(not r.alert for r in results):
        notes.append("area and omission need a reviewed no-alert stratum (random points outside every alert)")
        return None, None
    empty = [r.stratum for r in results if r.decided == 0]
    if empty:
        notes.append(f"area and omission wait for decisions in {', '.join(empty)}")
        return None, None
    total = sum(r.area_ha for r in results)
    if total <= 0:
        notes.append("the strata have no mapped area")
        return None, None
    w_area = np.array([r.area_ha / total for r in results])
    n = np.array([r.decided for r in results], dtype=float)
    p = np.array([r.confirmed for r in results], dtype=float) / n
    alert = np.array([r.alert for r in results])
    cleared = float(np.sum(w_area * p))
    census = alert & (n >= np.array([r.units for r in results]))
    with np.errstate(divide="ignore", invalid="ignore"):
        var_h = np.where(census, 0.0, np.where(n > 1, p * (1 - p) / (n - 1), np.nan))
    estimable = bool(np.all(np.isfinite(var_h)))
    area = Estimate(total * cleared, total * z * math.sqrt(float(np.sum(w_area ** 2 * var_h))) if estimable else None)
    if cleared <= 0:
        notes.append("no reviewed unit is a clearing: producer's accuracy (omission) is undefined")
        return area, None
    ratio = float(np.sum(w_area * p * alert)) / cleared
    if not estimable:
        return area, Estimate(ratio, None)
    # s2_x / n = p (1 - p) / (n - 1) (0 for a census); y = x in alert strata, 0 elsewhere
    s2_x = n * var_h
    term = np.where(alert, (1 - ratio) ** 2 * s2_x, ratio ** 2 * s2_x)
    var_r = float(np.sum(w_area ** 2 * term / n)) / cleared ** 2
    return area, Estimate(ratio, z * math.sqrt(var_r))
