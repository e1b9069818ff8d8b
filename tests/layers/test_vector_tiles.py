"""Vector tiles through the gate: features (clipped, simplified, only visible fields) at high zoom,
cells at low zoom or when too many or too large; the tile scheme; ETag and cache headers on the route."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from flask import Flask

from config import load_settings
from layers import get_layer, open_store
from layers.api_tokens import add_token
from layers.errors import LayerError
from layers.redaction import Access, count_redacted
from layers.vector_tiles import EXTENT, check_tile, lonlat_bounds, mercator_bounds, render_tile
from tests.web.conftest import FAST_HASH, _seizure, build_map_store
from web import create_app

KEY = b"tile-test-key-" + b"k" * 18


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    return z, int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def _lonlat(tile: tuple[int, int, int], px: float, py: float) -> tuple[float, float]:
    """Tile units (y up, as decoded) back to lon/lat."""
    w, s, e, n = lonlat_bounds(*tile)
    minx, miny, maxx, maxy = mercator_bounds(*tile)
    mx, my = minx + px / EXTENT * (maxx - minx), miny + py / EXTENT * (maxy - miny)
    return math.degrees(mx / 6378137.0), math.degrees(2 * math.atan(math.exp(my / 6378137.0)) - math.pi / 2)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = build_map_store(tmp_path / "t.gpkg")
    with open_store(path) as st:  # three more in S-2's cell: the ngo sees one published cell of four
        st.upsert("seizures", gpd.GeoDataFrame([_seizure(f"S-{i}", shapely.Point(107.41 + i / 1000, 13.71)) for i in range(3, 6)],
                                               geometry="geometry", crs="EPSG:4326"))
    return path


def test_the_tile_scheme() -> None:
    assert lonlat_bounds(0, 0, 0) == pytest.approx((-180, -85.05113, 180, 85.05113), abs=1e-4)
    w, s, e, n = lonlat_bounds(10, 817, 472)
    assert w < 107.45 < e and s < 13.7 < n
    for bad in ((-1, 0, 0), (23, 0, 0), (3, 8, 0), (3, 0, -1)):
        with pytest.raises(LayerError):
            check_tile(*bad)


def test_features_at_high_zoom_carry_only_what_the_role_sees(store_path: Path) -> None:
    tile = _tile_of(107.41, 13.71, 12)
    with open_store(store_path) as st:
        planner = render_tile(st, get_layer("seizures"), Access("planner"), *tile)
        ngo = render_tile(st, get_layer("seizures"), Access("ngo", KEY), *tile)
        box = lonlat_bounds(*tile, buffer=64 / EXTENT)
        assert planner.items == count_redacted(st, get_layer("seizures"), Access("planner"), bbox=box)
    exact = mapbox_vector_tile.decode(planner.data)["seizures"]["features"]
    assert {"case_reference", "feature_id"} <= set(exact[0]["properties"])
    assert not planner.aggregated
    shared = mapbox_vector_tile.decode(ngo.data)
    # the ngo's published cell's centre (107.45, 13.75) lies in another zoom-12 tile: this one holds nothing of it
    for layer in shared.values():
        for f in layer["features"]:
            assert "case_reference" not in f["properties"] and "agency" not in f["properties"]
    centre_tile = _tile_of(107.45, 13.75, 12)
    with open_store(store_path) as st:
        ngo_centre = render_tile(st, get_layer("seizures"), Access("ngo", KEY), *centre_tile)
    feats = mapbox_vector_tile.decode(ngo_centre.data)["seizures"]["features"]
    assert len(feats) == 4
    for f in feats:
        lon, lat = _lonlat(centre_tile, *f["geometry"]["coordinates"])
        assert lon == pytest.approx(107.45, abs=1e-3) and lat == pytest.approx(13.75, abs=1e-3)
        assert not f["properties"]["feature_id"].startswith("S-")


def test_cells_at_low_zoom_and_when_too_many_or_too_large(tmp_path: Path) -> None:
    path = tmp_path / "many.gpkg"
    rng = np.random.default_rng(4)
    x, y = 107.40 + rng.uniform(0, 0.2, 3000), 13.60 + rng.uniform(0, 0.2, 3000)
    with open_store(path) as st:
        st.upsert("clearings", gpd.GeoDataFrame(
            {"clearing_id": [f"C{i:05d}" for i in range(3000)], "aoi": "a", "area_ha": 1.0, "confidence": "high", "review_status": "new"},
            geometry=shapely.box(x, y, x + 0.001, y + 0.001), crs="EPSG:4326"))
        layer = get_layer("clearings")
        low = render_tile(st, layer, Access("planner"), *_tile_of(107.5, 13.7, 6))  # below the layer's min_zoom
        assert low.aggregated
        cells = mapbox_vector_tile.decode(low.data)["clearings_cells"]["features"]
        assert sum(f["properties"]["count"] for f in cells) == 3000
        many = render_tile(st, layer, Access("planner"), *_tile_of(107.5, 13.7, 10), max_features=1000)
        assert many.aggregated and len(many.data) < 500_000
        capped = render_tile(st, layer, Access("planner"), *_tile_of(107.5, 13.7, 10), max_bytes=20_000)
        assert capped.aggregated and len(capped.data) <= 20_000
        detailed = render_tile(st, layer, Access("planner"), *_tile_of(107.41, 13.61, 14))
        assert not detailed.aggregated and detailed.items > 0


def test_the_route_sends_etags_and_private_cache_headers(store_path: Path, tmp_path: Path) -> None:
    with open_store(store_path) as st:
        token = add_token(st, "t", "planner")
        viewer = add_token(st, "v", "viewer")
    app: Flask = create_app(load_settings({}, data_dir=tmp_path / "data", **FAST_HASH), store_url=str(store_path))
    client = app.test_client()
    z, x, y = _tile_of(107.41, 13.71, 12)
    auth = {"Authorization": f"Bearer {token}"}
    first = client.get(f"/api/tiles/seizures/{z}/{x}/{y}.mvt", headers=auth)
    assert first.status_code == 200 and first.mimetype == "application/vnd.mapbox-vector-tile"
    assert first.headers["Cache-Control"].startswith("private") and "Authorization" in first.headers["Vary"]
    again = client.get(f"/api/tiles/seizures/{z}/{x}/{y}.mvt", headers={**auth, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    assert client.get(f"/api/tiles/seizures/{z}/{x}/{y}.mvt", headers={"Authorization": f"Bearer {viewer}"}).status_code == 404
    assert client.get(f"/api/tiles/seizures/{z}/{2**z}/{y}.mvt", headers=auth).status_code == 404
    assert client.get(f"/api/tiles/seizures/{z}/{x}/{y}.mvt?risk=x", headers=auth).status_code == 400
    filtered = client.get(f"/api/tiles/seizures/{z}/{x}/{y}.mvt?commodity=wildlife", headers=auth)
    assert len(mapbox_vector_tile.decode(filtered.data)["seizures"]["features"]) == 1  # S-2 only
    app.extensions["ecowatch"].close()
