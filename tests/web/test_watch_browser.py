"""The watch-area page in a real browser: draw a polygon with Leaflet-Geoman, save it, see it listed."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import PASSWORDS
from .test_map_browser import ARTIFACTS, TIMEOUT_MS, PageLog

pytestmark = pytest.mark.browser


def test_draw_and_save_a_watch_area(browser: Any, live_server: str) -> None:
    base = live_server
    context = browser.new_context(viewport={"width": 1200, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    log = PageLog()
    page.on("console", lambda msg: log.errors.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: log.errors.append(str(exc)))
    page.on("request", lambda req: log.requests.append(req.url))
    try:
        page.goto(base + "/watch/")
        page.fill("input[name=username]", "analyst")
        page.fill("input[name=password]", PASSWORDS["analyst"])
        page.press("input[name=password]", "Enter")
        page.wait_for_url(base + "/watch/")
        page.wait_for_function("() => window.ecowatchWatchMap && document.querySelector('#ew-watch-map path')")
        page.click("[title='Draw Polygons']")
        box = page.locator("#ew-watch-map").bounding_box()
        assert box is not None
        x0, y0 = box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.4
        corners = [(x0, y0), (x0 + 120, y0), (x0 + 120, y0 + 90), (x0, y0 + 90)]
        for x, y in corners:
            page.mouse.click(x, y)
        page.mouse.click(*corners[0])  # closes the ring
        geometry = page.input_value("#ew-geometry")
        assert '"Polygon"' in geometry
        assert page.is_checked("input[name=how][value=drawn]")
        page.fill("input[name=name]", "Drawn patch")
        page.fill("input[name=min_risk]", "40")
        page.check("input[name=flag][value=protected_area]")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "watch-draw.png"), full_page=True)
        page.click("#ew-watch-form button[type=submit]")
        page.wait_for_selector(".ew-area h3")
        assert "Drawn patch" in page.inner_text(".ew-watch-list")
        assert "risk ≥ 40" in page.inner_text(".ew-watch-list") and "protected_area" in page.inner_text(".ew-watch-list")
        page.wait_for_function("() => window.ecowatchWatchMap && document.querySelector('#ew-watch-map path')")
        page.screenshot(path=str(ARTIFACTS / "watch-saved.png"), full_page=True)
        assert log.errors == [], log.errors
        assert all(u.startswith(base) or u.startswith("data:") for u in log.requests), [u for u in log.requests if not u.startswith(base)]
    finally:
        context.close()
