"""``serve``: what it prints, where it binds, and that a missing store fails before listening."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import Settings
from layers.errors import StoreError
from web import create_app, serve
from web import server as server_module
from web.server import is_loopback, map_url, startup_message


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
    assert "http://127.0.0.1:8765/" in text and "loopback" in text


def test_public_bind_warns() -> None:
    text = startup_message("0.0.0.0", 8000)
    assert "WARNING" in text and "no user accounts" in text and "ECOWATCH_TRUSTED_HOSTS" in text


def test_serve_prints_the_url_and_runs_threaded(
    settings: Settings, map_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_run_simple(host: str, port: int, app: Any, **kwargs: Any) -> None:
        calls.append({"host": host, "port": port, "app": app, **kwargs})

    monkeypatch.setattr(server_module, "run_simple", fake_run_simple)
    serve(settings, store_url=str(map_store))
    (call,) = calls
    assert (call["host"], call["port"]) == ("127.0.0.1", 8765)  # the settings' defaults
    assert call["threaded"] is True and call["use_reloader"] is False
    assert "http://127.0.0.1:8765/" in capsys.readouterr().out
    serve(settings, "127.0.0.1", 9000, store_url=str(map_store))
    assert calls[-1]["port"] == 9000


def test_serve_fails_before_listening_without_a_store(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "run_simple", lambda *a, **k: pytest.fail("should not listen"))
    with pytest.raises(StoreError, match="no such store"):
        serve(settings, store_url=str(tmp_path / "missing.gpkg"))


def test_store_url_defaults_to_the_settings(settings: Settings) -> None:
    app = create_app(settings)
    assert app.extensions["ecowatch"].store_url == settings.store_url == str(settings.data_dir / "ecowatch.gpkg")
