"""Real data: the 68-date Slovenian NDVI series (2015-2017, real winters) through the NDVI-only path.

No forest is cleared in this 1 km2 patch (tests/data/eolearn_slovenia_s2/README.md), so every
flag is a false positive. SCL is derived from the cloud mask as issue 4 prescribes (CLM = 1 ->
9, IS_DATA = 0 -> 0, else 4). Baseline: the first year (2015-07-11 .. 2016-07-10, 23 dates);
monitoring: the 45 dates after it, through two winters with snow the cloud mask does not flag.

Asserted, with the default thresholds, both with forest found from the baseline NDVI and with
every pixel watched (a forest mask of ones): the clearings reported cover < 0.5 % of the patch,
and so do the confirmed (high) pixels. Unconfirmed candidates (low) are counted too; they come
from cloud edges the mask misses on the series' last, two-thirds cloudy, date.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from geo.change.detection import HIGH, LOW, UNASSESSED, ChangeParams, detect_change_ndvi
from geo.change.objects import clearing_objects

DATA = Path(__file__).resolve().parents[1] / "data" / "eolearn_slovenia_s2"
T = Affine(10.0, 0.0, 465181.05, 0.0, -10.0, 5080254.63)  # the patch, UTM 33N, 10 m
MONITOR_START = dt.date(2016, 7, 11)


def scl_from_masks(clm: np.ndarray, is_data: np.ndarray) -> np.ndarray:
    return np.where(is_data == 0, 0, np.where(clm == 1, 9, 4)).astype(np.uint8)


@pytest.fixture(scope="module")
def series() -> tuple[np.ndarray, np.ndarray, list[dt.date]]:
    data = np.load(DATA / "ndvi_series.npz")
    dates = [dt.date.fromisoformat(t[:10]) for t in json.loads((DATA / "timestamps.json").read_text())]
    return data["ndvi"], scl_from_masks(data["clm"], data["is_data"]), dates


@pytest.mark.parametrize("watch", ["forest by baseline NDVI", "every pixel"])
def test_real_winters_are_not_read_as_clearings(series, watch):
    ndvi, scl, dates = series
    n_base = sum(d < MONITOR_START for d in dates)
    assert (n_base, len(dates) - n_base) == (23, 45)
    forest = np.ones(ndvi.shape[1:], np.uint8) if watch == "every pixel" else None
    r = detect_change_ndvi(ndvi, scl, n_base, ChangeParams(), dates=dates, forest=forest)
    watched = (r.status != UNASSESSED).mean()
    assert watched > (0.99 if forest is not None else 0.3), f"too little watched ({watched:.2f}) for the test to mean much"
    objects = clearing_objects(r, T, "EPSG:32633", dates[n_base:], mmu_ha=0.5)
    patch_ha = ndvi.shape[1] * ndvi.shape[2] * 0.01
    assert objects["area_ha"].sum() < 0.005 * patch_ha, objects
    assert not (objects["area_ha"] >= 0.5).any(), objects  # no alert of 0.5 ha or more
    assert (r.status == HIGH).mean() < 0.005
    assert np.isin(r.status, [LOW, HIGH]).mean() < 0.015  # unconfirmed candidates on the cloud-edged last date


def test_without_seasons_the_same_series_would_be_flagged(series):
    """What the seasonal reference and the low range buy here: an annual-median detector flags winters."""
    ndvi, scl, dates = series
    n_base = sum(d < MONITOR_START for d in dates)
    naive = ChangeParams(season_observations=1000, low_margin=-5.0, forest_ndvi_min=-1.0)
    r = detect_change_ndvi(ndvi, scl, n_base, naive, dates=dates)
    assert (r.status == HIGH).mean() > 0.05
