"""Valid observations (geo.change.masks) and the baseline's seasonal ranking (geo.change.baseline)."""

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.change.baseline import season_order
from geo.change.masks import DILATED, dilate_clouds, valid_observations, valid_ranges
from geo.errors import InputShapeError

DEFAULT_INVALID = (0, 1, 2, 3, 8, 9, 10, 11)


def test_valid_ranges_are_the_runs_of_valid_codes():
    assert valid_ranges(DEFAULT_INVALID).tolist() == [[4, 7]]
    assert valid_ranges((0, 2, 4, 6, 8, 10)).tolist() == [[1, 1], [3, 3], [5, 5], [7, 7], [9, 9], [11, 11]]
    assert valid_ranges(range(12)).shape == (0, 2)
    with pytest.raises(InputShapeError, match="0..11"):
        valid_ranges((3, 12))


@settings(max_examples=40, deadline=None)
@given(invalid=st.sets(st.integers(0, 11)), seed=st.integers(0, 2**16))
def test_range_tests_agree_with_set_membership(invalid, seed):
    codes = np.random.default_rng(seed).integers(0, 256, (7, 5)).astype(np.uint8)
    refl = np.ones(codes.shape, np.uint16)
    expected = np.isin(codes, [c for c in range(12) if c not in invalid])
    assert np.array_equal(valid_observations(codes, sorted(invalid), refl), expected)


def test_no_data_reflectance_is_invalid():
    scl = np.full((2, 3), 4, np.uint8)
    red = np.array([[0, 5, 5], [5, 5, 5]], np.uint16)
    nir = np.array([[5, 5, 5], [5, 0, 5]], np.uint16)
    assert valid_observations(scl, DEFAULT_INVALID, red, nir).tolist() == [[False, True, True], [True, False, True]]
    with pytest.raises(InputShapeError):
        valid_observations(scl, DEFAULT_INVALID, red[:1])


def test_dilation_grows_clouds_and_shadows_by_a_square_and_keeps_their_codes():
    scl = np.full((2, 9, 9), 4, np.uint8)
    scl[0, 4, 4] = 9
    scl[1, 0, 0] = 3
    scl[1, 8, 8] = 6  # water does not grow
    out = dilate_clouds(scl, 2)
    assert out[0, 4, 4] == 9
    grown = out[0] == DILATED
    assert grown.sum() == 24 and grown[2:7, 2:7].sum() == 24
    assert (out[1, 0:3, 0:3] != 4).all() and out[1, 3, 3] == 4 and out[1, 7, 7] == 4
    assert np.array_equal(dilate_clouds(scl, 0), scl)
    assert np.array_equal(dilate_clouds(scl[0], 2), out[0])
    assert (scl[0] != DILATED).all(), "the input is not changed"
    with pytest.raises(InputShapeError):
        dilate_clouds(scl, -1)


def test_season_order_is_circular_nearest_first_later_on_ties():
    base = [dt.date(2023, 1, 5), dt.date(2023, 6, 1), dt.date(2023, 12, 20), dt.date(2023, 12, 30)]
    mon = [dt.date(2024, 1, 1), dt.date(2024, 6, 15)]
    order = season_order(base, mon, 4, 2)
    assert order[0].tolist() == [3, 0, 2, 1]  # 2 days, 4 days, 12 days (across the new year), then June
    assert order[1].tolist()[0] == 1
    tie = season_order([dt.date(2023, 1, 1), dt.date(2023, 1, 21)], [dt.date(2024, 1, 11)], 2, 1)
    assert tie[0].tolist() == [1, 0]
    assert season_order(None, None, 3, 2).tolist() == [[2, 1, 0], [2, 1, 0]]
    with pytest.raises(InputShapeError):
        season_order(base, None, 4, 2)
    with pytest.raises(InputShapeError):
        season_order(base, mon, 5, 2)


def test_kernels_take_up_to_three_runs_of_valid_codes():
    from geo.change.masks import range_bounds

    assert range_bounds(DEFAULT_INVALID) == (4, 7, 1, 0, 1, 0)
    assert range_bounds((0, 3, 8, 9, 10, 11)) == (1, 2, 4, 7, 1, 0)
    with pytest.raises(InputShapeError, match="4 runs"):
        range_bounds((0, 2, 4, 6))
