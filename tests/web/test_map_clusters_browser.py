"""Seizures clustered at low zoom, and points generalised to a grid cell drawn as the cell, in headless Chromium.

Over the small test store plus 50 seizures in three groups (30 within 150 m, 12 at one place, 8
within 1 km) and one shared seizure of a partner whose origin fields hold hostile text. The
planner sees clusters whose counts, with the points drawn alone, add up to what the endpoint
returns for the view and the filter; a click zooms in or spreads points at one place; at high
zoom every point is drawn alone. The ngo sees every seizure as its 0.1 degree cell, built only
from what the server sent (no cluster, nothing at another place).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import Point

from layers import get_layer, open_store

from .conftest import (
    HOSTILE,
    HOSTILE_SCRIPT,
    _seizure,
    build_map_store,
    goto_map,
    running_app,
    wait_map_idle,
)
from .test_map_browser import (
    ARTIFACTS,
    TIMEOUT_MS,
    _api,
    _assert_clean,
    _assert_counts_match_api,
    _click_feature,
    _close_popup,
    drawn_clusters,
    open_map,
)

pytestmark = pytest.mark.browser

GROUP_A = (107.40, 13.66)  # 30 timber seizures within 150 m
GROUP_B = (107.47, 13.62)  # 12 wildlife seizures at one place
GROUP_C = (107.44, 13.70)  # 8 timber seizures within 1 km
SHARED = "P-1"
SHARED_CELL = (107.50, 13.60, 107.55, 13.65)  # the partner's 0.05 degree cell
WIDE_VIEW = "lat=13.68&lon=107.44&z=10"
HOSTILE_ID = HOSTILE + "&amp;"
# idle: every layer on the map drew the current view with the current filters
# each seizure drawn as a square: its bounds and the point the server sent
CELLS_JS = """() => {
  const out = [];
  window.ecowatch.layers.seizures.eachLayer((sub) => {
    if (!sub.getBounds) return;
    const b = sub.getBounds();
    out.push({origin: sub.feature.properties.origin_collection ?? null, lonlat: sub.feature.geometry.coordinates,
              bounds: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]});
  });
  return out;
}"""


def _cluster_store(folder: Path) -> Path:
    path = build_map_store(folder / "t.gpkg")
    rows = []
    for i in range(30):
        rows.append(_seizure(f"A-{i:02d}", Point(GROUP_A[0] + (i % 6) * 0.0003, GROUP_A[1] + (i // 6) * 0.0003)))
    for i in range(12):
        rows.append(_seizure(f"B-{i:02d}", Point(*GROUP_B), commodity_group="wildlife", commodity="pangolin scales", unit="kg"))
    for i in range(8):
        rows.append(_seizure(f"C-{i:02d}", Point(GROUP_C[0] + (i % 4) * 0.002, GROUP_C[1] + (i // 4) * 0.002), date=dt.date(2023, 1, 9)))
    west, south, east, north = SHARED_CELL
    rows.append(_seizure(SHARED, Point((west + east) / 2, (south + north) / 2), location_precision="grid", cell_deg=0.05,
                         origin_url=HOSTILE, origin_collection=HOSTILE_SCRIPT, origin_feature_id=HOSTILE_ID,
                         case_reference=None, agency=None, notes=None))
    with open_store(path) as store:
        store.upsert("seizures", gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326"))
    return path


@pytest.fixture(scope="module")
def cluster_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("clusters")
    with running_app(_cluster_store(folder), folder) as base:
        yield base


def _set_view(page: Any, lat: float, lon: float, zoom: int) -> None:
    page.evaluate(f"window.ecowatch.map.setView([{lat}, {lon}], {zoom}, {{animate: false}})")
    wait_map_idle(page)


def _icon_centre(page: Any, count: int) -> tuple[float, float]:
    icon = page.locator(f'.leaflet-ew-seizures-pane .ew-cluster-count[data-count="{count}"]').first
    box = icon.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_planner_sees_clusters_that_add_up_to_the_endpoint(browser: Any, cluster_server: str) -> None:
    with open_map(browser, cluster_server) as (pg, log):
        goto_map(pg, cluster_server, WIDE_VIEW)
        drawn = _assert_counts_match_api(pg, cluster_server)
        clusters = drawn_clusters(pg, "seizures")
        assert clusters and max(clusters) >= 12, f"no cluster at zoom 10: {clusters}"
        state = pg.evaluate("window.ecowatch.clusterState('seizures')")
        assert sorted(state["clusters"]) == sorted(clusters)
        singles = pg.locator(".leaflet-ew-seizures-pane path:not(.ew-gridcell)").count()
        assert state["single"] == singles
        assert sum(clusters) + singles + 1 == drawn["seizures"] == 53  # + the shared seizure's cell
        legend = pg.locator(".ew-legend-clusters").inner_text()
        assert "seizures close together" in legend
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "map-clusters.png"))

        # a filter narrows what is clustered to the endpoint's answer for it
        goto_map(pg, cluster_server, "commodity=wildlife&" + WIDE_VIEW)
        drawn = _assert_counts_match_api(pg, cluster_server)
        assert drawn["seizures"] == 13 and sum(drawn_clusters(pg, "seizures")) >= 12
        goto_map(pg, cluster_server, "to=2023-12-31&" + WIDE_VIEW)
        assert _assert_counts_match_api(pg, cluster_server)["seizures"] == 8

        # a click on a cluster zooms in to its points
        goto_map(pg, cluster_server, WIDE_VIEW)
        biggest = max(drawn_clusters(pg, "seizures"))
        pg.mouse.click(*_icon_centre(pg, biggest))
        pg.wait_for_function("() => window.ecowatch.map.getZoom() > 10", timeout=TIMEOUT_MS)
        wait_map_idle(pg)
        _assert_counts_match_api(pg, cluster_server)

        # high zoom: every point on its own
        _set_view(pg, GROUP_A[1] + 0.0006, GROUP_A[0] + 0.0008, 16)
        drawn = _assert_counts_match_api(pg, cluster_server)
        assert drawn_clusters(pg, "seizures") == [] and drawn["seizures"] == 30
        pg.screenshot(path=str(ARTIFACTS / "map-clusters-zoomed.png"))

        # points at one place stay one cluster, spread out by a click
        _set_view(pg, GROUP_B[1], GROUP_B[0], 16)
        _assert_counts_match_api(pg, cluster_server)
        assert drawn_clusters(pg, "seizures") == [12]
        pg.mouse.click(*_icon_centre(pg, 12))
        pg.wait_for_function("() => document.querySelectorAll('.leaflet-ew-seizures-pane path').length === 12", timeout=TIMEOUT_MS)
        assert pg.locator(".leaflet-overlay-pane path.leaflet-cluster-spider-leg, .leaflet-overlay-pane path").count() >= 12
        pg.screenshot(path=str(ARTIFACTS / "map-spiderfy.png"))
        _assert_clean(log, cluster_server)


def test_a_shared_seizure_is_its_cell_with_its_origin_as_text(browser: Any, cluster_server: str) -> None:
    west, south, east, north = SHARED_CELL
    with open_map(browser, cluster_server) as (pg, log):
        goto_map(pg, cluster_server, f"lat={(south + north) / 2}&lon={(west + east) / 2}&z=13")
        _assert_counts_match_api(pg, cluster_server)
        cells = pg.evaluate(CELLS_JS)
        assert [c["origin"] for c in cells] == [HOSTILE_SCRIPT]
        assert cells[0]["bounds"] == pytest.approx(list(SHARED_CELL), abs=1e-9)
        assert pg.locator(".leaflet-ew-seizures-pane path.ew-gridcell").count() == 1
        text = _click_feature(pg, "seizures", "origin_collection", HOSTILE_SCRIPT)
        assert "shared seizure, location generalised to a cell (0.05\u00b0 square)" in text
        for field, value in (("origin_url", HOSTILE), ("origin_collection", HOSTILE_SCRIPT), ("origin_feature_id", HOSTILE_ID),
                             ("cell_deg", "0.05")):
            assert pg.locator(f'.leaflet-popup-content tr[data-field="{field}"] td').inner_text() == value
        assert "Cell (degrees)" in text
        assert pg.locator(".ew-legend-cells").inner_text() == get_layer("seizures").style["cells"]["label"]  # type: ignore[index]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "map-shared-cell-popup.png"))
        _close_popup(pg)
        # an exact seizure's popup has no empty origin rows
        _set_view(pg, GROUP_C[1], GROUP_C[0], 16)
        _click_feature(pg, "seizures", "date", "2023-01-09")
        assert pg.locator('.leaflet-popup-content tr[data-field="origin_url"]').count() == 0
        assert pg.locator(".leaflet-popup-content .ew-popup-cell").count() == 0
        _assert_clean(log, cluster_server)


def test_ngo_sees_cells_built_only_from_what_the_server_sent(browser: Any, cluster_server: str) -> None:
    with open_map(browser, cluster_server, "ngo") as (pg, log):
        goto_map(pg, cluster_server, WIDE_VIEW)
        drawn = _assert_counts_match_api(pg, cluster_server, "ngo")
        assert drawn["seizures"] > 0 and drawn_clusters(pg, "seizures") == []
        assert pg.evaluate("window.ecowatch.clusterState('seizures')") == {"clusters": [], "single": 0}
        assert pg.locator(".leaflet-ew-seizures-pane path.ew-gridcell").count() == drawn["seizures"]
        sent = _api(pg, cluster_server, "seizures", pg.evaluate("window.ecowatch.bbox()"))
        cells = pg.evaluate(CELLS_JS)
        assert sorted(tuple(c["lonlat"]) for c in cells) == sorted(tuple(f["geometry"]["coordinates"]) for f in sent["features"])
        for cell in cells:
            lon, lat = cell["lonlat"]
            assert cell["bounds"] == pytest.approx([lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05], abs=1e-9)
        assert "generalised to a 0.1\u00b0 cell" in pg.locator(".ew-legend-cells").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "map-ngo-cells.png"))
        # a cell's popup: the generalised location, and how many seizures the answer holds for the cell
        text = _click_feature(pg, "seizures", "location_precision", "grid 0.1 degrees")
        assert "location generalised to a cell (0.1\u00b0 square)" in text
        stack = int(text.split("One of ", 1)[1].split(" ", 1)[0])
        lon, lat = pg.evaluate("window.ecowatch.map._popup._source.feature.geometry.coordinates")
        assert stack == [tuple(f["geometry"]["coordinates"]) for f in sent["features"]].count((lon, lat)) >= 3
        pg.screenshot(path=str(ARTIFACTS / "map-ngo-cell-popup.png"))
        _close_popup(pg)
        # at high zoom too: the cell, never a point
        lon, lat = cells[0]["lonlat"]
        _set_view(pg, lat, lon, 15)
        assert drawn_clusters(pg, "seizures") == []
        assert pg.locator(".leaflet-ew-seizures-pane path:not(.ew-gridcell)").count() == 0
        _assert_clean(log, cluster_server)
