"""The review desk in a real browser: an analyst triages three clearings with the keyboard.

Headless Chromium (Debian's) drives the real app on werkzeug's threaded server on a free port.
The analyst's session is a signed session cookie made with the app's own key (until the accounts
branch brings a login page, nothing else signs one in). The first clearing's chips are made on
request from synthetic reference scenes, as for a clearing whose detect run wrote none.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

from config import load_settings
from ingest.imagery.local import open_scene
from layers import open_store
from tests.ingest.reference_scenes import AOI_NAME, CRS, reference, write_local
from tests.layers.review_fixtures import clearing_rows, write_clearings
from web import create_app
from web.server import background_server

from .conftest import FAST_HASH, PASSWORDS, _require_browser, build_map_store
from .test_map_browser import ARTIFACTS, TIMEOUT_MS, PageLog

pytestmark = pytest.mark.browser
IMAGED = "CL-00-imaged"  # sorts before CL-000 at the same risk


def _store(folder: Path) -> Path:
    path = build_map_store(folder / "t.gpkg")
    scenes = [open_scene(p) for p in write_local(reference(), folder / "scenes")]
    with open_store(path) as store:
        write_clearings(store, clearing_rows(6))
        store.upsert("scenes", gpd.GeoDataFrame(
            [{"scene_id": s.scene_id, "provider": "local", "aoi": AOI_NAME, "acquired": s.acquired, "cloud_share": 0.0,
              "path": str(s.path), "crs": CRS, "synthetic": True, "geometry": shapely.box(760_000, 1_505_120, 762_560, 1_507_680)}
             for s in scenes], geometry="geometry", crs=CRS))
        store.upsert("clearings", gpd.GeoDataFrame([{
            "clearing_id": IMAGED, "aoi": AOI_NAME, "first_detected": dt.date(2024, 1, 20), "confidence": "high", "risk": 100,
            "area_ha": 3.0, "review_status": "new", "flags": ["protected_area"], "reasons": ["Inside O Yadav (synthetic test)."],
            "synthetic": True, "geometry": shapely.box(761_000, 1_506_000, 761_200, 1_506_150),
        }], geometry="geometry", crs=CRS))
    return path


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over the desk's store: its base URL."""
    _require_browser()
    folder = tmp_path_factory.mktemp("desk")
    app = create_app(load_settings({}, data_dir=folder, **FAST_HASH), store_url=str(_store(folder)))
    try:
        with background_server(app, production=False) as base:
            yield base
    finally:
        app.extensions["ecowatch"].close()


def test_keyboard_triage(browser: Any, desk: str) -> None:
    base = desk
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    log = PageLog()
    page.on("console", lambda msg: log.errors.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: log.errors.append(str(exc)))
    page.on("dialog", lambda dialog: (log.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda req: log.requests.append(req.url))
    try:
        page.goto(base + "/review/")  # to the login page first, and back here after it
        page.fill("input[name=username]", "analyst")
        page.fill("input[name=password]", PASSWORDS["analyst"])
        page.press("input[name=password]", "Enter")
        page.wait_for_url(base + "/review/")
        rows = page.locator("tr[data-clearing]")
        ids = [rows.nth(i).get_attribute("data-clearing") for i in range(4)]
        assert ids[0] == IMAGED
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.keyboard.press("?")
        assert page.locator("#ew-help").is_visible()
        page.keyboard.press("Escape")
        page.locator("#ew-help").wait_for(state="hidden")  # Chromium closes a dialog on Escape asynchronously
        page.keyboard.press("c")  # first row: confirm
        page.wait_for_function("() => document.querySelector('tr[data-clearing]').classList.contains('ew-decided')")
        page.keyboard.press("f")  # second row: needs field check
        page.wait_for_function("() => document.querySelectorAll('tr.ew-decided').length === 2")
        page.keyboard.press("d")  # third row: dismiss, reason 3 (seasonal)
        page.locator("#ew-dismiss").wait_for(state="visible")
        page.keyboard.press("3")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.querySelectorAll('tr.ew-decided').length === 3")
        statuses = [rows.nth(i).locator("[data-status]").inner_text() for i in range(3)]
        assert statuses == ["confirmed", "field_check", "dismissed"]
        page.keyboard.press("k")
        page.keyboard.press("k")
        page.keyboard.press("k")
        page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)
        page.keyboard.press("o")  # opens the selected (first) clearing
        page.wait_for_url(re.compile(rf"/review/clearings/{IMAGED}\?"))
        page.wait_for_function("() => Array.from(document.querySelectorAll('.ew-chips img')).every((i) => i.complete && i.naturalWidth > 0)")
        page.wait_for_function("() => window.ecowatchReviewMap && document.querySelector('#ew-mini-map path')")
        page.screenshot(path=str(ARTIFACTS / "review-clearing.png"), full_page=True)
        # j: the next clearing still in the (status "new") queue, past the three just decided;
        # it has no imagery
        page.keyboard.press("j")
        page.wait_for_url(re.compile(rf"/review/clearings/{ids[3]}\?pos=0"))
        page.locator(".ew-chip-missing").first.wait_for()  # no imagery for this one: said, not a broken image
        expected = {ids[0]: "confirm", ids[1]: "field_check", ids[2]: "dismiss"}
        for cid, decision in expected.items():
            page.goto(f"{base}/review/clearings/{cid}")
            trail = page.locator("#ew-trail tbody tr")
            assert trail.count() == 1
            text = trail.first.inner_text()
            assert "analyst" in text and decision in text and "applied" in text, (cid, text)
        assert "seasonal" in page.locator("#ew-trail").inner_text()
        csp = [e for e in log.errors if "Content Security Policy" in e or "Content-Security-Policy" in e]
        assert csp == [], csp
        # only the chips of the clearing without imagery failed to load
        assert all("404" in e for e in log.errors), log.errors
        assert log.dialogs == []
        assert all(u.startswith(base) for u in log.requests), [u for u in log.requests if not u.startswith(base)]
    finally:
        context.close()
