"""The map in a real browser: headless Chromium (Debian's) driven by Playwright against the real app.

The app runs on waitress (the production server) on a free port; the browser logs in (as a
planner unless a test says otherwise), then the page must draw, for every layer, as many
features as the API returns for the page's own bounds, make no request to any other host, list
every layer in the layer control, and show hostile text in popups as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from layers import get_layer
from layers.catalog import MIN_ZOOM_DETAIL
from tests.conftest import DEMO_PASSWORD
from web.layer_specs import map_layers

from .conftest import PASSWORDS, running_app, wait_map_idle

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TIMEOUT_MS = 20_000

# True once every layer has drawn the features of the current view and nothing is pending.

# Screen position of the centre of a feature, found by a property value.
FEATURE_POINT_JS = """([layer, field, value]) => {
  const ew = window.ecowatch;
  let point = null;
  ew.layers[layer].eachLayer((sub) => {
    if (sub.feature.properties[field] !== value) return;
    const latlng = sub.getLatLng ? sub.getLatLng() : sub.getBounds().getCenter();
    const p = ew.map.latLngToContainerPoint(latlng);
    const r = ew.map.getContainer().getBoundingClientRect();
    point = {x: r.left + p.x, y: r.top + p.y};
  });
  return point;
}"""


class PageLog:
    """What a page did: requests, dialogs, console errors and uncaught exceptions."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []


def log_in_page(page: Any, base: str, username: str, password: str) -> None:
    """Log in through the login form, as a person would, and land on the map."""
    page.goto(base + "/")  # anonymous: sent to the login page
    assert "/login" in page.url
    page.fill("#ew-username", username)
    page.fill("#ew-password", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


@contextmanager
def open_map(browser: Any, base: str, username: str = "planner", password: str | None = None) -> Iterator[tuple[Any, PageLog]]:
    """A fresh browser context logged in as ``username`` (the tests name accounts after their role), on the map at ``base``,
    logging what the page does."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    log = PageLog()
    page.on("request", lambda req: log.requests.append(req.url))
    page.on("dialog", lambda dialog: (log.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda msg: log.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: log.errors.append(str(exc)))
    try:
        log_in_page(page, base, username, password or PASSWORDS[username])
        yield page, log
    finally:
        context.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[tuple[Any, PageLog]]:
    with open_map(browser, live_server) as opened:
        yield opened


def _names(role: str = "planner") -> list[str]:
    return [layer.name for layer in map_layers(role)]  # type: ignore[arg-type]


def _wait_idle(page: Any, role: str = "planner") -> None:
    wait_map_idle(page, _names(role))


def _api(page: Any, base: str, layer: str, bbox: str, query: str = "") -> dict[str, Any]:
    """The features endpoint's answer for the page's own account (the page's cookies)."""
    limit = page.evaluate(f"window.ecowatch.layers[{layer!r}].ewSpec.limit")
    response = page.request.get(f"{base}/api/layers/{layer}/features?bbox={bbox}" + (f"&limit={limit}" if limit else "") + (f"&{query}" if query else ""))
    assert response.status == 200, f"{layer}: {response.status}"
    body: dict[str, Any] = orjson.loads(response.body())
    return body


def drawn_clusters(page: Any, layer: str) -> list[int]:
    """The counts shown by the cluster icons of ``layer`` on the page (its points drawn in clusters)."""
    texts = page.locator(f".leaflet-ew-{layer}-pane .ew-cluster .ew-cluster-count").all_inner_texts()
    return [int(t.replace(",", "")) for t in texts]


def _assert_counts_match_api(page: Any, base: str, role: str = "planner") -> dict[str, int]:
    """Every layer the role may see draws what the API returns for the view (nothing below its
    ``min_zoom``): each feature as an SVG path or within a cluster's count; no other layer is on the page."""
    bbox = page.evaluate("window.ecowatch.bbox()")
    counts: dict[str, int] = page.evaluate("window.ecowatch.counts")
    assert set(counts) == set(_names(role)), f"layers on the page: {sorted(counts)}"
    zoom = page.evaluate("window.ecowatch.map.getZoom()")
    drawn = {}
    for name in _names(role):
        min_zoom = get_layer(name).min_zoom
        body = {} if min_zoom is not None and zoom < min_zoom else _api(page, base, name, bbox, page.evaluate("window.ecowatch.filterQuery()"))
        expected = body.get("numberReturned", 0)
        cells = len(body["features"]) if "aggregate" in body else 0
        paths = page.locator(f".leaflet-ew-{name}-pane path").count()
        clustered = sum(drawn_clusters(page, name))
        assert counts[name] == expected, f"{name}: page drew {counts[name]}, API returns {expected} for {bbox}"
        assert page.evaluate(f"window.ecowatch.cells[{name!r}]") == cells, f"{name}: aggregate cells"
        assert paths + clustered == expected + cells, (
            f"{name}: {paths} SVG paths and {clustered} points in clusters for {expected} features and {cells} cells")
        drawn[name] = expected
    return drawn


def _assert_clean(log: PageLog, base: str) -> None:
    host = urlsplit(base).netloc
    others = [url for url in log.requests if urlsplit(url).netloc != host]
    assert others == [], f"requests to other hosts: {others}"
    assert not [url for url in log.requests if urlsplit(url).path == "/x"], "hostile <img src=x> was loaded"
    assert log.dialogs == [], f"a dialog fired: {log.dialogs}"
    assert log.errors == [], f"console errors: {log.errors}"


def test_map_draws_every_layer_offline(page: tuple[Any, PageLog], live_server: str, facts: Any) -> None:
    pg, log = page
    _wait_idle(pg)
    drawn = _assert_counts_match_api(pg, live_server)
    # The page opens on the AOI: everything near it is drawn, the far-away features are not.
    assert drawn == {name: dict(facts.near_aoi).get(name, 0) for name in drawn}
    control = pg.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    for layer in map_layers():
        assert any(layer.title in text for text in control), f"{layer.title} missing from the layer control"
        assert pg.locator(f'.ew-legend-row[data-layer="{layer.name}"]').count() == 1
    banner = pg.locator("#ew-synthetic-note")
    assert banner.is_visible()
    assert "The demo's imagery, clearings and seizures are synthetic" in banner.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "map.png"))
    _assert_clean(log, live_server)


def _click_feature(pg: Any, layer: str, field: str, value: str) -> str:
    point = pg.evaluate(FEATURE_POINT_JS, [layer, field, value])
    assert point is not None, f"{layer} feature {field}={value!r} is not drawn"
    pg.mouse.move(point["x"], point["y"])
    pg.mouse.click(point["x"], point["y"])
    popup = pg.locator(".leaflet-popup-content .ew-popup")
    popup.wait_for(state="visible")
    assert popup.locator(".ew-popup-title").inner_text() == get_layer(layer).title, "another feature was hit"
    text: str = popup.inner_text()
    assert pg.locator(".leaflet-popup-content img, .leaflet-popup-content script").count() == 0
    return text


def _close_popup(pg: Any) -> None:
    pg.locator(".leaflet-popup-close-button").click()
    pg.locator(".leaflet-popup").wait_for(state="detached")


def test_hostile_text_shows_as_text(page: tuple[Any, PageLog], live_server: str, facts: Any) -> None:
    pg, log = page
    _wait_idle(pg)
    text = _click_feature(pg, "clearings", "clearing_id", facts.hostile_clearing)
    assert facts.hostile in text
    for label in ("Flags", "Reasons", "Area (ha)", "First detected", "Confidence", "Risk"):
        assert label in text
    for field in get_layer("clearings").popup:
        assert pg.locator(f'.leaflet-popup-content tr[data-field="{field}"]').count() == 1
    lines = pg.locator('.leaflet-popup-content tr[data-field="reasons"] .ew-line').all_inner_texts()
    assert lines == ["Inside concession EL-1.", f"Holder: {facts.hostile}"]  # one line each
    flags = pg.locator('.leaflet-popup-content tr[data-field="flags"] .ew-line').all_inner_texts()
    assert flags == ["inside_concession"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "map-popup.png"))
    _close_popup(pg)

    text = _click_feature(pg, "concessions", "holder", facts.hostile)
    assert facts.hostile in text
    assert pg.locator(".leaflet-tooltip", has_text=facts.hostile).count() == 1
    assert pg.locator(".leaflet-tooltip img").count() == 0
    _close_popup(pg)

    text = _click_feature(pg, "seizures", "case_reference", facts.hostile_script)
    assert facts.hostile_script in text
    _assert_clean(log, live_server)


def test_moving_the_map_fetches_the_new_view(page: tuple[Any, PageLog], live_server: str, facts: Any) -> None:
    pg, log = page
    _wait_idle(pg)
    # An open popup survives the re-fetch that follows a move (unchanged features stay drawn).
    _click_feature(pg, "clearings", "clearing_id", facts.hostile_clearing)
    bbox = pg.evaluate("window.ecowatch.bbox()")
    pg.evaluate("window.ecowatch.map.panBy([60, 30], {animate: false})")
    _wait_idle(pg)
    assert pg.evaluate("window.ecowatch.bbox()") != bbox
    assert pg.locator(".leaflet-popup-content .ew-popup").is_visible()
    _assert_counts_match_api(pg, live_server)
    _close_popup(pg)
    box = pg.locator(".folium-map").bounding_box()
    start = (box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.7)
    pg.mouse.move(*start)
    pg.mouse.down()
    pg.mouse.move(start[0] + 300, start[1] - 150, steps=8)
    pg.mouse.up()
    before = pg.evaluate("window.ecowatch.bbox()")
    _wait_idle(pg)
    _assert_counts_match_api(pg, live_server)
    # Far away: only the far clearing (and its country) are in view.
    pg.evaluate("window.ecowatch.map.setView([12.005, 104.005], 14)")
    _wait_idle(pg)
    assert pg.evaluate("window.ecowatch.bbox()") != before
    drawn = _assert_counts_match_api(pg, live_server)
    assert drawn["clearings"] == 1 and drawn["seizures"] == 0 and drawn["countries"] == 1
    # A layer switched off in the layer control draws nothing and stops fetching.
    title = get_layer("clearings").title
    pg.locator(".leaflet-control-layers-overlays label", has_text=title).locator("input").uncheck()
    pg.wait_for_function("() => window.ecowatch.counts.clearings === 0")
    assert pg.locator(".leaflet-ew-clearings-pane path").count() == 0
    _assert_clean(log, live_server)


@pytest.mark.slow
def test_demo_store_map(browser: Any, demo_store: Path) -> None:
    """The real demo store (``ecowatch demo --no-serve``): every layer drawn as the API says, offline."""
    with running_app(demo_store, demo_store.parent) as base, open_map(browser, base, "demo-planner", DEMO_PASSWORD) as (pg, log):
        _wait_idle(pg)
        drawn = _assert_counts_match_api(pg, base)
        assert drawn["clearings"] > 0 and drawn["aoi"] == 1
        assert pg.locator("#ew-synthetic-note").is_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "map-demo.png"))
        # the region: corridor hotspots and the H3 grid, coloured by class, in the layer control
        overlays = pg.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        for name in ("hotspot_segments", "hotspot_cells"):
            assert any(get_layer(name).title in text for text in overlays)
        fetched = len(log.requests)
        pg.evaluate("window.ecowatch.map.setView([15.5, 103.5], 6)")
        _wait_idle(pg)
        drawn = _assert_counts_match_api(pg, base)
        assert drawn["hotspot_segments"] > 100 and drawn["hotspot_cells"] > 100
        hot = pg.locator(".leaflet-ew-hotspot_segments-pane path[stroke='#b2182b']")
        assert hot.count() > 0, "hot 99 % segments drawn in their class colour"
        # at region zoom clearings and seizures would hide the hotspots: not fetched, not drawn, the legend says why
        for name in ("seizures", "clearings"):
            assert drawn[name] == 0 and not [u for u in log.requests[fetched:] if f"/layers/{name}/" in u]
            row = pg.locator(f".ew-legend-row[data-layer='{name}']")
            assert "ew-zoomed-out" in (row.get_attribute("class") or "") and row.locator(".ew-legend-hint").is_visible()
        assert not pg.locator(".ew-legend-row[data-layer='hotspot_segments'] .ew-legend-hint").count()
        pg.screenshot(path=str(ARTIFACTS / "map-hotspots.png"))
        pg.evaluate(f"window.ecowatch.map.setView([13.65, 107.44], {MIN_ZOOM_DETAIL})")  # the demo AOI again
        _wait_idle(pg)
        drawn = _assert_counts_match_api(pg, base)
        assert drawn["seizures"] > 0 and drawn["clearings"] > 0
        assert not pg.locator(".ew-legend-row[data-layer='seizures'] .ew-legend-hint").is_visible()
        _assert_clean(log, base)
