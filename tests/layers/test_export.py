"""Exports in every format: RFC 7946 GeoJSON checked by hand, GeoPackage through pyogrio and SQLite,
CSV and XLSX formula-safe, KML well-formed; each with its provenance; the map's filters.

(GDAL's own GeoPackage validator is Debian's 3.6; the export is written by pyogrio's GDAL 3.12,
whose R-tree triggers are a later, equally valid set that the 3.6 validator does not know.)"""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
import stat
from pathlib import Path
from xml.etree import ElementTree

import geopandas as gpd
import openpyxl
import orjson
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Polygon

from cli.main import cli
from layers import open_store
from layers.errors import LayerError
from layers.export import FORMATS, export_layer
from layers.filters import MAP_FILTER_NAMES, parse_filters
from layers.redaction import Access
from tests.web.conftest import build_map_store

FORMULA = '=HYPERLINK("http://evil.example/x","click")'
PIPE = "+cmd|' /C calc'!A0"
WHEN = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = build_map_store(tmp_path / "e.gpkg")
    with open_store(path) as st:
        holed = Polygon([(107.30, 13.50), (107.34, 13.50), (107.34, 13.54), (107.30, 13.54)],
                        [[(107.31, 13.51), (107.31, 13.52), (107.32, 13.52), (107.32, 13.51)]])
        st.upsert("concessions", gpd.GeoDataFrame([
            {"source": "test", "source_id": "EL-3", "holder": FORMULA, "purpose": PIPE, "status": "active", "country": "Cambodia",
             "area_ha": 10.0, "geometry": shapely.orient_polygons(holed, exterior_cw=True)},
        ], geometry="geometry", crs="EPSG:4326"))
    return path


def _rfc7946(doc: dict) -> None:
    """RFC 7946 by hand: no crs member, lon/lat ranges, closed rings, exteriors counter-clockwise, holes clockwise."""
    assert doc["type"] == "FeatureCollection" and "crs" not in doc

    def rings(geometry: dict):
        polys = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"] if geometry["type"] == "MultiPolygon" else []
        for poly in polys:
            yield from enumerate(poly)

    def positions(coords):
        if isinstance(coords[0], int | float):
            yield coords
        else:
            for c in coords:
                yield from positions(c)

    for f in doc["features"]:
        assert f["type"] == "Feature" and "crs" not in f
        if f["geometry"] is None:
            continue
        for lon, lat in positions(f["geometry"]["coordinates"]):
            assert -180 <= lon <= 180 and -90 <= lat <= 90
            assert round(lon, 7) == lon and round(lat, 7) == lat
        for i, ring in rings(f["geometry"]):
            assert ring[0] == ring[-1] and len(ring) >= 4
            signed = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False)) / 2
            assert (signed > 0) == (i == 0), f"ring {i} of {f['id']} winds the wrong way"


def test_geojson_is_rfc7946_and_reads_back_with_the_same_features(store_path: Path, tmp_path: Path) -> None:
    with open_store(store_path) as st:
        for layer in ("concessions", "clearings", "seizures", "corridors"):
            out = tmp_path / f"{layer}.geojson"
            n = export_layer(st, layer, out, fmt="geojson", role="planner", generated_at=WHEN)
            doc = orjson.loads(out.read_bytes())
            _rfc7946(doc)
            back = gpd.read_file(out)
            assert len(back) == n == len(st.read(layer))
            stored = st.read(layer)
            assert shapely.equals_exact(
                shapely.normalize(back.geometry.to_numpy()), shapely.normalize(stored.geometry.to_numpy()), tolerance=1e-7).all()
            prov = doc["provenance"]
            assert prov["generated_at"] == "2026-03-04T05:06:07Z" and prov["role"] == "planner" and prov["layer"] == layer
            assert prov["features"] == n and "7 decimal places" in prov["coordinate_precision"]
    assert doc["provenance"]["sources"] == ["test"]


def test_geopackage_opens_with_pyogrio_and_passes_gdals_validator(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.gpkg"
    with open_store(store_path) as st:
        n = export_layer(st, "concessions", out, fmt="gpkg", role="planner", generated_at=WHEN)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    layers = dict(pyogrio.list_layers(out).tolist())
    assert set(layers) == {"concessions", "provenance"}
    frame = pyogrio.read_dataframe(out, layer="concessions")
    assert len(frame) == n == 3 and frame.crs.to_epsg() == 4326 and FORMULA in set(frame["holder"])
    about = dict(pyogrio.read_dataframe(out, layer="provenance")[["key", "value"]].to_numpy().tolist())
    assert about["layer"] == "concessions" and about["generated_at"] == "2026-03-04T05:06:07Z"
    conn = sqlite3.connect(f"file:{out}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # 'GPKG'
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kinds = dict(conn.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())
    finally:
        conn.close()
    assert kinds == {"concessions": "features", "provenance": "attributes"}


def test_csv_and_xlsx_cells_are_formula_safe(store_path: Path, tmp_path: Path) -> None:
    with open_store(store_path) as st:
        export_layer(st, "concessions", tmp_path / "c.csv", fmt="csv", role="planner", generated_at=WHEN)
        export_layer(st, "concessions", tmp_path / "c.xlsx", fmt="xlsx", role="planner", generated_at=WHEN)
    text = (tmp_path / "c.csv").read_text(encoding="utf-8")
    head = [line for line in text.splitlines() if line.startswith("#")]
    assert "# layer: concessions" in head and "# role: planner" in head
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith(("#", '"#'))))
    assert len(rows) == 3 and {"id", "wkt", "holder"} <= set(rows[0])
    cells = [v for row in rows for v in row.values() if v]
    assert "'" + FORMULA in cells and "'" + PIPE in cells
    assert not [v for v in cells if v.lstrip()[:1] in "=+@" or (v.startswith("-") and not v[1:].replace(".", "").isdigit())]
    book = openpyxl.load_workbook(tmp_path / "c.xlsx")
    assert book.sheetnames == ["features", "provenance"]
    formulas = [c.coordinate for ws in book for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []
    values = [c.value for row in book["features"].iter_rows() for c in row]
    assert "'" + FORMULA in values and 10.0 in values  # text quoted, numbers kept numbers


def test_kml_holds_every_feature_and_parses(store_path: Path, tmp_path: Path) -> None:
    with open_store(store_path) as st:
        n = export_layer(st, "seizures", tmp_path / "s.kml", fmt="kml", role="planner", generated_at=WHEN)
        export_layer(st, "corridors", tmp_path / "c.kml", fmt="kml", role="planner", generated_at=WHEN)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    root = ElementTree.fromstring((tmp_path / "s.kml").read_bytes())
    marks = root.findall(".//k:Placemark", ns)
    assert len(marks) == n == 3 and all(m.find("k:Point", ns) is not None for m in marks)
    assert "generated_at: 2026-03-04T05:06:07Z" in root.findtext("k:Document/k:description", namespaces=ns)
    assert "<script>" not in (tmp_path / "s.kml").read_text() and "&lt;script&gt;" in (tmp_path / "s.kml").read_text()
    lines = ElementTree.fromstring((tmp_path / "c.kml").read_bytes()).findall(".//k:LineString", ns)
    assert len(lines) == 1


def test_the_maps_filters_and_the_role_apply_to_every_format(store_path: Path, tmp_path: Path) -> None:
    chosen = parse_filters({"confidence": ["low"]}, names=MAP_FILTER_NAMES)
    with open_store(store_path) as st:
        for fmt in FORMATS:
            assert export_layer(st, "clearings", tmp_path / f"low.{fmt}", fmt=fmt, filters=chosen, role="planner") == 1
        prov = orjson.loads((tmp_path / "low.geojson").read_bytes())["provenance"]
        assert prov["filters"] == ["confidence=low"]
        assert export_layer(st, "clearings", tmp_path / "v.geojson", role=Access("viewer", b"k" * 32)) == 1  # confirmed only
        with pytest.raises(LayerError, match="needs a file"):
            export_layer(st, "clearings", None, fmt="gpkg", role="planner")
        with pytest.raises(LayerError, match="unknown export format"):
            export_layer(st, "clearings", tmp_path / "x.shp", fmt="shp", role="planner")


def test_the_command_line_exports_every_format_with_filters(store_path: Path, tmp_path: Path) -> None:
    env = {"ECOWATCH_DATA_DIR": str(tmp_path / "data")}
    for fmt in FORMATS:
        out = tmp_path / f"cli.{fmt}"
        result = CliRunner().invoke(cli, ["export", "clearings", "--format", fmt, "-o", str(out), "--role", "planner",
                                          "--from", "2024-04-01", "--filter", "risk=50", "--store", str(store_path)], env=env)
        assert result.exit_code == 0, result.output
        assert "1 feature(s)" in result.output
    bad = CliRunner().invoke(cli, ["export", "clearings", "--filter", "risk=lots", "--store", str(store_path)], env=env)
    assert bad.exit_code == 2 and "risk" in bad.output
    with open_store(store_path) as st:
        events = st.read("access_log")
    assert (events["event"] == "export").sum() == len(FORMATS)
    assert pd.Series(events["detail"]).str.contains("as xlsx").any()


def test_a_geometry_too_large_for_a_spreadsheet_cell_is_said_not_cut(store_path: Path, tmp_path: Path) -> None:
    ring = shapely.Point(107.2, 13.2).buffer(0.05, quad_segs=600)  # 2 400 vertices: about 50 000 characters of WKT
    with open_store(store_path) as st:
        st.upsert("protected_areas", gpd.GeoDataFrame([{"source": "t", "source_id": "BIG", "name": "Big", "geometry": ring}],
                                                      geometry="geometry", crs="EPSG:4326"))
        export_layer(st, "protected_areas", tmp_path / "p.xlsx", fmt="xlsx", role="planner", generated_at=WHEN)
        export_layer(st, "protected_areas", tmp_path / "p.csv", fmt="csv", role="planner", generated_at=WHEN)
    book = openpyxl.load_workbook(tmp_path / "p.xlsx", read_only=True)
    try:
        rows = list(book["features"].iter_rows(values_only=True))
        about = dict(book["provenance"].iter_rows(values_only=True))
    finally:
        book.close()
    big = next(r for r in rows[1:] if "BIG" in r)
    wkt = big[rows[0].index("wkt")]
    assert wkt.startswith("(") and "more than a spreadsheet cell holds" in wkt
    assert "1 value(s) longer than 32767 characters" in about["note"]
    lines = [line for line in (tmp_path / "p.csv").read_text(encoding="utf-8").splitlines() if not line.startswith(("#", '"#'))]
    full = next(r for r in csv.DictReader(lines) if r["source_id"] == "BIG")["wkt"]
    assert len(full) > 32_767 and shapely.from_wkt(full).symmetric_difference(ring).area < 1e-7  # CSV keeps it whole (to 7 decimals)
