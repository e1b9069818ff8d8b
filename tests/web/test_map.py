"""The map page as HTML: offline, no data inside, the synthetic note, the initial view."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import orjson
import pytest
from flask.testing import FlaskClient
from shapely.geometry import Point, box

from config import Settings, load_settings
from layers import open_store
from layers.accounts import HashParams, add_account
from layers.redaction import Access
from web import create_app
from web.layer_specs import map_layers
from web.map import initial_bounds

from .conftest import PASSWORDS, log_in

PLANNER_PASSWORD = PASSWORDS["planner"]

SRC_HREF = re.compile(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)


def _page(client: FlaskClient) -> str:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_page_loads_nothing_from_other_hosts(client: FlaskClient) -> None:
    page = _page(client)
    refs = SRC_HREF.findall(page)
    assert refs, "no src/href at all: the test would prove nothing"
    assert [r for r in refs if re.match(r"(?i)(https?:)?//", r)] == []
    assert "/static/vendor/leaflet/leaflet.js" in refs and "/static/ecowatch.js" in refs
    for dropped in ("jquery", "bootstrap", "awesome", "fontawesome"):
        assert dropped not in page.lower()


def test_every_referenced_asset_is_served(client: FlaskClient) -> None:
    for ref in SRC_HREF.findall(_page(client)):
        response = client.get(ref)
        assert response.status_code == 200, ref
        response.close()


def test_page_embeds_no_feature_data(client: FlaskClient, facts: Any) -> None:
    page = _page(client)
    assert facts.hostile not in page and html.escape(facts.hostile) not in page
    assert "CL-0001" not in page and "Mekong Agro" not in page
    for layer in map_layers():
        assert f"/api/layers/{layer.name}/features" in page


def test_page_lists_every_layer_for_the_layer_control(client: FlaskClient) -> None:
    page = _page(client)
    assert "L.control.layers(" in page
    for layer in map_layers():
        assert f'"{layer.title}" : api_feature_layer_' in page


def test_synthetic_note_is_shown(client: FlaskClient) -> None:
    text = html.unescape(_page(client))
    assert "The demo's imagery, clearings and seizures are synthetic" in text
    assert "Synthetic layers: Imagery scenes, Flagged clearings, Seizures." in text


def test_no_synthetic_note_for_observed_data(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "real.gpkg"
    store = open_store(path)
    frame = gpd.GeoDataFrame({"name": ["x"], "source": ["t"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326")
    store.upsert("aoi", frame)
    add_account(store, "planner", "planner", PLANNER_PASSWORD, params=HashParams(1, 1024, 1), min_length=12)
    store.close()
    app = create_app(settings, store_url=str(path))
    try:
        client = app.test_client()
        assert log_in(client, "planner", PLANNER_PASSWORD).status_code == 303
        page = html.unescape(client.get("/").get_data(as_text=True))
    finally:
        app.extensions["ecowatch"].close()
    assert "are synthetic" not in page
    assert "holds no features yet" not in page


def test_empty_store_says_so(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "empty.gpkg"
    with open_store(path) as store:  # no features, one account
        add_account(store, "planner", "planner", PLANNER_PASSWORD, params=HashParams(1, 1024, 1), min_length=12)
    app = create_app(settings, store_url=str(path))
    try:
        client = app.test_client()
        assert log_in(client, "planner", PLANNER_PASSWORD).status_code == 303
        page = client.get("/").get_data(as_text=True)
    finally:
        app.extensions["ecowatch"].close()
    assert "holds no features yet" in page
    assert "fitBounds" not in page


def test_page_opens_on_the_aoi(client: FlaskClient, facts: Any) -> None:
    west, south, east, north = facts.aoi_bounds
    assert f"[[{south}, {west}], [{north}, {east}]]" in _page(client)


def test_initial_view_falls_back_to_countries_then_everything(tmp_path: Path) -> None:
    store = open_store(tmp_path / "v.gpkg")
    try:
        assert initial_bounds(store, Access("planner")) is None
        seizure = gpd.GeoDataFrame({"seizure_id": ["s"]}, geometry=[Point(105, 12)], crs="EPSG:4326")
        store.upsert("seizures", seizure)
        assert initial_bounds(store, Access("planner")) == (105, 12, 105, 12)
        # the ngo's view of one seizure is none (a cell of fewer than 3 is suppressed); the viewer has no seizures
        key = b"k" * 32
        assert initial_bounds(store, Access("ngo", key)) is None and initial_bounds(store, Access("viewer", key)) is None
        country = gpd.GeoDataFrame({"name": ["A"]}, geometry=[box(100, 10, 104, 20)], crs="EPSG:4326")
        store.upsert("countries", country)
        assert initial_bounds(store, Access("planner")) == initial_bounds(store, Access("viewer", key)) == (100, 10, 104, 20)
        aoi = gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(101, 11, 102, 12)], crs="EPSG:4326")
        store.upsert("aoi", aoi)
        assert initial_bounds(store, Access("planner")) == (101, 11, 102, 12)
    finally:
        store.close()


def test_no_basemap_by_default(client: FlaskClient) -> None:
    assert "L.tileLayer(" not in _page(client)


def test_configured_basemap_is_added_and_allowed(tmp_path: Path, map_store: Path) -> None:
    tiles = load_settings(
        {}, data_dir=tmp_path, tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png", tile_attribution="Example tiles"
    )
    app = create_app(tiles, store_url=str(map_store))
    try:
        client = app.test_client()
        assert log_in(client, "planner", PLANNER_PASSWORD).status_code == 303
        response = client.get("/")
    finally:
        app.extensions["ecowatch"].close()
    page = response.get_data(as_text=True)
    assert "L.tileLayer(" in page and "tiles.example.org" in page and "Example tiles" in page
    assert "img-src 'self' data: https://*.tiles.example.org" in response.headers["Content-Security-Policy"]


def test_page_policy_pins_inline_scripts(client: FlaskClient) -> None:
    policy = client.get("/").headers["Content-Security-Policy"]
    script_src = next(part for part in policy.split("; ") if part.startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'sha256-" in script_src
    assert "connect-src 'self'" in policy


@pytest.mark.parametrize("path", ["/static/ecowatch.css", "/static/vendor/leaflet/images/layers.png"])
def test_static_files_are_served(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    response.close()


def _specs(page: str) -> dict[str, dict[str, Any]]:
    """The layer specs the page hands to its script (ecowatch.apiLayer calls), by layer name."""
    found = re.findall(r"ecowatch\.apiLayer\(\s*\w+,\s*(\{.*?\})\s*\);", page, re.DOTALL)
    specs = [orjson.loads(s) for s in found]
    return {s["name"]: s for s in specs}


@pytest.mark.parametrize(
    ("role", "reports", "nav"),
    [
        ("planner", {"clearings": "/reports/clearings/", "hotspot_segments": "/reports/segments/"}, ["Watch areas", "Review desk"]),
        ("analyst", {"clearings": "/reports/clearings/", "hotspot_segments": "/reports/segments/"}, ["Watch areas", "Review desk"]),
        ("ngo", {"clearings": "/reports/clearings/", "hotspot_segments": "/reports/segments/"}, ["Watch areas"]),
        ("viewer", {}, ["Watch areas"]),
    ],
)
def test_links_to_reports_and_pages_follow_the_role(client_as: Any, role: str, reports: dict[str, str], nav: list[str]) -> None:
    client = client_as(role)
    page = _page(client)
    specs = _specs(page)
    assert set(specs) == {lyr.name for lyr in map_layers(role)}  # type: ignore[arg-type]
    linked = {name: spec["report"]["url"] for name, spec in specs.items() if spec.get("report")}
    assert linked == reports
    nav_block = re.search(r'<nav class="ew-map-nav"[^>]*>(.*?)</nav>', page, re.DOTALL)
    assert nav_block is not None
    assert re.findall(r">([^<]+)</a>", nav_block.group(1)) == nav
    # every linked page lets the role in, and the report routes refuse the roles shown no link
    for href in re.findall(r'href="([^"]+)"', nav_block.group(1)):
        assert client.get(href).status_code == 200, href
    if not reports:
        assert client.get("/reports/segments/SEC-N-07").status_code == 403
        assert client.get("/reports/clearings/CL-0002").status_code == 403


def test_seizure_spec_says_how_points_are_drawn(client_as: Any) -> None:
    planner = _specs(_page(client_as("planner")))["seizures"]
    ngo = _specs(_page(client_as("ngo")))["seizures"]
    assert planner["cluster"] is True and ngo["cluster"] is True
    assert planner["generalised_deg"] is None and ngo["generalised_deg"] == 0.1
    assert planner["style"]["cells"]["field"] == "location_precision" and planner["style"]["cells"]["size"] == "cell_deg"
    popup = {f["name"] for f in ngo["popup"]}
    assert {"cell_deg", "origin_url", "origin_collection", "origin_feature_id"} <= popup
    assert "case_reference" not in popup
    assert _specs(_page(client_as("planner")))["border_crossings"]["cluster"] is False
