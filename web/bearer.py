"""``Authorization: Bearer`` API tokens (:mod:`layers.api_tokens`) for the API's programs.

A request under the API prefix that carries ``Authorization: Bearer TOKEN`` reads as the
token's role, whatever session cookie it also carries; a bad, expired or revoked token is
refused with 401 and ``WWW-Authenticate: Bearer error="invalid_token"`` (never silently read as
the session's user or as anonymous). Tokens only read: a token on a POST, PUT, PATCH or DELETE
is refused, so state-changing requests still need a session *and* its CSRF token (the CSRF
check runs before this one and is never skipped). A token header elsewhere than the API (the
pages, the review desk) is refused too: pages are for logged-in people.
"""

from __future__ import annotations

import logging

from flask import Flask, g, request
from flask_login import UserMixin

from layers.api_tokens import ApiToken, token_account
from web.app_state import app_state
from web.error_pages import API_PREFIX
from web.errors import InvalidTokenError

logger = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_HEADER_CHARS = 200


class TokenUser(UserMixin):
    """The caller of a request made with an API token."""

    def __init__(self, token: ApiToken) -> None:
        self.api_token = token
        self.token = ""  # no session to end

    @property
    def username(self) -> str:
        return f"token:{self.api_token.name}"

    @property
    def role(self) -> str:
        return self.api_token.role

    def get_id(self) -> str:
        return f"token:{self.api_token.token_id}"


def bearer_token() -> str | None:
    """The request's bearer token, ``None`` without an ``Authorization: Bearer`` header."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()[:MAX_HEADER_CHARS]


def check_bearer() -> None:
    """``before_request``: read as the token's role, or refuse (see the module docstring)."""
    token = bearer_token()
    if token is None:
        return
    if not (request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")):
        raise InvalidTokenError(f"API tokens are accepted under {API_PREFIX}/ only; pages need a login.")
    if request.method not in READ_METHODS:
        raise InvalidTokenError("API tokens only read (GET); changes need a logged-in session and its CSRF token.")
    state = app_state()
    found = token_account(state.store(), token, record=state.writer() if state.accounts_writable else None)
    if found is None:
        logger.info("refused a bearer token on %s %s", request.method, request.path)
        raise InvalidTokenError("The API token is unknown, expired or revoked.")
    g._login_user = TokenUser(found)  # Flask-Login's current user for this request; no session is touched


def install_bearer(app: Flask) -> None:
    """Check bearer tokens before the access check (which then sees the token's role)."""
    app.before_request(check_bearer)
