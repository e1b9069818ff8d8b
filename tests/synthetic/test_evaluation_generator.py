"""The evaluation generator: fixed seeds, truth independent of any detector, the phenomena it promises."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from synthetic.evaluation import (
    CONTROL_SCENES,
    SCENES,
    TEST_CASES,
    TEST_SEEDS,
    TUNING_CASES,
    generate,
)
from synthetic.evaluation import spectra as sp
from synthetic.evaluation.scoring import pool, score_alerts

PACKAGE = Path(__file__).resolve().parents[2] / "synthetic" / "evaluation"


def test_imports_nothing_of_the_detector() -> None:
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith(("geo", "jobs", "ingest")), f"{path.name} imports {name}"


def test_tuning_and_test_cases_are_disjoint_and_cover_every_control() -> None:
    assert not {seed for _, seed, _ in TUNING_CASES} & TEST_SEEDS
    assert {name for name, _, _ in TEST_CASES} == set(SCENES)
    assert {years for _, _, years in TEST_CASES} == {1, 2, 3}
    assert len(CONTROL_SCENES) >= 7


def test_same_seed_same_scene_and_different_seed_different_spectra() -> None:
    a, b = generate("control_roads", 5, 1, n=96), generate("control_roads", 5, 1, n=96)
    assert a.dates == b.dates
    assert all(np.array_equal(a.bands[k], b.bands[k]) for k in a.bands)
    factors = np.array([sp.palette(np.random.default_rng(s)).canopy[sp.EVERGREEN] for s in range(40)]) / np.asarray(sp._CANOPY[sp.EVERGREEN])
    assert factors.min() < 0.8 and factors.max() > 1.2  # per-seed variation of at least +-20 % per band and class


def test_baseline_years_and_monitoring_year() -> None:
    s = generate("mixed", 3, 3, n=96)
    assert s.n_baseline == sum(d.year < s.dates[-1].year for d in s.dates)
    assert {d.year for d in s.dates[: s.n_baseline]} == {2019, 2020, 2021}
    assert {d.year for d in s.monitor_dates} == {2022}
    assert s.dates == sorted(s.dates)


def test_truth_events_in_monitoring_year_and_inside_their_footprint() -> None:
    s = generate("logging", 21, 1, n=128)
    assert set(s.events["kind"]) == {"clearing", "gap", "trail"}
    for row in s.events.itertuples():
        assert row.monitoring and row.date.year == 2020
        assert (s.event_labels == row.id).sum() * 0.01 == pytest.approx(row.area_ha)
    gaps = s.events[s.events["kind"] == "gap"]
    assert gaps["area_ha"].between(0.02, 0.31).all()
    cut = s.event_labels == int(s.events[s.events["kind"] == "clearing"]["id"].iloc[0])
    before = s.bands["B08"][0][cut].mean()
    after = s.bands["B08"][-1][cut].mean()
    assert after < before  # canopy gone: NIR falls


def test_controls_have_no_loss_and_their_confounder() -> None:
    water = generate("control_water", 22, 1, n=128)
    assert water.events.empty and water.confounder_mask("water-level change").sum() > 100
    scl = generate("control_scl", 23, 1, n=128)
    assert scl.confounder_mask("SCL false cloud").any() and scl.confounder_mask("SCL water error").any()


def test_scl_errs_both_ways() -> None:
    s = generate("control_haze", 24, 1, n=128)
    thin = s.confounder_mask("cloud SCL missed") | s.confounder_mask("haze")
    assert thin.mean() > 0.2  # thin cloud and haze labelled clear somewhere in the monitoring year


def test_scoring_perfect_and_empty_alerts() -> None:
    s = generate("small_clearings", 25, 1, n=128)
    truth = s.event_labels * s.events.set_index("id").reindex(np.arange(s.event_labels.max() + 1))["kind"].eq("clearing").to_numpy()[s.event_labels]
    perfect = score_alerts(s, truth.astype(np.int32))
    assert perfect.n_alerts == perfect.right_alerts > 0
    assert perfect.small_found == perfect.small_truth and perfect.pix_fp == 0 and perfect.fp_total_ha == 0
    none = pool([score_alerts(s, np.zeros_like(s.event_labels))])
    assert none.precision == 1.0 and none.n_alerts == 0
    everything = score_alerts(s, np.ones_like(s.event_labels))
    assert everything.n_alerts == 1 and everything.fp_total_ha > 100


def test_dates_are_dates() -> None:
    s = generate("control_crops", 26, 2, n=64)
    assert all(isinstance(d, dt.date) for d in s.dates) and len(s.dates) >= 20
