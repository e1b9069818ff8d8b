"""B's map shows A's shared seizures as cells with their origin, in headless Chromium.

Two instances on 127.0.0.1 (as in ``tests/cli/test_partner_ingest.py``): B reads A's seizures through A's
OGC API with an ngo token of A (``ecowatch ingest seizures --from-ogcapi``), then B's map is opened as
B's planner and as B's ngo. Each shared seizure is one square whose bounds are the partner's cell,
checked on the drawn SVG paths as well as on the Leaflet layers; its popup gives the origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from cli.main import cli
from config import load_settings
from layers import open_store
from layers.api_tokens import add_token
from web import create_app
from web.server import background_server

from .conftest import FAST_HASH, _seizure, build_map_store, goto_map, running_app
from .test_map_browser import (
    ARTIFACTS,
    _api,
    _assert_clean,
    _assert_counts_match_api,
    _click_feature,
    open_map,
)

pytestmark = pytest.mark.browser

CELL = (107.4, 13.7, 107.5, 13.8)  # A's published 0.1 degree cell of its four seizures (see test_partner_ingest)
VIEW = "lat=13.75&lon=107.45&z=11"
# the seizures drawn as squares: origin, Leaflet bounds, and the drawn path's box against the cell's corners on screen
SQUARES_JS = """() => {
  const ew = window.ecowatch, map = ew.map, out = [];
  const frame = map.getContainer().getBoundingClientRect();
  ew.layers.seizures.eachLayer((sub) => {
    if (!sub.getBounds) return;
    const b = sub.getBounds();
    const nw = map.latLngToContainerPoint(b.getNorthWest()), se = map.latLngToContainerPoint(b.getSouthEast());
    const box = sub.getElement().getBoundingClientRect();
    out.push({origin: sub.feature.properties.origin_url ?? null, precision: sub.feature.properties.location_precision,
              bounds: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()],
              expected_px: [nw.x, nw.y, se.x, se.y],
              drawn_px: [box.left - frame.left, box.top - frame.top, box.right - frame.left, box.bottom - frame.top]});
  });
  return out;
}"""


@pytest.fixture(scope="module")
def agency_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """B's app, served live, after reading A's shared seizures; (B's base URL, A's items URL)."""
    folder = tmp_path_factory.mktemp("partners")
    a_store = build_map_store(folder / "a" / "a.gpkg")
    with open_store(a_store) as st:
        st.upsert("seizures", gpd.GeoDataFrame([_seizure(f"A-{i}", Point(107.41 + i / 1000, 13.71)) for i in range(3)],
                                               geometry="geometry", crs="EPSG:4326"))
        token = add_token(st, "agency-b", "ngo")
    b_store = build_map_store(folder / "b" / "b.gpkg")
    app_a = create_app(load_settings({}, data_dir=folder / "a" / "data", **FAST_HASH), store_url=str(a_store))
    try:
        with background_server(app_a) as base_a:
            env = {"ECOWATCH_DATA_DIR": str(folder / "b" / "data"), "ECOWATCH_PARTNER_SCHEMES": "http,https", "A_TOKEN": token}
            result = CliRunner().invoke(cli, ["ingest", "seizures", "--from-ogcapi", base_a + "/api/ogc", "--collection", "seizures",
                                              "--token-env", "A_TOKEN", "--store", str(b_store)], env=env)
            assert result.exit_code == 0 and "4 new" in result.output, result.output
            items = base_a + "/api/ogc/collections/seizures/items"
    finally:
        app_a.extensions["ecowatch"].close()
    with running_app(b_store, folder / "b" / "data") as base_b:
        yield base_b, items


def test_b_planner_sees_a_shared_seizures_as_cells_with_their_origin(browser: Any, agency_b: tuple[str, str]) -> None:
    base, items = agency_b
    with open_map(browser, base) as (pg, log):
        goto_map(pg, base, VIEW)
        _assert_counts_match_api(pg, base)
        sent = _api(pg, base, "seizures", pg.evaluate("window.ecowatch.bbox()"))
        shared = [f for f in sent["features"] if f["properties"].get("origin_url")]
        assert len(shared) == 4
        squares = pg.evaluate(SQUARES_JS)
        assert len(squares) == len(shared) == pg.locator(".leaflet-ew-seizures-pane path.ew-gridcell").count()
        for square in squares:
            assert square["origin"] == items and square["precision"] == "grid"
            assert square["bounds"] == pytest.approx(list(CELL), abs=1e-6)
            assert square["drawn_px"] == pytest.approx(square["expected_px"], abs=2.0)  # stroke width and rounding
        assert pg.locator(".ew-legend-cells").inner_text() == "shared seizure, location generalised to a cell"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "partner-b-map.png"))
        text = _click_feature(pg, "seizures", "origin_url", items)
        assert "shared seizure, location generalised to a cell (0.1\u00b0 square)" in text and "One of 4 seizures in this cell" in text
        cell = pg.locator('.leaflet-popup-content tr[data-field="cell_deg"] td').inner_text()
        origin = pg.locator('.leaflet-popup-content tr[data-field="origin_url"] td').inner_text()
        collection = pg.locator('.leaflet-popup-content tr[data-field="origin_collection"] td').inner_text()
        feature_id = pg.locator('.leaflet-popup-content tr[data-field="origin_feature_id"] td').inner_text()
        assert (cell, origin, collection) == ("0.1", items, "seizures")
        assert feature_id in {f["properties"]["origin_feature_id"] for f in shared}
        pg.screenshot(path=str(ARTIFACTS / "partner-b-popup.png"))
        _assert_clean(log, base)


def test_b_ngo_sees_the_shared_cells_as_its_own_grid_gives_them(browser: Any, agency_b: tuple[str, str]) -> None:
    base, items = agency_b
    with open_map(browser, base, "ngo") as (pg, log):
        goto_map(pg, base, VIEW)
        drawn = _assert_counts_match_api(pg, base, "ngo")
        squares = pg.evaluate(SQUARES_JS)
        assert len(squares) == drawn["seizures"] == pg.locator(".leaflet-ew-seizures-pane path.ew-gridcell").count()
        shared = [s for s in squares if s["origin"] == items]
        assert len(shared) == 4  # A's cell holds four: B's ngo sees them (cells under 3 are left out)
        for square in shared:
            assert square["bounds"] == pytest.approx(list(CELL), abs=1e-6)  # 0.1 nests in B's 0.1 grid: the same cell
            assert square["drawn_px"] == pytest.approx(square["expected_px"], abs=2.0)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "partner-b-map-ngo.png"))
        _assert_clean(log, base)
