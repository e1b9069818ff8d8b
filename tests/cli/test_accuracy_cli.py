"""``ecowatch accuracy`` prints the estimate of the latest sample, filtered by AOI and dates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from cli.main import cli
from layers import open_store
from layers.review_sample import draw_sample, sample_units
from layers.reviews import Decision, decide
from tests.layers.review_fixtures import review_store


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["accuracy", *args])
    return result.exit_code, result.output


def test_accuracy_command(tmp_path: Path) -> None:
    path = review_store(tmp_path / "s.gpkg", n=24)
    code, out = _run("--store", str(path))
    assert code == 1 and "no accuracy sample" in out
    with open_store(path) as store:
        sid = draw_sample(store, per_stratum=2, seed=3, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        units = sample_units(store, sid)
        for unit in units["unit_id"]:
            version = store.read("clearings", where={"clearing_id": unit}, columns=["status_version"])["status_version"].iloc[0]
            decide(store, Decision(unit, "confirm", 0 if pd.isna(version) else int(version), mode="sample", sample_id=sid), "ana")
    code, out = _run("--store", str(path))
    assert code == 0, out
    assert f"accuracy sample {sid}" in out and "user's accuracy, all alerts: 100.0 % +- 0.0" in out
    assert "high|demo|2024Q1" in out and "area and omission need a reviewed no-alert stratum" in out
    code, out = _run("--store", str(path), "--from", "2024-10-01", "--aoi", "demo")
    assert code == 0 and "2024Q1" not in out and "2024Q4" in out
    code, out = _run("--store", str(path), "--aoi", "elsewhere")
    assert code == 1 and "no stratum" in out
    code, out = _run("--store", str(path), "--from", "May")
    assert code == 2 and "not a date" in out
