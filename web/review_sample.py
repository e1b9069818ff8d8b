"""Sample mode and what the reviews say: random units per stratum, and accuracy with intervals.

``GET  /review/sample[?id=S]``             the units of a sample (the latest by default), decided or not
``POST /review/sample``                    draw a new sample (analysts)
``GET  /review/sample/points/<unit>?id=S`` a random point of the no-alert stratum, to decide on
``GET  /review/accuracy[?id=S&aoi=&from=&to=]``  user's accuracy per stratum, area and omission

Only decisions made in sample mode count; the risk-sorted queue's never do (:mod:`layers.review_sample`).
"""

from __future__ import annotations

import datetime as dt
import re

import orjson
from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from layers.accuracy import estimate
from layers.errors import FilterError, ReviewError
from layers.filters import parse_filters
from layers.review_sample import draw_sample, latest_sample, sample_units, strata_table
from layers.reviews import DISMISS_REASONS, trail
from web.access import roles_allowed
from web.app_state import get_store, get_writer
from web.errors import BadRequestError, NotFoundError
from web.review import role
from web.review_access import DECIDE_ROLES, DESK_ROLES, current_user_name
from web.review_view import page_response

bp = Blueprint("review_sample", __name__, url_prefix="/review")
_SAMPLE_ID = re.compile(r"S-[0-9]{14}-[0-9a-f]{6}")


def _sample_id(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return latest_sample(get_store())
    if not _SAMPLE_ID.fullmatch(raw):
        raise BadRequestError("id is not a sample id (S-YYYYmmddHHMMSS-xxxxxx)", parameter="id")
    return raw


def _units(sample_id: str) -> object:
    try:
        return sample_units(get_store(), sample_id)
    except ReviewError as err:
        raise NotFoundError(str(err), parameter="id") from err


@bp.get("/sample")
@roles_allowed(*DESK_ROLES)
def sample() -> Response:
    """The units of a sample, by stratum."""
    sid = _sample_id(request.args.get("id"))
    units = None if sid is None else _units(sid)
    html = render_template("review_sample.html", sample_id=sid, units=None if units is None else units.to_dict("records"),  # type: ignore[attr-defined]
                           can_decide=role() in DECIDE_ROLES, user=current_user_name(), role=role())
    return page_response(html)


def _form_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.form.get(name, "").strip() or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequestError(f"{name} must be a whole number from {low} to {high}", parameter=name)
    return int(raw)


@bp.post("/sample")
@roles_allowed(*DECIDE_ROLES)
def new_sample() -> Response:
    """Draw a sample: ``per_stratum`` alerts per stratum, ``points`` per AOI outside the alerts."""
    try:
        flt = parse_filters({k: v for k, v in request.form.items() if k in ("aoi", "from", "to", "period") and v},
                            extra=())
    except FilterError as err:
        raise BadRequestError(err.message, parameter=err.parameter) from err
    seed_raw = request.form.get("seed", "").strip()
    seed = _form_int("seed", 0, 0, 2**31 - 1) if seed_raw else None
    try:
        sid = draw_sample(get_writer(), per_stratum=_form_int("per_stratum", 10, 2, 500), points_per_aoi=_form_int("points", 0, 0, 5000),
                          aoi=flt.aoi, first=flt.first, last=flt.last, seed=seed)
    except ReviewError as err:
        raise BadRequestError(str(err), parameter="sample") from err
    return redirect(url_for(".sample", id=sid), code=303)


@bp.get("/sample/points/<unit>")
@roles_allowed(*DESK_ROLES)
def point(unit: str) -> Response:
    """A point of the no-alert stratum: is there a clearing here?"""
    sid = _sample_id(request.args.get("id"))
    if sid is None:
        raise NotFoundError("no sample has been drawn", parameter="id")
    units = _units(sid)
    rows = units[units["unit_id"] == unit]  # type: ignore[index]
    if rows.empty or not unit.startswith("PT-"):
        raise NotFoundError("no such point in this sample", parameter="unit")
    rec = rows.iloc[0]
    decided = trail(get_store(), unit)
    version = len(decided)  # a point's versions are the decisions on it
    geo = orjson.dumps({"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(rec["lon"]), float(rec["lat"])]}, "properties": {}}).decode()
    html = render_template("review_point.html", unit=unit, sample_id=sid, lon=rec["lon"], lat=rec["lat"], stratum=rec["stratum"],
                           version=version, decided=decided.to_dict("records"), geojson=geo, reasons=DISMISS_REASONS,
                           can_decide=role() in DECIDE_ROLES, user=current_user_name(), role=role())
    return page_response(html)


@bp.get("/accuracy")
@roles_allowed(*DESK_ROLES)
def accuracy() -> Response:
    """User's accuracy per stratum, of all alerts, and (with a no-alert stratum) area and omission."""
    sid = _sample_id(request.args.get("id"))
    try:
        flt = parse_filters(request.args, extra=("id",))
    except FilterError as err:
        raise BadRequestError(err.message, parameter=err.parameter) from err
    report = table = None
    if sid is not None:
        table = strata_table(_units(sid), aoi=flt.aoi, first=flt.first, last=flt.last)
        report = estimate(table)
    html = render_template("review_accuracy.html", sample_id=sid, report=report, table=None if table is None else table.to_dict("records"),
                           flt=flt, today=dt.date.today(), user=current_user_name(), role=role())
    return page_response(html)
