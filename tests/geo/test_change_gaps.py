"""Observation gaps (geo.change.gaps): where nothing valid was seen since a date."""

import datetime as dt

import numpy as np
import pytest
from affine import Affine

from geo.change.gaps import NEVER, OUTSIDE, last_valid_blocks, observation_gaps
from geo.errors import InputShapeError

DATES = [dt.date(2024, 1, 1) + dt.timedelta(days=10 * i) for i in range(10)]
T = Affine(160, 0, 754000, 0, -160, 1521000)  # 8 px blocks of 20 m


def test_blocks_keep_the_latest_observation_of_their_pixels():
    last = np.full((20, 20), 9, np.int16)
    last[0:8, 0:8] = 3
    last[0, 0] = 5
    last[8:16, 0:8] = -1
    inside = np.ones((20, 20), bool)
    inside[16:, 16:] = False
    blocks = last_valid_blocks(last, inside)
    assert blocks.shape == (3, 3)
    assert blocks[0, 0] == 5 and blocks[1, 0] == NEVER and blocks[2, 2] == OUTSIDE and blocks[2, 1] == 9
    with pytest.raises(InputShapeError):
        last_valid_blocks(last, inside[:5])


def test_gaps_are_areas_unobserved_long_enough_grouped_by_date():
    blocks = np.array([[9, 2, 2], [NEVER, 6, OUTSIDE]], np.int16)
    until = DATES[-1] + dt.timedelta(days=5)
    gaps = observation_gaps(blocks, T, "EPSG:32648", DATES, until, min_days=30)
    # never seen: since the start; last seen on date 2: since date 3; on date 6, 31 days before the end: since date 7
    assert list(gaps["since"]) == [DATES[0], DATES[3], DATES[7]]
    assert gaps["area_ha"].tolist() == pytest.approx([2.56, 5.12, 2.56], rel=0.01)  # 160 m blocks: 2.56 ha each
    assert (gaps["until"] == until).all() and gaps.crs == "EPSG:32648"
    longer = observation_gaps(blocks, T, "EPSG:32648", DATES, until, min_days=40)
    assert list(longer["since"]) == [DATES[0], DATES[3]]


def test_no_gap_gives_an_empty_frame():
    gaps = observation_gaps(np.full((2, 2), 9, np.int16), T, "EPSG:32648", DATES, DATES[-1], 30)
    assert gaps.empty and list(gaps.columns) == ["since", "until", "area_ha", "geometry"]
    with pytest.raises(InputShapeError):
        observation_gaps(np.full((2, 2), 12, np.int16), T, "EPSG:32648", DATES, DATES[-1], 30)


def test_blocks_of_a_window_off_the_block_grid_equal_those_of_the_padded_window():
    rng = np.random.default_rng(3)
    last = rng.integers(-1, 9, (37, 29)).astype(np.int16)
    inside = rng.random((37, 29)) > 0.3
    for off in [(0, 0), (3, 5), (7, 1)]:
        padded = np.pad(last, ((off[0], 0), (off[1], 0)))
        mask = np.pad(inside, ((off[0], 0), (off[1], 0)))  # the padding is outside
        expected = last_valid_blocks(padded, mask)
        assert np.array_equal(last_valid_blocks(last, inside, offset=off), expected)
        # reference: the maximum over each block's considered pixels, by slicing
        for br in range(expected.shape[0]):
            for bc in range(expected.shape[1]):
                part = padded[br * 8:br * 8 + 8, bc * 8:bc * 8 + 8][mask[br * 8:br * 8 + 8, bc * 8:bc * 8 + 8]]
                assert expected[br, bc] == (part.max() if part.size else OUTSIDE)
    with pytest.raises(InputShapeError):
        last_valid_blocks(last, offset=(8, 0))
