"""Seizure rows -> validated records, column by column (each distinct value is parsed once).

:func:`schema_columns` applies a mapping (``[fields]`` of the seizure schema, see
:mod:`jobs.ingest_seizures`) to a table; :func:`validate` checks every cell and returns the records
that passed, one error per rejected row (its first problem), and the notes (repairs, warnings)
of the rows that landed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ingest.dates import parse_dates
from ingest.errors import RecordError, SourceError
from ingest.mapping import FieldMapping, FieldRule, categorise
from ingest.readers.tables import Table
from ingest.seizures.fields import parse_bool, parse_group, parse_mode, parse_quantity, parse_unit
from ingest.seizures.locations import (
    PRECISIONS,
    Gazetteer,
    parse_degrees,
    parse_utm_zone,
    utm_to_lonlat,
)
from ingest.seizures.species import SpeciesList, normalise_appendix
from ingest.text import MARKUP_NOTE, check_many
from layers.opaque_ids import content_id

logger = logging.getLogger(__name__)

SCHEMA = (
    "seizure_id", "date", "commodity_group", "commodity", "species", "cites_appendix", "quantity", "unit",
    "transport_mode", "origin_country", "transit_country", "destination_country", "agency", "case_reference", "notes",
    "location_precision", "lon", "lat", "utm_zone", "easting", "northing", "place", "country", "synthetic",
)
FREE_TEXT = ("commodity", "origin_country", "transit_country", "destination_country", "agency", "case_reference", "notes", "place")
STORED = (
    "seizure_id", "date", "commodity_group", "commodity", "species", "cites_appendix", "quantity", "unit", "transport_mode",
    "origin_country", "transit_country", "destination_country", "agency", "case_reference", "notes", "location_precision",
    "place", "synthetic",
)
TEXT_CHECKED = frozenset(("seizure_id", "commodity", "species", "country", *FREE_TEXT))
LOCATION_HELP = "give lon and lat (decimal degrees or degrees-minutes-seconds), utm_zone with easting and northing, or a place or country name"


def _blank(v: Any) -> bool:
    return v is None or v is pd.NaT or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())


def check_columns(table: Table, mapping: FieldMapping) -> dict[str, str]:
    """The source column (or rule) behind each schema field; ``SourceError`` for an unusable mapping or header."""
    for rule in mapping.rules.values():
        if rule.target not in SCHEMA:
            raise SourceError(table.name, f"mapping names field {rule.target!r}, which the seizure schema does not have; fields: {', '.join(SCHEMA)}")
        if rule.add_years:
            raise SourceError(table.name, f"mapping for {rule.target!r}: add_years is for boundary validity dates, not seizures")
        for col in (rule.column, *rule.columns):
            if col is not None and col not in table.header:
                raise SourceError(table.name, f"mapping for {rule.target!r} names column {col!r}, which the file does not have; columns: {', '.join(table.header)}")
    label = {t: (r.column or t) for t, r in mapping.rules.items()}
    label.update({c: c for c in SCHEMA if c in table.header and c not in label})
    missing = [c for c in ("date",) if c not in label]
    if "commodity_group" not in label and "species" not in label:
        missing.append("commodity_group")
    has_location = {"lon", "lat"} <= set(label) or {"utm_zone", "easting", "northing"} <= set(label) or "place" in label or "country" in label
    if not has_location:
        missing += ["lon", "lat"]
    if missing:
        raise SourceError(table.name, f"lacks required column(s) {missing} ({LOCATION_HELP} for the location); columns: {table.header}")
    used = {r.column for r in mapping.rules.values()} | {c for r in mapping.rules.values() for c in r.columns} | set(SCHEMA)
    ignored = [h for h in table.header if h and h not in used]
    if ignored:
        logger.info("%s: column(s) %s are not in the seizure schema and are ignored (map them with --map FIELD=COLUMN)", table.name, ", ".join(repr(h[:40]) for h in ignored))
    return label


def schema_columns(table: Table, mapping: FieldMapping, fail: Callable[[int, str, Any, str], None]) -> dict[str, list[Any]]:
    """Raw values per schema field after the mapping's renames, constants, joins and value tables."""
    n = len(table.rows)
    out: dict[str, list[Any]] = {}
    for target in SCHEMA:
        rule = mapping.rules.get(target) or (FieldRule(target, column=target) if target in table.header else None)
        if rule is None:
            continue
        if rule.column is None:
            out[target] = [rule.value] * n
        elif rule.columns:
            cols = [table.columns[c] for c in rule.columns]
            out[target] = [" / ".join(str(v).strip() for v in vals if not _blank(v)) or None for vals in zip(*cols, strict=True)]
        elif rule.present:
            out[target] = [not _blank(v) for v in table.columns[rule.column]]
        elif rule.keywords is not None:
            kw = rule.keywords
            out[target] = [categorise(v, kw, rule.default) for v in table.columns[rule.column]]
        else:
            values = list(table.columns[rule.column])
            if rule.values is not None:
                for i, v in enumerate(values):
                    if _blank(v):
                        continue
                    key = str(v).strip()
                    if key not in rule.values:
                        fail(i, rule.column, v, f"not one of the mapped values {sorted(rule.values)}")
                    else:
                        values[i] = rule.values[key]
            if rule.default is not None:
                values = [rule.default if _blank(v) else v for v in values]
            out[target] = values
    return out


@dataclass
class Parsed:
    """Validated records (by row position), errors by row position, notes on kept rows, repaired rows."""

    records: pd.DataFrame
    errors: dict[int, RecordError]
    notes: list[RecordError] = field(default_factory=list)
    repaired: set[int] = field(default_factory=set)


def _each(values: list[Any], parse: Callable[[Any], Any], put: Callable[[int, Any], None], bad: Callable[[int, Any, str], None]) -> None:
    """``parse`` each distinct value once (``None`` is blank and skipped); ``put`` the result or report ``bad``."""
    cache: dict[Any, tuple[bool, Any]] = {}
    for i, v in enumerate(values):
        if v is None:
            continue
        got = cache.get(v)
        if got is None:
            try:
                got = (True, parse(v))
            except ValueError as err:
                got = (False, str(err))
            cache[v] = got
        if got[0]:
            put(i, got[1])
        else:
            bad(i, v, got[1])


def _normalise(values: list[Any]) -> list[Any]:
    """Cells with text stripped; blank text, NaN and NaT as ``None``; other values (numbers, dates) kept."""
    return [
        (v.strip() or None) if v.__class__ is str else (None if v is None or v is pd.NaT or (v.__class__ is float and v != v) else v)
        for v in values
    ]


def validate(
    table: Table,
    mapping: FieldMapping,
    *,
    species: SpeciesList,
    gazetteer: Callable[[], Gazetteer],
    max_chars: int,
    region_bbox: tuple[float, float, float, float],
    id_key: bytes,
    today: dt.date | None = None,
) -> Parsed:
    """Check every row of ``table`` (see the module docstring); nothing is written.

    ``id_key`` keys the ids of rows that come without a ``seizure_id``
    (:func:`layers.opaque_ids.content_id`).
    """
    n = len(table.rows)
    label = check_columns(table, mapping)
    errors: dict[int, RecordError] = {}
    notes: list[tuple[int, RecordError]] = []
    repaired: set[int] = set()

    def fail(i: int, fld: str, value: Any, reason: str) -> None:
        if i not in errors:
            errors[i] = RecordError(table.name, table.rows[i], label.get(fld, fld), value, reason, unit=table.unit)

    cols = schema_columns(table, mapping, lambda i, col, v, why: fail(i, col, v, why))
    for name, raw in cols.items():
        values = cols[name] = _normalise(raw)
        if name not in TEXT_CHECKED:
            continue  # parsed strictly below: a formula or control character there is simply not a valid value
        texts = check_many((v for v in values if v.__class__ is str), max_chars)
        if not texts:
            continue
        for i, v in enumerate(values):
            c = texts.get(v) if v.__class__ is str else None
            if c is None:
                continue
            if c.reject:
                fail(i, name, v, c.reject)
                continue
            if c.repaired:
                repaired.add(i)
                notes.append((i, RecordError(table.name, table.rows[i], label.get(name, name), v, "repaired: " + c.repaired, unit=table.unit)))
            if c.markup:
                notes.append((i, RecordError(table.name, table.rows[i], label.get(name, name), v, MARKUP_NOTE, unit=table.unit)))
            values[i] = (c.value or "").strip() or None
    blank_column: list[Any] = [None] * n
    full = {name: cols.get(name, blank_column) for name in SCHEMA}
    col = full.__getitem__
    out: dict[str, list[Any]] = {k: [None] * n for k in (*STORED, "lon", "lat")}

    def setter(name: str) -> Callable[[int, Any], None]:
        return lambda i, v: out[name].__setitem__(i, v)

    def failer(name: str) -> Callable[[int, Any, str], None]:
        return lambda i, v, why: fail(i, name, v, why)

    date_rule = mapping.rules.get("date")
    dates, date_errors = parse_dates(col("date"), date_rule.format if date_rule else None, latest=today or dt.date.today())
    for i, why in date_errors.items():
        if date_rule is not None and date_rule.on_error == "null":
            continue
        fail(i, "date", col("date")[i], why)
    out["date"] = dates
    for i, d in enumerate(dates):
        if d is None and i not in date_errors:
            fail(i, "date", None, "required; the cell is empty")
    resolved: list[Any] = [None] * n
    _each(col("species"), species.resolve, resolved.__setitem__, failer("species"))
    unknown: dict[str, list[int]] = {}
    for i, r in enumerate(resolved):
        if r is not None:
            out["species"][i] = r.name
            if not r.known:
                unknown.setdefault(r.name, []).append(table.rows[i])
    for name, rows in unknown.items():
        logger.warning("%s: species %r (%s %s) is not in the species list (%s); kept as written, with no CITES appendix filled",
                       table.name, name, table.unit, ", ".join(map(str, rows[:5])) + (" …" if len(rows) > 5 else ""), species.source)
    _each(col("commodity_group"), parse_group, setter("commodity_group"), failer("commodity_group"))
    _each(col("cites_appendix"), normalise_appendix, setter("cites_appendix"), failer("cites_appendix"))
    for i, r in enumerate(resolved):
        if r is None or r.group is None:
            continue
        given = out["commodity_group"][i]
        if given is None and col("commodity_group")[i] is not None:
            continue  # already rejected
        if given is None:
            out["commodity_group"][i] = r.group
        elif given != r.group:
            fail(i, "commodity_group", given, f"the species list has {r.name} as {r.group}")
        if out["cites_appendix"][i] is None and col("cites_appendix")[i] is None:
            out["cites_appendix"][i] = r.cites
    for i in range(n):
        if out["commodity_group"][i] is None and col("commodity_group")[i] is None:
            fail(i, "commodity_group", None, "required (timber or wildlife); the cell is empty and the species does not say")
    _quantities(col("quantity"), col("unit"), out, fail)
    _each(col("transport_mode"), parse_mode, setter("transport_mode"), failer("transport_mode"))
    _each(col("synthetic"), parse_bool, setter("synthetic"), failer("synthetic"))
    out["synthetic"] = [bool(v) for v in out["synthetic"]]
    for name in FREE_TEXT:
        out[name] = [None if v is None else str(v) for v in col(name)]
    _locations(col, out, fail, gazetteer, region_bbox, notes, table, label)
    given_ids = col("seizure_id")
    out["seizure_id"] = [None if v is None else str(v) for v in given_ids]
    _key_rows(out, n, errors, fail, table, id_key)
    keep = [i for i in range(n) if i not in errors]
    records = pd.DataFrame({k: [v[i] for i in keep] for k, v in out.items()}, index=pd.Index(keep, name="position"))
    return Parsed(records, errors, [note for i, note in notes if i not in errors], repaired - set(errors))


def _quantities(qty: list[Any], unit: list[Any], out: dict[str, list[Any]], fail: Callable[[int, str, Any, str], None]) -> None:
    units: list[Any] = [None] * len(unit)
    _each(unit, parse_unit, units.__setitem__, lambda i, v, why: fail(i, "unit", v, why))
    parsed: list[Any] = [None] * len(qty)
    _each(qty, parse_quantity, parsed.__setitem__, lambda i, v, why: fail(i, "quantity", v, why))
    for i, got in enumerate(parsed):
        out["unit"][i] = units[i]
        if got is None:
            continue
        value, written = got
        out["quantity"][i] = value
        if written is not None and units[i] is not None and written != units[i]:
            fail(i, "quantity", qty[i], f"says {written} but the unit column says {units[i]}")
        elif written is not None:
            out["unit"][i] = written
        elif units[i] is None and unit[i] is None:
            fail(i, "unit", None, "a quantity needs a unit (kg, t, m3, pieces, logs)")


def _numbers(values: list[Any], axis: str, fail: Callable[[int, str, Any, str], None]) -> np.ndarray:
    """Numbers of a coordinate column: plain numbers at once, anything else (DMS, units) one by one."""
    series = pd.Series(values, dtype=object)
    numeric = series.map(lambda v: v.__class__ in (str, int, float))
    arr = pd.to_numeric(series.where(numeric, None), errors="coerce").to_numpy(float, copy=True)
    ok = np.isfinite(arr)
    arr[~ok] = np.nan
    parse = (lambda v: parse_degrees(str(v), axis)) if axis in ("lon", "lat") else _metres
    slow = [int(i) for i in np.flatnonzero(~ok) if values[i] is not None]
    _each([values[i] for i in slow], parse, lambda j, v: arr.__setitem__(slow[j], v), lambda j, v, why: fail(slow[j], axis, v, why))
    return arr


def _metres(v: Any) -> float:
    value = float(str(v).replace(" ", "").rstrip("mENen"))
    if not np.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _utm(col: Callable[[str], list[Any]], rows: list[int], lon: np.ndarray, lat: np.ndarray, fail: Callable[[int, str, Any, str], None]) -> None:
    """Fill lon/lat of ``rows`` from their UTM zone, easting and northing."""
    n = len(lon)
    zones: list[Any] = [None] * n
    wanted = set(rows)
    _each([col("utm_zone")[i] if i in wanted else None for i in range(n)], parse_utm_zone, zones.__setitem__, lambda i, v, why: fail(i, "utm_zone", v, why))
    east, north = _numbers(col("easting"), "easting", fail), _numbers(col("northing"), "northing", fail)
    good = []
    for i in rows:
        if zones[i] is None or not (np.isfinite(east[i]) and np.isfinite(north[i])):
            continue
        if 100_000 <= east[i] <= 900_000 and 0 <= north[i] <= 10_000_000:
            good.append(i)
        else:
            fail(i, "easting", f"{east[i]:g} {north[i]:g}", "UTM easting must be 100 000..900 000 m and northing 0..10 000 000 m")
    if good:
        lon[good], lat[good] = utm_to_lonlat([zones[i] for i in good], east[good], north[good])


def _locations(col: Callable[[str], list[Any]], out: dict[str, list[Any]], fail: Callable[[int, str, Any, str], None],
               gazetteer: Callable[[], Gazetteer], region: tuple[float, float, float, float], notes: list[tuple[int, RecordError]], table: Table, label: dict[str, str]) -> None:
    """lon/lat (or UTM, or a place) of every row, with its precision; bad or misplaced coordinates rejected."""
    n = len(table.rows)
    lon, lat = _numbers(col("lon"), "lon", fail), _numbers(col("lat"), "lat", fail)
    lon_blank = np.array([v is None for v in col("lon")], dtype=bool)
    lat_blank = np.array([v is None for v in col("lat")], dtype=bool)
    for i in map(int, np.flatnonzero(lon_blank != lat_blank)):
        fail(int(i), "lat" if lat_blank[i] else "lon", None, "empty while the other coordinate is given")
    has_utm = np.array([z is not None and e is not None and no is not None for z, e, no in zip(col("utm_zone"), col("easting"), col("northing"), strict=True)], dtype=bool)
    utm_rows = [int(i) for i in np.flatnonzero(has_utm & lon_blank & lat_blank)]
    if utm_rows:
        _utm(col, utm_rows, lon, lat, fail)
    w, s, e, nn = region
    located = np.isfinite(lon) & np.isfinite(lat)
    bad_lat = located & ((lat < -90) | (lat > 90))
    bad_lon = located & ~bad_lat & ((lon < -180) | (lon > 180))
    outside = located & ~bad_lat & ~bad_lon & ~((lon >= w) & (lon <= e) & (lat >= s) & (lat <= nn))
    swapped = (lat >= w) & (lat <= e) & (lon >= s) & (lon <= nn)
    for i in map(int, np.flatnonzero(bad_lat | bad_lon | outside)):
        x, y = float(lon[i]), float(lat[i])
        if bad_lat[i] or bad_lon[i]:
            where, (lo, hi) = ("lat", (-90, 90)) if bad_lat[i] else ("lon", (-180, 180))
            hint = f"; lat/lon look swapped (lon {y:g}, lat {x:g} would be in the region)" if swapped[i] else ""
            fail(int(i), where, col(where)[i], f"outside {lo:g}..{hi:g}{hint}")
        else:
            why = "lat/lon look swapped: outside the region, but inside it with lon and lat exchanged" if swapped[i] else (
                f"outside the region ({w:g}..{e:g} E, {s:g}..{nn:g} N, setting region_bbox)")
            fail(int(i), "lon", f"{x:g}, {y:g}", why)
    out["lon"], out["lat"] = lon.tolist(), lat.tolist()
    precision: list[Any] = ["exact"] * n
    _each(col("location_precision"), _precision, precision.__setitem__, lambda i, v, why: fail(i, "location_precision", v, why))
    out["location_precision"] = precision
    gaz: Gazetteer | None = None
    for i in map(int, np.flatnonzero(~located & lon_blank & lat_blank & ~has_utm)):
        place, country = col("place")[i], col("country")[i]
        if place is None and country is None:
            fail(i, "lon", None, f"no location: {LOCATION_HELP}")
            continue
        gaz = gaz or gazetteer()
        if not gaz:
            fail(i, "place", place or country, "place names are resolved against the countries layer, which is empty: ingest the region's countries first")
            continue
        hit = None if place is None else gaz.place(str(place))
        if hit is None and country is not None:
            hit = gaz.country(str(country))
            if hit is None:
                fail(i, "country", country, "not a country of the region (by name or ISO code)")
                continue
            if place is not None:
                notes.append((i, RecordError(table.name, table.rows[i], label.get("place", "place"), place, f"not a known place; located at country level ({hit.name})", unit=table.unit)))
        if hit is None:
            fail(i, "place", place, "not a border crossing or country of the region; give lon/lat, or a country as well")
            continue
        out["lon"][i], out["lat"][i], out["location_precision"][i] = hit.lon, hit.lat, hit.precision


def _precision(v: Any) -> str:
    text = str(v).strip().lower()
    if text not in PRECISIONS:
        raise ValueError(f"must be one of {', '.join(PRECISIONS)}")
    return text


def _key_rows(
    out: dict[str, list[Any]], n: int, errors: dict[int, RecordError], fail: Callable[[int, str, Any, str], None], table: Table, id_key: bytes,
) -> None:
    """A keyed content hash for rows without a seizure_id; later rows with the key of an earlier one rejected.

    The hash is an HMAC keyed by the id secret, never a plain hash: the content includes hidden
    fields (agency, case reference, notes, the exact point), and a plain hash would let anyone
    who sees the id confirm a guess of them.
    """
    hashed = ("date", "commodity_group", "commodity", "species", "quantity", "unit", "lon", "lat", "place", "transport_mode",
              "origin_country", "transit_country", "destination_country", "agency", "case_reference", "notes")
    for i in range(n):
        if out["seizure_id"][i] is None and i not in errors:
            parts = [("" if out[k][i] is None else (f"{out[k][i]:.7f}" if k in ("lon", "lat") else str(out[k][i]))) for k in hashed]
            out["seizure_id"][i] = content_id(id_key, parts)
    first: dict[str, int] = {}
    for i in range(n):
        key = out["seizure_id"][i]
        if key is None or i in errors:
            continue
        if key not in first:
            first[key] = i
            continue
        j = first[key]
        differs = [k for k in out if k != "seizure_id" and out[k][i] != out[k][j]]
        what = f", with other values ({', '.join(differs[:4])})" if differs else " (a repeat)"
        fail(i, "seizure_id", key, f"same seizure_id as {table.unit} {table.rows[j]}{what}")
