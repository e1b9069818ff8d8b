"""The JSON API the map reads: the layer list and each layer's features in a bounding box.

``GET /api/layers``
    Every on-map layer: name, title, geometry type, style, popup fields, synthetic flag,
    feature count and its features URL.
``GET /api/layers/<name>/features?bbox=w,s,e,n[&limit=N][&properties=a,b][&<filters>]``
    An RFC 7946 FeatureCollection (lon/lat) of the features whose bounding box meets ``bbox``
    and match the filters (the review desk's names, :data:`layers.filters.MAP_FILTER_NAMES`,
    applied to the fields each layer has: :meth:`~layers.filters.ClearingFilter.where_for`),
    with every field the viewer may see as properties, or only those of ``properties`` (what an
    export of the layer carries: both go through :mod:`layers.geojson`) and the store's feature
    id as ``id`` (for a generalised role and a layer of generalised points, the opaque key).

    Nothing is silently dropped: when more than ``limit`` (default and maximum
    :data:`MAX_FEATURES`) features match, the answer is a grid aggregate instead
    (:mod:`layers.aggregates`): one square per non-empty cell with its ``count`` (and
    ``area_ha``), ``"aggregate": {"cell_deg": ..., "count": ...}``, where the cells' counts add
    up to ``numberMatched``. ``numberReturned`` is the number of features (0 for an aggregate).

Views only adapt requests to the store and the catalogue: they write no SQL and compute nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Blueprint, Response, request, url_for

from layers import Layer
from layers.aggregates import grid_aggregate, pyramid_aggregate
from layers.catalog import Field
from layers.errors import FilterError
from layers.filters import MAP_FILTER_NAMES, ClearingFilter, parse_filters
from layers.geojson import feature_collection
from layers.redaction import (
    ROLES,
    Role,
    count_redacted,
    read_redacted,
    source_layer,
    visible_fields,
)
from web.access import roles_allowed
from web.app_state import get_store
from web.error_pages import API_PREFIX
from web.errors import BadRequestError, NotFoundError
from web.layer_specs import get_map_layer, layer_spec, map_layers
from web.params import parse_bbox, parse_limit
from web.visibility import request_access

logger = logging.getLogger(__name__)

MAX_FEATURES = 5000
# what the map asks for at most per layer and view (over it: the aggregate), so that an answer
# stays small (about 200 KB: benchmarks/bench_map.py)
MAP_LIMIT = 500
FEATURE_ARGS = ("bbox", "limit", "properties")

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


def map_filter() -> ClearingFilter:
    """The map's filters in the request's URL (the review desk's parser); a bad one is a 400 naming it."""
    try:
        return parse_filters(request.args, extra=FEATURE_ARGS, names=MAP_FILTER_NAMES)
    except FilterError as err:
        raise BadRequestError(err.message, parameter=err.parameter) from err


def _properties(raw: str | None, fields: list[Field]) -> list[Field]:
    """The ``properties`` parameter: a comma list among ``fields`` (those the role sees); all when absent."""
    if raw is None:
        return fields
    names = [n.strip() for n in raw.split(",") if n.strip()]
    known = {f.name: f for f in fields}
    bad = [n for n in names if n not in known]
    if bad:
        raise BadRequestError(f"no property {bad[0][:40]!r} here; properties: {', '.join(known)}", parameter="properties")
    return [known[n] for n in dict.fromkeys(names)]


@bp.get("/layers/<name>/features")
@roles_allowed(*ROLES)
def features(name: str) -> Response:
    """The features of layer ``name`` in the ``bbox`` query parameter, as GeoJSON (or a grid aggregate)."""
    access = request_access()
    layer = _map_layer(name, access.role)
    bbox = parse_bbox(request.args.get("bbox"))
    limit = parse_limit(request.args.get("limit"), MAX_FEATURES)
    filt = map_filter()
    store = get_store()
    # e.g. only the latest period of a time series, and the filters on the fields this layer has
    where = {**dict(layer.map_where), **filt.where_for(layer.name)} or None
    src = source_layer(layer, access)
    visible = [f for f in visible_fields(src, src.field_names, access.role)]
    shown = _properties(request.args.get("properties"), visible)
    # the one gate: what this viewer may see (generalised locations are cut to the bbox afterwards);
    # a view the store's grid pyramid covers knows its cells, and so its count, without reading rows
    extra: dict[str, Any] = {"layer": layer.name, "limit": limit, "filters": dict(filt.params)}
    agg = pyramid_aggregate(store, layer, access, bbox=bbox, where=where)
    over = agg is not None and agg.total > limit
    frame = None if over else read_redacted(store, layer, access, bbox=bbox, where=where, columns=[f.name for f in shown], limit=limit + 1)
    if frame is None or len(frame) > limit:
        if agg is None:
            agg = grid_aggregate(store, layer, access, bbox=bbox, where=where)  # counts what count_redacted counts
        logger.info("layer %s bbox %s: %d features matched, answering %d cells of %g degrees", name, bbox, agg.total, len(agg.count), agg.cell_deg)
        body = {
            "type": "FeatureCollection", **extra, "numberMatched": agg.total, "numberReturned": 0,
            "aggregate": {"cell_deg": agg.cell_deg, "count": agg.total, "cells": len(agg.count), "area": agg.area_ha is not None},
            "features": agg.features(),
        }
        return json_response(body, mimetype="application/geo+json")
    extra.update(numberMatched=len(frame), numberReturned=len(frame))
    return json_response(feature_collection(frame, [f for f in shown if f.name in frame.columns], extra), mimetype="application/geo+json")
