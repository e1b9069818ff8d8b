"""KML and GPX for field apps: clearings to visit, as polygons (KML) and waypoints (GPX).

A field team loads the file into a GPS app (OsmAnd, Locus, Gaia, a Garmin): GPX 1.1 holds one
waypoint per clearing at its centroid (or, for a clearing shaped so that its centroid falls
outside it, a point inside it), KML 2.2 holds the polygon and that point. Text is built through
:mod:`xml.etree.ElementTree`, which escapes it, after removing the characters XML 1.0 cannot hold
at all (control characters), so the files are valid XML whatever the attributes say.

Only what a field team needs goes in: id, area, first detection, risk and the reasons in words.
:func:`layer_kml_bytes` writes any layer (points, lines, polygons) the same way, for exports.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from layers.errors import LayerError

GPX_NS = "http://www.topografix.com/GPX/1/1"
KML_NS = "http://www.opengis.net/kml/2.2"
CREATOR = "ecowatch"
FIELDS = ("clearing_id", "area_ha", "first_detected", "risk", "reasons")
# what XML 1.0 cannot hold: C0 controls except tab, newline, carriage return; surrogates; FFFE/FFFF
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: Any) -> str:
    """``value`` as text XML can hold (missing values as the empty string)."""
    if value is None or (not isinstance(value, list | tuple | dict) and pd.isna(value)):
        return ""
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    if isinstance(value, pd.Timestamp):
        value = value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _NOT_XML.sub("", str(value))


def _check(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise LayerError("field files need clearings with their geometries (a GeoDataFrame)")
    missing = [f for f in ("clearing_id",) if f not in frame.columns]
    if missing:
        raise LayerError(f"field files need the clearings' {', '.join(missing)}")
    return frame.to_crs("EPSG:4326") if frame.crs is not None and not frame.crs.equals("EPSG:4326") else frame


def field_point(geom: shapely.Geometry) -> shapely.Point:
    """Where to walk to: the centroid, or a point inside when the centroid falls outside."""
    c = shapely.centroid(geom)
    return c if shapely.contains(geom, c) else shapely.point_on_surface(geom)


def _rows(frame: gpd.GeoDataFrame) -> Iterator[tuple[dict[str, Any], shapely.Geometry]]:
    for i in range(len(frame)):
        geom = frame.geometry.iloc[i]
        if geom is None or geom.is_empty:
            continue
        yield {k: frame[k].iloc[i] for k in FIELDS if k in frame.columns}, geom


def _description(row: dict[str, Any]) -> str:
    parts = []
    if "area_ha" in row and xml_text(row["area_ha"]):
        parts.append(f"{float(row['area_ha']):.2f} ha")
    if "first_detected" in row and xml_text(row["first_detected"]):
        parts.append(f"first detected {xml_text(row['first_detected'])[:10]}")
    if "risk" in row and xml_text(row["risk"]):
        parts.append(f"risk {xml_text(row['risk'])}")
    reasons = xml_text(row.get("reasons"))
    return "; ".join(parts) + (f". {reasons}" if reasons else "")


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def gpx_bytes(frame: pd.DataFrame, *, title: str = "ecowatch: clearings to check in the field") -> bytes:
    """GPX 1.1 with one waypoint per clearing (name: its id; description: area, date, risk, reasons)."""
    gdf = _check(frame)
    ET.register_namespace("", GPX_NS)
    root = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": CREATOR})
    meta = ET.SubElement(root, f"{{{GPX_NS}}}metadata")
    ET.SubElement(meta, f"{{{GPX_NS}}}name").text = xml_text(title)
    for row, geom in _rows(gdf):
        p = field_point(geom)
        wpt = ET.SubElement(root, f"{{{GPX_NS}}}wpt", {"lat": f"{p.y:.7f}", "lon": f"{p.x:.7f}"})
        ET.SubElement(wpt, f"{{{GPX_NS}}}name").text = xml_text(row["clearing_id"])
        ET.SubElement(wpt, f"{{{GPX_NS}}}desc").text = _description(row)
        ET.SubElement(wpt, f"{{{GPX_NS}}}sym").text = "Flag, Red"
    return _serialise(root)


def _coords(ring: shapely.LinearRing) -> str:
    return " ".join(f"{x:.7f},{y:.7f}" for x, y in ring.coords)


def _polygon(parent: ET.Element, poly: shapely.Polygon) -> None:
    el = ET.SubElement(parent, f"{{{KML_NS}}}Polygon")
    outer = ET.SubElement(ET.SubElement(el, f"{{{KML_NS}}}outerBoundaryIs"), f"{{{KML_NS}}}LinearRing")
    ET.SubElement(outer, f"{{{KML_NS}}}coordinates").text = _coords(poly.exterior)
    for hole in poly.interiors:
        inner = ET.SubElement(ET.SubElement(el, f"{{{KML_NS}}}innerBoundaryIs"), f"{{{KML_NS}}}LinearRing")
        ET.SubElement(inner, f"{{{KML_NS}}}coordinates").text = _coords(hole)


def kml_bytes(frame: pd.DataFrame, *, title: str = "ecowatch: clearings to check in the field") -> bytes:
    """KML 2.2: a placemark per clearing with its polygon(s) and the point to walk to."""
    gdf = _check(frame)
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = ET.SubElement(root, f"{{{KML_NS}}}Document")
    ET.SubElement(doc, f"{{{KML_NS}}}name").text = xml_text(title)
    style = ET.SubElement(doc, f"{{{KML_NS}}}Style", {"id": "clearing"})
    ET.SubElement(ET.SubElement(style, f"{{{KML_NS}}}LineStyle"), f"{{{KML_NS}}}color").text = "ff0000ff"
    ET.SubElement(ET.SubElement(style, f"{{{KML_NS}}}PolyStyle"), f"{{{KML_NS}}}color").text = "400000ff"
    for row, geom in _rows(gdf):
        mark = ET.SubElement(doc, f"{{{KML_NS}}}Placemark")
        ET.SubElement(mark, f"{{{KML_NS}}}name").text = xml_text(row["clearing_id"])
        ET.SubElement(mark, f"{{{KML_NS}}}description").text = _description(row)
        ET.SubElement(mark, f"{{{KML_NS}}}styleUrl").text = "#clearing"
        data = ET.SubElement(mark, f"{{{KML_NS}}}ExtendedData")
        for key in ("area_ha", "first_detected", "risk"):
            if key in row:
                item = ET.SubElement(data, f"{{{KML_NS}}}Data", {"name": key})
                ET.SubElement(item, f"{{{KML_NS}}}value").text = xml_text(row[key])
        multi = ET.SubElement(mark, f"{{{KML_NS}}}MultiGeometry")
        p = field_point(geom)
        ET.SubElement(ET.SubElement(multi, f"{{{KML_NS}}}Point"), f"{{{KML_NS}}}coordinates").text = f"{p.x:.7f},{p.y:.7f}"
        for poly in getattr(geom, "geoms", [geom]):
            if isinstance(poly, shapely.Polygon):
                _polygon(multi, poly)
    return _serialise(root)


def _kml_geometry(parent: ET.Element, geom: shapely.Geometry) -> None:
    if isinstance(geom, shapely.Point):
        ET.SubElement(ET.SubElement(parent, f"{{{KML_NS}}}Point"), f"{{{KML_NS}}}coordinates").text = f"{geom.x:.7f},{geom.y:.7f}"
    elif isinstance(geom, shapely.LineString):
        ET.SubElement(ET.SubElement(parent, f"{{{KML_NS}}}LineString"), f"{{{KML_NS}}}coordinates").text = _coords(geom)
    elif isinstance(geom, shapely.Polygon):
        _polygon(parent, geom)
    else:  # a multi-part geometry or a collection
        multi = ET.SubElement(parent, f"{{{KML_NS}}}MultiGeometry")
        for part in getattr(geom, "geoms", []):
            _kml_geometry(multi, part)


def layer_kml_bytes(frame: pd.DataFrame, fields: list[str], *, title: str, description: str = "") -> bytes:
    """KML 2.2 of any layer: a placemark per row (name: its id), its geometry, ``fields`` as ExtendedData.

    Rows without a geometry (a table that has none) are placemarks without one.
    """
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = ET.SubElement(root, f"{{{KML_NS}}}Document")
    ET.SubElement(doc, f"{{{KML_NS}}}name").text = xml_text(title)
    if description:
        ET.SubElement(doc, f"{{{KML_NS}}}description").text = xml_text(description)
    geoms = list(frame.geometry) if isinstance(frame, gpd.GeoDataFrame) else [None] * len(frame)
    columns = {name: frame[name].tolist() for name in fields if name in frame.columns}
    for i, (fid, geom) in enumerate(zip(frame.index.tolist(), geoms, strict=True)):
        mark = ET.SubElement(doc, f"{{{KML_NS}}}Placemark", {"id": f"f{i}"})
        ET.SubElement(mark, f"{{{KML_NS}}}name").text = xml_text(fid)
        data = ET.SubElement(mark, f"{{{KML_NS}}}ExtendedData")
        for name, values in columns.items():
            item = ET.SubElement(data, f"{{{KML_NS}}}Data", {"name": name})
            ET.SubElement(item, f"{{{KML_NS}}}value").text = xml_text(values[i])
        if geom is not None and not geom.is_empty:
            _kml_geometry(mark, geom)
    return _serialise(root)
