"""The one clearing filter parser: every parameter, its errors, and its store conditions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from geo.flags import SUSPICIOUS
from layers import open_store
from layers.conditions import Between, Contains
from layers.errors import FilterError
from layers.filters import FLAGS, parse_filters, period_bounds

from .review_fixtures import clearing_rows, write_clearings


def test_empty_is_no_condition() -> None:
    f = parse_filters({})
    assert f.where() == {} and f.query() == []


def test_every_filter_to_store_conditions() -> None:
    f = parse_filters(MultiDict([("from", "2024-02-01"), ("to", "2024-05-31"), ("confidence", "high"), ("flag", "protected_area"),
                                 ("flag", "outside_concessions"), ("risk", "40-90"), ("status", "new,field_check"), ("aoi", "demo")]))
    assert f.where() == {
        "first_detected": Between(dt.date(2024, 2, 1), dt.date(2024, 5, 31)), "confidence": ["high"],
        "flags": Contains("protected_area", "outside_concessions"), "risk": Between(40, 90),
        "review_status": ["new", "field_check"], "aoi": "demo",
    }
    assert ("flag", "protected_area,outside_concessions") in f.query()
    assert ("page", "3") in f.query(page="3") and all(k != "aoi" for k, _ in f.query(aoi=None))


@pytest.mark.parametrize(("text", "first", "last"), [
    ("2024", dt.date(2024, 1, 1), dt.date(2024, 12, 31)),
    ("2024Q1", dt.date(2024, 1, 1), dt.date(2024, 3, 31)),
    ("2024-Q4", dt.date(2024, 10, 1), dt.date(2024, 12, 31)),
    ("2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
    ("2023-12", dt.date(2023, 12, 1), dt.date(2023, 12, 31)),
])
def test_periods(text: str, first: dt.date, last: dt.date) -> None:
    assert period_bounds(text) == (first, last)
    assert parse_filters({"period": text}).where()["first_detected"] == Between(first, last)


@pytest.mark.parametrize(("args", "parameter", "says"), [
    ({"from": "2024-13-01"}, "from", "not a date"),
    ({"from": "yesterday"}, "from", "not a date"),
    ({"from": "2024-05-01", "to": "2024-04-01"}, "to", "before"),
    ({"period": "2024Q5"}, "period", "quarter"),
    ({"period": "2024-13"}, "period", "01-12"),
    ({"period": "2024", "from": "2024-01-01"}, "period", "not both"),
    ({"confidence": "medium"}, "confidence", "high, low"),
    ({"flag": "arson"}, "flag", "protected_area"),
    ({"risk": "101"}, "risk", "0 to 100"),
    ({"risk": "80-20"}, "risk", "ends before"),
    ({"risk": "-5"}, "risk", "range"),
    ({"status": "approved"}, "status", "field_check"),
    ({"aoi": "<script>"}, "aoi", "AOI name"),
    ({"aoi": "a,b"}, "aoi", "one value"),
    ({"confidance": "high"}, "confidance", "unknown filter"),
    ({"aoi": "x" * 500}, "aoi", "too long"),
])
def test_errors_name_the_parameter(args: dict[str, str], parameter: str, says: str) -> None:
    with pytest.raises(FilterError) as err:
        parse_filters(args)
    assert err.value.parameter == parameter and says in err.value.message


def test_extra_names_and_default_status() -> None:
    assert parse_filters({"page": "2"}, extra=("page",), default_status=("new",)).status == ("new",)
    assert parse_filters({"status": "any"}, default_status=("new",)).status == ()


def test_flags_are_the_detectors_flags() -> None:
    assert set(SUSPICIOUS) <= set(FLAGS)


def test_conditions_select_in_the_store(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.gpkg") as store:
        rows = clearing_rows(30)
        write_clearings(store, rows)
        for args in ({"flag": "protected_area,inside_concession"}, {"risk": "50"}, {"risk": "20-60", "confidence": "low"},
                     {"period": "2024Q2"}, {"status": "new"}, {"status": "confirmed"}):
            f = parse_filters(args)
            got = set(store.read("clearings", where=f.where(), columns=["clearing_id"])["clearing_id"])
            want = {
                r["clearing_id"] for r in rows
                if (not f.flags or set(r["flags"]) & set(f.flags))
                and (f.risk_min is None or r["risk"] >= f.risk_min) and (f.risk_max is None or r["risk"] <= f.risk_max)
                and (not f.confidence or r["confidence"] in f.confidence)
                and (f.first is None or f.first <= r["first_detected"] <= f.last)
                and (not f.status or r["review_status"] in f.status)
            }
            assert got == want, args
        page = store.read("clearings", columns=["clearing_id", "risk", "confidence"], order_by=["-risk", "confidence", "clearing_id"], limit=5, offset=5)
        ordered = sorted(rows, key=lambda r: (-r["risk"], r["confidence"], r["clearing_id"]))
        assert list(page["clearing_id"]) == [r["clearing_id"] for r in ordered[5:10]]
