"""``GET /api/search?q=TEXT``: places to fly to (a clearing by id, a concession or a protected
area by name), as the caller's role may find them (:mod:`layers.map_search`)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from layers.errors import FilterError
from layers.map_search import search
from layers.redaction import ROLES
from web.access import roles_allowed
from web.api import json_response
from web.app_state import get_store
from web.error_pages import API_PREFIX
from web.errors import BadRequestError
from web.visibility import request_access

logger = logging.getLogger(__name__)

bp = Blueprint("map_search", __name__, url_prefix=API_PREFIX)


@bp.get("/search")
@roles_allowed(*ROLES)
def find() -> Response:
    """``{"results": [{"layer", "title", "label", "id", "bbox"}]}`` for the ``q`` parameter."""
    try:
        results = search(get_store(), request_access(), request.args.get("q", ""))
    except FilterError as err:
        raise BadRequestError(err.message, parameter=err.parameter) from err
    return json_response({"results": results})
