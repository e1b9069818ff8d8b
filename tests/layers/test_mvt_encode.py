"""The small MVT writer: what mapbox-vector-tile decodes from it is what it was given (and what
mapbox-vector-tile's own encoder gives for the same features)."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box, shape

from layers.mvt_encode import encode_layer, writes

EXTENT = 4096


def _features(rng: np.random.Generator) -> list[dict]:
    out = []
    for i in range(60):
        x, y = (int(v) for v in rng.integers(-50, EXTENT, 2))
        kind = i % 4
        if kind == 0:
            geom = box(x, y, x + int(rng.integers(1, 300)), y + int(rng.integers(1, 300)))
        elif kind == 1:  # clockwise in y up, with a hole wound the same way
            geom = Polygon([(x, y), (x, y + 200), (x + 200, y + 200), (x + 200, y)], [[(x + 50, y + 50), (x + 50, y + 100), (x + 100, y + 100), (x + 100, y + 50)]])
        elif kind == 2:
            geom = MultiPolygon([box(x, y, x + 10, y + 10), box(x + 20, y + 20, x + 40, y + 45)])
        else:
            geom = Point(x, y)
        props = {"count": int(rng.integers(-5, 10**12)), "area_ha": float(rng.uniform(0, 1e4)), "name": f"n{i % 7}", "flag": bool(i % 2)}
        out.append({"geometry": geom, "properties": props})
    return out


def test_decodes_to_the_same_features_as_mapbox_vector_tiles_own_encoder() -> None:
    feats = _features(np.random.default_rng(4))
    assert all(writes(f["geometry"]) for f in feats)
    ours = mapbox_vector_tile.decode(encode_layer("cells", feats, EXTENT))["cells"]
    theirs = mapbox_vector_tile.decode(bytes(mapbox_vector_tile.encode({"name": "cells", "features": feats}, default_options={"extents": EXTENT})))["cells"]
    assert ours["extent"] == EXTENT and len(ours["features"]) == len(theirs["features"]) == len(feats)
    for mine, other, given in zip(ours["features"], theirs["features"], feats, strict=True):
        assert mine["properties"] == other["properties"] == given["properties"]
        assert shape(mine["geometry"]).equals(shape(other["geometry"])) and shape(mine["geometry"]).equals(given["geometry"])
        assert _windings(mine["geometry"]) == _windings(other["geometry"])  # rings wound the same way (exterior and holes)


def _windings(geometry: dict) -> list[bool]:
    if geometry["type"] == "Point":
        return []
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [bool(shapely.is_ccw(shapely.LinearRing(ring))) for poly in polygons for ring in poly]


def test_empty_and_degenerate_geometries_are_left_out() -> None:
    data = encode_layer("x", [{"geometry": Polygon(), "properties": {}}, {"geometry": box(0, 0, 0, 5), "properties": {"a": 1}},
                              {"geometry": box(0, 0, 5, 5), "properties": {"a": None}}], EXTENT)
    feats = mapbox_vector_tile.decode(data)["x"]["features"]
    assert len(feats) == 1 and feats[0]["properties"] == {}
    assert not writes(shapely.LineString([(0, 0), (1, 1)]))


@pytest.mark.parametrize("value", [0, -1, 2**40, 1.5, "text", True])
def test_property_values_keep_their_type(value: object) -> None:
    data = encode_layer("x", [{"geometry": Point(1, 2), "properties": {"v": value}}], EXTENT)
    got = mapbox_vector_tile.decode(data)["x"]["features"][0]["properties"]["v"]
    assert got == value and type(got) is type(value)
