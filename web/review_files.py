"""Files of the review desk: a clearing's quicklook chips and the field-check lists (GPX, KML).

``GET /review/clearings/<id>/chips/<name>.png``  a chip; made on request (:mod:`jobs.quicklook_request`)
                                                  when the detect run made none
``GET /review/field-check.gpx`` / ``.kml``        clearings marked "needs field check" (filters apply)
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from flask import Blueprint, Response, request

from jobs.quicklook_request import chips_on_disk, make_quicklooks, quicklook_folder
from layers.access_log import record_event
from layers.catalog import get_layer
from layers.errors import FilterError
from layers.field_formats import gpx_bytes, kml_bytes
from layers.filters import parse_filters
from layers.redaction import read_redacted
from layers.review_queue import QUEUE_ORDER
from web.access import client_address, roles_allowed
from web.app_state import app_state, get_store, get_writer
from web.errors import BadRequestError, NotFoundError
from web.review import _clearing_id, role
from web.review_access import DESK_ROLES, current_user_name
from web.review_view import CHIP_ORDER

logger = logging.getLogger(__name__)

bp = Blueprint("review_files", __name__, url_prefix="/review")
MAX_FIELD_CLEARINGS = 5000


def _chip_path(root: Path, relative: str | None) -> Path | None:
    if not relative:
        return None
    path = (root / relative).resolve()
    inside = root / "quicklooks"
    # a path from the store must stay in the quicklooks folder
    return path if path.is_relative_to(inside.resolve()) and path.is_file() else None


@bp.get("/clearings/<cid>/chips/<name>.png")
@roles_allowed(*DESK_ROLES)
def chip(cid: str, name: str) -> Response:
    """One chip; a true-colour chip falls back to the false-colour one when the scenes lack B02/B03."""
    cid = _clearing_id(cid)
    if name not in CHIP_ORDER:
        raise NotFoundError("no such chip", parameter="name")
    store = get_store()
    rows = read_redacted(store, get_layer("clearings"), role(), where={"clearing_id": cid}, columns=["aoi", "quicklooks"], geometry=False)
    if rows.empty:
        raise NotFoundError(f"no clearing {cid!r}", parameter="clearing")
    aoi = str(rows["aoi"].iloc[0])
    known = rows["quicklooks"].iloc[0]
    settings = app_state().settings
    root = quicklook_folder(settings)
    names = [name, name.replace("true_colour", "false_colour")]
    for source in (known if isinstance(known, dict) else {}, chips_on_disk(settings, aoi, cid)):
        for n in names:
            path = _chip_path(root, source.get(n))
            if path is not None:
                return _png(path)
    made = make_quicklooks(store, settings, cid)
    for n in names:
        path = _chip_path(root, made.get(n))
        if path is not None:
            return _png(path)
    raise NotFoundError("no imagery to make this chip from", parameter="name")


def _png(path: Path) -> Response:
    response = Response(path.read_bytes(), mimetype="image/png")  # chips are small (a few kB)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _field_clearings() -> pd.DataFrame:
    try:
        flt = parse_filters(request.args, default_status=("field_check",))
    except FilterError as err:
        raise BadRequestError(err.message, parameter=err.parameter) from err
    where = {**flt.where(), "merged_into": None}
    return read_redacted(get_store(), get_layer("clearings"), role(), where=where, order_by=QUEUE_ORDER, limit=MAX_FIELD_CLEARINGS,
                         columns=["clearing_id", "area_ha", "first_detected", "risk", "reasons"])


def _download(data: bytes, mimetype: str, name: str, count: int) -> Response:
    record_event(get_writer(), "export", username=current_user_name(), role=role(), address=client_address(),
                 method=request.method, path=request.path, status=200, detail=f"{name}: {count} clearing(s)")
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/field-check.gpx")
@roles_allowed(*DESK_ROLES)
def field_gpx() -> Response:
    """Clearings to check in the field, a GPX waypoint each."""
    rows = _field_clearings()
    return _download(gpx_bytes(rows), "application/gpx+xml", "ecowatch-field-check.gpx", len(rows))


@bp.get("/field-check.kml")
@roles_allowed(*DESK_ROLES)
def field_kml() -> Response:
    """Clearings to check in the field, as KML polygons."""
    rows = _field_clearings()
    return _download(kml_bytes(rows), "application/vnd.google-earth.kml+xml", "ecowatch-field-check.kml", len(rows))
