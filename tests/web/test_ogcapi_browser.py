"""The OGC API's HTML pages in a real browser: a logged-in planner browses from the landing page
to a collection, its items and one feature; hostile text is shown as text; the page runs no
script and breaks no Content-Security-Policy rule; the collection page offers the downloads."""

from __future__ import annotations

from typing import Any

import pytest

from .test_map_browser import ARTIFACTS, open_map

pytestmark = pytest.mark.browser


def test_browse_the_api_as_html(browser: Any, live_server: str, facts) -> None:
    with open_map(browser, live_server) as (page, log):
        page.goto(live_server + "/api/ogc")
        assert page.locator("h1").inner_text() == "ecowatch"
        page.get_by_role("link", name="Collections (HTML)").click()
        page.get_by_role("link", name="concessions", exact=True).click()
        downloads = page.locator("a[rel=enclosure]")
        assert downloads.count() == 5
        page.locator("a[rel=items][type='text/html']").click()
        page.wait_for_selector("table.ew-ogc-table")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ogcapi_items.png"), full_page=True)
        assert facts.hostile in page.locator("table.ew-ogc-table").inner_text()  # shown as text
        assert page.locator("table.ew-ogc-table img").count() == 0  # never as markup
        assert "2 of 2 feature(s)." in page.locator(".ew-ogc-count").inner_text()
        page.locator("table.ew-ogc-table tbody a").first.click()
        page.wait_for_selector("table.ew-ogc-table")
        page.screenshot(path=str(ARTIFACTS / "ogcapi_item.png"), full_page=True)
        assert page.locator("table.ew-ogc-table tbody tr").count() == 1
        assert not log.dialogs and not [e for e in log.errors if "favicon" not in e]
