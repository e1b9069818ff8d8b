"""``serve``: what it prints, where it binds, and that a missing store fails before listening."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from layers.errors import StoreError
from web import create_app, serve
from web import server as server_module
from web.server import background_server, is_loopback, map_url, startup_message


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True), ("[::1]", True),
     ("0.0.0.0", False), ("192.168.1.10", False), ("::", False), ("example.org", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_map_url() -> None:
    assert map_url("127.0.0.1", 8765) == "http://127.0.0.1:8765/"
    assert map_url("::1", 80) == "http://[::1]:80/"


def test_loopback_message_says_so() -> None:
    text = startup_message("127.0.0.1", 8765)
    assert "http://127.0.0.1:8765/" in text and "loopback" in text and "waitress" in text


def test_public_bind_without_secure_cookies_warns(settings: Settings) -> None:
    text = startup_message("0.0.0.0", 8000, settings=settings)
    assert "WARNING" in text and "secure cookies" in text and "TLS proxy" in text and "ECOWATCH_TRUSTED_HOSTS" in text
    quiet = startup_message("0.0.0.0", 8000, settings=settings.model_copy(update={"secure_cookies": True}))
    assert "WARNING" not in quiet and "login" in quiet


def test_debug_and_no_accounts_are_said() -> None:
    text = startup_message("127.0.0.1", 8765, debug=True, accounts=0)
    assert "development server" in text and "not for production" in text
    assert "ecowatch users add NAME --role admin" in text


class _FakeServer:
    def __init__(self, calls: list[dict[str, Any]], **kwargs: Any) -> None:
        self.calls = calls
        calls.append(kwargs)

    def run(self) -> None:
        self.calls[-1]["ran"] = True


def test_serve_runs_waitress_with_the_settings_threads(
    settings: Settings, map_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(server_module, "production_server", lambda app, host, port, threads: _FakeServer(calls, app=app, host=host, port=port, threads=threads))
    monkeypatch.setattr(server_module, "run_simple", lambda *a, **k: pytest.fail("--debug was not asked for"))
    serve(settings, store_url=str(map_store))
    (call,) = calls
    assert (call["host"], call["port"], call["threads"], call["ran"]) == ("127.0.0.1", 8765, settings.server_threads, True)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8765/" in out and "waitress" in out
    serve(settings, "127.0.0.1", 9000, store_url=str(map_store))
    assert calls[-1]["port"] == 9000


def test_serve_debug_runs_werkzeug(settings: Settings, map_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[dict[str, Any]] = []

    def fake_run_simple(host: str, port: int, app: Any, **kwargs: Any) -> None:
        calls.append({"host": host, "port": port, **kwargs})

    monkeypatch.setattr(server_module, "run_simple", fake_run_simple)
    monkeypatch.setattr(server_module, "production_server", lambda *a, **k: pytest.fail("--debug asked for werkzeug"))
    serve(settings, store_url=str(map_store), debug=True)
    (call,) = calls
    assert call["threaded"] is True and call["use_reloader"] is False and call["use_debugger"] is False
    assert "development server" in capsys.readouterr().out


@pytest.mark.parametrize("production", [True, False])
def test_background_server_answers_over_http(map_store: Path, settings: Settings, production: bool) -> None:
    """The real servers: waitress says nothing about itself; both refuse anonymous API calls."""
    app = create_app(settings, store_url=str(map_store))
    try:
        with background_server(app, production=production) as base:
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + "/api/layers", timeout=10)
            refused.value.close()
            assert refused.value.code == 401
            if production:
                assert "waitress" not in (refused.value.headers.get("Server") or "").lower()
            with urllib.request.urlopen(base + "/login", timeout=10) as page:
                assert page.status == 200 and "Log in" in page.read().decode()
    finally:
        app.extensions["ecowatch"].close()


def test_serve_fails_before_listening_without_a_store(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "production_server", lambda *a, **k: pytest.fail("should not listen"))
    with pytest.raises(StoreError, match="no such store"):
        serve(settings, store_url=str(tmp_path / "missing.gpkg"))


def test_store_url_defaults_to_the_settings(settings: Settings) -> None:
    app = create_app(settings)
    assert app.extensions["ecowatch"].store_url == settings.store_url == str(settings.data_dir / "ecowatch.gpkg")
