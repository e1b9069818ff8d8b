"""One place that turns every error into a response: JSON under ``/api``, HTML elsewhere.

Public messages come from :class:`web.errors.WebError` and from werkzeug's standard HTTP
errors; everything else (a store that cannot be read, a bug) is logged with its traceback and
answered with a generic sentence and a reference the user can quote to whoever reads the log.
"""

from __future__ import annotations

import logging
import uuid

import orjson
from flask import Blueprint, Response, render_template, request
from werkzeug.exceptions import HTTPException

from layers.errors import AccessError, StoreError
from web.errors import ForbiddenError, StoreUnavailableError, WebError

logger = logging.getLogger(__name__)

API_PREFIX = "/api"

bp = Blueprint("error_pages", __name__)


def _wants_json() -> bool:
    """True for requests under the API prefix, whose clients expect JSON."""
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def error_response(error: WebError) -> Response:
    """The response for ``error``: a JSON body under ``/api``, the error page elsewhere."""
    if _wants_json():
        response = Response(orjson.dumps(error.to_dict()), status=error.status, mimetype="application/json")
    else:
        html = render_template("error.html", status=error.status, message=error.message)
        response = Response(html, status=error.status, mimetype="text/html")
    response.headers.update(error.headers())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_errorhandler(WebError)
def _web_error(error: WebError) -> Response:
    if error.status >= 500:
        logger.error("%s %s: %s", request.method, request.path, error.message)
    return error_response(error)


@bp.app_errorhandler(StoreError)
def _store_error(error: StoreError) -> Response:
    ref = uuid.uuid4().hex[:8]
    logger.error("%s %s: store error (ref %s): %s", request.method, request.path, ref, error)
    return error_response(StoreUnavailableError(f"The map's data store cannot be read right now (ref {ref})."))


@bp.app_errorhandler(AccessError)
def _access_error(error: AccessError) -> Response:
    # a view asked the redaction for a layer its caller's role may not read: refused, never served
    logger.error("%s %s: %s", request.method, request.path, error)
    return error_response(ForbiddenError("Your account's role may not see this."))


@bp.app_errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    public = WebError(
        error.description or error.name, status=error.code or 500, code=error.name.lower().replace(" ", "_")
    )
    response = error_response(public)
    allowed = getattr(error, "valid_methods", None)
    if allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response


@bp.app_errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    ref = uuid.uuid4().hex[:8]
    logger.exception("%s %s: unexpected error (ref %s)", request.method, request.path, ref, exc_info=error)
    return error_response(WebError(f"Something went wrong on the server (ref {ref}); it has been logged."))
