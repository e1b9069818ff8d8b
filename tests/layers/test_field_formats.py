"""KML and GPX for field apps: valid XML whatever the text holds, one waypoint per clearing, polygons in KML."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
import pytest
from defusedxml import ElementTree as SafeET
from shapely.geometry import MultiPolygon, Polygon, box

from layers.errors import LayerError
from layers.field_formats import GPX_NS, KML_NS, field_point, gpx_bytes, kml_bytes

HOSTILE = "<script>alert(1)</script> & \"quotes\" \x00\x07\x1b ]]> \u202e"
# a U shape: its centroid lies outside it
U_SHAPE = Polygon([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)])
WITH_HOLE = Polygon(box(107.40, 13.60, 107.42, 13.62).exterior, [box(107.405, 13.605, 107.41, 13.61).exterior])


def _frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame([
        {"clearing_id": "CL-1", "area_ha": 12.345, "first_detected": pd.Timestamp(dt.date(2024, 3, 1)), "risk": 90,
         "reasons": [HOSTILE, "Inside O Yadav."], "geometry": MultiPolygon([WITH_HOLE, box(107.43, 13.6, 107.44, 13.61)])},
        {"clearing_id": HOSTILE, "area_ha": None, "first_detected": None, "risk": None, "reasons": None,
         "geometry": box(107.5, 13.7, 107.51, 13.71)},
        {"clearing_id": "CL-empty", "area_ha": 1.0, "first_detected": None, "risk": 1, "reasons": [], "geometry": Polygon()},
    ], geometry="geometry", crs="EPSG:4326")


def test_gpx_waypoints() -> None:
    root = SafeET.fromstring(gpx_bytes(_frame()))
    assert root.tag == f"{{{GPX_NS}}}gpx" and root.get("version") == "1.1"
    wpts = root.findall(f"{{{GPX_NS}}}wpt")
    assert len(wpts) == 2  # the empty geometry is left out
    names = [w.find(f"{{{GPX_NS}}}name").text for w in wpts]
    assert names[0] == "CL-1" and names[1] == HOSTILE.replace("\x00", "").replace("\x07", "").replace("\x1b", "")
    desc = wpts[0].find(f"{{{GPX_NS}}}desc").text
    assert "12.35 ha" in desc and "2024-03-01" in desc and "risk 90" in desc and "<script>" in desc
    lat, lon = float(wpts[1].get("lat")), float(wpts[1].get("lon"))
    assert (lon, lat) == pytest.approx((107.505, 13.705))


def test_kml_polygons_and_points() -> None:
    root = SafeET.fromstring(kml_bytes(_frame().to_crs("EPSG:32648")))  # reprojected back to lon/lat
    marks = root.findall(f".//{{{KML_NS}}}Placemark")
    assert len(marks) == 2
    polys = marks[0].findall(f".//{{{KML_NS}}}Polygon")
    assert len(polys) == 2 and len(polys[0].findall(f"{{{KML_NS}}}innerBoundaryIs")) == 1
    first = polys[0].find(f".//{{{KML_NS}}}coordinates").text.split()
    x, y = (float(v) for v in first[0].split(","))
    assert 107.39 < x < 107.45 and 13.59 < y < 13.63 and first[0] == first[-1]
    assert marks[0].find(f".//{{{KML_NS}}}Data[@name='risk']/{{{KML_NS}}}value").text == "90"


def test_field_point_is_inside() -> None:
    assert U_SHAPE.contains(field_point(U_SHAPE)) and not U_SHAPE.contains(U_SHAPE.centroid)
    assert field_point(box(0, 0, 2, 2)).equals(box(0, 0, 2, 2).centroid)


def test_needs_geometries() -> None:
    with pytest.raises(LayerError, match="GeoDataFrame"):
        gpx_bytes(pd.DataFrame({"clearing_id": ["a"]}))
