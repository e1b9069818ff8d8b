"""Accuracy and area from review samples, against independent implementations of the formulas.

The independent versions below follow the papers' notation directly: Olofsson et al. (2014)'s
error-matrix equations for two map classes (alert / no alert) and, for sub-strata of the alert
class, Stehman (2014)'s per-unit stratified estimator (sample means and variances of 0/1 unit
values). They share no code with :mod:`layers.accuracy`.
"""

# ruff: noqa: N806 - variables follow the papers' notation (W, N, A, X, Y, R)
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from layers import open_store
from layers.accuracy import estimate
from layers.errors import ReviewError
from layers.review_sample import draw_sample, sample_units, strata_table
from layers.reviews import Decision, decide

from .review_fixtures import review_store

Z = 1.96


def olofsson_two_classes(n: np.ndarray, area: np.ndarray) -> dict[str, float]:
    """Olofsson et al. 2014, eqs. 2-11, for map classes (0 alert, 1 no alert) x reference (0 clearing, 1 not).

    ``n[i, j]`` sample counts, ``area[i]`` map area of class i.
    """
    A = area.sum()
    W = area / A
    n_i = n.sum(axis=1)
    p = W[:, None] * n / n_i[:, None]  # eq. 4
    ua = p[0, 0] / p[0, :].sum()  # eq. 2
    v_ua = ua * (1 - ua) / (n_i[0] - 1)  # eq. 5
    p_j = p[:, 0].sum()  # eq. 9
    se_p = math.sqrt(sum(W[i] ** 2 * (n[i, 0] / n_i[i]) * (1 - n[i, 0] / n_i[i]) / (n_i[i] - 1) for i in range(2)))  # eq. 10
    pa = p[0, 0] / p_j  # eq. 3
    N = area  # map "pixels" of each class: any unit of area
    N_hat_j = sum(N[i] / n_i[i] * n[i, 0] for i in range(2))
    v_pa = (1 / N_hat_j ** 2) * (
        N[0] ** 2 * (1 - pa) ** 2 * ua * (1 - ua) / (n_i[0] - 1)
        + pa ** 2 * N[1] ** 2 * (n[1, 0] / n_i[1]) * (1 - n[1, 0] / n_i[1]) / (n_i[1] - 1)
    )  # eq. 7
    return {"ua": ua, "ua_hw": Z * math.sqrt(v_ua), "area": A * p_j, "area_hw": Z * A * se_p,  # eq. 11
            "pa": pa, "pa_hw": Z * math.sqrt(v_pa)}


def stehman_units(strata: list[tuple[bool, float, float, list[int]]]) -> dict[str, float]:
    """Stehman 2014: each stratum (alert?, N_h, A_h, unit labels 1/0) estimated from its units' values."""
    out: dict[str, float] = {}
    alerts = [s for s in strata if s[0]]
    N = sum(s[1] for s in alerts)
    ua = sum(s[1] / N * np.mean(s[3]) for s in alerts)
    v = sum((s[1] / N) ** 2 * np.var(s[3], ddof=1) / len(s[3]) for s in alerts)
    out["ua"], out["ua_hw"] = ua, Z * math.sqrt(v)
    A = sum(s[2] for s in strata)
    y = [np.array(s[3]) * (1 if s[0] else 0) for s in strata]  # clearing and alerted
    x = [np.array(s[3]) for s in strata]  # clearing
    W = [s[2] / A for s in strata]
    X = sum(w * xi.mean() for w, xi in zip(W, x, strict=True))
    Y = sum(w * yi.mean() for w, yi in zip(W, y, strict=True))
    R = Y / X
    v_r = sum(
        w ** 2 * (np.var(yi, ddof=1) + R ** 2 * np.var(xi, ddof=1) - 2 * R * np.cov(xi, yi, ddof=1)[0, 1]) / len(xi)
        for w, xi, yi in zip(W, x, y, strict=True)
    ) / X ** 2
    v_x = sum(w ** 2 * np.var(xi, ddof=1) / len(xi) for w, xi in zip(W, x, strict=True))
    out.update(area=A * X, area_hw=Z * A * math.sqrt(v_x), pa=R, pa_hw=Z * math.sqrt(v_r))
    return out


def _table(strata: list[tuple[str, bool, float, float, list[int]]]) -> pd.DataFrame:
    return pd.DataFrame([{"stratum": s, "alert": a, "units": N, "area_ha": A, "decided": len(lab), "confirmed": sum(lab)}
                         for s, a, N, A, lab in strata])


def test_two_classes_match_olofsson() -> None:
    n = np.array([[41, 9], [3, 97]])
    area = np.array([1_800.0, 98_200.0])
    report = estimate(_table([("alerts", True, 320, area[0], [1] * 41 + [0] * 9),
                              ("no_alert|demo", False, 100, area[1], [1] * 3 + [0] * 97)]))
    want = olofsson_two_classes(n, area)
    ua, a, pa = report.users_accuracy, report.area_ha, report.producers_accuracy
    assert ua is not None and a is not None and pa is not None
    assert (ua.value, ua.half_width) == pytest.approx((want["ua"], want["ua_hw"]), rel=1e-12)
    assert (a.value, a.half_width) == pytest.approx((want["area"], want["area_hw"]), rel=1e-12)
    assert (pa.value, pa.half_width) == pytest.approx((want["pa"], want["pa_hw"]), rel=1e-12)
    s = report.strata[0].accuracy
    assert s is not None and (s.value, s.half_width) == pytest.approx((0.82, Z * math.sqrt(0.82 * 0.18 / 49)))


def test_sub_strata_match_stehman() -> None:
    rng = np.random.default_rng(7)
    strata = [
        ("high|demo|2024Q1", True, 200.0, 900.0, list(rng.binomial(1, 0.9, 30))),
        ("low|demo|2024Q1", True, 1400.0, 2600.0, list(rng.binomial(1, 0.4, 30))),
        ("high|demo|2024Q2", True, 90.0, 300.0, list(rng.binomial(1, 0.8, 25))),
        ("no_alert|demo", False, 50.0, 96_000.0, [1, 1] + [0] * 48),
    ]
    report = estimate(_table(strata))
    want = stehman_units([(a, N, A, lab) for _, a, N, A, lab in strata])
    for got, key in ((report.users_accuracy, "ua"), (report.area_ha, "area"), (report.producers_accuracy, "pa")):
        assert got is not None and (got.value, got.half_width) == pytest.approx((want[key], want[key + "_hw"]), rel=1e-10)
    assert report.omission is not None and report.omission.value == pytest.approx(1 - want["pa"])


def test_missing_decisions_say_why() -> None:
    report = estimate(_table([("high|demo|2024Q1", True, 10, 10.0, [1, 0]), ("low|demo|2024Q1", True, 10, 10.0, [])]))
    assert report.users_accuracy is None and report.area_ha is None
    assert any("low|demo|2024Q1" in n for n in report.notes) and any("no-alert" in n for n in report.notes)
    one = estimate(_table([("high|demo|2024Q1", True, 10, 10.0, [1])]))
    assert one.users_accuracy is not None and one.users_accuracy.half_width is None


def test_from_the_store_queue_decisions_not_mixed_in(tmp_path: Path) -> None:
    path = review_store(tmp_path / "s.gpkg", n=40)
    with open_store(path) as store:
        # a queue decision made before the sample on a clearing that the sample may draw
        decide(store, Decision("CL-000", "dismiss", 0, reason="water"), "queue-analyst")
        sid = draw_sample(store, per_stratum=3, points_per_aoi=6, seed=11, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        units = sample_units(store, sid)
        alerts = units[units["clearing_id"].notna()]
        assert alerts.groupby("stratum").size().max() == 3 and (units["stratum"].str.startswith("no_alert")).sum() == 6
        # decide every unit in sample mode: alert units with an even number are clearings; one point is
        labels: dict[str, int] = {}
        versions = dict(zip(*store.read("clearings", columns=["clearing_id", "status_version"]).pipe(
            lambda f: (f["clearing_id"], f["status_version"].fillna(0).astype(int))), strict=True))
        for i, unit in enumerate(units["unit_id"]):
            is_point = unit.startswith("PT-")
            yes = (i == 0) if is_point else int(unit[-3:]) % 2 == 0
            labels[unit] = int(yes)
            d = Decision(unit, "confirm" if yes else "dismiss", 0 if is_point else versions[unit],
                         reason=None if yes else "seasonal", mode="sample", sample_id=sid)
            decide(store, d, "sampler")
        # queue decisions after the sample change nothing in the estimate
        queue_unit = str(alerts["unit_id"].iloc[0])
        decide(store, Decision(queue_unit, "field_check", versions[queue_unit] + 1), "queue-analyst")
        table = strata_table(sample_units(store, sid))
        report = estimate(table)
    strata = []
    for stratum, group in units.groupby("stratum"):
        alert = not stratum.startswith("no_alert")
        strata.append((alert, float(group["stratum_units"].iloc[0]), float(group["stratum_area_ha"].iloc[0]),
                       [labels[u] for u in group["unit_id"]]))
    # strata whose units all agree have no variance: compare the values, and intervals where defined
    ua = report.users_accuracy
    assert ua is not None
    alerts_only = [s for s in strata if s[0]]
    N = sum(s[1] for s in alerts_only)
    assert ua.value == pytest.approx(sum(s[1] / N * np.mean(s[3]) for s in alerts_only))
    want = stehman_units(strata)
    assert report.area_ha is not None and report.area_ha.value == pytest.approx(want["area"])
    assert report.area_ha.half_width == pytest.approx(want["area_hw"])
    assert report.producers_accuracy is not None and report.producers_accuracy.value == pytest.approx(want["pa"])


def test_sample_needs_two_per_stratum(tmp_path: Path) -> None:
    with open_store(review_store(tmp_path / "s.gpkg", n=3)) as store, pytest.raises(ReviewError, match="at least 2"):
        draw_sample(store, per_stratum=1)
