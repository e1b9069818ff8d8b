"""Evidence reports in the app, and the one function that builds a report (the command line's too).

``GET /reports/clearings/<id>``        the report page (HTML, self-contained)
``GET /reports/clearings/<id>.pdf``    the same page printed by Chromium
``GET /reports/clearings/<id>.json``   the sealed canonical data (``{"sha256", "report"}``)
``GET /reports/segments/<id>`` (+ ``.pdf``, ``.json``)   a corridor hotspot segment

Planners, analysts, ngo users and admins may ask; what a report states is what the caller's role
sees (:mod:`layers.evidence` reads through the redaction gate). A PDF or JSON download is written
to the access log as an export.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, request

from config import Settings
from jobs.evidence_chips import report_chips
from layers.access_log import record_event
from layers.catalog import get_layer
from layers.errors import EvidenceError
from layers.evidence import clearing_evidence, load_licences, segment_evidence
from layers.evidence_seal import canonical_bytes, digest, sealed
from layers.redaction import Access, read_redacted
from layers.store import Store
from web.access import client_address, current_role, roles_allowed
from web.app_state import app_state, get_store, get_writer
from web.errors import NotFoundError, WebError
from web.evidence_render import PdfError, html_to_pdf, render_report_html, report_policy

logger = logging.getLogger(__name__)

bp = Blueprint("evidence", __name__, url_prefix="/reports")
REPORT_ROLES = ("planner", "analyst", "ngo", "admin")
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,120}")


@dataclass(frozen=True)
class BuiltReport:
    """A report's data, its digest and the chip images it describes."""

    data: dict[str, Any]
    sha256: str
    chips: dict[str, bytes]

    def html(self) -> str:
        return render_report_html(self.data, self.sha256, self.chips)

    def sealed_json(self) -> bytes:
        return canonical_bytes(sealed(self.data))


def build_report(store: Store, settings: Settings, access: Access, kind: str, ident: str, *, now: dt.datetime | None = None) -> BuiltReport:
    """The report of clearing (``kind`` "clearing") or corridor segment ("segment") ``ident`` for ``access``.

    Raises
    ------
    EvidenceError
        When there is no such clearing or segment for this role.
    """
    now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
    licences = load_licences()
    if kind == "segment":
        data = segment_evidence(store, ident, access, licences=licences, generated=now)
        return BuiltReport(data, digest(data), {})
    rows = read_redacted(store, get_layer("clearings"), access, where={"clearing_id": ident}, columns=["clearing_id", "aoi", "quicklooks"])
    if rows.empty:
        raise EvidenceError(f"no clearing {ident!r}")
    chips = report_chips(store, settings, ident, str(rows["aoi"].iloc[0]), rows["quicklooks"].iloc[0])
    data = clearing_evidence(store, ident, access, chips=chips, licences=licences, generated=now)
    return BuiltReport(data, digest(data), chips)


def _built(kind: str, ident: str) -> BuiltReport:
    if not _ID.fullmatch(ident):
        raise NotFoundError(f"no such {kind}", parameter=kind)
    state = app_state()
    try:
        return build_report(get_store(), state.settings, state.access(current_role()), kind, ident)
    except EvidenceError as err:
        raise NotFoundError(str(err), parameter=kind) from err


def _page(report: BuiltReport) -> Response:
    response = Response(report.html(), mimetype="text/html")
    response.headers["Content-Security-Policy"] = report_policy()
    response.headers["Cache-Control"] = "no-store"
    return response


def _download(body: bytes, mimetype: str, name: str, report: BuiltReport) -> Response:
    from flask_login import current_user

    record_event(get_writer(), "export", username=str(current_user.username), role=current_role(), address=client_address(),
                 method=request.method, path=request.path, status=200, detail=f"evidence report {name}, SHA-256 {report.sha256}")
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Report-SHA256"] = report.sha256
    return response


def _pdf(report: BuiltReport, name: str) -> Response:
    try:
        pdf = html_to_pdf(report.html())
    except PdfError as err:
        logger.error("report %s: %s", name, err)
        raise WebError("The PDF could not be printed on this server; the HTML report works.", status=503, code="unavailable") from err
    return _download(pdf, "application/pdf", name, report)


def _safe_name(ident: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", ident)


@bp.get("/clearings/<cid>")
@roles_allowed(*REPORT_ROLES)
def clearing(cid: str) -> Response:
    """A clearing's evidence report."""
    return _page(_built("clearing", cid))


@bp.get("/clearings/<cid>.pdf")
@roles_allowed(*REPORT_ROLES)
def clearing_pdf(cid: str) -> Response:
    return _pdf(_built("clearing", cid), f"ecowatch-report-{_safe_name(cid)}.pdf")


@bp.get("/clearings/<cid>.json")
@roles_allowed(*REPORT_ROLES)
def clearing_json(cid: str) -> Response:
    report = _built("clearing", cid)
    return _download(report.sealed_json(), "application/json", f"ecowatch-report-{_safe_name(cid)}.json", report)


@bp.get("/segments/<sid>")
@roles_allowed(*REPORT_ROLES)
def segment(sid: str) -> Response:
    """A corridor segment's evidence report."""
    return _page(_built("segment", sid))


@bp.get("/segments/<sid>.pdf")
@roles_allowed(*REPORT_ROLES)
def segment_pdf(sid: str) -> Response:
    return _pdf(_built("segment", sid), f"ecowatch-report-{_safe_name(sid)}.pdf")


@bp.get("/segments/<sid>.json")
@roles_allowed(*REPORT_ROLES)
def segment_json(sid: str) -> Response:
    report = _built("segment", sid)
    return _download(report.sealed_json(), "application/json", f"ecowatch-report-{_safe_name(sid)}.json", report)
