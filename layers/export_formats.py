"""The file formats of an export: GeoJSON, GeoPackage, CSV, XLSX and KML, each with its provenance.

Each writer takes the rows as a role may see them (already through the one gate,
:func:`layers.redaction.read_redacted`), the fields to write and a provenance mapping, and writes
one file. Values are those of the one GeoJSON writer (:func:`layers.geojson.plain_value`: dates
``YYYY-MM-DD``, times ``…Z``, lists as JSON in tabular formats), so every format says the same of a
feature; coordinates are CRS84 (lon/lat) to :data:`~layers.geojson.COORDINATE_DECIMALS` places.

- GeoJSON (RFC 7946): a FeatureCollection with a ``provenance`` foreign member;
- GeoPackage: the layer, and a ``provenance`` attribute table (key, value), written by GDAL
  through pyogrio;
- CSV: ``# key: value`` provenance lines, then a header and one row per feature (``lon``/``lat``
  for points, ``wkt`` otherwise); every cell through the one spreadsheet rule
  (:func:`layers.text_safety.spreadsheet_cell`);
- XLSX: a ``features`` sheet and a ``provenance`` sheet, cells through the same rule (text is
  never a formula; numbers stay numbers);
- KML 2.2: :func:`layers.field_formats.layer_kml_bytes`, provenance in the document's description.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from layers.catalog import Field
from layers.field_formats import layer_kml_bytes
from layers.geojson import COORDINATE_DECIMALS, plain_value, property_columns, write_collection
from layers.text_safety import spreadsheet_cell

logger = logging.getLogger(__name__)

XLSX_MAX_CELL_CHARS = 32_767
"""The most characters a spreadsheet cell holds (Excel's limit, which openpyxl enforces)."""
FORMATS = ("geojson", "gpkg", "csv", "xlsx", "kml")
MEDIA_TYPES = {
    "geojson": "application/geo+json", "gpkg": "application/geopackage+sqlite3", "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "kml": "application/vnd.google-earth.kml+xml",
}


def provenance_rows(provenance: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The provenance as (key, text) pairs: lists joined with ``; ``."""
    out = []
    for key, value in provenance.items():
        if isinstance(value, list | tuple):
            value = "; ".join(str(v) for v in value)
        out.append((key, "" if value is None else str(value)))
    return out


def _geometry_columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """``lon``/``lat`` for a point layer, ``wkt`` otherwise (rounded like GeoJSON); nothing without geometry."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return {}
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if len(geoms) and all(g is not None and g.geom_type == "Point" for g in geoms):
        return {"lon": [round(g.x, COORDINATE_DECIMALS) for g in geoms], "lat": [round(g.y, COORDINATE_DECIMALS) for g in geoms]}
    rounded = shapely.transform(shapely.orient_polygons(geoms, exterior_cw=False), lambda xy: np.round(xy, COORDINATE_DECIMALS))
    return {"wkt": [None if g is None else shapely.to_wkt(g, rounding_precision=COORDINATE_DECIMALS, trim=True) for g in rounded]}


def table(frame: pd.DataFrame, fields: Sequence[Field]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a tabular export: ``id``, the geometry columns, then the fields (JSON-ready values)."""
    ids = [plain_value("integer" if isinstance(i, int | np.integer) else "text", i) for i in frame.index.tolist()]
    columns: dict[str, list[Any]] = {"id": ids, **_geometry_columns(frame), **property_columns(frame, fields)}
    for f in fields:
        if f.type == "json" and f.name in columns:
            columns[f.name] = [None if v is None else orjson.dumps(v).decode() for v in columns[f.name]]
    names = list(columns)
    return names, [[columns[n][i] for n in names] for i in range(len(frame))]


def write_geojson(out: IO[bytes], frame: pd.DataFrame, fields: Sequence[Field], provenance: Mapping[str, Any]) -> int:
    return write_collection(out, frame, fields, {"provenance": dict(provenance)})


def write_csv(out: IO[bytes], frame: pd.DataFrame, fields: Sequence[Field], provenance: Mapping[str, Any]) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    for key, value in provenance_rows(provenance):
        writer.writerow([spreadsheet_cell(f"# {key}: {value}")])
    names, rows = table(frame, fields)
    writer.writerow(names)
    for row in rows:
        writer.writerow([spreadsheet_cell(v) for v in row])
    text.flush()
    text.detach()
    return len(rows)


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, bool | int | float) and not (isinstance(value, float) and not np.isfinite(value)):
        return value
    return spreadsheet_cell(value) if value is not None else None


def write_xlsx(out: IO[bytes], frame: pd.DataFrame, fields: Sequence[Field], provenance: Mapping[str, Any]) -> int:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("features")
    names, rows = table(frame, fields)
    sheet.append(names)
    too_long = 0
    for row in rows:
        cells = [_xlsx_value(v) for v in row]
        for j, v in enumerate(cells):
            if isinstance(v, str) and len(v) > XLSX_MAX_CELL_CHARS:  # a spreadsheet cell holds no more: said, not cut
                cells[j] = f"({len(v)} characters: more than a spreadsheet cell holds; export as GeoJSON or GeoPackage for this value)"
                too_long += 1
        sheet.append(cells)
    if too_long:
        provenance = {**provenance, "note": f"{too_long} value(s) longer than {XLSX_MAX_CELL_CHARS} characters (large geometries as WKT) are not in this workbook"}
    about = book.create_sheet("provenance")
    about.append(["key", "value"])
    for key, value in provenance_rows(provenance):
        about.append([spreadsheet_cell(key), spreadsheet_cell(value)])
    book.save(out)
    return len(rows)


def write_kml(out: IO[bytes], frame: pd.DataFrame, fields: Sequence[Field], provenance: Mapping[str, Any]) -> int:
    title = f"ecowatch: {provenance.get('title', '')}"
    about = "\n".join(f"{k}: {v}" for k, v in provenance_rows(provenance))
    out.write(layer_kml_bytes(frame, [f.name for f in fields], title=title, description=about))
    return len(frame)


def write_gpkg(path: Path, frame: pd.DataFrame, fields: Sequence[Field], provenance: Mapping[str, Any], layer: str) -> int:
    """The GeoPackage at ``path`` (a new file): the layer and its ``provenance`` table."""
    import pyogrio

    data = {name: values for name, values in property_columns(frame, fields).items()}
    for f in fields:
        if f.type == "json" and f.name in data:
            data[f.name] = [None if v is None else orjson.dumps(v).decode() for v in data[f.name]]
    ids = [str(i) for i in frame.index.tolist()]
    table_frame = pd.DataFrame({"feature_id": ids, **data})
    if isinstance(frame, gpd.GeoDataFrame):
        geoms = shapely.transform(np.asarray(frame.geometry.values, dtype=object), lambda xy: np.round(xy, COORDINATE_DECIMALS))
        out: pd.DataFrame = gpd.GeoDataFrame(table_frame, geometry=list(geoms), crs="EPSG:4326")
        pyogrio.write_dataframe(out, path, layer=layer, driver="GPKG")  # single and multi parts mixed: promoted to multi
    else:
        pyogrio.write_dataframe(table_frame, path, layer=layer, driver="GPKG")
    about = pd.DataFrame(provenance_rows(provenance), columns=["key", "value"])
    pyogrio.write_dataframe(about, path, layer="provenance", driver="GPKG", append=True)
    return len(frame)


WRITERS = {"geojson": write_geojson, "csv": write_csv, "xlsx": write_xlsx, "kml": write_kml}
