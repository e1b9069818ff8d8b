"""Vector tiles: ``GET /api/tiles/<layer>/<z>/<x>/<y>.mvt`` (Mapbox Vector Tile, XYZ scheme).

The tile of a layer as the caller's role may see it (:func:`layers.vector_tiles.render_tile`,
through the one gate), features or, when there are too many, grid cells. Tiles differ by role,
so they are cached by the browser only (``Cache-Control: private``, ``Vary: Authorization,
Cookie``), revalidated by ETag (304 when unchanged). Sessions or API tokens, like the rest of
the API.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from layers.errors import FilterError, LayerError
from layers.filters import MAP_FILTER_NAMES, parse_filters
from layers.ogc_features import check_layer
from layers.redaction import ROLES
from layers.vector_tiles import check_tile, render_tile, tile_etag
from web.access import roles_allowed
from web.app_state import get_store
from web.errors import BadRequestError, NotFoundError
from web.visibility import request_access

logger = logging.getLogger(__name__)

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
CACHE_SECONDS = 300
bp = Blueprint("tiles", __name__, url_prefix="/api/tiles")


@bp.get("/<name>/<int:z>/<int:x>/<int:y>.mvt")
@roles_allowed(*ROLES)
def tile(name: str, z: int, x: int, y: int) -> Response:
    """One tile of layer ``name``, with the map's filters (``period``, ``confidence``, …) as query parameters."""
    access = request_access()
    try:
        layer = check_layer(name, access)
    except LayerError:
        raise NotFoundError(f"no layer {name[:60]!r} to tile; GET /api/ogc/collections lists them", parameter="layer") from None
    try:
        check_tile(z, x, y)
        chosen = parse_filters({k: request.args.getlist(k) for k in request.args}, names=MAP_FILTER_NAMES) if request.args else None
    except LayerError as err:
        raise NotFoundError(str(err), parameter="tile") from None
    except FilterError as err:
        raise BadRequestError(str(err), parameter=err.parameter) from None
    rendered = render_tile(get_store(), layer, access, z, x, y, where=chosen.where_for(layer.name) if chosen else None)
    etag = tile_etag(rendered.data)
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={CACHE_SECONDS}", "Vary": "Authorization, Cookie",
               "X-Ecowatch-Tile": "cells" if rendered.aggregated else "features"}
    if request.if_none_match.contains(etag.strip('"')):
        return Response(status=304, headers=headers)
    return Response(rendered.data, mimetype=MVT_MEDIA_TYPE, headers=headers)
