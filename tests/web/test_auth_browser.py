"""Accounts in a real browser: the login page, each role's map, and what an ngo browser receives.

Headless Chromium (Debian's) against the app on waitress. Every page load is watched for
Content-Security-Policy violations (a ``securitypolicyviolation`` listener installed before any
page script runs) and console errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import Point

from layers import open_store
from layers.redaction import ROLES
from web.layer_specs import map_layers

from .conftest import PASSWORDS, build_map_store, running_app
from .test_map_browser import (
    ARTIFACTS,
    TIMEOUT_MS,
    PageLog,
    _assert_clean,
    _assert_counts_match_api,
    _click_feature,
    _wait_idle,
    open_map,
)

pytestmark = pytest.mark.browser

CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""

# Six seizures in one 0.1-degree cell (107.4-107.5 E, 13.7-13.8 N), at coordinates that occur
# nowhere else: an ngo may see their cell's centre, never one of these.
EXACT = [(107.41237, 13.70311), (107.42913, 13.71177), (107.43359, 13.72843), (107.45171, 13.73519), (107.46627, 13.74483), (107.47793, 13.76251)]
SENSITIVE_TEXT = ["CASE-X-", "Forestry Administration", "truck at the crossing", "Customs Department", "informant said"]


@pytest.fixture(scope="module")
def ngo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("ngo")
    path = build_map_store(folder / "t.gpkg")
    rows = [
        {"seizure_id": f"X-{i}", "date": "2024-06-01", "commodity_group": "timber", "commodity": "logs", "agency": "Customs Department",
         "case_reference": f"CASE-X-{i}", "notes": "informant said so", "location_precision": "exact", "source": "t", "synthetic": True}
        for i in range(len(EXACT))
    ]
    with open_store(path) as store:
        store.upsert("seizures", gpd.GeoDataFrame(rows, geometry=[Point(x, y) for x, y in EXACT], crs="EPSG:4326"))
    with running_app(path, folder) as base:
        yield base


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("roles")
    with running_app(build_map_store(folder / "t.gpkg"), folder) as base:
        yield base


def _watch_csp(page: Any) -> list[str]:
    violations: list[str] = page.evaluate("window.__cspViolations")
    return violations


def test_login_page(browser: Any, server: str) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 720})
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(server + "/")
        assert page.url == server + "/login?next=/"
        assert page.locator("h1").inner_text() == "Log in"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "login.png"))
        page.fill("#ew-username", "planner")
        page.fill("#ew-password", "a-wrong-password")
        page.click("button[type=submit]")
        assert page.locator(".ew-alert").inner_text().startswith("Wrong user name or password")
        assert page.locator("#ew-username").input_value() == "planner"  # kept; the password is not
        assert page.locator("#ew-password").input_value() == ""
        page.screenshot(path=str(ARTIFACTS / "login-failed.png"))
        assert _watch_csp(page) == [] and errors == ["Failed to load resource: the server responded with a status of 401 (UNAUTHORIZED)"]
    finally:
        context.close()


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_its_layers(browser: Any, server: str, role: str) -> None:
    with open_map(browser, server, role) as (pg, log):
        pg.context.add_init_script(CSP_WATCH)
        pg.reload()
        _wait_idle(pg, role)
        assert pg.locator(".ew-account-role").get_attribute("data-role") == role
        drawn = _assert_counts_match_api(pg, server, role)
        allowed = {layer.name for layer in map_layers(role)}  # type: ignore[arg-type]
        every = {layer.name for layer in map_layers()}
        for name in every - allowed:  # not drawn, not in the control, not in the legend, not fetched
            assert pg.locator(f".leaflet-ew-{name}-pane path").count() == 0
            assert pg.locator(f'.ew-legend-row[data-layer="{name}"]').count() == 0
            assert not [u for u in log.requests if f"/layers/{name}/" in u]
        overlays = " ".join(pg.locator(".leaflet-control-layers-overlays label").all_inner_texts())
        for layer in map_layers():
            assert (layer.title in overlays) == (layer.name in allowed)
        if role == "viewer":
            assert allowed == {layer.name for layer in map_layers() if layer.public}
            assert drawn["clearings"] == 1  # the confirmed one only
        else:
            assert allowed == every and drawn["clearings"] == 2
        pg.screenshot(path=str(ARTIFACTS / f"map-{role}.png"))
        assert _watch_csp(pg) == []
        _assert_clean(log, server)


def test_hostile_text_is_text_for_a_viewer_too(browser: Any, server: str, facts: Any) -> None:
    with open_map(browser, server, "viewer") as (pg, log):
        _wait_idle(pg, "viewer")
        text = _click_feature(pg, "concessions", "holder", facts.hostile)
        assert facts.hostile in text
        _assert_clean(log, server)


def test_an_ngo_browser_never_receives_exact_seizures(browser: Any, ngo_server: str) -> None:
    bodies: list[tuple[str, bytes]] = []

    def keep(response: Any) -> None:
        if response.request.method != "OPTIONS" and response.status not in (301, 302, 303):
            try:
                bodies.append((response.url, response.body()))
            except Exception as err:  # a body the browser dropped (an aborted fetch) cannot leak
                bodies.append((response.url, f"no body: {err}".encode()))

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("response", keep)
    log = PageLog()
    page.on("request", lambda req: log.requests.append(req.url))
    page.on("dialog", lambda dialog: (log.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda msg: log.errors.append(msg.text) if msg.type == "error" else None)
    try:
        from .test_map_browser import log_in_page

        log_in_page(page, ngo_server, "ngo", PASSWORDS["ngo"])
        _wait_idle(page, "ngo")
        page.evaluate("window.ecowatch.map.setView([13.75, 107.45], 12)")  # close in on the cell
        _wait_idle(page, "ngo")
        drawn = _assert_counts_match_api(page, ngo_server, "ngo")
        assert drawn["seizures"] >= len(EXACT)  # each one drawn, at the centre of its cell
        points = page.evaluate(
            "(() => { const p = []; window.ecowatch.layers.seizures.eachLayer((l) => { p.push(l.feature.geometry.coordinates); }); return p; })()"
        )
        assert len(points) == drawn["seizures"]
        for x, y in points:
            assert abs(x * 10 - 0.5 - round(x * 10 - 0.5)) < 1e-6 and abs(y * 10 - 0.5 - round(y * 10 - 0.5)) < 1e-6, (x, y)
        assert (107.45, 13.75) in {(round(x, 6), round(y, 6)) for x, y in points}
        seizure_urls = [url for url, _ in bodies if "/layers/seizures/" in url]
        assert seizure_urls, "the page fetched no seizures"
        assert len(bodies) >= 10
        for url, body in bodies:
            text = body.decode("utf-8", errors="replace")
            for lon, lat in EXACT:
                for value in (f"{lon}", f"{lat}", f"{lon:.4f}", f"{lat:.4f}"):
                    assert value not in text, f"{url} holds an exact seizure coordinate {value}"
            for secret in SENSITIVE_TEXT:
                assert secret not in text, f"{url} holds {secret!r}"
            assert not re.search(r'"(case_reference|agency|notes|place)"', text), f"{url} names a sensitive field"
        assert _watch_csp(page) == []
        _assert_clean(log, ngo_server)
    finally:
        context.close()
