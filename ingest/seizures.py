"""``ecowatch ingest seizures FILE``: timber and wildlife seizure records from CSV.

Columns (header names; extra columns are ignored, order is free):

=====================  ==========================================================================
``date``               required; YYYY-MM-DD (or the format the mapping declares)
``commodity_group``    required; ``timber`` or ``wildlife``
``lon``, ``lat``       required; decimal degrees (WGS 84)
``seizure_id``         optional natural key (e.g. the case number); else a hash of the row
``commodity``, ``species``, ``cites_appendix``, ``transport_mode``, ``origin_country``,
``destination_country``, ``agency``, ``case_reference``, ``notes``, ``location_precision``: text
``quantity``           a finite number >= 0; ``unit`` one of kg, t, m3, pieces, logs
``synthetic``          true for generated records
=====================  ==========================================================================
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from config import Settings
from ingest.errors import RecordError, SourceError, TooManyRejectsError
from ingest.mapping import FieldMapping, convert_value
from ingest.runs import Run, recorded_run
from layers.catalog import get_layer
from layers.store import STORE_CRS, Store

logger = logging.getLogger(__name__)

GROUPS = ("timber", "wildlife")
UNITS = ("kg", "t", "m3", "pieces", "logs")
REQUIRED = ("date", "commodity_group", "lon", "lat")
TEXT_FIELDS = (
    "commodity", "species", "cites_appendix", "transport_mode", "origin_country", "destination_country",
    "agency", "case_reference", "notes", "location_precision",
)


def read_csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) pairs of a CSV file, parsed strictly.

    Raises
    ------
    SourceError
        Missing file, undecodable text, an unterminated quote or another CSV syntax error,
        with the line where it happened.
    """
    if not path.is_file():
        raise SourceError(str(path), "no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            header = next(reader, None)
            if header is None:
                raise SourceError(str(path), "is empty; expected a header line with " + ", ".join(REQUIRED))
            header = [h.strip() for h in header]
            rows = []
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    rows.append((line, {"__error__": f"{len(row)} cells, the header has {len(header)}", **dict(zip(header, row, strict=False))}))
                    continue
                rows.append((line, dict(zip(header, row, strict=True))))
    except UnicodeDecodeError as err:
        raise SourceError(str(path), f"is not UTF-8 text (byte {err.start}): save it as UTF-8") from err
    except csv.Error as err:
        raise SourceError(str(path), f"CSV syntax error near line {reader.line_num}: {err}") from err
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise SourceError(str(path), f"lacks required column(s) {missing}; columns: {header}")
    return header, rows


def _record(source: str, line: int, raw: dict[str, str], date_format: str | None) -> dict[str, Any]:
    if "__error__" in raw:
        raise RecordError(source, line, "", None, raw["__error__"])
    rec: dict[str, Any] = {}
    try:
        rec["date"] = convert_value(raw["date"], "date", date_format)
    except ValueError as err:
        raise RecordError(source, line, "date", raw["date"], str(err)) from None
    group = raw["commodity_group"].strip().lower()
    if group not in GROUPS:
        raise RecordError(source, line, "commodity_group", raw["commodity_group"], f"must be one of {', '.join(GROUPS)}")
    rec["commodity_group"] = group
    for name, lo, hi in (("lon", -180.0, 180.0), ("lat", -90.0, 90.0)):
        text = raw[name].strip()
        try:
            value = float(text)
        except ValueError:
            raise RecordError(source, line, name, text, "not a number (decimal degrees)") from None
        if not math.isfinite(value) or not lo <= value <= hi:
            raise RecordError(source, line, name, text, f"outside {lo:g}..{hi:g}")
        rec[name] = value
    qty_text = raw.get("quantity", "").strip()
    if qty_text:
        try:
            qty = float(qty_text)
        except ValueError:
            raise RecordError(source, line, "quantity", qty_text, "not a number") from None
        if not math.isfinite(qty) or qty < 0:
            raise RecordError(source, line, "quantity", qty_text, "must be a finite number >= 0")
        rec["quantity"] = qty
    unit = raw.get("unit", "").strip().lower().replace("³", "3")
    if unit and unit not in UNITS:
        raise RecordError(source, line, "unit", raw.get("unit"), f"must be one of {', '.join(UNITS)}")
    rec["unit"] = unit or None
    for name in TEXT_FIELDS:
        rec[name] = raw.get(name, "").strip() or None
    rec["synthetic"] = raw.get("synthetic", "").strip().lower() in ("1", "true", "yes")
    given = raw.get("seizure_id", "").strip()
    canonical = "|".join(f"{k}={raw.get(k, '').strip()}" for k in sorted(raw) if k != "seizure_id")
    rec["seizure_id"] = given or "SZ-" + hashlib.sha1(canonical.encode()).hexdigest()[:12]
    return rec


def ingest_seizures(store: Store, settings: Settings, path: Path, *, mapping: FieldMapping | None = None, strict: bool = False) -> Run:
    """Validate and store seizure records; bad rows are rejected with the reason, good rows land."""
    path = Path(path)
    date_rule = (mapping or FieldMapping()).rules.get("date")
    date_format = date_rule.format if date_rule else None
    layer = get_layer("seizures")
    with recorded_run(store, f"ingest seizures {path.name}") as run:
        header, rows = read_csv_rows(path)
        run.read = len(rows)
        good: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        for line, raw in rows:
            try:
                rec = _record(path.name, line, raw, date_format)
                if rec["seizure_id"] in seen:
                    raise RecordError(path.name, line, "seizure_id", rec["seizure_id"], f"duplicates line {seen[rec['seizure_id']]}")
            except RecordError as err:
                run.reject(err, raw)
                continue
            seen[rec["seizure_id"]] = line
            good.append(rec)
        if strict and run.rejected:
            raise TooManyRejectsError(f"{run.rejected} row(s) rejected and --strict given; nothing was written")
        run.check_rejects(settings.rejects_max_share)
        frame = pd.DataFrame(good, columns=[*layer.field_names, "lon", "lat"])
        frame["source"] = path.name
        geo = gpd.GeoDataFrame(
            frame.drop(columns=["lon", "lat"]), geometry=shapely.points(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)), crs=STORE_CRS
        )
        with store.transaction():
            counts = store.upsert("seizures", geo)
            if bool(frame["synthetic"].any()):
                store.set_layer_info("seizures", synthetic=True)
        run.written = counts.written
        run.message = f"seizures: {counts.inserted} new, {counts.updated} updated, {counts.unchanged} unchanged; " + run.summary()
    return run
