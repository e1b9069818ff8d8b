"""Only the Host names the app serves are answered (DNS rebinding): every route, walked from the URL map."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from config import load_settings
from web import create_app
from web.hosts import host_allowed, split_host

from .conftest import PASSWORDS, csrf_token


def _urls(app: Flask) -> list[tuple[str, str]]:
    """(method, URL) of every rule of the app, arguments filled with a plausible value."""
    adapter = app.url_map.bind("localhost")
    urls = []
    for rule in app.url_map.iter_rules():
        plausible = {"filename": "favicon.svg", "day": "2024-02-01", "z": 1, "x": 1, "y": 1, "fmt": "csv", "feature_id": "1"}
        values = {arg: plausible.get(arg, "clearings") for arg in rule.arguments}
        url = adapter.build(rule.endpoint, values)
        urls += [(m, url) for m in sorted((rule.methods or set()) - {"OPTIONS"})]
    return urls


def test_every_route_refuses_a_foreign_host(app: Flask) -> None:
    client = app.test_client()
    urls = _urls(app)
    assert {u for _, u in urls} >= {"/", "/api/layers", "/api/layers/clearings/features", "/static/favicon.svg"}
    for method, url in [*urls, ("GET", "/no/such/route")]:
        response = client.open(url, method=method, headers={"Host": "attacker.example"}, query_string={"bbox": "107,13,108,14"})
        assert response.status_code == 400, (method, url, response.status_code)
        assert b"clearing_id" not in response.data


@pytest.mark.parametrize("host", ["localhost", "localhost:8765", "127.0.0.1", "127.0.0.1:8765", "[::1]", "[::1]:8765", "LOCALHOST"])
def test_local_names_are_served(app: Flask, host: str) -> None:
    client = app.test_client()
    base = f"http://{host}"  # the login too: its cookie belongs to that name
    token = csrf_token(client.get("/login", base_url=base).get_data(as_text=True))
    login = client.post("/login", base_url=base, data={"username": "planner", "password": PASSWORDS["planner"], "csrf_token": token})
    assert login.status_code == 303
    response = client.get("/api/layers", base_url=base)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "host", ["attacker.example", "127.0.0.1.attacker.example", "localhost.attacker.example", "evil", "[::2]", "127.0.0.2", "localhost:80x", ""]
)
def test_other_names_are_not(host: str) -> None:
    assert not host_allowed(host)


def test_trusted_hosts_setting(tmp_path: Path, map_store: Path) -> None:
    settings = load_settings({"ECOWATCH_TRUSTED_HOSTS": "map.example.org,proxy.internal:8443"}, data_dir=tmp_path)
    client = create_app(settings, store_url=str(map_store)).test_client()
    # an allowed name reaches the app (anonymous here: its 401), any other is refused before (400)
    assert client.get("/api/layers", headers={"Host": "map.example.org"}).status_code == 401
    assert client.get("/api/layers", headers={"Host": "map.example.org:443"}).status_code == 401
    assert client.get("/api/layers", headers={"Host": "proxy.internal:8443"}).status_code == 401
    assert client.get("/api/layers", headers={"Host": "proxy.internal:8080"}).status_code == 400
    assert client.get("/api/layers", headers={"Host": "attacker.example"}).status_code == 400


def test_split_host() -> None:
    assert split_host("[::1]:8765") == ("::1", "8765")
    assert split_host("Example.ORG.") == ("example.org", "")
