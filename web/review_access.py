"""Who is asking, for the review desk: the signed-in user's name and role, checked on the server.

TEMPORARY SHIM until the accounts branch (Flask-Login, CSRFProtect) is on main: an app served
for a role that may not see the desk (``create_app(..., role="ngo")``) refuses it to everyone;
otherwise the user is read from the signed session cookie (``session["user"]``,
``session["role"]``), which nothing in the app sets yet, so the desk refuses everyone by default. The accounts work replaces the bodies of
:func:`current_user_name` and :func:`current_role` and its CSRFProtect takes over from
:func:`check_csrf` (which then defers to it); the names stay.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Collection

from flask import current_app, request, session

from layers.redaction import ROLES
from web.errors import WebError

DESK_ROLES = ("planner", "analyst", "admin")  # see the desk
DECIDE_ROLES = ("analyst", "admin")  # record decisions
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRFToken"
_SESSION_CSRF = "review_csrf"


class NotSignedInError(WebError, PermissionError):
    status = 401
    code = "unauthorized"


class ForbiddenError(WebError, PermissionError):
    status = 403
    code = "forbidden"


def current_user_name() -> str | None:
    """The signed-in user's name, or ``None``."""
    name = session.get("user")
    return name if isinstance(name, str) and name else None


def current_role() -> str | None:
    """The signed-in user's role (one of :data:`layers.redaction.ROLES`), or ``None``.

    An app served for a role outside :data:`DESK_ROLES` answers with that role (and is refused).
    """
    from web.app_state import app_state

    served = app_state().role
    if served not in DESK_ROLES:
        return served
    role = session.get("role")
    return role if isinstance(role, str) and role in ROLES and current_user_name() else None


def require_role(allowed: Collection[str]) -> str:
    """The current role if it is among ``allowed``; 401 when nobody is signed in, 403 otherwise."""
    role = current_role()
    if role is None:
        raise NotSignedInError("Sign in to use the review desk.")
    if role not in allowed:
        raise ForbiddenError("Your role does not give access to this part of the review desk.")
    return role


def _protect() -> object | None:
    return current_app.extensions.get("csrf")  # Flask-WTF's CSRFProtect, once installed


def csrf_token() -> str:
    """The token a form must send back (Flask-WTF's when its CSRFProtect is installed)."""
    if _protect() is not None:
        from flask_wtf.csrf import generate_csrf

        return str(generate_csrf())
    token = session.get(_SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_SESSION_CSRF] = token
    return token


def check_csrf() -> None:
    """Refuse (400) a state-changing request without the session's token in the form or header.

    With Flask-WTF's CSRFProtect installed, it has checked the request already.
    """
    if _protect() is not None:
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    token = session.get(_SESSION_CSRF)
    if not isinstance(token, str) or not hmac.compare_digest(sent.encode(), token.encode()):
        raise WebError("The form's security token is missing or out of date: reload the page and try again.",
                       status=400, code="csrf_failed")
