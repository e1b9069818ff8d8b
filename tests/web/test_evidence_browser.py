"""An evidence report in a real browser: an ngo user opens a clearing's report; nothing breaks the page's policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import PASSWORDS, _require_browser, running_app
from .evidence_store import IMAGED, build_evidence_store
from .test_map_browser import ARTIFACTS, TIMEOUT_MS, PageLog

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _require_browser()
    folder = tmp_path_factory.mktemp("evidence-browser")
    with running_app(build_evidence_store(folder), folder) as base:
        yield base


@pytest.mark.parametrize("role", ["ngo", "planner"])
def test_report_page(browser: Any, site: str, role: str) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 1300})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    log = PageLog()
    page.on("console", lambda msg: log.errors.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: log.errors.append(str(exc)))
    page.on("request", lambda req: log.requests.append(req.url))
    try:
        page.goto(f"{site}/reports/clearings/{IMAGED}")
        page.fill("input[name=username]", role)
        page.fill("input[name=password]", PASSWORDS[role])
        page.press("input[name=password]", "Enter")
        page.wait_for_url(f"{site}/reports/clearings/{IMAGED}")
        page.wait_for_function("() => Array.from(document.querySelectorAll('.ew-chip img')).every((i) => i.complete && i.naturalWidth > 0)")
        assert page.locator(".ew-chip img").count() == 4
        assert page.locator("#ew-clearing-id").inner_text() == IMAGED
        # the style block applied (the CSP allows exactly it): the chips have their frame
        assert page.eval_on_selector(".ew-chip img", "(i) => getComputedStyle(i).borderTopWidth") == "3px"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(Path(ARTIFACTS) / f"evidence-report-{role}.png"), full_page=True)
        text = page.inner_text("body")
        assert ("CASE-S-1" in text) == (role == "planner")
        assert log.errors == [], log.errors
        assert all(u.startswith(site) or u.startswith("data:") for u in log.requests), log.requests
    finally:
        context.close()
