"""What an evidence report states, as plain data: one clearing (or corridor hotspot segment) for one role.

The report's HTML, its PDF and the JSON stored beside them (:mod:`layers.evidence_seal`) are all
made from the dict these functions return, so the digest printed in a report covers everything
it says. Every row comes through the one redaction gate (:mod:`layers.redaction`):

- a role that sees exact seizures gets each linked seizure with its date, commodity, agency,
  case reference, exact point and the link's distance, lag and score;
- a role that sees generalised seizures (ngo) gets only the counts of ``links_generalised``
  (computed over the published seizures), so no seizure id, agency, case reference, point or
  distance is in its report, nor any value from which one could be worked out; the review trail
  without reviewer names and comments (both sensitive in the catalogue); no run message (the
  ``ingest_runs`` table is refused to it).

Values are JSON-ready: dates ``YYYY-MM-DD``, times ``…Z``, coordinates rounded to 7 decimals
(lon/lat) and 0.01 m (UTM).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from config.settings import CONFIG_DIR
from layers.catalog import get_layer
from layers.errors import EvidenceError
from layers.redaction import Access, read_redacted, redact
from layers.reviews import trail
from layers.store import STORE_CRS, Store

logger = logging.getLogger(__name__)

REPORT_VERSION = 1
CLEARING_FIELDS = ("clearing_id", "aoi", "area_ha", "first_detected", "last_observed", "confidence", "risk", "review_status",
                   "status_version", "merged_into", "synthetic")
CONCESSION_FIELDS = ("source_id", "holder", "purpose", "purpose_category", "status", "valid_from", "valid_to", "cancelled", "country",
                     "area_ha", "source")
AREA_FIELDS = ("source_id", "name", "designation", "iucn_category", "area_ha", "source")
SEIZURE_FIELDS = ("seizure_id", "date", "commodity_group", "commodity", "species", "cites_appendix", "quantity", "unit",
                  "transport_mode", "origin_country", "destination_country", "agency", "case_reference", "location_precision", "source")
TRAIL_FIELDS = ("decided", "user", "decision", "from_status", "to_status", "reason", "comment", "status_version", "outcome", "mode")
HOTSPOT_FIELDS = ("period", "hot_class", "trend", "gi_z", "gi_p", "incidents", "cleared_ha", "flagged_clearings",
                  "seizures_timber", "seizures_wildlife", "latest", "synthetic")


LICENCES_FILE = CONFIG_DIR / "licences.toml"


def load_licences(path: Path = LICENCES_FILE) -> list[dict[str, str]]:
    """The ``[[source]]`` entries of the licences file (``match``, ``licence``, ``attribution``).

    Raises
    ------
    ValueError
        When the file is not TOML or an entry lacks ``match`` or ``licence`` (the message names the entry).
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"{path}: cannot read the licences ({err})") from err
    entries = doc.get("source", [])
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not entry.get("match") or not entry.get("licence"):
            raise ValueError(f"{path}: [[source]] number {i} needs 'match' and 'licence'")
    return [{k: str(v) for k, v in e.items()} for e in entries]


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data (``None`` for missing, ISO dates, Python numbers)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(value)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        return ts.date().isoformat() if ts == ts.normalize() else ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return value


def _rows(frame: pd.DataFrame, fields: Sequence[str]) -> list[dict[str, Any]]:
    names = [f for f in fields if f in frame.columns]
    return [{f: plain(rec[f]) for f in names} for rec in frame[names].to_dict("records")] if len(frame) else []


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 / UTM zone holding (``lon``, ``lat``)."""
    zone = min(60, max(1, int(math.floor((lon + 180.0) / 6.0)) + 1))
    return (32600 if lat >= 0 else 32700) + zone


def coordinates(geom: shapely.Geometry) -> dict[str, Any]:
    """The polygon's rings in lon/lat (7 decimals) and in its centroid's UTM zone (metres, 2 decimals)."""
    centre = geom.centroid
    epsg = utm_epsg(centre.x, centre.y)
    projected = gpd.GeoSeries([geom], crs=STORE_CRS).to_crs(epsg).iloc[0]

    def rings(g: shapely.Geometry, ndigits: int) -> list[list[list[list[float]]]]:
        parts = list(getattr(g, "geoms", [g]))
        return [[[[round(x, ndigits), round(y, ndigits)] for x, y in ring.coords] for ring in (p.exterior, *p.interiors)] for p in parts]

    zone = epsg % 100
    return {
        "lonlat": {"crs": "EPSG:4326", "axis_order": "lon, lat", "polygons": rings(geom, 7)},
        "utm": {"crs": f"EPSG:{epsg}", "zone": f"{zone}{'N' if epsg < 32700 else 'S'}", "axis_order": "easting, northing",
                "polygons": rings(projected, 2)},
        "centroid": {"lon": round(centre.x, 7), "lat": round(centre.y, 7),
                     "easting": round(projected.centroid.x, 2), "northing": round(projected.centroid.y, 2)},
    }


def _flags(clearing: Mapping[str, Any]) -> list[dict[str, Any]]:
    codes = clearing.get("flags") or []
    reasons = clearing.get("reasons") or []
    out = [{"code": str(c), "reason": str(reasons[i]) if i < len(reasons) and len(reasons) == len(codes) else None} for i, c in enumerate(codes)]
    if len(reasons) != len(codes):  # sentences that do not pair one-to-one with the codes are kept as they are
        out += [{"code": None, "reason": str(r)} for r in reasons]
    return out


def _imagery(store: Store, clearing: Mapping[str, Any], access: Access) -> dict[str, Any]:
    scenes = pd.DataFrame()
    if access.role != "viewer":  # the viewer reads public layers only
        scenes = read_redacted(store, get_layer("scenes"), access, where={"aoi": clearing.get("aoi")}, columns=["provider", "acquired", "synthetic"])
    out: dict[str, Any] = {"method": plain(clearing.get("method")), "ndvi_drop": plain(clearing.get("ndvi_drop")),
                           "swir_drop": plain(clearing.get("nbr_drop")), "first_detected": plain(clearing.get("first_detected")),
                           "last_observed": plain(clearing.get("last_observed"))}
    if len(scenes):
        dates = sorted(pd.to_datetime(scenes["acquired"]).dt.date)
        first = clearing.get("first_detected")
        first_day = pd.Timestamp(first).date() if first is not None and not pd.isna(first) else None
        out.update({
            "acquisitions": len(dates), "from": dates[0].isoformat(), "to": dates[-1].isoformat(),
            "providers": sorted({str(p) for p in scenes["provider"].dropna()}),
            "last_before_detection": next((d.isoformat() for d in reversed(dates) if first_day and d < first_day), None),
            "synthetic": bool(scenes["synthetic"].fillna(False).astype(bool).any()) if "synthetic" in scenes else False,
        })
    return out


def _run(store: Store, run_id: Any, access: Access) -> dict[str, Any] | None:
    if not run_id or access.generalised or access.role == "viewer":
        return {"run_id": plain(run_id)} if run_id else None
    runs = store.read("ingest_runs", where={"run_id": run_id}, columns=["run_id", "command", "started", "finished", "status", "message"])
    return {k: plain(v) for k, v in runs.iloc[0].items()} if len(runs) else {"run_id": plain(run_id)}


def _seizures(store: Store, clearing_id: str, access: Access) -> dict[str, Any]:
    """Linked seizures as the role sees them: rows with links (exact roles), or counts only (generalised)."""
    if access.role == "viewer":
        return {"kind": "none", "note": "seizures are not shown to this role"}
    if access.generalised:
        counts = read_redacted(store, get_layer("links"), access, where={"clearing_id": clearing_id})
        rec = counts.iloc[0] if len(counts) else None
        return {"kind": "counts", "linked": int(rec["seizures"]) if rec is not None else 0,
                "timber": int(rec["seizures_timber"]) if rec is not None and not pd.isna(rec["seizures_timber"]) else 0,
                "wildlife": int(rec["seizures_wildlife"]) if rec is not None and not pd.isna(rec["seizures_wildlife"]) else 0,
                "note": "counts over seizures generalised to their grid cell; ids, agencies, case references and points withheld"}
    links = read_redacted(store, get_layer("links"), access, where={"clearing_id": clearing_id}, order_by=["-score"])
    rows: list[dict[str, Any]] = []
    if len(links):
        found = read_redacted(store, get_layer("seizures"), access, where={"seizure_id": list(links["seizure_id"])})
        by_id = {r["seizure_id"]: r for r in found.to_dict("records")}
        for link in links.to_dict("records"):
            s = by_id.get(link["seizure_id"])
            if s is None:
                continue
            row = {f: plain(s.get(f)) for f in SEIZURE_FIELDS}
            pt = s.get("geometry")
            row.update({"lon": round(pt.x, 7) if pt is not None else None, "lat": round(pt.y, 7) if pt is not None else None,
                        "distance_km": plain(link.get("distance_km")), "lag_days": plain(link.get("lag_days")),
                        "score": plain(link.get("score")), "link_reasons": plain(link.get("reasons"))})
            rows.append(row)
    return {"kind": "rows", "rows": rows}


def _touching(store: Store, geom: shapely.Geometry, access: Access) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name, fields in (("concessions", CONCESSION_FIELDS), ("protected_areas", AREA_FIELDS)):
        near = read_redacted(store, get_layer(name), access, bbox=tuple(geom.bounds))
        hit = near[near.intersects(geom)] if len(near) else near
        out[name] = _rows(hit.sort_values([c for c in ("source", "source_id") if c in hit.columns]) if len(hit) else hit, fields)
    return out


def _sources(store: Store, layers_used: Mapping[str, Sequence[str]], licences: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """One entry per (layer, source) the report draws on, with its licence from ``licences`` (first match wins)."""
    out = []
    for layer, names in layers_used.items():
        synthetic = bool(store.layer_info(layer).get("synthetic"))
        for name in sorted(set(names)):
            match = next((lic for lic in licences if str(lic.get("match", "")).lower() in name.lower()), None)
            out.append({"layer": layer, "source": name, "synthetic": synthetic,
                        "licence": match.get("licence") if match else "not recorded (add it to config/licences.toml)",
                        "attribution": match.get("attribution", "") if match else ""})
    return out


def _corridor_sources(store: Store, access: Access) -> list[str]:
    names = read_redacted(store, get_layer("corridors"), access, columns=["source"])
    return [str(s) for s in names["source"].dropna()] if len(names) else []


def chip_entries(chips: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """The chips as the report states them: name, size and SHA-256 of the PNG (the images themselves are beside)."""
    return [{"name": n, "bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in chips.items()]


def clearing_evidence(store: Store, clearing_id: str, access: Access, *, chips: Mapping[str, bytes], licences: Sequence[Mapping[str, str]],
                      generated: dt.datetime) -> dict[str, Any]:
    """Everything the evidence report of ``clearing_id`` states for ``access``.

    Raises
    ------
    EvidenceError
        When there is no such clearing, or the role may not see it (the viewer: unconfirmed ones).
    """
    rows = read_redacted(store, get_layer("clearings"), access, where={"clearing_id": clearing_id})
    if rows.empty:
        raise EvidenceError(f"no clearing {clearing_id!r}")
    row = rows.iloc[0]
    clearing = {k: v for k, v in row.items()}
    geom = row.geometry
    touches = _touching(store, geom, access)
    seizures: dict[str, Any] = _seizures(store, clearing_id, access)
    trail_rows = redact(get_layer("reviews"), trail(store, clearing_id), access)
    imagery = _imagery(store, clearing, access)
    used: dict[str, list[str]] = {
        "concessions": [r["source"] for r in touches["concessions"] if r.get("source")],
        "protected_areas": [r["source"] for r in touches["protected_areas"] if r.get("source")],
        "scenes": [f"{p} imagery" for p in imagery.get("providers", [])] or ["Sentinel-2 imagery"],
    }
    if seizures.get("kind") == "rows":
        seizure_rows: list[dict[str, Any]] = seizures["rows"]
        used["seizures"] = [r["source"] for r in seizure_rows if r.get("source")]
    return {
        "report": "clearing", "report_version": REPORT_VERSION, "generated": plain(generated), "role": access.role,
        "clearing": {f: plain(clearing.get(f)) for f in CLEARING_FIELDS},
        "flags": _flags(clearing), "risk": plain(clearing.get("risk")), "risk_reasons": plain(clearing.get("risk_reasons") or []),
        "imagery": imagery, "run": _run(store, clearing.get("run_id"), access),
        "overlaps": touches, "seizures": seizures,
        "trail": _rows(trail_rows, TRAIL_FIELDS),
        "trail_note": None if not access.generalised and access.role != "viewer" else "reviewer names and comments withheld for this role",
        "geometry": coordinates(geom), "chips": chip_entries(chips),
        "sources": _sources(store, used, licences),
    }


def segment_evidence(store: Store, segment_id: str, access: Access, *, licences: Sequence[Mapping[str, str]], generated: dt.datetime) -> dict[str, Any]:
    """Everything the evidence report of corridor segment ``segment_id`` states for ``access``: the
    segment, its hotspot statistics for every period (over the seizures as the role sees them),
    its line's coordinates.

    Raises
    ------
    EvidenceError
        When there is no such segment.
    """
    segs = read_redacted(store, get_layer("corridor_segments"), access, where={"segment_id": segment_id})
    periods = read_redacted(store, get_layer("hotspot_segments"), access, where={"segment_id": segment_id})
    if segs.empty and periods.empty:
        raise EvidenceError(f"no corridor segment {segment_id!r}")
    seg = segs.iloc[0] if len(segs) else periods.iloc[0]
    geom = seg.geometry
    periods = periods.sort_values("period") if len(periods) else periods
    line = [[[round(x, 7), round(y, 7)] for x, y in part.coords] for part in getattr(geom, "geoms", [geom])]
    centre = geom.centroid
    epsg = utm_epsg(centre.x, centre.y)
    projected = gpd.GeoSeries([geom], crs=STORE_CRS).to_crs(epsg).iloc[0]
    utm = [[[round(x, 2), round(y, 2)] for x, y in part.coords] for part in getattr(projected, "geoms", [projected])]
    info = {f: plain(seg.get(f)) for f in ("segment_id", "corridor", "sub_corridor", "km_from", "km_to")}
    return {
        "report": "hotspot_segment", "report_version": REPORT_VERSION, "generated": plain(generated), "role": access.role,
        "segment": info, "periods": _rows(periods, HOTSPOT_FIELDS),
        "note": None if not access.generalised else "statistics over seizures generalised to their grid cell (cells with fewer than 3 left out)",
        "geometry": {"lonlat": {"crs": "EPSG:4326", "axis_order": "lon, lat", "lines": line},
                     "utm": {"crs": f"EPSG:{epsg}", "zone": f"{epsg % 100}{'N' if epsg < 32700 else 'S'}", "axis_order": "easting, northing",
                             "lines": utm},
                     "length_km": round(projected.length / 1000.0, 3)},
        "method": "Getis-Ord Gi* over incidents (flagged clearings + seizures) per corridor segment and period; see docs/analysis.md",
        "sources": _sources(store, {"corridors": _corridor_sources(store, access)}, licences),
    }
