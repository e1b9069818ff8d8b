"""Imagery under the alerts: the stored acquisitions and their XYZ tiles.

``GET /api/imagery/dates``
    ``{"dates": [{"date", "scenes", "cloud_share", "bbox"}]}``: each acquisition date of the
    stored scenes (the ``scenes`` layer, read through the redaction gate), newest first, with the
    least cloudy share over its AOI and the box (W, S, E, N) the scenes cover.
``GET /tiles/imagery/<date>/<z>/<x>/<y>.png?style=truecolor|ndvi``
    A 256 px PNG of that date's scenes (:mod:`jobs.imagery_tiles`), transparent where there are
    none. Rendered tiles are kept in an in-process LRU; the ``ETag`` names the scene files'
    identity (size, modification time), the tile and the style, so a browser revalidates
    with ``If-None-Match`` and gets 304 when nothing changed.

Who: the roles that may read the scenes layer and draw clearings under it (planner, analyst,
admin, ngo); the viewer's public map has no imagery, and the server refuses it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import re
from pathlib import Path

from flask import Blueprint, Response, current_app, request

from jobs.imagery_tiles import STYLES, SceneFile, TileCache, TileError, tile_bounds
from layers import get_layer
from layers.redaction import read_redacted
from web.access import roles_allowed
from web.api import json_response
from web.app_state import app_state, get_store
from web.error_pages import API_PREFIX
from web.errors import BadRequestError, NotFoundError
from web.visibility import request_access

logger = logging.getLogger(__name__)

IMAGERY_ROLES = ("planner", "analyst", "admin", "ngo")
CACHE_KEY = "ecowatch_imagery_tiles"
RENDERER_VERSION = "1"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

bp = Blueprint("imagery", __name__)


def _cache() -> TileCache:
    cache: TileCache = current_app.extensions.setdefault(CACHE_KEY, TileCache())
    return cache


def _date(raw: str) -> dt.date:
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise NotFoundError("no imagery date like that: give YYYY-MM-DD", parameter="date") from None


def _scene_path(stored: str) -> Path:
    """A scene's file: as stored when absolute, else under the data folder (else the working folder)."""
    path = Path(stored)
    if path.is_absolute():
        return path
    under = app_state().settings.data_dir / path
    return under if under.exists() else path


def _mercator_to_lonlat(x: float, y: float) -> tuple[float, float]:
    r = 6378137.0
    return math.degrees(x / r), math.degrees(math.atan(math.sinh(y / r)))


@bp.get(API_PREFIX + "/imagery/dates")
@roles_allowed(*IMAGERY_ROLES)
def dates() -> Response:
    """The stored acquisition dates, newest first."""
    frame = read_redacted(get_store(), get_layer("scenes"), request_access(), columns=["acquired", "cloud_share"])
    out = []
    if len(frame):
        frame = frame.assign(day=[str(v)[:10] for v in frame["acquired"]])
        for day, group in frame.groupby("day", sort=True):
            w, s, e, n = (round(float(v), 6) for v in group.total_bounds)
            share = group["cloud_share"].dropna()
            out.append({"date": day, "scenes": len(group), "cloud_share": float(share.min()) if len(share) else None, "bbox": [w, s, e, n]})
    out.reverse()
    return json_response({"dates": out, "styles": list(STYLES)})


@bp.get("/tiles/imagery/<day>/<int:z>/<int:x>/<int:y>.png")
@roles_allowed(*IMAGERY_ROLES)
def tile(day: str, z: int, x: int, y: int) -> Response:
    """One imagery tile; 304 when the browser's copy is current."""
    when = _date(day)
    style = request.args.get("style", "truecolor")
    if style not in STYLES:
        raise BadRequestError(f"style must be one of {', '.join(STYLES)}", parameter="style")
    try:
        west, south, east, north = tile_bounds(z, x, y)
    except TileError as err:
        raise NotFoundError(str(err), parameter="tile") from err
    lon0, lat0 = _mercator_to_lonlat(west, south)
    lon1, lat1 = _mercator_to_lonlat(east, north)
    bbox = (max(lon0, -180.0), max(lat0, -90.0), min(lon1, 180.0), min(lat1, 90.0))
    frame = read_redacted(get_store(), get_layer("scenes"), request_access(), bbox=bbox, where={"acquired": when}, columns=["path", "scene_id"])
    files = []
    for stored in sorted(frame["path"].dropna().astype(str)):
        path = _scene_path(stored)
        if not path.is_file():
            logger.warning("imagery %s: scene file %s is missing", day, path)
            continue
        files.append(SceneFile.of(path))
    tag = hashlib.sha256(repr((RENDERER_VERSION, [(str(f.path), f.mtime_ns, f.size) for f in files], z, x, y, style)).encode()).hexdigest()[:32]
    etag = f'"{tag}"'
    if request.if_none_match.contains(tag):
        response = Response(status=304)
    else:
        response = Response(_cache().get(files, z, x, y, style), mimetype="image/png")
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
