import datetime as dt

import numpy as np
import pytest
from affine import Affine

from geo.change import HIGH, LOW, NONE, ChangeResult
from geo.objects import clearing_objects, pixel_area_ha

T = Affine(20, 0, 754000, 0, -20, 1521000)  # 20 m pixels, UTM 48N
DATES = [dt.date(2024, 1, 1) + dt.timedelta(days=10 * i) for i in range(10)]


def result(status, first=None):
    h, w = status.shape
    first = np.where(status > 0, 3, -1).astype(np.int16) if first is None else first
    return ChangeResult(
        status=status.astype(np.uint8), first=first, last=np.full((h, w), 9, np.int16),
        ndvi_drop=np.where(status > 0, 0.6, np.nan).astype(np.float32),
        nbr_drop=np.where(status > 0, 0.7, np.nan).astype(np.float32),
        baseline_ndvi=np.full((h, w), 0.8, np.float32),
    )


def test_pixel_area():
    assert pixel_area_ha(T) == pytest.approx(0.04)


def test_objects_sieved_measured_and_dated():
    status = np.zeros((60, 60), np.uint8)
    status[5:15, 5:15] = HIGH  # 100 px = 4 ha
    status[30:33, 30:33] = HIGH  # 9 px = 0.36 ha: below 0.5 ha
    status[40:50, 40:45] = LOW  # 50 px = 2 ha, unconfirmed
    first = np.where(status > 0, 2, -1).astype(np.int16)
    first[5:10, 5:15] = 1  # 50 px on date 1, 50 on date 2: median between
    objs = clearing_objects(result(status, first), T, "EPSG:32648", DATES, mmu_ha=0.5).sort_values("area_ha")
    assert len(objs) == 2
    small, big = objs.iloc[0], objs.iloc[1]
    assert big.area_ha == pytest.approx(4.0, rel=0.01)  # equal-area vs UTM: within 1 %
    assert small.area_ha == pytest.approx(2.0, rel=0.01)
    assert big.confidence == "high" and small.confidence == "low"
    assert big.first_detected.date() in (DATES[1], DATES[2])
    assert small.first_detected.date() == DATES[2]
    assert big.last_observed.date() == DATES[9]
    assert big.ndvi_drop == pytest.approx(0.6)


def test_small_hole_filled_and_diagonal_touch_is_one_object():
    status = np.zeros((40, 40), np.uint8)
    status[5:20, 5:20] = HIGH
    status[10, 10] = NONE  # one-pixel hole
    status[20:30, 20:30] = HIGH  # touches the first block at a corner only
    objs = clearing_objects(result(status), T, "EPSG:32648", DATES, mmu_ha=0.5)
    assert len(objs) == 1
    assert objs.geometry.iloc[0].geom_type == "Polygon"
    assert len(objs.geometry.iloc[0].interiors) == 0


def test_nothing_flagged_gives_an_empty_frame():
    objs = clearing_objects(result(np.zeros((10, 10), np.uint8)), T, "EPSG:32648", DATES, mmu_ha=0.5)
    assert objs.empty and "area_ha" in objs.columns and objs.crs == "EPSG:32648"
