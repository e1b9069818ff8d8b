"""Errors of the web layer: each carries its HTTP status and a message that is safe to show.

Like pygeoapi's exceptions, a :class:`WebError` is raised by a view with a message written for
the person who made the request; :mod:`web.error_pages` turns it into a JSON body under
``/api`` and an HTML page elsewhere. Anything that is not a :class:`WebError` is logged in full
and answered with a generic message, so no internal detail (paths, SQL, tracebacks) reaches
the user.
"""

from __future__ import annotations

from config.errors import EcowatchError


class WebError(EcowatchError):
    """A request that cannot be answered; ``status`` is the HTTP status, ``message`` is public.

    Parameters
    ----------
    message
        Text for the user; it must hold no internal detail.
    parameter
        The query parameter or path part at fault, when there is one.
    status, code
        Override the class's HTTP status and short error code (used for werkzeug's errors).
    """

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self, message: str, *, parameter: str | None = None, status: int | None = None, code: str | None = None
    ) -> None:
        self.message = message
        self.parameter = parameter
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        super().__init__(message)

    def headers(self) -> dict[str, str]:
        """Response headers the error needs (e.g. ``Retry-After``)."""
        return {}

    def to_dict(self) -> dict[str, object]:
        """The JSON body of the error response."""
        body: dict[str, object] = {"error": self.code, "status": self.status, "message": self.message}
        if self.parameter is not None:
            body["parameter"] = self.parameter
        return body


class BadRequestError(WebError, ValueError):
    """A query parameter is malformed or out of range (HTTP 400)."""

    status = 400
    code = "bad_request"


class NotFoundError(WebError, LookupError):
    """The requested layer or resource does not exist (HTTP 404)."""

    status = 404
    code = "not_found"


class StoreUnavailableError(WebError, OSError):
    """The store cannot be opened or read (HTTP 503); the detail goes to the log only."""

    status = 503
    code = "store_unavailable"


class UnauthorizedError(WebError, PermissionError):
    """Not logged in (HTTP 401); pages redirect to the login page instead."""

    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        # programs send an API token (RFC 6750); browsers log in
        return {"WWW-Authenticate": 'Bearer realm="ecowatch", Session realm="ecowatch", login="/login"'}


class InvalidTokenError(UnauthorizedError):
    """An ``Authorization: Bearer`` token that is malformed, unknown, expired or revoked (HTTP 401)."""

    code = "invalid_token"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="ecowatch", error="invalid_token", error_description="the token is unknown, expired or revoked"'}


class ForbiddenError(WebError, PermissionError):
    """Logged in, but the account's role may not do this (HTTP 403)."""

    status = 403
    code = "forbidden"


class TooManyRequestsError(WebError):
    """Too many attempts (HTTP 429); ``retry_after`` seconds until the next may be tried."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
