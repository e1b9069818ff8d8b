"""Who may call which route: every view declares its roles, and anything undeclared is refused.

A view says who may call it with :func:`roles_allowed` (``@roles_allowed("analyst", "admin")``,
or ``@roles_allowed(*ROLES)`` for any logged-in user) or :func:`public` (the login page only).
:func:`install_access` adds one ``before_request`` check for the whole app, so a new route that
forgets to declare its roles is refused to everyone (403, logged) rather than served to anyone.
Anonymous requests get 401 under ``/api`` and a redirect to the login page elsewhere; a
logged-in user whose role is not declared gets 403, and the refusal is written to the access log.

Views that read data get the caller's role from :func:`current_role` and pass it to
:mod:`layers.redaction`; nothing here reads a layer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from flask import Flask, current_app, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from layers.access_log import record_event
from layers.redaction import ROLES, Role, check_role
from web.app_state import get_writer
from web.error_pages import API_PREFIX
from web.errors import ForbiddenError, UnauthorizedError

logger = logging.getLogger(__name__)

ROLES_ATTR = "_ecowatch_roles"
PUBLIC = "public"
ALWAYS_PUBLIC_ENDPOINTS = frozenset({"static"})

F = TypeVar("F", bound=Callable[..., Any])


def roles_allowed(*roles: str) -> Callable[[F], F]:
    """Declare the roles that may call a view (applied above or below the route decorator)."""
    if not roles:
        raise ValueError("roles_allowed() needs at least one role; use public() for the login page")
    allowed = frozenset(check_role(r) for r in roles)

    def mark(view: F) -> F:
        setattr(view, ROLES_ATTR, allowed)
        return view

    return mark


def public(view: F) -> F:
    """Declare a view that anonymous users may call (the login page; nothing that reads data)."""
    setattr(view, ROLES_ATTR, PUBLIC)
    return view


def declared_roles(app: Flask, endpoint: str) -> frozenset[str] | str | None:
    """What ``endpoint`` declares: a set of roles, :data:`PUBLIC`, or ``None`` (undeclared: refused)."""
    if endpoint in ALWAYS_PUBLIC_ENDPOINTS:
        return PUBLIC
    view = app.view_functions.get(endpoint)
    value = getattr(view, ROLES_ATTR, None)
    if value == PUBLIC:
        return PUBLIC
    return value if isinstance(value, frozenset) else None


def current_role() -> Role:
    """The logged-in caller's role (the access check has run, so there always is one)."""
    if not current_user.is_authenticated:
        raise UnauthorizedError("Log in to see this.")
    return check_role(current_user.role)


def client_address() -> str:
    """The client's address (after ProxyFix, when proxies are trusted)."""
    return request.remote_addr or "unknown"


def _wants_json() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def _login_redirect() -> Response:
    target = request.full_path if request.query_string else request.path
    response = redirect(url_for("auth.login") + "?next=" + quote(target, safe="/"))
    response.headers["Cache-Control"] = "no-store"
    return response


def _refuse(reason: str) -> None:
    user = current_user.username if current_user.is_authenticated else None
    role = current_user.role if current_user.is_authenticated else None
    record_event(
        get_writer(), "refused", username=user, role=role, address=client_address(),
        method=request.method, path=request.path, status=ForbiddenError.status, detail=reason,
    )
    raise ForbiddenError("Your account's role may not open this.")


def check_request() -> Response | None:
    """The app's ``before_request`` access check (see the module docstring)."""
    endpoint = request.endpoint
    allowed = declared_roles(current_app, endpoint) if endpoint else None
    if allowed == PUBLIC:
        return None
    if not current_user.is_authenticated:
        if _wants_json():
            raise UnauthorizedError("Log in first: this API answers logged-in users only.")
        return _login_redirect()
    if endpoint is None:
        return None  # no such route (404) or method (405): the error pages answer
    if allowed is None:
        logger.error("route %s (%s) declares no roles: refused to everyone", request.path, endpoint)
        _refuse(f"endpoint {endpoint} declares no roles")
    elif current_user.role not in allowed:
        _refuse(f"role {current_user.role} not among {', '.join(sorted(allowed))}")
    return None


def install_access(app: Flask) -> None:
    """Run :func:`check_request` before every request of ``app``."""
    app.before_request(check_request)


__all__ = ["PUBLIC", "ROLES", "client_address", "current_role", "declared_roles", "install_access", "public", "roles_allowed"]
