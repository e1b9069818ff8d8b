"""GeoJSON output: property types, nulls, geometry types, ring orientation."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from layers import Field
from layers.geojson import feature_collection

FIELDS = (
    Field("t", "text", ""), Field("i", "integer", ""), Field("r", "real", ""), Field("b", "boolean", ""),
    Field("d", "date", ""), Field("ts", "datetime", ""), Field("j", "json", ""),
)


def _frame(geoms: list[object], **columns: object) -> gpd.GeoDataFrame:
    index = pd.Index(range(10, 10 + len(geoms)), name="fid")
    return gpd.GeoDataFrame(dict(columns), geometry=gpd.GeoSeries(geoms, index=index), crs="EPSG:4326", index=index)


def test_types_and_nulls() -> None:
    frame = _frame(
        [Point(1, 2), Point(3, 4)],
        t=pd.array(["a", None], dtype=object),
        i=pd.array([3, None], dtype="Int64"),
        r=np.array([1.5, np.nan]),
        b=pd.array([True, None], dtype="boolean"),
        d=pd.array([pd.Timestamp("2024-02-11"), pd.NaT], dtype="datetime64[ns]"),
        ts=pd.array([pd.Timestamp("2024-02-11 08:30:00"), pd.NaT], dtype="datetime64[ns]"),
        j=pd.array([["x", "<b>y</b>"], None], dtype=object),
    )
    body = orjson.loads(feature_collection(frame, FIELDS, {"layer": "x"}))
    assert body["type"] == "FeatureCollection" and body["layer"] == "x"
    first, second = body["features"]
    assert first["id"] == 10 and second["id"] == 11
    assert first["properties"] == {
        "t": "a", "i": 3, "r": 1.5, "b": True, "d": "2024-02-11", "ts": "2024-02-11T08:30:00Z", "j": ["x", "<b>y</b>"],
    }
    assert second["properties"] == dict.fromkeys(("t", "i", "r", "b", "d", "ts", "j"))


def test_empty_frame() -> None:
    body = orjson.loads(feature_collection(_frame([]), ()))
    assert body == {"type": "FeatureCollection", "features": []}


@pytest.mark.parametrize(
    "geom",
    [
        Point(105.5, 12.25),
        LineString([(0, 0), (1, 1)]),
        MultiPolygon([Polygon([(0, 0), (0, 1), (1, 1), (1, 0)]), Polygon([(2, 2), (2, 3), (3, 3)])]),
        Polygon([(0, 0), (0, 4), (4, 4), (4, 0)], [[(1, 1), (2, 1), (2, 2), (1, 2)]]),
        Polygon(),
        None,
    ],
)
def test_geometries_are_right_hand_and_lon_lat(geom: object) -> None:
    body = orjson.loads(feature_collection(_frame([geom]), ()))
    out = body["features"][0]["geometry"]
    if geom is None:
        assert out is None
        return
    parsed = shapely.from_geojson(orjson.dumps(out).decode())
    assert parsed.equals(geom) or (parsed.is_empty and geom.is_empty)  # type: ignore[attr-defined]
    for poly in getattr(parsed, "geoms", [parsed]):
        if isinstance(poly, Polygon) and not poly.is_empty:
            assert poly.exterior.is_ccw
            assert all(not ring.is_ccw for ring in poly.interiors)


def test_dates_from_python_objects() -> None:
    frame = _frame([Point(0, 0)], d=pd.array([dt.date(2020, 1, 2)], dtype=object))
    body = orjson.loads(feature_collection(frame, (Field("d", "date", ""),)))
    assert body["features"][0]["properties"] == {"d": "2020-01-02"}
