"""Imagery tiles and dates: rendered from the stored scene files, cached, refused to the viewer."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from config import load_settings
from jobs.imagery_tiles import lonlat_tile, render_tile, tile_bounds
from layers import open_store
from web import create_app

from .conftest import FAST_HASH, PASSWORDS, build_map_store, log_in
from .imagery_scene import DATE, PATCH_LONLAT, scene_row, write_scene


@pytest.fixture
def imagery_app(tmp_path: Path) -> Iterator[Flask]:
    store_path = build_map_store(tmp_path / "t.gpkg")
    scene = write_scene(tmp_path / "scene_20240201.tif")
    store = open_store(store_path)
    store.upsert("scenes", gpd.GeoDataFrame([scene_row(scene)], geometry="geometry", crs="EPSG:4326"))
    store.close()
    app = create_app(load_settings({}, data_dir=tmp_path, **FAST_HASH), store_url=str(store_path))
    yield app
    app.extensions["ecowatch"].close()


def _client(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    log_in(client, role, PASSWORDS[role])
    return client


def _pixel(png: bytes, lon: float, lat: float, z: int, x: int, y: int) -> tuple[int, int, int, int]:
    """The RGBA of the tile pixel at ``lon, lat`` (computed here from the Mercator formulas)."""
    import math

    r = 6378137.0
    mx, my = math.radians(lon) * r, math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * r
    w, s, e, n = tile_bounds(z, x, y)
    col, row = int((mx - w) / (e - w) * 256), int((n - my) / (n - s) * 256)
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    return image.getpixel((col, row))  # type: ignore[return-value]


def test_dates_list_the_stored_acquisitions(imagery_app: Flask) -> None:
    body = orjson.loads(_client(imagery_app, "planner").get("/api/imagery/dates").data)
    assert [d["date"] for d in body["dates"]] == [DATE.isoformat()] and body["styles"] == ["truecolor", "ndvi"]
    w, s, e, n = body["dates"][0]["bbox"]
    assert w < PATCH_LONLAT[0] < e and s < PATCH_LONLAT[1] < n


@pytest.mark.parametrize("role", ["planner", "ngo"])
def test_a_true_colour_tile_shows_the_patch_red_and_the_forest_green(imagery_app: Flask, role: str) -> None:
    client = _client(imagery_app, role)
    z = 15
    x, y = lonlat_tile(*PATCH_LONLAT, z)
    response = client.get(f"/tiles/imagery/{DATE}/{z}/{x}/{y}.png?style=truecolor")
    assert response.status_code == 200 and response.mimetype == "image/png"
    red = _pixel(response.data, *PATCH_LONLAT, z, x, y)
    # tolerance: the patch is B04 0.28 / B03, B02 0.025 reflectance: R >= 200, G and B <= 110, opaque
    assert red[0] >= 200 and red[1] <= 110 and red[2] <= 110 and red[3] == 255, red
    green = _pixel(response.data, PATCH_LONLAT[0] + 0.006, PATCH_LONLAT[1] + 0.006, z, x, y)
    assert green[1] > green[0] and green[1] > green[2] and green[3] == 255, green
    ndvi = client.get(f"/tiles/imagery/{DATE}/{z}/{x}/{y}.png?style=ndvi")
    forest = _pixel(ndvi.data, PATCH_LONLAT[0] + 0.006, PATCH_LONLAT[1] + 0.006, z, x, y)
    soil = _pixel(ndvi.data, *PATCH_LONLAT, z, x, y)
    assert forest[1] > forest[0] and soil[0] > soil[1], (forest, soil)  # dense green vs brown bare soil


def test_outside_the_scene_is_transparent_and_etags_revalidate(imagery_app: Flask) -> None:
    client = _client(imagery_app, "planner")
    z = 15
    x, y = lonlat_tile(*PATCH_LONLAT, z)
    far = client.get(f"/tiles/imagery/{DATE}/{z}/{x + 40}/{y}.png")
    assert far.status_code == 200 and np.asarray(Image.open(io.BytesIO(far.data)).convert("RGBA"))[..., 3].max() == 0
    other_day = client.get(f"/tiles/imagery/2024-03-01/{z}/{x}/{y}.png")
    assert np.asarray(Image.open(io.BytesIO(other_day.data)).convert("RGBA"))[..., 3].max() == 0
    first = client.get(f"/tiles/imagery/{DATE}/{z}/{x}/{y}.png")
    again = client.get(f"/tiles/imagery/{DATE}/{z}/{x}/{y}.png", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == first.headers["ETag"]
    ndvi = client.get(f"/tiles/imagery/{DATE}/{z}/{x}/{y}.png?style=ndvi")
    assert ndvi.headers["ETag"] != first.headers["ETag"]
    cache = imagery_app.extensions["ecowatch_imagery_tiles"]
    hits = cache.hits
    client.get(f"/tiles/imagery/{DATE}/{z}/{x}/{y}.png")
    assert cache.hits == hits + 1


@pytest.mark.parametrize(
    ("url", "status"),
    [("/tiles/imagery/2024-13-01/1/0/0.png", 404), ("/tiles/imagery/yesterday/1/0/0.png", 404), ("/tiles/imagery/2024-02-01/3/8/0.png", 404),
     ("/tiles/imagery/2024-02-01/25/0/0.png", 404), ("/tiles/imagery/2024-02-01/1/0/0.png?style=infrared", 400)],
)
def test_bad_tiles_are_refused_clearly(imagery_app: Flask, url: str, status: int) -> None:
    assert _client(imagery_app, "planner").get(url).status_code == status


def test_the_viewer_gets_no_imagery(imagery_app: Flask) -> None:
    client = _client(imagery_app, "viewer")
    assert client.get("/api/imagery/dates").status_code == 403
    assert client.get(f"/tiles/imagery/{DATE}/15/0/0.png").status_code == 403


def test_a_zoomed_out_tile_reads_the_overviews(tmp_path: Path) -> None:
    from jobs.imagery_tiles import SceneFile

    scene = write_scene(tmp_path / "scene_20240201.tif")
    x, y = lonlat_tile(*PATCH_LONLAT, 10)
    png = render_tile([SceneFile.of(scene)], 10, x, y, "truecolor")
    alpha = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[..., 3]
    assert 0 < (alpha > 0).sum() < 256 * 256  # a 4 km scene is a few pixels at zoom 10


@pytest.mark.parametrize("z", [17, 15, 13])
def test_tiles_match_gdals_own_warp(tmp_path: Path, z: int) -> None:
    """The tile (window read at the tile's resolution, resampled in numpy) against GDAL's warper
    reading the same file at full resolution: the same pixels, geometry and colours within a few
    levels (at zoom 13 the overview is read: a little more blur at the patch's edge)."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.transform import from_bounds
    from rasterio.vrt import WarpedVRT

    from jobs.imagery_tiles import SceneFile, _render

    scene = write_scene(tmp_path / "scene_20240201.tif")
    # a tile across the patch's edge
    x, y = lonlat_tile(PATCH_LONLAT[0] + 0.0025, PATCH_LONLAT[1] + 0.0025, z)
    ours = np.asarray(Image.open(io.BytesIO(render_tile([SceneFile.of(scene)], z, x, y, "truecolor"))).convert("RGBA"))
    with rasterio.open(scene) as ds, WarpedVRT(ds, crs="EPSG:3857", transform=from_bounds(*tile_bounds(z, x, y), 256, 256), width=256, height=256,
                                               resampling=Resampling.bilinear, src_nodata=0, nodata=0) as vrt:
        data = vrt.read([3, 2, 1], out_dtype="float32")
    valid = (data > 0).all(axis=0)
    reference = _render(data, "truecolor")  # the test scene is stored as reflectance x 10 000
    agree = valid == (ours[..., 3] > 0)
    assert agree.mean() > 0.99, agree.mean()  # the same footprint (edges may differ by a pixel)
    both = valid & (ours[..., 3] > 0)
    diff = np.abs(ours[..., :3].astype(int).transpose(2, 0, 1) - reference.astype(int)).max(axis=0)[both]
    assert (diff <= 12).mean() > (0.97 if z >= 15 else 0.9), np.percentile(diff, [50, 90, 99])
