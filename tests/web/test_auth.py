"""Logging in and out over HTTP: sessions, cookies, CSRF, throttling and the access log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import Settings
from layers.access_log import read_events
from layers.accounts import set_disabled, set_role
from web import create_app

from .conftest import PASSWORDS, csrf_token, log_in


def _events(app: Flask, event: str | None = None) -> list[dict[str, Any]]:
    frame = read_events(app.extensions["ecowatch"].store(), event)  # type: ignore[arg-type]
    return frame.to_dict("records")  # type: ignore[no-any-return]


def _session_cookie(client: FlaskClient, app: Flask) -> Any:
    return client.get_cookie(app.config["SESSION_COOKIE_NAME"])


def test_login_page_is_a_form_with_a_csrf_token(anonymous: FlaskClient) -> None:
    page = anonymous.get("/login")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'action="/login"' in html and 'type="password"' in html and csrf_token(html)
    assert page.headers["Cache-Control"] == "no-store"
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]


def test_anonymous_pages_redirect_to_login_and_api_says_401(anonymous: FlaskClient) -> None:
    page = anonymous.get("/?x=1")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/%3Fx%3D1"
    api = anonymous.get("/api/layers")
    assert api.status_code == 401 and orjson.loads(api.data)["error"] == "unauthorized"
    assert "WWW-Authenticate" in api.headers


def test_login_then_map_then_logout(app: Flask, anonymous: FlaskClient) -> None:
    response = log_in(anonymous, "analyst", PASSWORDS["analyst"], next="/api/layers")
    assert response.status_code == 303 and response.headers["Location"] == "/api/layers"
    assert anonymous.get("/api/layers").status_code == 200
    page = anonymous.get("/").get_data(as_text=True)
    assert 'data-role="analyst"' in page and 'action="/logout"' in page  # the account menu, with its CSRF token
    logout = anonymous.post("/logout", data={"csrf_token": csrf_token(page)})
    assert logout.status_code == 303 and logout.headers["Location"] == "/login"
    assert anonymous.get("/api/layers").status_code == 401
    assert [e["event"] for e in _events(app)] == ["login", "logout"]
    (login,) = _events(app, "login")
    assert (login["username"], login["role"], login["address"]) == ("analyst", "analyst", "127.0.0.1")


def test_a_stolen_cookie_is_dead_after_logout(app: Flask, client: FlaskClient) -> None:
    """Sessions live in the store: replaying the cookie of a logged-out session gets nowhere."""
    cookie = _session_cookie(client, app)
    page = client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    thief = app.test_client()
    thief.set_cookie(cookie.key, cookie.value)
    assert thief.get("/api/layers").status_code == 401


def test_login_gives_a_fresh_session(app: Flask, anonymous: FlaskClient) -> None:
    """What the browser held before login (a planted session, its CSRF token) is not what it holds after."""
    before = _session_cookie(anonymous, app) or anonymous.get("/login") and _session_cookie(anonymous, app)
    old_token = csrf_token(anonymous.get("/login").get_data(as_text=True))
    log_in(anonymous, "planner", PASSWORDS["planner"])
    after = _session_cookie(anonymous, app)
    assert after.value != before.value
    new_token = csrf_token(anonymous.get("/").get_data(as_text=True))
    assert new_token != old_token
    # two logins of one account are two sessions, each with its own token
    other = app.test_client()
    log_in(other, "planner", PASSWORDS["planner"])
    assert _session_cookie(other, app).value != after.value
    store = app.extensions["ecowatch"].store()
    assert len(store.read("sessions", where={"username": "planner"})) == 2
    # logging in again over a session ends that session in the store
    log_in(other, "analyst", PASSWORDS["analyst"])
    assert len(store.read("sessions", where={"username": "planner"})) == 1


def test_cookie_flags(app: Flask, client: FlaskClient, map_store: Path, settings: Settings) -> None:
    cookie = _session_cookie(client, app)
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure and cookie.key == "ecowatch_session"
    secure = create_app(settings.model_copy(update={"secure_cookies": True}), store_url=str(map_store))
    try:
        browser = secure.test_client()
        # a Secure cookie goes back only over https
        token = csrf_token(browser.get("/login", base_url="https://localhost").get_data(as_text=True))
        form = {"username": "planner", "password": PASSWORDS["planner"], "csrf_token": token}
        for referer in ({}, {"Referer": "https://evil.example/login"}):  # over https the Referer must be this site
            refused = browser.post("/login", base_url="https://localhost", headers=referer, data=form)
            assert refused.status_code == 400 and "referrer" in refused.get_data(as_text=True).lower()
        response = browser.post(
            "/login", base_url="https://localhost", headers={"Referer": "https://localhost/login"},
            data={"username": "planner", "password": PASSWORDS["planner"], "csrf_token": token},
        )
        assert response.status_code == 303
        header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("__Host-ecowatch="))
        assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
        assert "Domain" not in header
    finally:
        secure.extensions["ecowatch"].close()


def test_forms_without_a_csrf_token_are_refused(app: Flask, anonymous: FlaskClient, client: FlaskClient) -> None:
    no_token = anonymous.post("/login", data={"username": "planner", "password": PASSWORDS["planner"]})
    assert no_token.status_code == 400 and "CSRF" in no_token.get_data(as_text=True)
    other = app.test_client()
    foreign = csrf_token(other.get("/login").get_data(as_text=True))  # another browser's token
    wrong = anonymous.post("/login", data={"username": "planner", "password": PASSWORDS["planner"], "csrf_token": foreign})
    assert wrong.status_code == 400
    assert client.post("/logout").status_code == 400
    assert client.get("/api/layers").status_code == 200  # still logged in: nothing happened
    assert _events(app, "login_failed") == []  # refused before the password was looked at


def test_scripts_send_the_token_in_a_header(app: Flask, client: FlaskClient) -> None:
    """Pages carry the token in a meta tag for scripts, which send it as X-CSRFToken."""
    page = client.get("/nowhere").get_data(as_text=True)
    token = page.split('<meta name="csrf-token" content="')[1].split('"')[0]
    assert client.post("/logout", headers={"X-CSRFToken": token}).status_code == 303
    assert client.get("/api/layers").status_code == 401


def test_logout_is_never_a_get(client: FlaskClient) -> None:
    assert client.get("/logout").status_code == 405
    assert client.get("/api/layers").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_next_never_leaves_the_site(anonymous: FlaskClient, target: str) -> None:
    response = log_in(anonymous, "planner", PASSWORDS["planner"], next=target)
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_wrong_password_unknown_user_and_disabled_account_look_alike(app: Flask, anonymous: FlaskClient, facts: Any) -> None:
    answers = [
        log_in(anonymous, "planner", "not-the-password-at-all"),
        log_in(anonymous, "nobody", "not-the-password-at-all"),
        log_in(anonymous, facts.disabled_user, "retired-correct-horse"),  # the right password of a disabled account
    ]
    assert {a.status_code for a in answers} == {401}
    texts = {a.get_data(as_text=True).split("ew-alert")[1].split("</p>")[0] for a in answers}
    assert len(texts) == 1
    assert [e["username"] for e in _events(app, "login_failed")] == ["planner", "nobody", facts.disabled_user]


def test_disabling_or_changing_a_role_ends_open_sessions(app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    analyst, ngo = client_as("analyst"), client_as("ngo")
    store = app.extensions["ecowatch"].writer()
    set_disabled(store, "analyst")
    assert analyst.get("/api/layers").status_code == 401
    set_role(store, "ngo", "viewer")
    assert ngo.get("/api/layers").status_code == 401
    again = app.test_client()
    assert log_in(again, "ngo", PASSWORDS["ngo"]).status_code == 303
    names = {item["name"] for item in orjson.loads(again.get("/api/layers").data)["layers"]}
    assert "seizures" not in names  # a viewer now


# -- throttling ---------------------------------------------------------------------------------
def _attempt(app: Flask, username: str, password: str, address: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return log_in(client, username, password)


def test_sixth_wrong_password_for_an_account_is_429_even_with_the_right_one(app: Flask) -> None:
    for i in range(5):
        assert _attempt(app, "analyst", f"wrong-password-{i}", f"10.0.0.{i}").status_code == 401
    sixth = _attempt(app, "analyst", "wrong-password-6", "10.0.0.6")
    assert sixth.status_code == 429
    retry = int(sixth.headers["Retry-After"])
    assert 0 < retry <= 900
    assert "Too many wrong passwords" in sixth.get_data(as_text=True)
    right = _attempt(app, "analyst", PASSWORDS["analyst"], "10.0.0.7")  # from anywhere: the account is locked
    assert right.status_code == 429 and 0 < int(right.headers["Retry-After"]) <= retry
    # other accounts, from other addresses, are not
    assert _attempt(app, "planner", PASSWORDS["planner"], "10.0.0.8").status_code == 303
    assert [e["event"] for e in _events(app)][-3:] == ["login_throttled", "login_throttled", "login"]


def test_sixth_wrong_password_from_an_address_is_429_across_accounts(app: Flask) -> None:
    for i, user in enumerate(["viewer", "planner", "analyst", "ngo", "admin"]):
        assert _attempt(app, user, f"wrong-password-{i}", "192.0.2.9").status_code == 401
    assert _attempt(app, "planner", PASSWORDS["planner"], "192.0.2.9").status_code == 429
    assert _attempt(app, "someone", "wrong-password-x", "192.0.2.9").status_code == 429
    # every one of those accounts has one failure only: from another address they log in
    assert _attempt(app, "planner", PASSWORDS["planner"], "192.0.2.10").status_code == 303


def test_throttle_expires(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from layers import login_throttle

    now = [1_000_000.0]
    monkeypatch.setattr(login_throttle, "now", lambda: now[0])
    for i in range(5):
        assert _attempt(app, "admin", f"wrong-password-{i}", "10.1.0.1").status_code == 401
        now[0] += 10
    assert int(_attempt(app, "admin", PASSWORDS["admin"], "10.1.0.2").headers["Retry-After"]) == 900 - 50
    now[0] += 900 - 50
    assert _attempt(app, "admin", PASSWORDS["admin"], "10.1.0.2").status_code == 303


def test_a_successful_login_clears_the_account_count(app: Flask) -> None:
    for i in range(4):
        _attempt(app, "ngo", f"wrong-password-{i}", f"10.2.0.{i}")
    assert _attempt(app, "ngo", PASSWORDS["ngo"], "10.2.0.9").status_code == 303
    for i in range(4):
        assert _attempt(app, "ngo", f"wrong-password-{i}", f"10.3.0.{i}").status_code == 401


def test_counters_are_shared_through_the_store(settings: Settings, map_store: Path) -> None:
    """Two apps (two server processes) over one store count the same failures."""
    apps = [create_app(settings, store_url=str(map_store)) for _ in range(2)]
    try:
        for i in range(5):
            assert _attempt(apps[i % 2], "viewer", f"wrong-password-{i}", f"10.4.0.{i}").status_code == 401
        assert _attempt(apps[1], "viewer", PASSWORDS["viewer"], "10.4.0.9").status_code == 429
    finally:
        for a in apps:
            a.extensions["ecowatch"].close()


@pytest.mark.parametrize("proxies", [0, 1])
def test_client_address_behind_a_trusted_proxy(settings: Settings, map_store: Path, proxies: int) -> None:
    """With one trusted proxy the address is the proxy's X-Forwarded-For; with none the header is ignored."""
    app = create_app(settings.model_copy(update={"trusted_proxies": proxies}), store_url=str(map_store))
    try:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # the proxy
        token = csrf_token(client.get("/login").get_data(as_text=True))
        client.post("/login", headers={"X-Forwarded-For": "203.0.113.7"}, data={"username": "planner", "password": "wrong-password-1", "csrf_token": token})
        (event,) = _events(app, "login_failed")
        assert event["address"] == ("203.0.113.7" if proxies else "127.0.0.1")
    finally:
        app.extensions["ecowatch"].close()
