"""The one redaction function: roles, sensitive fields, generalised seizure locations."""

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from layers import get_layer
from layers.errors import LayerError
from layers.redaction import redact, visible_fields

SEIZURES = get_layer("seizures")


def seizures() -> gpd.GeoDataFrame:
    pts = [(107.41, 13.61), (107.42, 13.62), (107.43, 13.63), (107.91, 13.61)]  # three in one 0.1-degree cell
    return gpd.GeoDataFrame(
        {"seizure_id": ["a", "b", "c", "d"], "date": pd.to_datetime(["2024-01-01"] * 4), "case_reference": ["C1", "C2", "C3", "C4"],
         "agency": ["X"] * 4, "notes": ["n"] * 4, "commodity_group": ["timber"] * 4, "location_precision": ["exact"] * 4},
        geometry=[shapely.Point(p) for p in pts], crs=4326,
    )


@pytest.mark.parametrize("role", ["planner", "analyst", "admin"])
def test_enforcement_roles_see_everything(role):
    out = redact(SEIZURES, seizures(), role)
    pd.testing.assert_frame_equal(pd.DataFrame(out), pd.DataFrame(seizures()))


def test_ngo_gets_no_sensitive_fields_and_generalised_points():
    out = redact(SEIZURES, seizures(), "ngo")
    assert not {"case_reference", "agency", "notes"} & set(out.columns)
    assert sorted(out["seizure_id"]) == ["a", "b", "c"]  # "d" is alone in its cell: suppressed
    assert {(round(p.x, 6), round(p.y, 6)) for p in out.geometry} == {(107.45, 13.65)}
    assert set(out["location_precision"]) == {"grid 0.1 degrees"}


def test_visible_fields_and_unknown_role():
    names = ["date", "case_reference", "agency"]
    assert [f.name for f in visible_fields(SEIZURES, names, "ngo")] == ["date"]
    assert [f.name for f in visible_fields(SEIZURES, names, "planner")] == names
    with pytest.raises(LayerError, match="unknown role 'guest'"):
        redact(SEIZURES, seizures(), "guest")  # type: ignore[arg-type]
