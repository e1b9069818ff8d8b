"""Security headers and the page's Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib

import pytest
from flask.testing import FlaskClient

from web.security import DEFAULT_POLICY, page_policy, tile_origin


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_policy_hashes_each_inline_block() -> None:
    script = 'var a = "<b>";'
    html = f'<style>a{{}}</style><script src="/s.js"></script><script>{script}</script><div style="x">'
    policy = page_policy(html)
    assert f"script-src 'self' {_sha(script)}" in policy
    assert f"style-src 'self' {_sha('a{}')}" in policy
    assert "unsafe-inline" not in policy and "img-src 'self' data:;" in policy


@pytest.mark.parametrize(
    ("url", "origin"),
    [("", None), ("/tiles/{z}/{x}/{y}.png", None), ("https://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org"),
     ("https://{s}.tiles.example.org:8443/{z}/{x}/{y}.png", "https://*.tiles.example.org:8443")],
)
def test_tile_origin(url: str, origin: str | None) -> None:
    assert tile_origin(url) == origin


def test_default_headers_on_every_response(client: FlaskClient) -> None:
    for path in ("/api/layers", "/nowhere", "/static/ecowatch.css"):
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] in (DEFAULT_POLICY,)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"
        response.close()
