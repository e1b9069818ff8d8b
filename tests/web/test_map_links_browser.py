"""The map's links in headless Chromium: a corridor hotspot's and a clearing's evidence report from their
popups, and the watch areas and review desk from the page's nav, for the roles whose routes let them in.

Over the evidence tests' store (a corridor segment with hotspot statistics, an imaged clearing).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from layers import get_layer

from .conftest import goto_map, running_app, wait_map_idle
from .evidence_store import IMAGED, SEGMENT, build_evidence_store
from .test_map_browser import (
    ARTIFACTS,
    _assert_clean,
    _click_feature,
    _close_popup,
    open_map,
)

pytestmark = pytest.mark.browser

SEGMENT_VIEW = "lat=13.70&lon=107.445&z=12"


@pytest.fixture(scope="module")
def evidence_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("links")
    with running_app(build_evidence_store(folder), folder) as base:
        yield base


def test_planner_follows_report_links_and_the_nav(browser: Any, evidence_server: str) -> None:
    base = evidence_server
    with open_map(browser, base) as (pg, log):
        assert pg.locator(".ew-map-nav a").all_inner_texts() == ["Watch areas", "Review desk"]
        goto_map(pg, base, SEGMENT_VIEW)
        text = _click_feature(pg, "hotspot_segments", "segment_id", SEGMENT)
        assert SEGMENT in text
        link = pg.locator(".leaflet-popup-content a.ew-popup-report")
        assert link.inner_text() == "Evidence report"
        assert link.get_attribute("href") == f"/reports/segments/{SEGMENT}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "map-segment-report-link.png"))
        with pg.context.expect_page() as opened:
            link.click()
        report = opened.value
        report.wait_for_load_state()
        assert report.url == f"{base}/reports/segments/{SEGMENT}"
        assert SEGMENT in report.locator("body").inner_text()
        report.close()
        _close_popup(pg)

        # a clearing's report, from its popup
        pg.evaluate("window.ecowatch.map.setView([13.6117, 107.4132], 16, {animate: false})")
        wait_map_idle(pg)
        _click_feature(pg, "clearings", "clearing_id", IMAGED)
        href = pg.locator(".leaflet-popup-content a.ew-popup-report").get_attribute("href")
        assert href == f"/reports/clearings/{IMAGED}"
        assert pg.request.get(base + href).status == 200
        _close_popup(pg)

        # the nav: watch areas and the review desk
        pg.locator(".ew-map-nav a", has_text="Watch areas").click()
        pg.wait_for_url(f"{base}/watch/")
        pg.go_back()
        pg.locator(".ew-map-nav a", has_text="Review desk").click()
        pg.wait_for_url(f"{base}/review/")
        _assert_clean(log, base)


def test_viewer_gets_no_report_link_and_the_route_refuses_it(browser: Any, evidence_server: str) -> None:
    base = evidence_server
    with open_map(browser, base, "viewer") as (pg, log):
        assert pg.locator(".ew-map-nav a").all_inner_texts() == ["Watch areas"]
        goto_map(pg, base, SEGMENT_VIEW)
        text = _click_feature(pg, "hotspot_segments", "segment_id", SEGMENT)
        assert get_layer("hotspot_segments").title in text
        assert pg.locator(".leaflet-popup-content a").count() == 0
        assert pg.request.get(f"{base}/reports/segments/{SEGMENT}").status == 403
        assert pg.request.get(f"{base}/review/").status == 403
        _assert_clean(log, base)
