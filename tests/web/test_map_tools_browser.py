"""The planners' map in headless Chromium: filters, the URL, styles, search, aggregates, coordinates.

Logged in as a planner and as an ngo over the small test store (:func:`build_map_store`), and
over a store with a few thousand clearings for the aggregates. Screenshots go to the test's
temporary folder.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pytest
from PIL import Image
from pyproj import Transformer
from shapely.geometry import box

from config import load_settings
from layers import get_layer, open_store
from layers.opaque_ids import load_id_key
from layers.redaction import Access, count_redacted

from .conftest import build_map_store, goto_map, running_app, wait_map_idle
from .imagery_scene import DATE, PATCH_LONLAT, scene_row, write_scene
from .test_map_browser import TIMEOUT_MS, _assert_clean, _assert_counts_match_api, open_map

pytestmark = pytest.mark.browser

AOI_VIEW = "lat=13.655&lon=107.44&z=12"
# idle: every layer drew the current view with the current filters


def _shown_ids(page: Any, layer: str, field: str) -> set[str]:
    return set(page.evaluate(f"""() => {{ const out = [];
      window.ecowatch.layers[{layer!r}].eachLayer((s) => out.push(s.feature.properties[{field!r}])); return out; }}"""))


FILTER_CASES = [
    # (query, layer whose drawn set must narrow, field shown, expected ids for the planner)
    ("confidence=low", "clearings", "clearing_id", {"CL-0002"}),
    ("confidence=high", "clearings", "clearing_id", {"CL-0001"}),
    ("status=confirmed", "clearings", "clearing_id", {"CL-0002"}),
    ("risk=50", "clearings", "clearing_id", {"CL-0002"}),
    ("flag=inside_concession", "clearings", "clearing_id", {"CL-0001"}),
    ("period=2024Q2", "clearings", "clearing_id", {"CL-0002"}),
    ("from=2024-01-01&to=2024-03-31", "clearings", "clearing_id", {"CL-0001"}),
    ("aoi=elsewhere", "clearings", "clearing_id", set()),
    ("commodity=wildlife", "seizures", "commodity", {"pangolin scales"}),
    ("country=Laos", "concessions", "holder", set()),
]


@pytest.mark.parametrize("role", ["planner", "ngo"])
def test_each_filter_narrows_the_map_to_the_endpoints_count(browser: Any, live_server: str, role: str, tmp_path: Path) -> None:
    with open_map(browser, live_server, role) as (page, log):
        goto_map(page, live_server, AOI_VIEW)
        everything = _assert_counts_match_api(page, live_server, role)
        assert everything["clearings"] == 2
        for i, (query, layer, field, planner_ids) in enumerate(FILTER_CASES):
            if i % 2 == 0:  # through the panel, as a person would
                page.click(".ew-filters summary") if not page.locator(".ew-filters[open]").count() else None
                page.click("#ew-filter-clear")
                wait_map_idle(page)
                for pair in query.split("&"):
                    name, value = pair.split("=")
                    locator = page.locator(f"#ew-filter-{name}")
                    if locator.evaluate("e => e.tagName") == "SELECT":
                        locator.select_option(value)
                    else:
                        locator.fill(value)
                page.click("#ew-filter-apply")
            else:
                page.evaluate(f"window.ecowatch.setFilters(Object.fromEntries(new URLSearchParams({query!r})))")
            wait_map_idle(page)
            assert page.evaluate("window.ecowatch.filterQuery()") == query
            assert f"?{query}&" in page.url or page.url.split("?")[1].startswith(query)
            drawn = _assert_counts_match_api(page, live_server, role)
            # (the ngo sees no seizure here: cells of fewer than 3 are suppressed)
            assert drawn[layer] < everything[layer] or everything[layer] == 0 == drawn[layer], f"{query} did not narrow {layer}"
            if role == "planner":
                assert _shown_ids(page, layer, field) == planner_ids, query
        page.screenshot(path=str(tmp_path / f"filters-{role}.png"))
        page.evaluate("window.ecowatch.setFilters({})")
        wait_map_idle(page)
        assert _assert_counts_match_api(page, live_server, role) == everything
        _assert_clean(log, live_server)


def test_the_url_reproduces_the_view(browser: Any, live_server: str, tmp_path: Path) -> None:
    with open_map(browser, live_server, "planner") as (page, _):
        goto_map(page, live_server, AOI_VIEW + "&confidence=low&risk=50")
        page.evaluate("window.ecowatch.map.setView([13.62, 107.46], 13, {animate: false})")
        page.evaluate("window.ecowatch.map.removeLayer(window.ecowatch.layers.concessions)")
        wait_map_idle(page)
        url = page.url
        assert "lat=13.62000" in url and "z=13" in url and "confidence=low" in url and "layers=" in url
        before = {
            "counts": page.evaluate("window.ecowatch.counts"), "bbox": page.evaluate("window.ecowatch.bbox()"),
            "form": page.locator("#ew-filter-risk").input_value(),
        }
        other = page.context.new_page()
        other.goto(url)
        wait_map_idle(other)
        assert other.evaluate("window.ecowatch.bbox()") == before["bbox"]
        assert other.evaluate("window.ecowatch.counts") == before["counts"]
        assert other.evaluate("window.ecowatch.map.hasLayer(window.ecowatch.layers.concessions)") is False
        assert other.locator("#ew-filter-risk").input_value() == before["form"] == "50"
        assert other.locator("#ew-filter-confidence").input_value() == "low"
        other.screenshot(path=str(tmp_path / "url-view.png"))


def test_the_two_confidence_levels_are_drawn_differently(browser: Any, live_server: str, tmp_path: Path) -> None:
    with open_map(browser, live_server, "planner") as (page, _):
        goto_map(page, live_server, AOI_VIEW)
        low = page.locator(".leaflet-ew-clearings-pane path.ew-confidence-low")
        high = page.locator(".leaflet-ew-clearings-pane path.ew-confidence-high")
        assert low.count() == 1 and high.count() == 1
        style = get_layer("clearings").style
        weaker: dict[str, Any] = style["weaker"]  # type: ignore[assignment]
        assert low.get_attribute("stroke-dasharray") == weaker["dashArray"]
        assert float(low.get_attribute("fill-opacity") or 0) == pytest.approx(weaker["fillOpacity"])
        assert high.get_attribute("stroke-dasharray") is None
        assert float(high.get_attribute("fill-opacity") or 0) == pytest.approx(float(str(style["fillOpacity"])))
        # colour by review status: CL-0002 confirmed, CL-0001 new
        colours = dict(style["colors"])  # type: ignore[arg-type]
        assert low.get_attribute("stroke") == colours["confirmed"] and high.get_attribute("stroke") == colours["new"]
        legend = page.locator(".ew-legend")
        assert "low confidence (unconfirmed early warning)" in legend.inner_text()
        labels = page.locator(".ew-legend-labels[data-field='trend']").first.inner_text()
        for label in ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating", "historical", "no pattern"):
            assert label in labels
        page.locator(".ew-legend").screenshot(path=str(tmp_path / "legend.png"))
        page.screenshot(path=str(tmp_path / "confidence.png"))


@pytest.mark.parametrize("role", ["planner", "ngo"])
def test_search_finds_a_clearing_and_centres_on_it(browser: Any, live_server: str, role: str, tmp_path: Path) -> None:
    with open_map(browser, live_server, role) as (page, log):
        goto_map(page, live_server, "lat=12&lon=105&z=7")
        page.fill("#ew-search-input", "CL-0002")
        page.press("#ew-search-input", "Enter")
        page.wait_for_function("() => window.ecowatch.searchLanded && window.ecowatch.searchLanded.label === 'CL-0002'", timeout=TIMEOUT_MS)
        wait_map_idle(page)
        centre = page.evaluate("(() => { const c = window.ecowatch.map.getCenter(); return [c.lng, c.lat]; })()")
        assert centre == pytest.approx([107.465, 13.59], abs=1e-3)
        assert "CL-0002" in _shown_ids(page, "clearings", "clearing_id")
        assert "lat=13.59" in page.url
        page.fill("#ew-search-input", "yadav")
        page.press("#ew-search-input", "Enter")
        page.wait_for_function("() => window.ecowatch.searchLanded && window.ecowatch.searchLanded.label === 'O Yadav'", timeout=TIMEOUT_MS)
        page.screenshot(path=str(tmp_path / f"search-{role}.png"))
        _assert_clean(log, live_server)


KNOWN_POINTS = [(13.655, 107.44), (13.56, 107.35), (-33.8568, 151.2153), (60.0, 5.0), (78.2, 15.6), (0.0, 0.0), (-0.0001, -179.9999), (83.9, -30.0), (10.5, 102.0001)]


def test_coordinates_in_lat_lon_dms_and_utm_agree_with_pyproj(browser: Any, live_server: str) -> None:
    with open_map(browser, live_server, "planner") as (page, _):
        goto_map(page, live_server, AOI_VIEW)
        for lat, lon in KNOWN_POINTS:
            got = page.evaluate(f"window.ecowatch.coords.utm({lat}, {lon})")
            epsg = (32600 if got["hemisphere"] == "N" else 32700) + got["zone"]
            east, north = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(lon, lat)
            assert abs(got["easting"] - east) < 0.01 and abs(got["northing"] - north) < 0.01, (lat, lon, got, east, north)
            assert (lat < 0) == (got["hemisphere"] == "S")
        assert page.evaluate("window.ecowatch.utm === undefined && window.ecowatch.coords.utm(13.655, 107.44).zone") == 48
        assert page.evaluate("window.ecowatch.coords.utm(60.0, 5.0).zone") == 32  # south-west Norway
        assert page.evaluate("window.ecowatch.coords.utm(78.2, 15.6).zone") == 33  # Svalbard
        assert page.evaluate("window.ecowatch.coords.dms(13.655, 107.44)") == "13\u00b039'18.0\"N 107\u00b026'24.0\"E"
        assert page.evaluate("window.ecowatch.coords.dms(-33.8568, -70.5)") == "33\u00b051'24.5\"S 70\u00b030'00.0\"W"
        # the pointer: move over the map, read the three notations
        box_ = page.locator("#map, .folium-map").first.bounding_box()
        page.mouse.move(box_["x"] + box_["width"] / 2, box_["y"] + box_["height"] / 2)
        lines = page.locator(".ew-pointer-line").all_inner_texts()
        assert len(lines) == 3 and lines[0].startswith("Lat, lon 13.6") and "\u00b0" in lines[1] and lines[2].startswith("UTM 48N ")
        # a feature's popup says where it is
        page.evaluate("window.ecowatch.layers.aoi.eachLayer((s) => s.openPopup())")
        assert "UTM 48N" in page.locator(".ew-popup-coords").inner_text()


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The test store plus 4 000 clearings over about 1 x 0.6 degrees west of the AOI."""
    folder = tmp_path_factory.mktemp("big")
    path = build_map_store(folder / "big.gpkg")
    rng = np.random.default_rng(7)
    n = 4000
    x, y = rng.uniform(106.3, 107.3, n), rng.uniform(13.1, 13.7, n)
    frame = gpd.GeoDataFrame({
        "clearing_id": [f"CB-{i:05d}" for i in range(n)], "aoi": "demo", "area_ha": np.round(rng.uniform(0.5, 30, n), 2),
        "first_detected": [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 300, n)],
        "confidence": rng.choice(["low", "high"], n), "risk": rng.integers(0, 101, n),
        "review_status": rng.choice(["new", "confirmed"], n), "flags": [["outside_concessions"]] * n, "synthetic": True,
    }, geometry=[box(a, b, a + 0.002, b + 0.002) for a, b in zip(x, y, strict=True)], crs="EPSG:4326")
    store = open_store(path)
    store.upsert("clearings", frame)
    store.close()
    with running_app(path, folder) as base:
        yield base, path, folder


@pytest.mark.parametrize("role", ["planner", "ngo"])
def test_zoomed_out_over_a_big_store_the_map_shows_aggregates_that_add_up(browser: Any, big_server: Any, role: str, tmp_path: Path) -> None:
    base, path, folder = big_server
    with open_map(browser, base, role) as (page, log):
        goto_map(page, base, "lat=13.4&lon=106.8&z=9")
        agg = page.evaluate("window.ecowatch.aggregates.clearings")
        assert agg is not None and agg["count"] > 1000
        cells = page.evaluate("""() => { let n = 0, sum = 0;
          window.ecowatch.layers.clearings.eachLayer((s) => { n += 1; sum += s.feature.properties.count; }); return [n, sum]; }""")
        assert cells[0] == agg["cells"] == page.locator(".leaflet-ew-clearings-pane path.ew-cell").count()
        bbox = tuple(float(v) for v in page.evaluate("window.ecowatch.bbox()").split(","))
        store = open_store(path, readonly=True)
        try:
            access = Access(role, load_id_key(load_settings({}, data_dir=folder))) if role == "ngo" else Access(role)
            expected = count_redacted(store, get_layer("clearings"), access, bbox=bbox)  # type: ignore[arg-type]
            assert cells[1] == agg["count"] == expected
            page.evaluate("window.ecowatch.setFilters({confidence: 'low'})")
            wait_map_idle(page)
            agg_low = page.evaluate("window.ecowatch.aggregates.clearings")
            assert agg_low["count"] == count_redacted(store, get_layer("clearings"), access, bbox=bbox, where={"confidence": "low"}) < expected  # type: ignore[arg-type]
        finally:
            store.close()
        note = page.locator(".ew-legend-aggregate[data-layer='clearings']")
        assert note.is_visible() and "grid cell" in note.inner_text() and f"{agg_low['count']:,}" in note.inner_text()
        response = page.request.get(f"{base}/api/layers/clearings/features?bbox={page.evaluate('window.ecowatch.bbox()')}&limit={page.evaluate('window.ecowatch.layers.clearings.ewSpec.limit')}&confidence=low")
        assert len(response.body()) < 200_000 and orjson.loads(response.body())["aggregate"]["count"] == agg_low["count"]
        page.screenshot(path=str(tmp_path / f"aggregate-{role}.png"))
        # zoomed in far enough, the features themselves
        page.evaluate("window.ecowatch.map.setView([13.4, 106.8], 14, {animate: false})")
        wait_map_idle(page)
        assert page.evaluate("window.ecowatch.aggregates.clearings") is None and page.evaluate("window.ecowatch.counts.clearings") > 0
        _assert_clean(log, base)


@pytest.fixture(scope="module")
def imagery_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The test store with one stored scene holding a red patch at a known place."""
    folder = tmp_path_factory.mktemp("imagery")
    path = build_map_store(folder / "im.gpkg")
    scene = write_scene(folder / "scene_20240201.tif")
    store = open_store(path)
    store.upsert("scenes", gpd.GeoDataFrame([scene_row(scene)], geometry="geometry", crs="EPSG:4326"))
    store.close()
    with running_app(path, folder) as base:
        yield base


def _screen_pixel(page: Any, shot: Path, lon: float, lat: float) -> tuple[int, int, int]:
    point = page.evaluate(f"""(() => {{ const ew = window.ecowatch; const p = ew.map.latLngToContainerPoint([{lat}, {lon}]);
      const r = ew.map.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }})()""")
    image = Image.open(shot).convert("RGB")
    return image.getpixel((int(point[0]), int(point[1])))  # type: ignore[return-value]


@pytest.mark.parametrize("role", ["planner", "ngo"])
def test_the_imagery_layer_shows_the_dates_true_colour(browser: Any, imagery_server: str, role: str, tmp_path: Path) -> None:
    lon, lat = PATCH_LONLAT
    with open_map(browser, imagery_server, role) as (page, log):
        goto_map(page, imagery_server, f"lat={lat}&lon={lon}&z=15")
        page.wait_for_function("() => window.ecowatch.imagery.ready", timeout=TIMEOUT_MS)
        options = page.locator("#ew-imagery-date option").all_inner_texts()
        assert options[0] == "none" and options[1].startswith(DATE.isoformat())
        page.select_option("#ew-imagery-date", DATE.isoformat())
        page.wait_for_function("() => window.ecowatch.imageryIdle()", timeout=TIMEOUT_MS)
        assert f"date={DATE.isoformat()}" in page.url
        shot = tmp_path / f"imagery-{role}.png"
        page.screenshot(path=str(shot))
        # tolerance: the patch (B04 0.28, B03 and B02 0.025 reflectance) shows as R >= 200, G and B <= 110
        r, g, b = _screen_pixel(page, shot, lon, lat)
        assert r >= 200 and g <= 110 and b <= 110, (r, g, b)
        r2, g2, b2 = _screen_pixel(page, shot, lon + 0.006, lat + 0.006)  # forest around it: green dominates
        assert g2 > r2 and g2 > b2, (r2, g2, b2)
        # the URL brings the imagery back; NDVI turns the patch brown-ish (red > green)
        other = page.context.new_page()
        other.goto(page.url.replace(f"date={DATE.isoformat()}", f"date={DATE.isoformat()}&style=ndvi"))
        other.wait_for_function("() => window.ecowatch && window.ecowatch.imageryIdle && window.ecowatch.imageryIdle()", timeout=TIMEOUT_MS)
        assert other.locator("#ew-imagery-style").input_value() == "ndvi"
        shot2 = tmp_path / f"imagery-ndvi-{role}.png"
        other.screenshot(path=str(shot2))
        r3, g3, _ = _screen_pixel(other, shot2, lon, lat)
        r4, g4, _ = _screen_pixel(other, shot2, lon + 0.006, lat + 0.006)
        assert r3 > g3 and g4 > r4, ((r3, g3), (r4, g4))
        _assert_clean(log, imagery_server)


def test_the_viewer_has_no_imagery_control(browser: Any, imagery_server: str) -> None:
    with open_map(browser, imagery_server, "viewer") as (page, _):
        goto_map(page, imagery_server, AOI_VIEW + f"&date={DATE.isoformat()}")
        assert page.locator("#ew-imagery-date").count() == 0
        assert page.evaluate("window.ecowatch.imagery.layer") is None
