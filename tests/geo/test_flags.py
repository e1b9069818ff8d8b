"""Every flag on hand-made geometries, asserting the reason text and its numbers."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.flags import FlagParams, References, legality_flags, national_borders

UTM = "EPSG:32648"
X0, Y0 = 760_000, 1_510_000


def sq(x, y, side):
    return shapely.box(X0 + x, Y0 + y, X0 + x + side, Y0 + y + side)


def frame(rows, geoms):
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=UTM).to_crs(4326)


def make_refs() -> References:
    pa = frame({"name": ["O Yadav"], "designation": ["Protected Forest"]}, [sq(0, 0, 1000)])
    conc = frame(
        {
            "holder": ["ELC-026", "ELC-067", "ELC-900", "ELC-901"],
            "purpose": ["Oil palms", "Rubber", "Eco-Tourism", "Acacia"],
            "purpose_category": ["plantation: oil palm", "plantation: rubber", "tourism", "plantation: acacia"],
            "valid_from": pd.to_datetime(["1999-12-21", "2009-07-31", "2000-01-01", "2030-01-01"]),
            "valid_to": pd.to_datetime(["2069-12-21", "2079-07-31", "2020-01-01", "2100-01-01"]),
            "cancelled": [False, True, False, False],
        },
        [shapely.MultiPolygon([sq(2000, 0, 1000), sq(4000, 0, 500)]), sq(2000, 2000, 1000), sq(6000, 0, 1000), sq(6000, 3000, 1000)],
    )
    cover = frame({"source": ["ODC"], "kind": ["concessions"]}, [sq(-1000, -1000, 9000)])
    corridor = frame({"name": ["Southern Economic Corridor"], "sub_corridor": ["SEC northern"]}, [shapely.LineString([(X0 - 5000, Y0 + 20_000), (X0 + 40_000, Y0 + 20_000)])])
    border = frame({"name": ["Cambodia–Vietnam"]}, [shapely.LineString([(X0 + 30_000, Y0 - 20_000), (X0 + 30_000, Y0 + 40_000)])])
    crossing = frame({"name": ["O Yadav / Le Thanh"]}, [shapely.Point(X0 + 30_000, Y0 + 20_000)])
    return References(pa, conc, cover, corridor, border, crossing)


@pytest.fixture
def refs() -> References:
    return make_refs()


def judge(refs, geoms, first="2024-03-01", **params):
    clearings = frame({"first_detected": pd.to_datetime([first] * len(geoms))}, geoms)
    return legality_flags(clearings, refs, FlagParams(**params))


def one(out, i=0):
    return dict(zip(out["flags"].iloc[i], out["reasons"].iloc[i], strict=True))


def test_protected_area_outside_concessions(refs):
    f = one(judge(refs, [sq(100, 100, 200)]))
    assert set(f) == {"protected_area", "outside_concessions"}
    assert f["protected_area"] == "Inside protected area O Yadav (Protected Forest): 4.0 ha, 100 % of the clearing."
    assert f["outside_concessions"] == "Outside every concession: 4.0 ha, 100 % of the clearing (concession data: ODC)."


def test_straddling_protected_area_boundary_reports_the_share(refs):
    f = one(judge(refs, [sq(900, 100, 200)]))  # half inside
    assert f["protected_area"] == "Inside protected area O Yadav (Protected Forest): 2.0 ha, 50 % of the clearing."


def test_inside_valid_concession_multipolygon_part(refs):
    f = one(judge(refs, [sq(4100, 100, 100)]))  # in the second part of ELC-026
    assert set(f) == {"inside_concession"}
    assert f["inside_concession"] == "Inside concession ELC-026 (Oil palms): 1.0 ha, 100 %."


@pytest.mark.parametrize(
    ("geom", "first", "text"),
    [
        (sq(2100, 2100, 200), "2024-03-01", "In a concession that was not valid then: ELC-067, cancelled (clearing first detected 2024-03-01)."),
        (sq(6100, 100, 200), "2024-03-01", "In a concession that was not valid then: ELC-900, after its contract ended on 2020-01-01 (clearing first detected 2024-03-01)."),
        (sq(6100, 3100, 200), "2024-03-01", "In a concession that was not valid then: ELC-901, before its contract began on 2030-01-01 (clearing first detected 2024-03-01)."),
    ],
)
def test_concession_not_valid_at_first_detection(refs, geom, first, text):
    f = one(judge(refs, [geom], first=first))
    assert f["concession_not_valid"] == text
    assert "inside_concession" in f


def test_concession_valid_for_part_of_the_period(refs):
    before = one(judge(refs, [sq(6100, 100, 200)], first="2019-12-31"))
    after = one(judge(refs, [sq(6100, 100, 200)], first="2020-01-02"))
    assert "concession_not_valid" not in before
    assert "concession_not_valid" in after


def test_purpose_mismatch(refs):
    f = one(judge(refs, [sq(6100, 100, 200)], first="2010-01-01"))
    assert f["purpose_mismatch"] == "Inside concession ELC-900, whose purpose (tourism: Eco-Tourism) allows no forest clearing."


def test_spills_over_concession_boundary(refs):
    f = one(judge(refs, [shapely.box(X0 + 2800, Y0 + 100, X0 + 3300, Y0 + 300)]))  # 300 m of 500 m outside ELC-026
    assert f["spills_over_concession"] == "Spills 6.0 ha over the boundary of ELC-026, up to 300 m outside it."
    assert f["inside_concession"] == "Inside concession ELC-026 (Oil palms): 4.0 ha, 40 %."
    assert f["outside_concessions"].startswith("Outside every concession: 6.0 ha, 60 %")
    small = one(judge(refs, [shapely.box(X0 + 2800, Y0 + 100, X0 + 3300, Y0 + 300)], spill_min_ha=7.0))
    assert "spills_over_concession" not in small
    near = one(judge(refs, [shapely.box(X0 + 2800, Y0 + 100, X0 + 3300, Y0 + 300)], spill_max_distance_m=100.0))
    assert near["spills_over_concession"] == "Spills 2.0 ha over the boundary of ELC-026, up to 100 m outside it."


def test_outside_coverage_says_no_concession_data(refs):
    f = one(judge(refs, [sq(10_000, 10_000, 200)]))
    assert set(f) == {"no_concession_data"}
    assert f["no_concession_data"] == "No concession data here: 100 % of the clearing is outside the coverage of every concession source."


def test_near_corridor_border_and_crossing(refs):
    f = one(judge(refs, [sq(26_000, 19_000, 100)]))  # 1.0 km below the corridor, 3.9 km from border and crossing
    assert f["near_corridor"] == "0.9 km from the Southern Economic Corridor (SEC northern)."
    assert f["near_border"] == "3.9 km from the Cambodia–Vietnam border."
    assert f["near_crossing"] == "4.0 km from the O Yadav / Le Thanh border crossing."
    far = one(judge(refs, [sq(26_000, 19_000, 100)], near_corridor_km=0.5, near_border_km=3.0, near_crossing_km=3.0))
    assert not {"near_corridor", "near_border", "near_crossing"} & set(far)


def test_national_borders_are_shared_lines_not_coasts():
    a = shapely.box(0, 0, 1, 1)
    b = shapely.box(1, 0, 2, 1)
    borders = national_borders(gpd.GeoDataFrame({"name": ["Cambodia", "Vietnam"]}, geometry=[a, b], crs=4326))
    assert borders["name"].tolist() == ["Cambodia–Vietnam"]
    line = borders.geometry.iloc[0]
    assert line.length == pytest.approx(1.0, abs=0.01)
    assert abs(line.centroid.x - 1.0) < 0.01


def test_empty_clearings(refs):
    out = legality_flags(frame({"first_detected": []}, []), refs)
    assert out.empty


GEOMS = [sq(100, 100, 200), sq(2100, 100, 200), sq(10_000, 10_000, 200), sq(900, 100, 200), sq(2100, 2100, 200), sq(6100, 100, 200), sq(26_000, 19_000, 100)]


@settings(max_examples=15, deadline=None)
@given(st.permutations(range(len(GEOMS))))
def test_row_order_changes_no_flag(perm):
    refs_ = make_refs()
    base = judge(refs_, GEOMS)
    shuffled = judge(refs_, [GEOMS[i] for i in perm])
    for k, i in enumerate(perm):
        assert shuffled["flags"].iloc[k] == base["flags"].iloc[i]
        assert shuffled["reasons"].iloc[k] == base["reasons"].iloc[i]
