"""Fixtures of the web tests: a small hand-made store around the demo AOI, the app and its client.

:func:`build_map_store` writes every on-map layer with a few features (two of them far from
the AOI, for the bbox tests) and marks clearings and seizures synthetic. Hostile text sits in
a clearing's reasons, a concession's holder and a seizure's case reference. Tests get these
facts from the ``facts`` fixture (test modules do not import this file: every conftest outside
a package is called ``conftest``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from shapely.geometry import LineString, Point, box
from werkzeug.test import TestResponse

from config import Settings, load_settings
from layers import open_store
from layers.accounts import HashParams, add_account
from layers.redaction import ROLES
from web import create_app
from web.server import background_server

HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_SCRIPT = "<script>alert(2)</script>"
AOI_BOUNDS = (107.35, 13.56, 107.53, 13.75)
HOSTILE_CLEARING = "CL-0001"
FAR_CLEARING = "CL-0099"
CONFIRMED_CLEARING = "CL-0002"
# Argon2id at its cheapest: tests log in hundreds of times (production settings: see config/settings.py)
FAST_HASH: dict[str, Any] = {"password_hash_time_cost": 1, "password_hash_memory_kib": 1024, "password_hash_parallelism": 1}
# one account per role, called by its role; and a disabled one
PASSWORDS: dict[str, str] = {role: f"{role}-correct-horse-battery" for role in ROLES}
DISABLED_USER = "retired"


@dataclass(frozen=True)
class MapStoreFacts:
    """What :func:`build_map_store` wrote, for assertions."""

    hostile: str = HOSTILE
    hostile_script: str = HOSTILE_SCRIPT
    aoi_bounds: tuple[float, float, float, float] = AOI_BOUNDS
    hostile_clearing: str = HOSTILE_CLEARING
    far_clearing: str = FAR_CLEARING
    confirmed_clearing: str = CONFIRMED_CLEARING
    passwords: tuple[tuple[str, str], ...] = tuple(PASSWORDS.items())
    disabled_user: str = DISABLED_USER
    # Features of each layer written, in the store and within the AOI's bounds (other layers: 0).
    total: tuple[tuple[str, int], ...] = (
        ("countries", 2), ("concessions", 2), ("protected_areas", 1), ("clearings", 3), ("aoi", 1),
        ("corridors", 1), ("border_crossings", 1), ("seizures", 3),
    )
    near_aoi: tuple[tuple[str, int], ...] = (
        ("countries", 2), ("concessions", 2), ("protected_areas", 1), ("clearings", 2), ("aoi", 1),
        ("corridors", 1), ("border_crossings", 1), ("seizures", 2),
    )


def _frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def _clearing(cid: str, geom: Any, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "clearing_id": cid, "aoi": "demo", "area_ha": 412.5, "first_detected": dt.date(2024, 2, 11),
        "last_observed": dt.date(2024, 3, 2), "confidence": "high", "ndvi_drop": 0.41, "nbr_drop": 0.38,
        "flags": ["outside_concessions"], "reasons": ["Outside every concession."], "risk": 60,
        "review_status": "new", "run_id": "run-1", "synthetic": True, "geometry": geom,
    }
    return {**base, **values}


def _seizure(sid: str, geom: Any, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "seizure_id": sid, "date": dt.date(2024, 5, 3), "commodity_group": "timber", "commodity": "rosewood logs",
        "species": "Dalbergia cochinchinensis", "cites_appendix": "II", "quantity": 12.5, "unit": "m3",
        "transport_mode": "road", "origin_country": "Cambodia", "destination_country": "Viet Nam",
        "agency": "Forestry Administration", "case_reference": f"CASE-{sid}", "notes": "truck at the crossing",
        "location_precision": "exact", "source": "test", "synthetic": True, "geometry": geom,
    }
    return {**base, **values}


def build_map_store(path: Path) -> Path:
    """Write the test store at ``path`` (a ``.gpkg``) and return ``path``.

    Layers: 2 countries, 1 AOI, 2 concessions, 1 protected area, 1 corridor, 1 border
    crossing, 3 seizures (1 far away) and 3 clearings (1 far away, 1 confirmed); clearings,
    seizures and (the empty) scenes are marked synthetic. Accounts: one per role, named after
    it, with :data:`PASSWORDS`, and a disabled planner.
    """
    w, s, e, n = AOI_BOUNDS
    store = open_store(path)
    try:
        store.upsert("countries", _frame([
            {"name": "Cambodia", "iso_n3": "116", "source": "test", "geometry": box(102.3, 10.4, 107.5, 14.7)},
            {"name": "Viet Nam", "iso_n3": "704", "source": "test", "geometry": box(107.5, 8.5, 109.5, 23.4)},
        ]))
        store.upsert("aoi", _frame([{"name": "demo", "source": "test", "geometry": box(w, s, e, n)}]))
        store.upsert("concessions", _frame([
            {"source": "test", "source_id": "EL-1", "holder": HOSTILE, "purpose": "rubber", "status": "active",
             "valid_from": dt.date(2011, 1, 1), "valid_to": dt.date(2081, 1, 1), "cancelled": False,
             "country": "Cambodia", "area_ha": 5400.0, "geometry": box(107.36, 13.60, 107.42, 13.67)},
            {"source": "test", "source_id": "EL-2", "holder": "Mekong Agro Co.", "purpose": "cassava",
             "status": "cancelled", "valid_from": dt.date(2012, 6, 1), "valid_to": None, "cancelled": True,
             "country": "Cambodia", "area_ha": 2100.0, "geometry": box(107.43, 13.66, 107.47, 13.72)},
        ]))
        store.upsert("protected_areas", _frame([
            {"source": "test", "source_id": "PA-1", "name": "O Yadav", "designation": "Wildlife sanctuary",
             "iucn_category": None, "area_ha": 11600.0, "geometry": box(107.44, 13.57, 107.52, 13.64)},
        ]))
        store.upsert("corridors", _frame([
            {"source": "test", "source_id": "SEC-N", "name": "Southern Economic Corridor", "sub_corridor": "northern",
             "kind": "schematic", "geometry": LineString([(107.0, 13.745), (107.5, 13.745), (107.8, 13.9)])},
        ]))
        store.upsert("border_crossings", _frame([
            {"source": "test", "source_id": "BC-1", "name": "O Yadav / Le Thanh", "kind": "international",
             "geometry": Point(107.5, 13.73)},
        ]))
        store.upsert("seizures", _frame([
            _seizure("S-1", Point(107.40, 13.70)),
            _seizure("S-2", Point(107.48, 13.735), case_reference=HOSTILE_SCRIPT, commodity_group="wildlife",
                     commodity="pangolin scales", species="Manis javanica", cites_appendix="I", quantity=None, unit="kg"),
            _seizure("S-9", Point(102.60, 17.95)),
        ]))
        store.upsert("clearings", _frame([
            _clearing(HOSTILE_CLEARING, box(107.365, 13.605, 107.385, 13.625), flags=["inside_concession"],
                      reasons=["Inside concession EL-1.", f"Holder: {HOSTILE}"], risk=35),
            _clearing("CL-0002", box(107.455, 13.58, 107.475, 13.60), flags=["protected_area", "outside_concessions"],
                      reasons=["Inside O Yadav wildlife sanctuary.", "Outside every concession."], risk=90,
                      confidence="low", first_detected=dt.date(2024, 4, 20), review_status="confirmed"),
            _clearing(FAR_CLEARING, box(104.0, 12.0, 104.01, 12.01), risk=None),
        ]))
        params = HashParams(1, 1024, 1)
        for role, password in PASSWORDS.items():
            add_account(store, role, role, password, params=params, min_length=12)
        add_account(store, DISABLED_USER, "planner", "retired-correct-horse", params=params, min_length=12)
        store.upsert("users", gpd.pd.DataFrame([{"username": DISABLED_USER, "disabled": True}]))
        store.set_layer_info("clearings", synthetic=True)
        store.set_layer_info("seizures", synthetic=True)
        store.set_layer_info("scenes", synthetic=True)  # not on the map, still named in the note
    finally:
        store.close()
    return path


@pytest.fixture(scope="session")
def facts() -> MapStoreFacts:
    return MapStoreFacts()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings (data folder in a temporary directory) with the cheapest password hashing."""
    return load_settings({}, data_dir=tmp_path / "data", **FAST_HASH)


@pytest.fixture
def map_store(tmp_path: Path) -> Path:
    """The store written by :func:`build_map_store`, in the test's temporary folder."""
    return build_map_store(tmp_path / "t.gpkg")


@pytest.fixture
def app(settings: Settings, map_store: Path) -> Iterator[Flask]:
    """The app over ``map_store`` (``settings`` comes from ``tests/conftest.py``)."""
    app = create_app(settings, store_url=str(map_store))
    app.config["TESTING"] = True
    yield app
    app.extensions["ecowatch"].close()


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


def log_in(client: FlaskClient, username: str, password: str, **extra: str) -> TestResponse:
    """Post the login form as a browser would (with the form's CSRF token)."""
    page = client.get("/login")
    if page.status_code != 200:  # already logged in: any page's account menu has the token
        page = client.get("/nowhere")
    token = csrf_token(page.get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token, **extra})


@pytest.fixture
def client_as(app: Flask) -> Callable[[str], FlaskClient]:
    """A new test client logged in as the account of ``role``."""

    def make(role: str) -> FlaskClient:
        client = app.test_client()
        response = log_in(client, role, PASSWORDS[role])
        assert response.status_code == 303, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def client(client_as: Callable[[str], FlaskClient]) -> FlaskClient:
    """A client logged in as a planner (sees every layer and field)."""
    return client_as("planner")


@pytest.fixture
def anonymous(app: Flask) -> FlaskClient:
    """A client that has not logged in."""
    return app.test_client()


@contextmanager
def running_app(store: Path, data_dir: Path, *, production: bool = True, **overrides: Any) -> Iterator[str]:
    """The real app over ``store`` on waitress (or werkzeug's threaded server) on 127.0.0.1, port from the OS.

    Yields the base URL (``http://127.0.0.1:PORT``); stops the server and closes the store after.
    """
    app = create_app(load_settings({}, data_dir=data_dir, **{**FAST_HASH, **overrides}), store_url=str(store))
    try:
        with background_server(app, production=production) as base:
            yield base
    finally:
        app.extensions["ecowatch"].close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """:func:`running_app` over a fresh :func:`build_map_store` store."""
    folder = tmp_path_factory.mktemp("live")
    with running_app(build_map_store(folder / "t.gpkg"), folder) as base:
        yield base


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# The map is idle when no request is in flight and every layer shown (or each of ``names``) holds
# the answer for the current view and filters, or is zoomed out to its aggregate (a name the map
# does not have is never idle: a misspelt layer times out instead of passing). A predicate given
# to ``wait_for_function`` is always a function: Playwright polls a bare expression with ``eval``,
# which the app's Content-Security-Policy refuses (tests/web/test_browser_predicates.py).
MAP_IDLE_JS = """(names) => {
  const ew = window.ecowatch;
  if (!ew || !ew.map || !ew.isIdle() || !ew.filterQuery) return false;
  const bbox = ew.bbox(), q = ew.filterQuery();
  return (names || Object.keys(ew.layers)).every((n) => (n in ew.layers) && (!ew.map.hasLayer(ew.layers[n]) ||
    ew.zoomedOut[n] || (ew.loadedBbox[n] === bbox && ew.loadedQuery[n] === q)));
}"""


def wait_map_idle(page: Any, names: list[str] | None = None, timeout_ms: int = 20_000) -> None:
    """Wait until the map is idle (:data:`MAP_IDLE_JS`), for every layer or for ``names``."""
    page.wait_for_function(MAP_IDLE_JS, arg=names, timeout=timeout_ms)


def goto_map(page: Any, base: str, query: str) -> None:
    """Open the map at ``base`` with the URL ``query`` (view and filters) and wait until it is idle."""
    page.goto(f"{base}/?{query}")
    wait_map_idle(page)


def _require_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
