"""The print view, printed to PDF by headless Chromium: one landscape page with legend, scale and date."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import goto_map
from .test_map_browser import TIMEOUT_MS, _assert_clean, open_map

pytestmark = pytest.mark.browser

# points: A4 landscape 842 x 595, A3 landscape 1191 x 842
PAPER_POINTS = {"a4": (842, 595), "a3": (1191, 842)}


def _require_poppler() -> None:
    if shutil.which("pdfinfo") and shutil.which("pdftotext"):
        return
    message = "the print test needs pdfinfo and pdftotext (apt-get install poppler-utils; scripts/system-deps.sh)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.parametrize(("role", "paper"), [("planner", "a4"), ("ngo", "a3")])
def test_the_print_view_prints_to_one_page(browser: Any, live_server: str, role: str, paper: str, tmp_path: Path) -> None:
    _require_poppler()
    with open_map(browser, live_server, role) as (page, log):
        goto_map(page, live_server, "lat=13.655&lon=107.44&z=12&confidence=high")
        # the print link carries the view
        page.click(f"#ew-print-{paper}")
        href = page.locator(f"#ew-print-{paper}").get_attribute("href") or ""
        assert "confidence=high" in href and f"print={paper}" in href and "z=12" in href
        goto_map(page, live_server, href.split("?", 1)[1])
        page.wait_for_function("() => window.ecowatch.printMade", timeout=TIMEOUT_MS)
        assert page.locator(".ew-filters").is_hidden() and page.locator(".ew-north").is_visible()
        made = page.evaluate("window.ecowatch.printMade")
        scale = page.locator(".leaflet-control-scale-line").first.inner_text()
        page.screenshot(path=str(tmp_path / f"print-{paper}.png"))
        pdf = tmp_path / f"map-{paper}.pdf"
        page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
        _assert_clean(log, live_server)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M), info
    size = re.search(r"^Page size:\s+([0-9.]+) x ([0-9.]+) pts", info, re.M)
    assert size and (round(float(size[1])), round(float(size[2]))) == PAPER_POINTS[paper], info
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Legend" in text and "Flagged clearings" in text and "low confidence" in text
    assert scale.strip() and scale.strip() in text, (scale, text[:500])
    assert f"Printed {made}" in text and "Filters: confidence high" in text
    assert "N" in text.split() or "\nN\n" in text or re.search(r"\bN\b", text)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-singlefile", str(pdf), str(tmp_path / f"pdf-{paper}")], check=True)
