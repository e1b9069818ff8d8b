import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.change import HIGH, LOW, NONE, UNASSESSED, ChangeParams, detect_change
from geo.errors import InputShapeError

FOREST = (300, 3200, 600)
SOIL = (1500, 2400, 2400)


def series(n_dates=12, shape=(20, 20)):
    red = np.full((n_dates, *shape), FOREST[0], np.uint16)
    nir = np.full((n_dates, *shape), FOREST[1], np.uint16)
    swir = np.full((n_dates, *shape), FOREST[2], np.uint16)
    scl = np.full((n_dates, *shape), 4, np.uint8)
    return red, nir, swir, scl


def clear(red, nir, swir, t, rows, cols):
    red[t:, rows, cols], nir[t:, rows, cols], swir[t:, rows, cols] = SOIL


def test_no_change_in_a_stable_forest():
    r = detect_change(*series(), n_baseline=6)
    assert (r.status == NONE).all()
    assert (r.first == -1).all()
    assert np.allclose(r.baseline_ndvi, (3200 - 300) / 3500)


def test_clearing_is_high_with_first_date_and_drops():
    red, nir, swir, scl = series()
    clear(red, nir, swir, 8, slice(2, 5), slice(2, 5))
    r = detect_change(red, nir, swir, scl, n_baseline=6)
    assert (r.status[2:5, 2:5] == HIGH).all()
    assert (r.first[2:5, 2:5] == 2).all()
    assert (r.status[6:, 6:] == NONE).all()
    assert r.ndvi_drop[3, 3] == pytest.approx((3200 - 300) / 3500 - (2400 - 1500) / 3900, abs=1e-5)
    assert (r.last == 5).all()


def test_cloud_on_first_date_delays_detection_to_next_clear_date():
    red, nir, swir, scl = series()
    clear(red, nir, swir, 8, slice(2, 5), slice(2, 5))
    scl[8, 2:5, 2:5] = 9
    r = detect_change(red, nir, swir, scl, n_baseline=6)
    assert (r.first[2:5, 2:5] == 3).all()
    assert (r.status[2:5, 2:5] == HIGH).all()


def test_last_date_drop_is_low_and_one_off_drop_is_dropped():
    red, nir, swir, scl = series()
    clear(red, nir, swir, 11, slice(0, 2), slice(0, 2))  # only the last date
    red[8, 10:12, 10:12], nir[8, 10:12, 10:12], swir[8, 10:12, 10:12] = SOIL  # one date, then forest again
    r = detect_change(red, nir, swir, scl, n_baseline=6)
    assert (r.status[0:2, 0:2] == LOW).all()
    assert (r.status[10:12, 10:12] == NONE).all()


def test_nbr_must_drop_too():
    red, nir, swir, scl = series()
    red[8:, 0:3, 0:3] = 1500  # NDVI falls, SWIR unchanged: not a clearing (e.g. haze, senescence)
    r = detect_change(red, nir, swir, scl, n_baseline=6)
    assert (r.status[0:3, 0:3] == NONE).all()


def test_non_forest_and_cloudy_baseline_are_unassessed():
    red, nir, swir, scl = series()
    red[:, 0, 0], nir[:, 0, 0], swir[:, 0, 0] = SOIL
    scl[:6, 1, 1] = 8
    scl[:5, 2, 2] = 3
    r = detect_change(red, nir, swir, scl, n_baseline=6, params=ChangeParams(min_baseline_observations=2))
    assert r.status[0, 0] == UNASSESSED
    assert r.status[1, 1] == UNASSESSED
    assert r.status[2, 2] == UNASSESSED  # only one valid baseline observation
    assert np.isnan(r.baseline_ndvi[1, 1])


def test_zero_reflectance_is_no_data():
    red, nir, swir, scl = series()
    clear(red, nir, swir, 8, slice(0, 2), slice(0, 2))
    red[8:, 0:2, 0:2] = 0
    r = detect_change(red, nir, swir, scl, n_baseline=6)
    assert (r.status[0:2, 0:2] == NONE).all()


def test_shapes_are_checked():
    red, nir, swir, scl = series()
    with pytest.raises(InputShapeError):
        detect_change(red, nir[:, :5], swir, scl, n_baseline=6)
    with pytest.raises(InputShapeError):
        detect_change(red, nir, swir, scl, n_baseline=12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_base=st.integers(1, 6))
def test_image_compared_with_itself_has_no_change(seed, n_base):
    rng = np.random.default_rng(seed)
    frame = rng.integers(1, 10_000, size=(3, 1, 8, 8)).astype(np.uint16)
    scl_frame = rng.choice(np.array([3, 4, 5, 8, 9], np.uint8), size=(1, 8, 8))
    reps = n_base + 3
    red, nir, swir = (np.repeat(b, reps, axis=0) for b in frame)
    scl = np.repeat(scl_frame, reps, axis=0)
    r = detect_change(red, nir, swir, scl, n_baseline=n_base, params=ChangeParams(min_baseline_observations=1))
    assert not np.isin(r.status, [LOW, HIGH]).any()
