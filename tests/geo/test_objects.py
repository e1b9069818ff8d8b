import datetime as dt

import numpy as np
import pytest
import rasterio.features
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.change.detection import HIGH, LOW, NONE, WEAK, ChangeResult, FlaggedPixels
from geo.change.objects import clearing_objects, objects_from_pixels, pixel_area_ha
from geo.errors import InputShapeError

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


def test_weak_pixels_grow_confirmed_objects_only():
    status = np.zeros((60, 60), np.uint8)
    status[4:16, 4:16] = WEAK
    status[6:14, 6:14] = HIGH  # 64 px confirmed, a ring of 80 weak px around it
    status[30:34, 4:8] = HIGH  # 16 px confirmed (0.64 ha) ...
    status[34, 4:8] = WEAK  # ... and a weak row touching it at 20 m
    status[40:52, 40:52] = WEAK  # weak alone: never an alert
    status[20:30, 40:44] = LOW  # an unconfirmed core (40 px) in a weak ring: not grown
    status[20:30, 44:48] = WEAK
    objs = clearing_objects(result(status), T, "EPSG:32648", DATES, mmu_ha=0.5).sort_values("n_pixels")
    assert list(objs.n_pixels) == [20, 40, 144]
    assert list(objs.confidence) == ["high", "low", "high"]  # weak pixels do not vote
    assert objs.area_ha.iloc[2] == pytest.approx(144 * 0.04, rel=0.01)


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


def _whole_grid_polygons(status, mmu_px):
    """The reference: sieve and polygonise the whole grid at once."""
    flagged = ((status == LOW) | (status == HIGH)).astype(np.uint8)
    sieved = rasterio.features.sieve(flagged, size=mmu_px, connectivity=8)
    return sorted(shapely.normalize(shapely.geometry.shape(g)).wkt for g, v in rasterio.features.shapes(sieved, mask=sieved == 1, transform=T, connectivity=8) if v == 1)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), block=st.sampled_from([1, 3, 8, 16, 64]), density=st.floats(0.05, 0.6), mmu=st.sampled_from([0.04, 0.2, 0.5]))
def test_block_groups_give_what_a_whole_grid_sieve_gives(seed, block, density, mmu):
    rng = np.random.default_rng(seed)
    blobs = rng.random((8, 8)) < density  # clumps of 6 x 6 px, with speckle
    status = np.kron(blobs, np.ones((6, 6), np.uint8)).astype(np.uint8) * HIGH
    status[rng.random(status.shape) < 0.03] = LOW
    status[rng.random(status.shape) < 0.03] = NONE
    objs = clearing_objects(result(status), T, "EPSG:32648", DATES, mmu_ha=mmu, block_px=block)
    got = sorted(shapely.normalize(g).wkt for g in objs.geometry)
    assert got == _whole_grid_polygons(status, max(1, round(mmu / 0.04)))


def test_a_clearing_across_blocks_is_one_polygon_and_dated_by_its_mapping_unit():
    status = np.zeros((300, 300), np.uint8)
    status[100:160, 90:170] = HIGH  # crosses the 128-px block edges in both directions
    first = np.where(status > 0, 5, -1).astype(np.int16)
    first[100:102, 90:92] = 1  # four noisy early pixels: fewer than a mapping unit (13 px)
    objs = clearing_objects(result(status, first), T, "EPSG:32648", DATES, mmu_ha=0.5)
    assert len(objs) == 1 and objs.geometry.iloc[0].geom_type == "Polygon"
    assert objs.n_pixels.iloc[0] == 60 * 80
    assert objs.first_detected.iloc[0].date() == DATES[5]
    first[100:104, 90:95] = 1  # now 20 px early: a mapping unit's worth
    objs = clearing_objects(result(status, first), T, "EPSG:32648", DATES, mmu_ha=0.5)
    assert objs.first_detected.iloc[0].date() == DATES[1]


def test_flagged_pixels_must_lie_on_the_grid():
    pixels = FlaggedPixels.from_result(result(np.full((4, 4), HIGH, np.uint8)))
    with pytest.raises(InputShapeError):
        objects_from_pixels(pixels, (2, 2), T, "EPSG:32648", DATES, 0.04)
    with pytest.raises(InputShapeError):
        objects_from_pixels(pixels, (4, 4), T, "EPSG:32648", DATES, 0.04, block_px=0)
