"""What the review desk's pages share: their response headers, chip names, rows for templates, URL building."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pandas as pd
from flask import Response

# scripts and styles from the app only: the desk has no inline script or style at all
REVIEW_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
    "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
])
CHIP_ORDER = ("before_true_colour", "after_true_colour", "before_false_colour", "after_false_colour", "before_ndvi", "after_ndvi")
DEFAULT_CHIPS = ("before_true_colour", "after_true_colour", "before_ndvi", "after_ndvi")


def page_response(html: str, status: int = 200) -> Response:
    """An HTML page of the desk: its CSP, never cached (it shows review state and sensitive fields)."""
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = REVIEW_POLICY
    response.headers["Cache-Control"] = "no-store"
    return response


def chip_names(clearing: dict[str, Any]) -> list[str]:
    """The chips to show: those the detect run recorded, else the usual four (made on request)."""
    known = clearing.get("quicklooks")
    if isinstance(known, dict) and known:
        return [n for n in CHIP_ORDER if n in known]
    return list(DEFAULT_CHIPS)


def _value(v: Any) -> Any:
    if isinstance(v, list | dict) or v is None:
        return v
    if isinstance(v, pd.Timestamp):
        return v.date() if v == v.normalize() else v.strftime("%Y-%m-%d %H:%M:%S")
    return None if pd.isna(v) else v


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts: missing values ``None``, dates as dates (templates show them plainly)."""
    if hasattr(frame, "geometry") and frame.geometry.name in frame.columns:
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return [{k: _value(v) for k, v in rec.items()} for rec in frame.to_dict("records")]


SEIZURE_COLUMNS = ("date", "commodity_group", "commodity", "species", "quantity", "unit", "agency", "case_reference")


def seizure_rows(links: pd.DataFrame, seizures: pd.DataFrame) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns the role sees (of :data:`SEIZURE_COLUMNS`) and one row per linked seizure, with its link."""
    columns = [c for c in SEIZURE_COLUMNS if c in seizures.columns]
    if seizures.empty or "seizure_id" not in links.columns:
        return columns, []
    by_id = {r["seizure_id"]: r for r in records(links)}
    rows = []
    for rec in records(seizures):
        link = by_id.get(rec.get("seizure_id"), {})
        rows.append({**{c: rec.get(c) for c in columns}, "distance_km": link.get("distance_km"), "lag_days": link.get("lag_days"),
                     "score": link.get("score")})
    return columns, rows


def map_features(clearing: dict[str, Any], touches: dict[str, Any]) -> dict[str, Any]:
    """GeoJSON for the small map: the clearing, and the outlines of what it touches (``kind`` says which)."""
    import shapely

    features = [{"type": "Feature", "geometry": shapely.geometry.mapping(clearing["geometry"]), "properties": {"kind": "clearing"}}]
    for kind, frame in touches.items():
        for geom in getattr(frame, "geometry", []):
            if geom is not None and not geom.is_empty:
                features.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": {"kind": kind}})
    return {"type": "FeatureCollection", "features": features}


def with_query(path: str, pairs: list[tuple[str, str]]) -> str:
    """``path`` with the query-string ``pairs`` (a Jinja filter: ``url|with_query(flt.query(page='2'))``)."""
    return path + ("?" + urlencode(pairs) if pairs else "")
