"""Response headers that keep the page to its own origin: CSP, nosniff, no referrer, no framing.

The map page gets a Content-Security-Policy that allows scripts and styles from the app and,
for folium's inline blocks, exactly those blocks (by their SHA-256 hashes), so an injected
``<script>`` or ``onerror=`` handler would not run even if escaping ever failed. Every request
the page makes (``connect-src``, ``img-src``) may go only to the app, plus the basemap tile
server when ``tile_url`` is configured.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from flask import Flask, Response

logger = logging.getLogger(__name__)

DEFAULT_POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"


class _InlineBlocks(HTMLParser):
    """Collects the text of inline ``<script>`` (without ``src``) and ``<style>`` elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(k == "src" for k, _ in attrs):
            self.scripts.append("")
            self._open = self.scripts
        elif tag == "style":
            self.styles.append("")
            self._open = self.styles

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[-1] += data


def _hashes(blocks: list[str]) -> list[str]:
    digests = {base64.b64encode(hashlib.sha256(b.encode("utf-8")).digest()).decode("ascii") for b in blocks}
    return [f"'sha256-{d}'" for d in sorted(digests)]


def tile_origin(tile_url: str) -> str | None:
    """The CSP source of a tile URL template: ``https://{s}.tiles.example/{z}/{x}/{y}.png`` -> ``https://*.tiles.example``."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if not parts.scheme or not parts.netloc:
        return None  # a relative template: served by the app itself
    host = re.sub(r"\{[^}]*\}", "*", parts.netloc)
    return f"{parts.scheme}://{host}"


def page_policy(html: str, tile_url: str = "") -> str:
    """The Content-Security-Policy for a rendered map page."""
    blocks = _InlineBlocks()
    blocks.feed(html)
    blocks.close()
    tiles = tile_origin(tile_url)
    images = "'self' data:" + (f" {tiles}" if tiles else "")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' " + " ".join(_hashes(blocks.scripts)),
            "style-src 'self' " + " ".join(_hashes(blocks.styles)),
            f"img-src {images}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


def _add_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", DEFAULT_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # same-origin: the CSRF check over https compares the Referer with the host (Flask-WTF); no other site gets it
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def install_headers(app: Flask) -> None:
    """Add the default security headers to every response that has not set its own."""
    app.after_request(_add_headers)
