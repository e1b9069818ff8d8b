"""The review desk: the queue, a clearing's page, and decisions (one at a time or for a selection).

``GET  /review/``                         the queue (filters of :mod:`layers.filters` in the URL, ``page``)
``GET  /review/clearings/<id>``           a clearing: chips, small map, flags, what it touches, links, run, trail
``POST /review/clearings/<id>/decision``  confirm / dismiss (reason) / field_check, with the status version seen
``POST /review/bulk``                     one decision for the selected clearings
``GET  /review/step``                     the next or previous clearing of the queue (keyboard j / k)

Planners see the desk, analysts and admins decide; every other role is refused (each view declares
its roles, :mod:`web.access`); forms carry the CSRF token that Flask-WTF checks. A decision made
on an outdated status version answers 409 and shows the newer decision (both are in the trail).
Views adapt requests to :mod:`layers` (queue, dossier, reviews); they write no SQL.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from layers.clearing_dossier import clearing_dossier
from layers.errors import FilterError, ReviewConflict, ReviewError
from layers.filters import ClearingFilter, parse_filters
from layers.redaction import Role
from layers.review_queue import neighbour, queue_page
from layers.reviews import DECISIONS, DISMISS_REASONS, Decision, decide, decide_many
from web.access import roles_allowed
from web.app_state import get_store, get_writer
from web.errors import BadRequestError, NotFoundError
from web.review_access import DECIDE_ROLES, DESK_ROLES, current_role, current_user_name
from web.review_view import chip_names, map_features, page_response, records, seizure_rows

logger = logging.getLogger(__name__)

bp = Blueprint("review", __name__, url_prefix="/review")
NAV_ARGS = ("page", "pos", "sample")
_WHOLE = re.compile(r"[0-9]{1,7}")
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,120}")
MAX_BULK = 200


def role() -> Role:
    return current_role()


def _whole(name: str, default: int, low: int = 0) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _WHOLE.fullmatch(raw.strip()) or int(raw) < low:
        raise BadRequestError(f"{name} must be a whole number from {low}", parameter=name)
    return int(raw)


def current_filter() -> ClearingFilter:
    """The filter in the request's URL; a bad one is a 400 naming the parameter."""
    try:
        return parse_filters(request.args, extra=NAV_ARGS + ("current", "step"), default_status=("new",))
    except FilterError as err:
        raise BadRequestError(err.message, parameter=err.parameter) from err


def _clearing_id(raw: str) -> str:
    if not _ID.fullmatch(raw):
        raise NotFoundError("no such clearing", parameter="clearing")
    return raw


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, default=str), status=status, mimetype="application/json")


@bp.get("/")
@roles_allowed(*DESK_ROLES)
def queue() -> Response:
    """The queue of clearings, riskiest first."""
    flt = current_filter()
    page = queue_page(get_store(), flt, role(), _whole("page", 1, 1))
    rows = records(page.rows)
    # links built once and filled in per row (url_for per row and link was half the page's time)
    page_link = url_for(".clearing", cid="__ID__")
    decide_link = url_for(".decision", cid="__ID__")
    for pos, row in enumerate(rows, start=page.offset):
        cid = quote(str(row["clearing_id"]), safe="")
        row["href"] = page_link.replace("__ID__", cid) + _query(flt.query(pos=str(pos)))
        row["decide"] = decide_link.replace("__ID__", cid)
    html = render_template(
        "review_queue.html", page=page, rows=rows, flt=flt, can_decide=role() in DECIDE_ROLES,
        reasons=DISMISS_REASONS, user=current_user_name(), role=role(),
    )
    return page_response(html)


def _render_clearing(cid: str, status: int = 200, conflict: ReviewConflict | None = None) -> Response:
    dossier = clearing_dossier(get_store(), cid, role())
    if dossier is None:
        raise NotFoundError(f"no clearing {cid!r}", parameter="clearing")
    flt = current_filter()
    pos = _whole("pos", -1, 0) if "pos" in request.args else None
    seizure_columns, seizures = seizure_rows(dossier.links, dossier.seizures)
    html = render_template(
        "review_clearing.html", d=dossier, c=dossier.clearing, flt=flt, pos=pos, sample=request.args.get("sample"),
        chips=chip_names(dossier.clearing), trail=records(dossier.trail), can_decide=role() in DECIDE_ROLES,
        concessions=records(dossier.touches["concessions"]), areas=records(dossier.touches["protected_areas"]),
        seizure_columns=seizure_columns, seizures=seizures,
        reasons=DISMISS_REASONS, decisions=DECISIONS, conflict=conflict,
        user=current_user_name(), role=role(),
        geojson=orjson.dumps(map_features(dossier.clearing, dossier.touches)).decode(),
    )
    return page_response(html, status)


@bp.get("/clearings/<cid>")
@roles_allowed(*DESK_ROLES)
def clearing(cid: str) -> Response:
    """A clearing's page."""
    return _render_clearing(_clearing_id(cid))


def _decision_from_form(cid: str) -> Decision:
    form = request.form
    version = form.get("version", "")
    if not _WHOLE.fullmatch(version):
        raise BadRequestError("version (the status version the decision was made on) must be a whole number", parameter="version")
    sample = form.get("sample_id") or None
    return Decision(cid, form.get("decision", ""), int(version), reason=form.get("reason") or None,
                    comment=form.get("comment", ""), mode="sample" if sample else "queue", sample_id=sample)


def _next_url() -> str | None:
    target = request.form.get("next", "")
    # only a path of the desk itself: no open redirect
    return target if re.fullmatch(r"/review/[A-Za-z0-9_./?&=%:+,-]*", target) and "//" not in target else None


@bp.post("/clearings/<cid>/decision")
@roles_allowed(*DECIDE_ROLES)
def decision(cid: str) -> Response:
    """Record a decision; 303 to ``next`` (or the clearing), JSON for scripts, 409 on a conflict."""
    cid = _clearing_id(cid)
    dec = _decision_from_form(cid)
    user = current_user_name()
    try:
        row = decide(get_writer(), dec, user)
    except ReviewConflict as err:
        latest = dict(err.latest or {})
        if wants_json():
            return _json({"error": "conflict", "status": 409, "message": str(err), "version": err.version,
                          "latest": {k: latest.get(k) for k in ("user", "decision", "to_status", "reason", "comment", "decided")}}, 409)
        return _render_clearing(cid, 409, conflict=err)
    except ReviewError as err:
        if wants_json():
            return _json({"error": "bad_request", "status": 400, "message": str(err)}, 400)
        raise BadRequestError(str(err), parameter="decision") from err
    if wants_json():
        return _json({"clearing_id": cid, "review_status": row["to_status"], "version": dec.version + 1, "decision": row["decision"]})
    return redirect(_next_url() or url_for(".clearing", cid=cid), code=303)


@bp.post("/bulk")
@roles_allowed(*DECIDE_ROLES)
def bulk() -> Response:
    """One decision for the selected clearings (``clearing`` values ``ID:VERSION``)."""
    picked = request.form.getlist("clearing")
    if not picked:
        raise BadRequestError("select at least one clearing", parameter="clearing")
    if len(picked) > MAX_BULK:
        raise BadRequestError(f"select at most {MAX_BULK} clearings at once", parameter="clearing")
    decisions = []
    for item in picked:
        cid, _, version = item.rpartition(":")
        if not _ID.fullmatch(cid) or not _WHOLE.fullmatch(version):
            raise BadRequestError("each selected clearing is sent as ID:VERSION", parameter="clearing")
        form = request.form
        decisions.append(Decision(cid, form.get("decision", ""), int(version), reason=form.get("reason") or None,
                                  comment=form.get("comment", "")))
    try:
        for d in decisions:
            d.checked()
    except ReviewError as err:
        raise BadRequestError(str(err), parameter="decision") from err
    outcome = decide_many(get_writer(), decisions, current_user_name())
    status = 409 if outcome.conflicts else 200
    if wants_json():
        return _json({"recorded": [r["clearing_id"] for r in outcome.recorded], "conflicts": [c.clearing_id for c in outcome.conflicts],
                      "refused": [{"clearing_id": c, "message": m} for c, m in outcome.refused]}, status)
    html = render_template("review_bulk.html", outcome=outcome, user=current_user_name(), role=role(), back=_next_url())
    return page_response(html, status)


@bp.get("/step")
@roles_allowed(*DESK_ROLES)
def step() -> Response:
    """Redirect to the clearing after (``step=1``) or before (``step=-1``) ``current`` in the queue."""
    flt = current_filter()
    current = _clearing_id(request.args.get("current", ""))
    direction = 1 if request.args.get("step", "1") != "-1" else -1
    found = neighbour(get_store(), flt, _whole("pos", 0, 0), current, direction)
    if found is None:
        return redirect(url_for(".queue") + _query(flt.query()), code=303)
    cid, pos = found
    return redirect(url_for(".clearing", cid=cid) + _query(flt.query(pos=str(pos))), code=303)


def _query(pairs: list[tuple[str, str]]) -> str:
    return ("?" + urlencode(pairs)) if pairs else ""
