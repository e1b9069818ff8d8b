"""OGC API – Features (Part 1 Core, GeoJSON, HTML, OpenAPI 3.0) under ``/api/ogc``.

``/api/ogc`` landing page, ``/conformance``, ``/api`` (OpenAPI), ``/collections``,
``/collections/{id}``, ``/collections/{id}/queryables``, ``/collections/{id}/items`` and
``/collections/{id}/items/{featureId}``. JSON or HTML by ``f=json|html``, else by the Accept
header; items as ``application/geo+json`` (through the one writer, :mod:`layers.geojson`);
CRS84. The caller is a logged-in session or an API token (``Authorization: Bearer``,
:mod:`web.bearer`); every collection and every feature is read as its role through the one
gate (:mod:`layers.ogc_features` -> :mod:`layers.redaction`). Views only adapt requests and
responses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Blueprint, Response, render_template, request, url_for

from layers import Layer
from layers.catalog import Field
from layers.errors import FilterError, LayerError
from layers.export import FORMATS, MEDIA_TYPES
from layers.geojson import feature_collection, features
from layers.ogc_features import (
    CRS84,
    ItemsQuery,
    check_layer,
    collections,
    parse_items_query,
    queryables,
    read_item,
    read_items,
)
from layers.redaction import ROLES, Access
from web.access import roles_allowed
from web.api import json_response
from web.app_state import get_store
from web.errors import BadRequestError, NotFoundError
from web.exports import EXPORT_ROLES
from web.ogcapi_docs import CONFORMANCE, GEOJSON, OPENAPI_MEDIA_TYPE, openapi_document
from web.visibility import request_access

logger = logging.getLogger(__name__)

PREFIX = "/api/ogc"
bp = Blueprint("ogcapi", __name__, url_prefix=PREFIX)
_JSON_TYPES = {"json": "application/json", "html": "text/html"}


def wanted() -> str:
    """``json`` or ``html``: the ``f`` parameter, else the Accept header (JSON when it says nothing)."""
    f = request.args.get("f")
    if f is not None:
        if f in ("json", "geojson"):
            return "json"
        if f == "html":
            return "html"
        raise BadRequestError("f must be json or html", parameter="f")
    best = request.accept_mimetypes.best_match([GEOJSON, "application/json", "text/html"], default="application/json")
    return "html" if best == "text/html" else "json"


def _url(endpoint: str, params: Sequence[tuple[str, str]] = (), **values: Any) -> str:
    base = url_for(endpoint, _external=True, **values)
    return base + ("?" + urlencode(list(params)) if params else "")


def _links(endpoint: str, title: str, json_type: str = "application/json", params: Sequence[tuple[str, str]] = (), **values: Any) -> list[dict[str, str]]:
    """self and alternate links of a resource, in the format asked and the other one."""
    current = wanted()
    out = []
    for fmt, media in (("json", json_type), ("html", "text/html")):
        out.append({
            "href": _url(endpoint, [*params, ("f", fmt)], **values), "rel": "self" if fmt == current else "alternate",
            "type": media, "title": f"{title} as {fmt.upper()}",
        })
    return out


def _html(title: str, body: dict[str, Any]) -> Response:
    response = Response(render_template("ogcapi.html", title=title, doc=body), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _answer(title: str, body: dict[str, Any], json_type: str = "application/json") -> Response:
    return _html(title, body) if wanted() == "html" else json_response(body, mimetype=json_type)


def _layer(name: str, access: Access) -> Layer:
    try:
        return check_layer(name, access)
    except LayerError:
        raise NotFoundError(f"no collection {name[:60]!r}; GET {PREFIX}/collections lists them", parameter="collectionId") from None


@bp.get("")
@bp.get("/")
@roles_allowed(*ROLES)
def landing() -> Response:
    """The landing page: links to the API document, conformance and collections."""
    links = _links("ogcapi.landing", "This page") + [
        {"href": _url("ogcapi.openapi"), "rel": "service-desc", "type": OPENAPI_MEDIA_TYPE, "title": "The API definition (OpenAPI 3.0)"},
        {"href": _url("ogcapi.openapi_html"), "rel": "service-doc", "type": "text/html", "title": "The API definition, to read"},
        {"href": _url("ogcapi.conformance", [("f", "json")]), "rel": "conformance", "type": "application/json", "title": "Conformance classes (JSON)"},
        {"href": _url("ogcapi.conformance", [("f", "html")]), "rel": "conformance", "type": "text/html", "title": "Conformance classes (HTML)"},
        {"href": _url("ogcapi.collections_list", [("f", "json")]), "rel": "data", "type": "application/json", "title": "Collections (JSON)"},
        {"href": _url("ogcapi.collections_list", [("f", "html")]), "rel": "data", "type": "text/html", "title": "Collections (HTML)"},
    ]
    body = {"title": "ecowatch", "description": "Clearings, seizures, boundaries, corridors and hotspots, as your role may see them.", "links": links}
    return _answer("ecowatch OGC API - Features", body)


@bp.get("/conformance")
@roles_allowed(*ROLES)
def conformance() -> Response:
    """The conformance classes."""
    return _answer("Conformance", {"conformsTo": list(CONFORMANCE), "links": _links("ogcapi.conformance", "Conformance")})


@bp.get("/api")
@roles_allowed(*ROLES)
def openapi() -> Response:
    """The OpenAPI 3.0 document."""
    return json_response(openapi_document(_url("ogcapi.landing")), mimetype=OPENAPI_MEDIA_TYPE)


@bp.get("/api.html")
@roles_allowed(*ROLES)
def openapi_html() -> Response:
    """The OpenAPI document's paths, as a page to read."""
    doc = openapi_document(_url("ogcapi.landing"))
    rows = [{"path": path, "summary": op["get"]["summary"],
             "parameters": ", ".join(p["$ref"].rsplit("/", 1)[-1] for p in op["get"]["parameters"])} for path, op in doc["paths"].items()]
    body = {"title": doc["info"]["title"], "description": doc["info"]["description"], "paths": rows,
            "links": [{"href": _url("ogcapi.openapi"), "rel": "service-desc", "type": OPENAPI_MEDIA_TYPE, "title": "The OpenAPI document"}]}
    return _html("API definition", body)


def _collection(layer: Layer, access: Access) -> dict[str, Any]:
    name = layer.name
    links = _links("ogcapi.collection", layer.title, name=name) + [
        {"href": _url("ogcapi.items", [("f", "json")], name=name), "rel": "items", "type": GEOJSON, "title": f"{layer.title} (GeoJSON)"},
        {"href": _url("ogcapi.items", [("f", "html")], name=name), "rel": "items", "type": "text/html", "title": f"{layer.title} (HTML)"},
        {"href": _url("ogcapi.queryables_doc", name=name), "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
         "type": "application/schema+json", "title": "Fields to filter on"},
    ]
    if access.role in EXPORT_ROLES:  # the same rows as files, through the same gate (web.exports)
        links += [{"href": _url("exports.download", name=name, fmt=fmt), "rel": "enclosure", "type": MEDIA_TYPES[fmt],
                   "title": f"Download {layer.title} as {fmt.upper()}"} for fmt in FORMATS]
    return {
        "id": name, "title": layer.title, "description": layer.description, "itemType": "feature",
        "crs": [CRS84], "storageCrs": CRS84, "links": links,
    }


@bp.get("/collections")
@roles_allowed(*ROLES)
def collections_list() -> Response:
    """The collections the caller's role may read."""
    access = request_access()
    body = {"collections": [_collection(lyr, access) for lyr in collections(access)], "links": _links("ogcapi.collections_list", "Collections")}
    return _answer("Collections", body)


@bp.get("/collections/<name>")
@roles_allowed(*ROLES)
def collection(name: str) -> Response:
    """One collection."""
    access = request_access()
    layer = _layer(name, access)
    return _answer(layer.title, _collection(layer, access))


def _json_type(fld: Field) -> dict[str, Any]:
    kinds = {"integer": {"type": "integer"}, "real": {"type": "number"}, "boolean": {"type": "boolean"},
             "date": {"type": "string", "format": "date"}, "datetime": {"type": "string", "format": "date-time"}}
    return {"title": fld.name, "description": fld.description, **kinds.get(fld.type, {"type": "string"})}


@bp.get("/collections/<name>/queryables")
@roles_allowed(*ROLES)
def queryables_doc(name: str) -> Response:
    """The fields of a collection that the caller may filter on, as a JSON Schema."""
    access = request_access()
    layer = _layer(name, access)
    body = {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _url("ogcapi.queryables_doc", name=name),
        "type": "object", "title": layer.title, "properties": {f.name: _json_type(f) for f in queryables(layer, access)},
        "additionalProperties": False,
        "links": _links("ogcapi.queryables_doc", "Queryables", "application/schema+json", name=name),
    }
    return _answer(f"{layer.title}: queryables", body, "application/schema+json")


@bp.get("/collections/<name>/items")
@roles_allowed(*ROLES)
def items(name: str) -> Response:
    """A page of the collection's features (bbox, datetime, property filters, limit, offset)."""
    access = request_access()
    layer = _layer(name, access)
    args = {k: request.args.getlist(k) for k in request.args}
    try:
        query = parse_items_query(layer, access, args)
    except FilterError as err:
        raise BadRequestError(str(err), parameter=err.parameter) from None
    frame, fields, matched = read_items(get_store(), layer, access, query)
    page = [*query.params, ("limit", str(query.limit))]
    links = _links("ogcapi.items", layer.title, GEOJSON, [*page, ("offset", str(query.offset))], name=name)
    links += _paging(name, query, page, len(frame), matched)
    links.append({"href": _url("ogcapi.collection", name=name), "rel": "collection", "type": "application/json", "title": layer.title})
    extra = {"numberMatched": matched, "numberReturned": len(frame), "links": links}
    if wanted() == "html":
        feats = [orjson.loads(f) for f in features(frame, fields)]
        return _html(f"{layer.title}: features", {"title": layer.title, **extra, "features": feats, "fields": [f.name for f in fields]})
    return json_response(feature_collection(frame, fields, extra), mimetype=GEOJSON)


def _paging(name: str, query: ItemsQuery, page: list[tuple[str, str]], returned: int, matched: int) -> list[dict[str, str]]:
    fmt = wanted()
    media = GEOJSON if fmt == "json" else "text/html"
    out = []
    if query.offset + returned < matched:
        out.append({"href": _url("ogcapi.items", [*page, ("offset", str(query.offset + query.limit)), ("f", fmt)], name=name),
                    "rel": "next", "type": media, "title": "Next page"})
    if query.offset > 0:
        out.append({"href": _url("ogcapi.items", [*page, ("offset", str(max(0, query.offset - query.limit))), ("f", fmt)], name=name),
                    "rel": "prev", "type": media, "title": "Previous page"})
    return out


@bp.get("/collections/<name>/items/<feature_id>")
@roles_allowed(*ROLES)
def item(name: str, feature_id: str) -> Response:
    """One feature, by the id the items carry."""
    access = request_access()
    layer = _layer(name, access)
    found = read_item(get_store(), layer, access, feature_id[:200])
    if found is None:
        raise NotFoundError(f"no feature {feature_id[:60]!r} in {name!r}", parameter="featureId")
    frame, fields = found
    links = _links("ogcapi.item", layer.title, GEOJSON, name=name, feature_id=feature_id)
    links.append({"href": _url("ogcapi.collection", name=name), "rel": "collection", "type": "application/json", "title": layer.title})
    feature = orjson.loads(next(features(frame, fields)))
    feature["links"] = links
    if wanted() == "html":
        return _html(f"{layer.title}: {feature_id}", {"title": layer.title, "features": [feature], "fields": [f.name for f in fields], "links": links})
    return json_response(feature, mimetype=GEOJSON)
