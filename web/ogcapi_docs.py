"""The OGC API – Features documents that describe the API itself: conformance and OpenAPI 3.0.

The OpenAPI document is built from the same constants the views use (:mod:`layers.ogc_features`:
the reserved parameters, the page cap), so a client that reads it (GDAL's OAPIF driver takes
its page size from ``limit``'s ``maximum``) sees what the server does. Collections are listed
per role at ``/collections``, not here: the document is the same for every caller.
"""

from __future__ import annotations

import logging
from typing import Any

from layers.ogc_features import DEFAULT_LIMIT, MAX_LIMIT

logger = logging.getLogger(__name__)

OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
GEOJSON = "application/geo+json"
_CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
_CONF3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
CONFORMANCE = (
    _CONF + "core", _CONF + "geojson", _CONF + "html", _CONF + "oas30",
    _CONF3 + "queryables", _CONF3 + "queryables-query-parameters",
)


def _param(name: str, where: str, schema: dict[str, Any], description: str, *, required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": description, "schema": schema, **extra}


def _response(description: str, *media: str) -> dict[str, Any]:
    return {"description": description, "content": {m: {"schema": {"type": "object"} if m != "text/html" else {"type": "string"}} for m in media}}


_ERRORS = {
    "400": _response("A parameter is malformed or unknown (the message names it).", "application/json"),
    "401": _response("No session and no valid API token (Authorization: Bearer).", "application/json"),
    "404": _response("No such collection or feature for this caller's role.", "application/json"),
}


def openapi_document(server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the API served at ``server_url`` (its landing page)."""
    params: dict[str, Any] = {
        "f": _param("f", "query", {"type": "string", "enum": ["json", "html"]}, "Response format; otherwise the Accept header decides."),
        "collectionId": _param("collectionId", "path", {"type": "string"}, "A collection listed at /collections.", required=True),
        "featureId": _param("featureId", "path", {"type": "string"}, "The id of a feature, as the items carry it.", required=True),
        "bbox": _param("bbox", "query", {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
                       "west,south,east,north in CRS84 degrees: features whose box meets it.", style="form", explode=False),
        "datetime": _param("datetime", "query", {"type": "string"},
                           "An RFC 3339 instant or interval (start/end, '..' open) on the collection's time field."),
        "limit": _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                        f"Features per page; larger values are served as {MAX_LIMIT}.", style="form", explode=False),
        "offset": _param("offset", "query", {"type": "integer", "minimum": 0, "default": 0}, "Features to skip (the next link sets it)."),
    }

    def ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/parameters/{name}"}

    def get(summary: str, op: str, parameters: list[dict[str, Any]], ok: dict[str, Any]) -> dict[str, Any]:
        return {"get": {"summary": summary, "operationId": op, "parameters": parameters, "responses": {"200": ok, **_ERRORS}}}

    json_html = ("application/json", "text/html")
    paths = {
        "/": get("Landing page", "getLandingPage", [ref("f")], _response("Links to the API's resources.", *json_html)),
        "/conformance": get("Conformance classes", "getConformance", [ref("f")], _response("The classes this API conforms to.", *json_html)),
        "/api": get("This document", "getAPI", [], _response("The OpenAPI document.", OPENAPI_MEDIA_TYPE)),
        "/collections": get("Collections the caller may read", "getCollections", [ref("f")], _response("The collections.", *json_html)),
        "/collections/{collectionId}": get("A collection", "describeCollection", [ref("collectionId"), ref("f")],
                                           _response("The collection.", *json_html)),
        "/collections/{collectionId}/queryables": get("Fields to filter on", "getQueryables", [ref("collectionId"), ref("f")],
                                                      _response("A JSON Schema of the queryable fields.", "application/schema+json", "text/html")),
        "/collections/{collectionId}/items": get(
            "Features of a collection", "getFeatures",
            [ref("collectionId"), ref("bbox"), ref("datetime"), ref("limit"), ref("offset"), ref("f")],
            _response("A page of features, with next/prev links, numberMatched and numberReturned.", GEOJSON, "text/html"),
        ),
        "/collections/{collectionId}/items/{featureId}": get("One feature", "getFeature", [ref("collectionId"), ref("featureId"), ref("f")],
                                                             _response("The feature.", GEOJSON, "text/html")),
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ecowatch OGC API - Features",
            "version": "1.0.0",
            "description": "Clearings, seizures, boundaries, corridors and hotspots as the caller's role may see them "
                           "(see the README's 'Roles and redaction'). Property filters: name=value on /queryables' fields.",
            "license": {"name": "Apache-2.0"},
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "paths": paths,
        "components": {
            "parameters": params,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API token from `ecowatch tokens add`."},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "ecowatch_session", "description": "A logged-in browser session."},
            },
        },
    }
