import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.flags import legality_flags

UTM = "EPSG:32648"
X0, Y0 = 760_000, 1_510_000


def sq(x, y, side):
    return shapely.box(X0 + x, Y0 + y, X0 + x + side, Y0 + y + side)


@pytest.fixture
def world():
    pa = gpd.GeoDataFrame({"name": ["O Yadav"], "designation": ["Protected Forest"]}, geometry=[sq(0, 0, 1000)], crs=UTM)
    conc = gpd.GeoDataFrame(
        {"holder": ["ELC-026"], "purpose": ["Oil palms"], "source": ["ODC"]},
        geometry=[shapely.MultiPolygon([sq(2000, 0, 1000), sq(4000, 0, 500)])],
        crs=UTM,
    )
    cover = gpd.GeoDataFrame({"source": ["ODC"], "kind": ["concessions"]}, geometry=[sq(-1000, -1000, 7000)], crs=UTM)
    return pa, conc, cover


def flags_for(geoms, world):
    clearings = gpd.GeoDataFrame({"confidence": ["high"] * len(geoms)}, geometry=geoms, crs=UTM).to_crs(4326)
    pa, conc, cover = world
    return legality_flags(clearings, pa.to_crs(4326), conc.to_crs(4326), cover.to_crs(4326))


def test_each_flag_with_its_reason(world):
    out = flags_for([sq(100, 100, 200), sq(2100, 100, 200), sq(-600, 3000, 200), sq(4100, 100, 100)], world)
    assert out["flags"].iloc[0] == ["outside_concessions", "protected_area"]
    pa_reason = out["reasons"].iloc[0][1]
    assert pa_reason.startswith("Inside protected area O Yadav (Protected Forest): 4.0 ha, 100 % of the clearing")
    assert out["flags"].iloc[1] == ["inside_concession"]
    assert out["reasons"].iloc[1][0] == "Inside concession ELC-026 (Oil palms): 4.0 ha, 100 %."
    assert out["flags"].iloc[2] == ["outside_concessions"]
    assert out["reasons"].iloc[2][0] == "Outside every concession: 4.0 ha, 100 % of the clearing (concession data: ODC)."
    assert out["flags"].iloc[3] == ["inside_concession"]  # second part of a multipolygon concession
    assert out["risk"].iloc[0] > out["risk"].iloc[2] > out["risk"].iloc[1]


def test_straddling_protected_area_boundary_reports_the_share(world):
    out = flags_for([sq(900, 100, 200)], world)  # half in the protected area
    assert "protected_area" in out["flags"].iloc[0]
    reason = [r for r in out["reasons"].iloc[0] if r.startswith("Inside protected area")][0]
    assert "2.0 ha, 50 % of the clearing" in reason


def test_outside_coverage_says_no_concession_data(world):
    out = flags_for([sq(8000, 8000, 200)], world)
    assert out["flags"].iloc[0] == ["no_concession_data"]
    assert out["reasons"].iloc[0][0].startswith("No concession data here: 100 %")


def test_row_order_does_not_change_flags(world):
    geoms = [sq(100, 100, 200), sq(2100, 100, 200), sq(8000, 8000, 200), sq(900, 100, 200)]
    a = flags_for(geoms, world)
    b = flags_for(geoms[::-1], world).iloc[::-1].reset_index(drop=True)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b)
