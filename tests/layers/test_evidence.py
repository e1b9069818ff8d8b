"""The evidence report's plain values, coordinates and seal."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from layers.evidence import coordinates, plain, utm_epsg
from layers.evidence_seal import SealError, canonical_bytes, digest, verify_file, write_sealed


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), (pd.NaT, None), (float("nan"), None), (math.inf, None), (np.float64(1.23456789), 1.234568), (np.int64(7), 7),
    (pd.Timestamp("2024-03-02"), "2024-03-02"), (pd.Timestamp("2024-03-02 10:11:12"), "2024-03-02T10:11:12Z"),
    (pd.Timestamp("2024-03-02 10:11:12", tz="Asia/Bangkok"), "2024-03-02T03:11:12Z"), (dt.date(2024, 1, 5), "2024-01-05"),
    ({"a": [np.int64(1), None]}, {"a": [1, None]}), ("text", "text"), (True, True),
])
def test_plain(value: object, expected: object) -> None:
    assert plain(value) == expected


@pytest.mark.parametrize(("lon", "lat", "epsg"), [(107.4, 13.6, 32648), (-0.1, 51.5, 32630), (179.99, -16.0, 32760), (-180.0, 0.0, 32601)])
def test_utm_zone(lon: float, lat: float, epsg: int) -> None:
    assert utm_epsg(lon, lat) == epsg


def test_coordinates_of_a_multipolygon_with_a_hole() -> None:
    outer = shapely.Polygon([(107.40, 13.60), (107.42, 13.60), (107.42, 13.62), (107.40, 13.62)],
                            [[(107.405, 13.605), (107.41, 13.605), (107.41, 13.61), (107.405, 13.61)]])
    geom = shapely.MultiPolygon([outer, shapely.box(107.43, 13.60, 107.44, 13.61)])
    out = coordinates(geom)
    assert len(out["lonlat"]["polygons"]) == 2 and len(out["lonlat"]["polygons"][0]) == 2  # exterior + hole
    assert out["utm"]["crs"] == "EPSG:32648" and out["utm"]["zone"] == "48N"
    assert out["lonlat"]["polygons"][0][0][0] == [107.4, 13.6]
    # the UTM ring has the same number of vertices, in metres
    assert len(out["utm"]["polygons"][0][0]) == len(out["lonlat"]["polygons"][0][0])
    assert 700_000 < out["utm"]["polygons"][0][0][0][0] < 800_000


def test_canonical_form_ignores_key_order_and_refuses_nan() -> None:
    assert canonical_bytes({"b": 1, "a": [1, 2]}) == canonical_bytes({"a": [1, 2], "b": 1}) == b'{"a":[1,2],"b":1}'
    assert digest({"é": 1}) == digest({"é": 1})
    with pytest.raises(ValueError):
        canonical_bytes({"x": float("nan")})


def test_sealed_file(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    sha = write_sealed(path, {"clearing": {"area_ha": 3.0}})
    assert (path.stat().st_mode & 0o777) == 0o600
    assert verify_file(path).ok and verify_file(path, sha.upper()).ok
    doc = json.loads(path.read_text())
    doc["report"]["clearing"]["area_ha"] = 3.01
    path.write_text(json.dumps(doc))
    assert not verify_file(path).ok
    path.write_text("[]")
    with pytest.raises(SealError, match="not a sealed report"):
        verify_file(path)
