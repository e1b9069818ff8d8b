"""Errors: JSON under /api, HTML elsewhere, and never internal detail."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import Settings
from layers.errors import StoreError
from layers.redaction import ROLES
from web import create_app
from web.access import roles_allowed

SECRET = "/srv/secret/path.gpkg: sqlite3.OperationalError near SELECT"


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """The test app with two routes that fail the way bugs and broken stores do."""

    def boom() -> str:
        raise RuntimeError(SECRET)

    def broken_store() -> str:
        raise StoreError(SECRET)

    for prefix in ("", "/api"):
        app.add_url_rule(f"{prefix}/boom", f"boom{prefix}", roles_allowed(*ROLES)(boom))
        app.add_url_rule(f"{prefix}/broken", f"broken{prefix}", roles_allowed(*ROLES)(broken_store))
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
def test_a_bug_is_500_without_detail(failing_app: Flask, client: FlaskClient, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    response = client.get(f"{prefix}/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert SECRET not in body and "Traceback" not in body and "RuntimeError" not in body
    assert "ref " in body
    assert response.mimetype == ("application/json" if prefix else "text/html")
    assert SECRET in caplog.text  # the detail is in the log


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_a_store_error_is_503_without_detail(failing_app: Flask, client: FlaskClient, prefix: str) -> None:
    response = client.get(f"{prefix}/broken")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert SECRET not in body and "secret" not in body
    assert "data store cannot be read" in body


def test_missing_store_is_503_for_page_and_api(settings: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "missing.gpkg"
    app = create_app(settings, store_url=str(missing))
    client = app.test_client()
    login = client.get("/login")  # the form itself needs no store
    assert login.status_code == 200
    token = login.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    page = client.post("/login", data={"username": "planner", "password": "x" * 20, "csrf_token": token})
    api = client.get("/api/layers")  # anonymous: refused before any store is opened
    assert page.status_code == 503 and api.status_code == 401
    assert str(tmp_path) not in page.get_data(as_text=True) + api.get_data(as_text=True)
    assert orjson.loads(page.data if page.mimetype == "application/json" else b'{}') == {}  # an HTML page
    assert not missing.exists()  # the app never creates a store


def test_error_page_escapes_the_message(client: FlaskClient) -> None:
    response = client.get("/<script>alert(1)</script>")
    assert response.status_code == 404
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
