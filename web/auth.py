"""Logging in and out: the login page, Flask-Login's user loading, CSRF and cookie settings.

``GET /login`` shows the form; ``POST /login`` checks the throttle, then the password
(:mod:`layers.accounts`), and on success starts a *new* server-side session (a random token,
its hash in the store) after clearing whatever the browser's session held, so a session id
planted before login is worthless after it. ``POST /logout`` ends the session in the store.
Every form and state-changing request carries a CSRF token (Flask-WTF's ``CSRFProtect``, for
the whole app); the session cookie is HttpOnly, SameSite=Lax and, with ``secure_cookies``,
Secure and ``__Host-`` prefixed.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect

from config import Settings
from layers import accounts, login_throttle
from layers.access_log import record_event
from layers.accounts import Account, HashParams
from layers.login_throttle import Scope, ThrottleRule
from layers.redaction import ROLES
from web.access import client_address, public, roles_allowed
from web.app_state import app_state, get_writer

logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
SESSION_COOKIE = "ecowatch_session"
SECURE_SESSION_COOKIE = "__Host-ecowatch"  # the prefix makes browsers insist on Secure, Path=/ and no Domain
MAX_FIELD_CHARS = 1024


class WebUser(UserMixin):
    """The logged-in account of a request; its Flask-Login id is the session token."""

    def __init__(self, account: Account, token: str) -> None:
        self.account = account
        self.token = token

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def role(self) -> str:
        return self.account.role

    def get_id(self) -> str:
        return self.token


def hash_params(settings: Settings) -> HashParams:
    return HashParams(settings.password_hash_time_cost, settings.password_hash_memory_kib, settings.password_hash_parallelism)


def throttle_rule(settings: Settings) -> ThrottleRule:
    return ThrottleRule(settings.login_max_failures, settings.login_window_s)


def _load_user(token: str) -> WebUser | None:
    state = app_state()
    account = accounts.session_account(state.session_store(), token, accounts=state.store())
    return WebUser(account, token) if account is not None else None


def install_auth(app: Flask, settings: Settings) -> None:
    """Sessions, cookies, CSRF and the login manager of ``app``."""
    app.config.update(
        SESSION_COOKIE_NAME=SECURE_SESSION_COOKIE if settings.secure_cookies else SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_DOMAIN=None,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session that holds it
        WTF_CSRF_SSL_STRICT=True,
    )
    manager = LoginManager()
    manager.session_protection = "basic"
    manager.user_loader(_load_user)
    manager.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(bp)


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site (``/...``, not ``//host``), else the map."""
    if not target or len(target) > 2000:
        return url_for("map.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("map.index")
    return target


def _page(status: int, message: str | None = None, username: str = "", headers: dict[str, str] | None = None) -> Response:
    html = render_template("login.html", message=message, username=username, next=safe_next(request.values.get("next")))
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


@bp.get("/login")
@public
def login() -> Any:
    """The login form (a logged-in user goes on to the map)."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    return _page(200)


@bp.post("/login")
@public
def login_post() -> Any:
    """Check the throttle, then the password; start a fresh session on success."""
    state = app_state()
    settings = state.settings
    store = state.writer()  # sessions, throttle counters and the access log (read-your-writes)
    username = request.form.get("username", "").strip()[:MAX_FIELD_CHARS]
    password = request.form.get("password", "")[:MAX_FIELD_CHARS + 1]
    address = client_address()
    subjects: list[tuple[Scope, str]] = [("account", username.lower()), ("address", address)]
    rule = throttle_rule(settings)
    event: dict[str, Any] = {"username": username, "address": address, "method": "POST", "path": request.path}
    wait = login_throttle.retry_after(store, rule, subjects)
    if wait:
        record_event(store, "login_throttled", status=429, detail=f"retry after {wait} s", **event)
        minutes = max(1, round(wait / 60))
        return _page(429, f"Too many wrong passwords: try again in about {minutes} minute(s).", username, {"Retry-After": str(wait)})
    users = store if state.accounts_writable else state.store()
    account = (
        accounts.authenticate(users, username, password, hash_params(settings), record=state.accounts_writable)
        if username and password else None
    )
    if account is None:
        login_throttle.record_failure(store, rule, subjects)
        record_event(store, "login_failed", status=401, **event)
        return _page(401, "Wrong user name or password, or the account is disabled.", username)
    login_throttle.clear(store, "account", username.lower())
    if current_user.is_authenticated:  # a login over another one ends the other on the server too
        accounts.end_session(store, current_user.token)
        logout_user()
    session.clear()  # nothing from before the login survives it (the CSRF token is renewed too)
    token = accounts.start_session(store, account.username, hours=settings.session_hours, address=address)
    login_user(WebUser(account, token))
    record_event(store, "login", role=account.role, status=303, **event)
    return redirect(safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
@roles_allowed(*ROLES)
def logout() -> Any:
    """End the session in the store and in the browser."""
    store = get_writer()
    user = current_user
    accounts.end_session(store, user.token)
    record_event(store, "logout", username=user.username, role=user.role, address=client_address(), method="POST", path=request.path, status=303)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"), code=303)
