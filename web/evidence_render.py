"""An evidence report as a page: HTML from the report's data (:mod:`layers.evidence`), and a PDF of it.

The page is one self-contained file: its style inline, the chips as ``data:`` images, no script,
nothing fetched, so the HTML saved beside the PDF shows the same thing anywhere. It is rendered by
a Jinja environment of its own (autoescaping every value), so the command line renders it without
an app; the app serves it with a CSP that allows exactly its one style block.

The PDF is Chromium's print of that page (Playwright driving the system Chromium, the same
executable as the browser tests), with every network request refused.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent
CSS_FILE = WEB_DIR / "static" / "evidence-report.css"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run")


class PdfError(RuntimeError):
    """The PDF could not be printed (no Chromium, no Playwright, or the print failed)."""


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(WEB_DIR / "templates"), autoescape=select_autoescape(["html"]))


@lru_cache(maxsize=1)
def report_css() -> str:
    return CSS_FILE.read_text(encoding="utf-8")


def style_hash() -> str:
    """The CSP source of the page's one inline style block."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(report_css().encode("utf-8")).digest()).decode("ascii") + "'"


REPORT_POLICY_TEMPLATE = ("default-src 'none'; img-src data:; style-src {style}; base-uri 'none'; form-action 'none'; "
                          "frame-ancestors 'none'; object-src 'none'")


def report_policy() -> str:
    """Content-Security-Policy of a served report: no script at all, its own style, data: images."""
    return REPORT_POLICY_TEMPLATE.format(style=style_hash())


def report_title(data: Mapping[str, Any]) -> str:
    if data.get("report") == "clearing":
        return f"Clearing {data['clearing']['clearing_id']}"
    return f"Corridor segment {data['segment']['segment_id']}"


def render_report_html(data: Mapping[str, Any], sha256: str, chips: Mapping[str, bytes]) -> str:
    """The report page for ``data`` (sealed with ``sha256``); ``chips`` are the PNGs its ``chips`` entries describe."""
    chip_data = {name: base64.b64encode(png).decode("ascii") for name, png in chips.items()}
    template = _env().get_template("evidence_report.html")
    return template.render(r=data, sha256=sha256, chip_data=chip_data, css=report_css(), title=report_title(data))


def html_to_pdf(html: str, *, chromium: Path = CHROMIUM, timeout_ms: int = 60_000) -> bytes:
    """Print ``html`` to an A4 PDF with headless Chromium; no request leaves the page.

    Raises
    ------
    PdfError
        When Playwright or Chromium is missing, or printing fails.
    """
    if not chromium.exists():
        raise PdfError(f"{chromium} not found: the PDF is printed by Chromium (apt-get install chromium, see scripts/system-deps.sh)")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise PdfError("the playwright package is needed to print a PDF (pip install playwright)") from err
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium), args=list(CHROMIUM_ARGS), headless=True)
            try:
                page = browser.new_page()
                page.route("**/*", lambda route: route.abort())  # data: images need no request; nothing else may go out
                page.set_content(html, wait_until="load", timeout=timeout_ms)
                pdf: bytes = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
            finally:
                browser.close()
    except PlaywrightError as err:
        raise PdfError(f"Chromium could not print the report: {err}") from err
    logger.info("report printed: %d bytes of PDF", len(pdf))
    return pdf
