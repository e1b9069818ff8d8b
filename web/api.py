"""The JSON API the map reads: the layer list and each layer's features in a bounding box.

``GET /api/layers``
    Every on-map layer: name, title, geometry type, style, popup fields, synthetic flag,
    feature count and its features URL.
``GET /api/layers/<name>/features?bbox=w,s,e,n[&limit=N]``
    An RFC 7946 FeatureCollection (lon/lat) of the features whose bounding box meets ``bbox``,
    with every field the viewer may see as properties (what an export of the layer carries:
    both go through :mod:`layers.geojson`) and the store's feature id as ``id`` (for a generalised
    role and a layer of generalised points, the opaque key). At most
    ``limit`` (default and maximum :data:`MAX_FEATURES`) features; ``truncated`` says when
    more matched and ``numberMatched`` how many.

Views only adapt requests to the store and the catalogue: they write no SQL and compute nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Blueprint, Response, request, url_for

from layers import Layer
from layers.geojson import feature_collection
from layers.redaction import ROLES, Role, count_redacted, read_redacted, source_layer
from web.access import roles_allowed
from web.app_state import get_store
from web.error_pages import API_PREFIX
from web.errors import NotFoundError
from web.layer_specs import get_map_layer, layer_spec, map_layers
from web.params import parse_bbox, parse_limit
from web.visibility import request_access

logger = logging.getLogger(__name__)

MAX_FEATURES = 5000

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)


def json_response(body: Any, mimetype: str = "application/json") -> Response:
    """``body`` serialised with orjson; API answers are never cached by the browser."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-store"
    return response


def _map_layer(name: str, role: Role) -> Layer:
    layer = get_map_layer(name, role)
    if layer is None:
        raise NotFoundError(f"no map layer named {name[:60]!r}; GET {API_PREFIX}/layers lists them", parameter="layer")
    return layer


@bp.get("/layers")
@roles_allowed(*ROLES)
def layers() -> Response:
    """The on-map layers the caller's role may see, bottom first, with their feature counts."""
    store = get_store()
    access = request_access()
    items = [
        {
            **layer_spec(layer, store.layer_info(source_layer(layer, access).name), access.role),
            "count": count_redacted(store, layer, access, where=dict(layer.map_where) or None),
            "features_url": url_for(".features", name=layer.name),
        }
        for layer in map_layers(access.role)
    ]
    return json_response({"layers": items, "max_features": MAX_FEATURES})


@bp.get("/layers/<name>/features")
@roles_allowed(*ROLES)
def features(name: str) -> Response:
    """The features of layer ``name`` in the ``bbox`` query parameter, as GeoJSON."""
    access = request_access()
    layer = _map_layer(name, access.role)
    bbox = parse_bbox(request.args.get("bbox"))
    limit = parse_limit(request.args.get("limit"), MAX_FEATURES)
    store = get_store()
    access = request_access()
    where = dict(layer.map_where) or None  # e.g. only the latest period of a time series
    # the one gate: what this viewer may see (generalised locations are cut to the bbox afterwards)
    frame = read_redacted(store, layer, access, bbox=bbox, where=where, limit=limit + 1)
    truncated = len(frame) > limit
    frame = frame.iloc[:limit]
    src = source_layer(layer, access)
    shown = [f for f in src.fields if f.name in frame.columns]
    matched = count_redacted(store, layer, access, bbox=bbox, where=where) if truncated else len(frame)
    if truncated:
        logger.info("layer %s bbox %s: %d features matched, returning %d", name, bbox, matched, limit)
    extra = {
        "layer": layer.name,
        "numberMatched": matched,
        "numberReturned": len(frame),
        "truncated": truncated,
        "limit": limit,
    }
    return json_response(feature_collection(frame, shown, extra), mimetype="application/geo+json")
