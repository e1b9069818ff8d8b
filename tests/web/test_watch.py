"""The watch-area page: drawn, uploaded and picked areas through the boundary checks, filters, the
webhook key shown once, CSRF, owners only, escaping."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from shapely.geometry import box

from config import load_settings
from layers import open_store
from layers.opaque_ids import load_id_key
from layers.watch_areas import webhook_key
from web import create_app

from .conftest import FAST_HASH, HOSTILE, PASSWORDS, csrf_token, log_in

SQUARE = box(107.40, 13.60, 107.45, 13.65)


def _post(client: FlaskClient, **form: Any) -> Any:
    token = csrf_token(client.get("/watch/").get_data(as_text=True))
    data = {"name": "My forest", "frequency": "daily", "email": "on", "csrf_token": token, **form}
    return client.post("/watch/", data=data, content_type="multipart/form-data")


def _areas(map_store: Path, owner: str) -> gpd.GeoDataFrame:
    with open_store(map_store, readonly=True) as store:
        return store.read("watch_areas", where={"owner": owner})


def test_drawn_area_is_saved_with_its_subscription(client: FlaskClient, map_store: Path) -> None:
    response = _post(client, how="drawn", geometry=json.dumps(shapely.geometry.mapping(SQUARE)), min_risk="50",
                     confidence="high", flag=["protected_area", "near_border"], commodity="timber")
    assert response.status_code == 201, response.get_data(as_text=True)[:2000]
    areas = _areas(map_store, "planner")
    assert len(areas) == 1 and areas["origin"].iloc[0] == "drawn"
    assert areas.geometry.iloc[0].equals(shapely.MultiPolygon([SQUARE]))
    with open_store(map_store, readonly=True) as store:
        sub = store.read("subscriptions").iloc[0]
    assert sub["filters"] == {"min_risk": 50, "confidence": ["high"], "flags": ["protected_area", "near_border"], "commodity": ["timber"]}
    assert sub["frequency"] == "daily" and bool(sub["email"]) and sub["owner"] == "planner"
    assert "My forest" in client.get("/watch/").get_data(as_text=True)


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"how": "drawn", "geometry": "{not json"}, "geometry", "not GeoJSON"),
    ({"how": "drawn", "geometry": ""}, "geometry", "draw a polygon"),
    ({"how": "drawn", "geometry": json.dumps(shapely.geometry.mapping(box(10, 50, 11, 51)))}, "geometry", "region"),
    ({"how": "drawn", "geometry": json.dumps({"type": "LineString", "coordinates": [[107.4, 13.6], [107.5, 13.7]]})}, "geometry", "LineString"),
    ({"how": "picked", "pick_kind": "border_crossing", "pick_ref": "BC-1"}, "radius_km", "radius"),
    ({"how": "picked", "pick_kind": "protected_area", "pick_ref": "PA-nope"}, "pick_ref", "no protected area"),
    ({"how": "picked", "pick_kind": "protected_area", "pick_ref": "PA-1", "min_risk": "150"}, "min_risk", "0 to 100"),
    ({"how": "picked", "pick_kind": "protected_area", "pick_ref": "PA-1", "commodity": "gold"}, "commodity", "timber, wildlife"),
    ({"how": "picked", "pick_kind": "protected_area", "pick_ref": "PA-1", "frequency": "hourly"}, "frequency", "after_run"),
    ({"how": "picked", "pick_kind": "protected_area", "pick_ref": "PA-1", "email": ""}, "email", "choose e-mail"),
    ({"how": "picked", "pick_kind": "protected_area", "pick_ref": "PA-1", "webhook_url": "http://10.0.0.1/x"}, "webhook_url", "not allowed"),
    ({"how": "uploaded"}, "file", "choose a file"),
    ({"how": "picked", "pick_kind": "protected_area", "pick_ref": "PA-1", "name": "a\r\nBcc: x@example.org"}, "name", "line breaks"),
])
def test_bad_input_names_the_field(client: FlaskClient, map_store: Path, form: dict[str, str], field: str, message: str) -> None:
    response = _post(client, **form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    found = re.search(r'<p class="ew-alert" role="alert" data-field="([^"]+)">([^<]*)</p>', html)
    assert found is not None and found.group(1) == field and message in found.group(2), found and found.groups()
    assert _areas(map_store, "planner").empty


def test_picked_crossing_with_radius(client: FlaskClient, map_store: Path) -> None:
    assert _post(client, how="picked", pick_kind="border_crossing", pick_ref="BC-1", radius_km="5").status_code == 201
    area = _areas(map_store, "planner")
    km2 = area.to_crs(32648).area.iloc[0] / 1e6
    assert km2 == pytest.approx(3.14159 * 25, rel=0.01)
    assert area["origin_ref"].iloc[0] == "BC-1" and area["radius_km"].iloc[0] == 5


def _zip_shapefile(folder: Path) -> Path:
    frame = gpd.GeoDataFrame({"name": ["a"]}, geometry=[SQUARE], crs="EPSG:4326").to_crs(32648)
    frame.to_file(folder / "area.shp")
    out = folder / "area.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for p in folder.glob("area.*"):
            if p.suffix != ".zip":
                zf.write(p, p.name)
    return out


@pytest.mark.parametrize("kind", ["geojson", "zip", "kml"])
def test_uploads_go_through_the_boundary_readers(client: FlaskClient, map_store: Path, tmp_path: Path, kind: str) -> None:
    if kind == "geojson":
        path = tmp_path / "area.geojson"
        gpd.GeoDataFrame({"name": ["a"]}, geometry=[SQUARE], crs="EPSG:4326").to_file(path, driver="GeoJSON")
    elif kind == "zip":
        path = _zip_shapefile(tmp_path)
    else:
        path = tmp_path / "area.kml"
        gpd.GeoDataFrame({"Name": ["a"]}, geometry=[SQUARE], crs="EPSG:4326").to_file(path, driver="KML")
    with path.open("rb") as fh:
        response = _post(client, how="uploaded", file=(fh, path.name))
    assert response.status_code == 201, response.get_data(as_text=True)[-3000:]
    area = _areas(map_store, "planner")
    assert area.geometry.iloc[0].symmetric_difference(SQUARE).area < 1e-8
    assert area["origin"].iloc[0] == "uploaded" and area["origin_ref"].iloc[0] == path.name


def test_an_unsafe_archive_is_refused(client: FlaskClient, map_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../../escape.geojson", "{}")
    with path.open("rb") as fh:
        response = _post(client, how="uploaded", file=(fh, "evil.zip"))
    assert response.status_code == 400 and "evil.zip" in response.get_data(as_text=True)
    assert not (tmp_path.parent / "escape.geojson").exists()


def test_names_are_escaped(client: FlaskClient) -> None:
    assert _post(client, name=HOSTILE, how="picked", pick_kind="protected_area", pick_ref="PA-1").status_code == 201
    html = client.get("/watch/").get_data(as_text=True)
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_form_without_csrf_token_is_refused(client: FlaskClient, map_store: Path) -> None:
    response = client.post("/watch/", data={"name": "x", "how": "picked", "pick_kind": "protected_area", "pick_ref": "PA-1", "frequency": "daily",
                                            "email": "on"})
    assert response.status_code == 400 and _areas(map_store, "planner").empty


def test_owners_only(client_as: Callable[[str], FlaskClient], map_store: Path) -> None:
    planner, analyst = client_as("planner"), client_as("analyst")
    assert _post(planner, name="Planner's secret patch", how="picked", pick_kind="protected_area", pick_ref="PA-1").status_code == 201
    wid = _areas(map_store, "planner")["watch_id"].iloc[0]
    with open_store(map_store, readonly=True) as store:
        sid = store.read("subscriptions")["subscription_id"].iloc[0]
    assert "Planner's secret patch" not in analyst.get("/watch/").get_data(as_text=True)
    token = csrf_token(analyst.get("/watch/").get_data(as_text=True))
    assert analyst.post(f"/watch/{wid}/delete", data={"csrf_token": token}).status_code == 404
    assert analyst.post(f"/watch/subscriptions/{sid}/stop", data={"csrf_token": token}).status_code == 404
    token = csrf_token(planner.get("/watch/").get_data(as_text=True))
    assert planner.post(f"/watch/subscriptions/{sid}/stop", data={"csrf_token": token}).status_code == 303
    assert "stopped" in planner.get("/watch/").get_data(as_text=True)
    assert planner.post(f"/watch/{wid}/delete", data={"csrf_token": token}).status_code == 303
    assert _areas(map_store, "planner").empty


@pytest.fixture
def webhook_app(tmp_path: Path, map_store: Path) -> Iterator[Flask]:
    settings = load_settings({}, data_dir=tmp_path / "data", webhook_hosts=("hooks.example.org",), **FAST_HASH)
    app = create_app(settings, store_url=str(map_store))
    yield app
    app.extensions["ecowatch"].close()


def test_webhook_key_is_shown_once(webhook_app: Flask, map_store: Path) -> None:
    client = webhook_app.test_client()
    assert log_in(client, "ngo", PASSWORDS["ngo"]).status_code == 303
    response = _post(client, how="picked", pick_kind="concession", pick_ref="EL-1", webhook_url="https://hooks.example.org/ecowatch", email="")
    html = response.get_data(as_text=True)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    shown = re.search(r'<code class="ew-key-value" data-subscription="(SUB-[0-9a-f]+)">([0-9a-f]{64})</code>', html)
    assert shown is not None
    sid, key = shown.groups()
    assert key == webhook_key(load_id_key(webhook_app.extensions["ecowatch"].settings), sid, 1)
    later = client.get("/watch/").get_data(as_text=True)
    assert key not in later and "https://hooks.example.org/ecowatch" in later
    with open_store(map_store, readonly=True) as store:
        assert key not in store.read("subscriptions").to_string()
