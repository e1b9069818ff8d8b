"""Watch areas in the app: save an area and subscribe to digests of new clearings in it.

``GET  /watch/``                                  the user's areas and subscriptions, and the form for a new one
``POST /watch/``                                  save an area (drawn, uploaded or picked) with its subscription
``POST /watch/<watch_id>/delete``                 delete an area and its subscriptions
``POST /watch/subscriptions/<sid>/stop``          stop one subscription
``GET  /watch/unsubscribe/<sid>/<token>``         the e-mail's unsubscribe link: a page with a button; changes nothing
``POST /watch/unsubscribe/<sid>/<token>``         RFC 8058 one-click unsubscribe (no login: the signed token is the authority)

Every logged-in role may keep watch areas (a digest shows what the owner's role sees). Forms carry
the CSRF token, except the one-click POST, which a mail client sends without a session
(RFC 8058) and which the signed token authorises. The webhook key is shown once, on the page that
answers the POST that made the subscription.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import orjson
import shapely
from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from jobs.digest_webhook import check_webhook_url
from jobs.watch_sources import PICK_LAYERS, drawn_area, picked_area, uploaded_area
from layers.catalog import get_layer
from layers.errors import WatchError
from layers.filters import CONFIDENCES, FLAGS
from layers.opaque_ids import load_id_key
from layers.redaction import ROLES, read_redacted
from layers.watch_areas import (
    COMMODITIES,
    FREQUENCIES,
    add_subscription,
    add_watch_area,
    check_unsubscribe_token,
    delete_watch_area,
    owner_areas,
    parse_watch_filters,
    subscription,
    unsubscribe,
    webhook_key,
)
from web.access import current_role, public, roles_allowed
from web.app_state import app_state, get_store, get_writer
from web.auth import csrf
from web.errors import NotFoundError
from web.review_access import current_user_name
from web.review_view import page_response, records

logger = logging.getLogger(__name__)

bp = Blueprint("watch", __name__, url_prefix="/watch")
_ID = re.compile(r"(WA|SUB)-[0-9a-f]{16}")
_TOKEN = re.compile(r"[0-9a-f]{40}")
UPLOAD_SUFFIXES = (".geojson", ".json", ".zip", ".kml", ".kmz", ".gpkg")
CONTEXT_LAYERS = ("aoi", "protected_areas", "concessions")
MAX_PICKS = 500


def _context_geojson() -> str:
    """Outlines to draw against (AOIs, protected areas, concessions) and the user's own areas, simplified."""
    store, role = get_store(), current_role()
    access = app_state().access(role)
    features: list[dict[str, Any]] = []
    for name in CONTEXT_LAYERS:
        frame = read_redacted(store, get_layer(name), access, columns=[])
        for geom in frame.geometry.values[:MAX_PICKS]:
            features.append({"type": "Feature", "properties": {"kind": name},
                             "geometry": shapely.geometry.mapping(shapely.simplify(geom, 0.0005, preserve_topology=True))})
    areas, _ = owner_areas(store, current_user_name())
    for rec in areas.to_dict("records"):
        features.append({"type": "Feature", "properties": {"kind": "watch", "name": rec["name"]}, "geometry": shapely.geometry.mapping(rec["geometry"])})
    return orjson.dumps({"type": "FeatureCollection", "features": features}).decode()


def _pick_options() -> dict[str, list[tuple[str, str]]]:
    """For each pickable kind, (id, label) of its features the role sees."""
    store, access = get_store(), app_state().access(current_role())
    out: dict[str, list[tuple[str, str]]] = {}
    labels = {"protected_areas": "name", "concessions": "holder", "corridor_segments": "corridor", "border_crossings": "name"}
    for origin, (layer, key) in PICK_LAYERS.items():
        frame = read_redacted(store, get_layer(layer), access, columns=[key, labels[layer]])
        out[origin] = [(str(r[key]), f"{r[key]} · {r[labels[layer]] or ''}") for r in frame.head(MAX_PICKS).to_dict("records")]
    return out


def _render(status: int = 200, *, error: WatchError | None = None, new_key: dict[str, str] | None = None) -> Response:
    areas, subs = owner_areas(get_store(), current_user_name())
    by_area: dict[str, list[dict[str, Any]]] = {}
    for rec in records(subs):
        by_area.setdefault(str(rec["watch_id"]), []).append(rec)
    html = render_template(
        "watch.html", areas=records(areas), subs=by_area, error=error, new_key=new_key, form=request.form if error else {},
        picks=_pick_options(), confidences=CONFIDENCES, flags=FLAGS, commodities=COMMODITIES, frequencies=FREQUENCIES,
        geojson=_context_geojson(), role=current_role(), webhooks=bool(app_state().settings.webhook_hosts),
    )
    return page_response(html, status)


@bp.get("/")
@roles_allowed(*ROLES)
def index() -> Response:
    """The user's watch areas and the form for a new one."""
    return _render()


def _float(name: str) -> float | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise WatchError(name, f"{raw[:20]!r} is not a number") from None


def _area_from_form() -> tuple[shapely.Geometry, str, str, float | None]:
    settings = app_state().settings
    how = request.form.get("how", "")
    if how == "drawn":
        return drawn_area(request.form.get("geometry", ""), settings), "drawn", "", None
    if how == "uploaded":
        upload: FileStorage | None = request.files.get("file")
        if upload is None or not upload.filename:
            raise WatchError("file", "choose a file (GeoJSON, zipped Shapefile, KML/KMZ or GeoPackage)")
        name = Path(upload.filename).name[:120]
        suffix = Path(name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise WatchError("file", f"{name}: not one of {', '.join(UPLOAD_SUFFIXES)}")
        with tempfile.TemporaryDirectory(prefix="ecowatch-upload-") as folder:
            path = Path(folder) / f"upload{suffix}"
            upload.save(path)
            return uploaded_area(path, settings, name=name), "uploaded", name, None
    if how == "picked":
        origin, ref, radius = request.form.get("pick_kind", ""), request.form.get("pick_ref", "").strip(), _float("radius_km")
        return picked_area(get_store(), settings, origin, ref, radius), origin, ref, radius
    raise WatchError("how", "choose how to give the area: drawn, uploaded or picked")


@bp.post("/")
@roles_allowed(*ROLES)
def create() -> Response:
    """Save an area and its subscription; the page shows the webhook key once."""
    settings = app_state().settings
    try:
        geom, origin, ref, radius = _area_from_form()
        filters = parse_watch_filters(request.form)
        webhook_url = request.form.get("webhook_url", "").strip()
        if webhook_url:
            check_webhook_url(settings, webhook_url)
        writer, owner = get_writer(), current_user_name()
        with writer.transaction():
            wid = add_watch_area(writer, owner, request.form.get("name", ""), geom, origin=origin, origin_ref=ref, radius_km=radius)
            sid = add_subscription(writer, owner, wid, filters, frequency=request.form.get("frequency", ""),
                                   email=request.form.get("email") == "on", webhook_url=webhook_url)
    except WatchError as err:
        return _render(400, error=err)
    new_key = {"subscription_id": sid, "key": webhook_key(load_id_key(settings), sid, 1)} if webhook_url else None
    logger.info("watch area %s with subscription %s saved by %s", wid, sid, owner)
    return _render(201, new_key=new_key)


@bp.post("/<wid>/delete")
@roles_allowed(*ROLES)
def delete(wid: str) -> Response:
    if not _ID.fullmatch(wid) or not delete_watch_area(get_writer(), current_user_name(), wid):
        raise NotFoundError("no such watch area of yours", parameter="watch_id")
    return redirect(url_for(".index"), code=303)


@bp.post("/subscriptions/<sid>/stop")
@roles_allowed(*ROLES)
def stop(sid: str) -> Response:
    sub = subscription(get_store(), sid) if _ID.fullmatch(sid) else None
    if sub is None or sub["owner"] != current_user_name():
        raise NotFoundError("no such subscription of yours", parameter="subscription")
    unsubscribe(get_writer(), sid)
    return redirect(url_for(".index"), code=303)


def _checked_link(sid: str, token: str) -> dict[str, Any]:
    sub = subscription(get_store(), sid) if _ID.fullmatch(sid) and _TOKEN.fullmatch(token) else None
    if sub is None or not check_unsubscribe_token(load_id_key(app_state().settings), sid, token):
        raise NotFoundError("This unsubscribe link is not valid.", parameter="token")
    return sub


@bp.get("/unsubscribe/<sid>/<token>")
@public
def unsubscribe_page(sid: str, token: str) -> Response:
    """The link as a page: one button that POSTs; a GET (a mail scanner, a prefetch) changes nothing."""
    sub = _checked_link(sid, token)
    html = render_template("watch_unsubscribe.html", sub=sub, done=False, already=sub["unsubscribed"] is not None)
    return page_response(html)


@bp.post("/unsubscribe/<sid>/<token>")
@public
@csrf.exempt
def unsubscribe_post(sid: str, token: str) -> Response:
    """RFC 8058 one-click: the signed token authorises it; answered 200 whether or not it was still active."""
    _checked_link(sid, token)
    unsubscribe(get_writer(), sid)
    return page_response(render_template("watch_unsubscribe.html", sub=None, done=True, already=False))
