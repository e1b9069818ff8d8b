"""The one gate for what a viewer sees (planners: everything, for now)."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point

from layers import get_layer
from layers.redaction import Access
from web.visibility import redact, visible_fields

NGO = Access("ngo", b"k" * 32)


def _seizures() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"seizure_id": ["s"], "date": ["2024-01-01"], "case_reference": ["C-1"], "agency": ["FA"], "notes": ["n"]},
        geometry=[Point(0, 0)],
        crs="EPSG:4326",
    )


@pytest.mark.parametrize("role", ["planner", "analyst", "admin"])
def test_planners_see_sensitive_fields(role: str) -> None:
    lyr = get_layer("seizures")
    names = [f.name for f in visible_fields(lyr, ("date", "case_reference", "agency"), role)]  # type: ignore[arg-type]
    assert names == ["date", "case_reference", "agency"]
    assert list(redact(lyr, _seizures(), role).columns) == list(_seizures().columns)  # type: ignore[arg-type]


def test_ngo_does_not() -> None:
    lyr = get_layer("seizures")
    assert [f.name for f in visible_fields(lyr, ("date", "case_reference"), "ngo")] == ["date"]
    out = redact(lyr, _seizures(), NGO)
    assert list(out.columns) == ["seizure_id", "date", "geometry"]
    assert isinstance(out, gpd.GeoDataFrame)


def test_unknown_field_is_a_catalogue_mistake() -> None:
    with pytest.raises(KeyError):
        visible_fields(get_layer("seizures"), ("nope",), "planner")
