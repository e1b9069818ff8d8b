"""Strict parsing of bbox and limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from web.errors import BadRequestError
from web.params import parse_bbox, parse_limit

lon = st.floats(-180, 180, allow_nan=False)
lat = st.floats(-90, 90, allow_nan=False)


@given(w=lon, e=lon, s=lat, n=lat)
def test_any_valid_box_round_trips(w: float, e: float, s: float, n: float) -> None:
    if not (w < e and s < n):
        with pytest.raises(BadRequestError):
            parse_bbox(f"{w!r},{s!r},{e!r},{n!r}")
        return
    assert parse_bbox(f"{w!r},{s!r},{e!r},{n!r}") == (w, s, e, n)


def test_spaces_and_signs_are_accepted() -> None:
    assert parse_bbox(" 107.3, 13.5 ,+107.6,13.8 ") == (107.3, 13.5, 107.6, 13.8)
    assert parse_bbox("-180,-90,180,90") == (-180, -90, 180, 90)
    assert parse_bbox("1e1,2.,3E1,.5e2") == (10, 2, 30, 50)


@pytest.mark.parametrize("raw", ["1,2,3,٤", "1,2,3,4²", "1, 2, 3, 4,", "1;2;3;4", "1,2,3," + "9" * 300])
def test_odd_inputs_are_refused(raw: str) -> None:
    with pytest.raises(BadRequestError) as err:
        parse_bbox(raw)
    assert err.value.parameter == "bbox" and err.value.status == 400


def test_limit() -> None:
    assert parse_limit(None, 5000) == 5000
    assert parse_limit("1", 5000) == 1
    assert parse_limit(" 5000 ", 5000) == 5000
    for bad in ("0", "5001", "²", "1e3", "-3", "9" * 12):
        with pytest.raises(BadRequestError):
            parse_limit(bad, 5000)
