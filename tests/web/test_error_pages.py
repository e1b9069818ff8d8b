"""Errors: JSON under /api, HTML elsewhere, and never internal detail."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import Settings
from layers.errors import StoreError
from web import create_app

SECRET = "/srv/secret/path.gpkg: sqlite3.OperationalError near SELECT"


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """The test app with two routes that fail the way bugs and broken stores do."""

    def boom() -> str:
        raise RuntimeError(SECRET)

    def broken_store() -> str:
        raise StoreError(SECRET)

    for prefix in ("", "/api"):
        app.add_url_rule(f"{prefix}/boom", f"boom{prefix}", boom)
        app.add_url_rule(f"{prefix}/broken", f"broken{prefix}", broken_store)
    return app


def test_unknown_page_is_html_404(client: FlaskClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Back to the map" in response.get_data(as_text=True)


def test_unknown_api_path_is_json_404(client: FlaskClient) -> None:
    response = client.get("/api/nowhere")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert orjson.loads(response.data)["error"] == "not_found"


def test_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    response = client.post("/api/layers")
    assert response.status_code == 405
    assert orjson.loads(response.data)["status"] == 405
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_a_bug_is_500_without_detail(failing_app: Flask, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    response = failing_app.test_client().get(f"{prefix}/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert SECRET not in body and "Traceback" not in body and "RuntimeError" not in body
    assert "ref " in body
    assert response.mimetype == ("application/json" if prefix else "text/html")
    assert SECRET in caplog.text  # the detail is in the log


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_a_store_error_is_503_without_detail(failing_app: Flask, prefix: str) -> None:
    response = failing_app.test_client().get(f"{prefix}/broken")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert SECRET not in body and "secret" not in body
    assert "data store cannot be read" in body


def test_missing_store_is_503_for_page_and_api(settings: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "missing.gpkg"
    app = create_app(settings, store_url=str(missing))
    client = app.test_client()
    page = client.get("/")
    api = client.get("/api/layers")
    assert page.status_code == api.status_code == 503
    assert str(tmp_path) not in page.get_data(as_text=True) + api.get_data(as_text=True)
    assert orjson.loads(api.data)["error"] == "store_unavailable"
    assert not missing.exists()  # the map never creates a store


def test_error_page_escapes_the_message(client: FlaskClient) -> None:
    response = client.get("/<script>alert(1)</script>")
    assert response.status_code == 404
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
