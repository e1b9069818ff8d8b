"""Downloads of a layer as the caller's role may see it, with the map's filters: ``/api/exports``.

``GET /api/exports/<layer>/<format>?bbox=…&period=…&where.FIELD=VALUE`` answers the file that
``ecowatch export LAYER --format FORMAT`` writes (:func:`layers.export.export_layer`, through
the one gate), as an attachment, and records the export in the access log. The formats are
GeoJSON, GeoPackage, CSV, XLSX and KML; the filters are the map's names (:mod:`layers.filters`)
and ``where.FIELD=VALUE`` for equality on a field the role sees. Roles that export: planner,
analyst, ngo and admin (the viewer only views). Sessions or API tokens; the OGC collection pages
link here.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from flask import Blueprint, Response, request
from flask_login import current_user

from layers.access_log import record_event
from layers.bbox import parse_bbox
from layers.errors import BBoxError, FilterError, LayerError
from layers.export import FORMATS, MEDIA_TYPES, export_layer, parse_where
from layers.filters import MAP_FILTER_NAMES, parse_filters
from layers.ogc_features import check_layer
from web.access import client_address, roles_allowed
from web.app_state import get_store, get_writer
from web.errors import BadRequestError, NotFoundError
from web.visibility import request_access

logger = logging.getLogger(__name__)

EXPORT_ROLES = ("planner", "analyst", "ngo", "admin")
bp = Blueprint("exports", __name__, url_prefix="/api/exports")


@bp.get("/<name>/<fmt>")
@roles_allowed(*EXPORT_ROLES)
def download(name: str, fmt: str) -> Response:
    """The layer ``name`` as a ``fmt`` file, as the caller's role may see it."""
    access = request_access()
    if fmt not in FORMATS:
        raise NotFoundError(f"no export format {fmt[:20]!r}; formats: {', '.join(FORMATS)}", parameter="format")
    try:
        layer = check_layer(name, access)
    except LayerError:
        raise NotFoundError(f"no layer {name[:60]!r} to export; GET /api/ogc/collections lists them", parameter="layer") from None
    filters = {k: request.args.getlist(k) for k in request.args if k in MAP_FILTER_NAMES}
    wheres = [f"{k.removeprefix('where.')}={v}" for k in request.args if k.startswith("where.") for v in request.args.getlist(k)]
    unknown = sorted(set(request.args) - set(filters) - {"bbox"} - {k for k in request.args if k.startswith("where.")})
    if unknown:
        raise BadRequestError(f"unknown parameter {unknown[0][:40]!r}; filters: bbox, {', '.join(MAP_FILTER_NAMES)}, where.FIELD", parameter=unknown[0][:40])
    try:
        box = parse_bbox(request.args["bbox"]) if "bbox" in request.args else None
        chosen = parse_filters(filters, names=MAP_FILTER_NAMES) if filters else None
        where = parse_where(layer.name, wheres, access.role)
    except (BBoxError, FilterError, ValueError) as err:
        raise BadRequestError(str(err), parameter=getattr(err, "parameter", None)) from None
    with tempfile.TemporaryDirectory(prefix="ecowatch-export-") as folder:
        path = Path(folder) / f"{layer.name}.{fmt}"
        n = export_layer(get_store(), layer.name, path, fmt=fmt, bbox=box, where=where, filters=chosen, role=access)
        data = path.read_bytes()
    record_event(get_writer(), "export", username=current_user.username, role=access.role, address=client_address(),
                 method="GET", path=request.path, status=200, detail=f"{n} feature(s) as {fmt}")
    response = Response(data, mimetype=MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="ecowatch-{layer.name}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response
