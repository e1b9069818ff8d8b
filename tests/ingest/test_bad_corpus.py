"""Every file of tests/data/bad/ through the real CLI: a clear message naming file, row or
feature, field and reason; a rejection or a repair with a warning; never a traceback, never a
half-applied run (see tests/data/bad/README.md)."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from layers import open_store

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
WORLD = {"ECOWATCH_REGION_BBOX": "-180,-90,180,90"}


@dataclass(frozen=True)
class Case:
    """One corpus file: how to ingest it and what must come out."""

    file: str
    fails: str = ""  # substring of the error message when the run must fail
    rejects: tuple[tuple[str, str, str], ...] = ()  # (row or feature, field, reason substring)
    written: int | None = None
    repaired: int = 0
    logged: str = ""  # substring of a warning
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    @property
    def seizures(self) -> bool:
        return self.file.startswith("seizures_")


CASES = [
    Case("bowtie.geojson", written=1, repaired=1, logged="feature 0: invalid geometry repaired (Self-intersection"),
    Case("empty_geometry.geojson", rejects=(("0", "geometry", "empty geometry"),), written=1),
    Case("null_geometry.geojson", rejects=(("0", "geometry", "no geometry"),), written=1),
    Case("degenerate.geojson", rejects=(("0", "geometry", "invalid geometry that cannot be repaired"), ("1", "geometry", "a ring needs 4 or more")), written=1),
    Case("wrong_type.geojson", rejects=(("0", "geometry", "a LineString, but this layer holds Polygon or MultiPolygon"),), written=1),
    Case("z_mixed.geojson", written=2, logged="1 feature(s) have Z coordinates (feature 0 first); dropped"),
    Case("antimeridian.geojson", written=1, repaired=1, logged="crosses the antimeridian; split at 180° into 2 parts", env=WORLD),
    Case("antimeridian.geojson", rejects=(("0", "geometry", "lies wholly outside the region (92..112 E, 5..30 N, setting region_bbox)"),), written=0),
    Case("swapped_latlon.geojson", rejects=(("0", "geometry", "lat/lon look swapped"),), written=0),
    Case("projected_in_lonlat.geojson", rejects=(("0", "geometry", "projected metres read as degrees?); is the CRS right? (--crs)"),), written=0),
    Case("outside_region.geojson", rejects=(("0", "geometry", "lies wholly outside the region"),), written=0),
    Case("many_vertices.zip", rejects=(("0", "geometry", "100,000 vertices, more than the limit of 50,000 (setting ingest_max_vertices)"),), written=0),
    Case("deep_nesting.geojson", fails="deep_nesting.geojson: feature 0, field 'tags': JSON nested 20,004 levels deep, more than the limit of 64 (setting ingest_max_json_depth)"),
    Case("zip_slip.zip", fails="zip_slip.zip: member '../../outside.geojson' points outside the archive ('..'); refused, nothing was unpacked"),
    Case("zip_absolute.zip", fails="zip_absolute.zip: member '/tmp/absolute.geojson' has an absolute path"),
    Case("zip_symlink.zip", fails="zip_symlink.zip: member 'link.geojson' is a symbolic link"),
    Case("zip_nested.zip", fails="zip_nested.zip: member 'inner.zip' is itself an archive; nested archives are refused"),
    Case("shapefile_no_prj.zip", fails="shapefile_no_prj.zip:no_prj.shp: is a Shapefile without a .prj file, so its CRS is unknown; give it with --crs"),
    Case("shapefile_no_prj.zip", written=2, args=("--crs", "EPSG:4326")),
    Case("shapefile_cp1252.zip", fails="shapefile_cp1252.zip:cp1252.shp: feature 0, field 'name' = 'Forêt protégée': not UTF-8 text (byte 0xea) and no encoding is declared"),
    Case("cp1252.geojson", fails="cp1252.geojson: feature 0, field 'name' = 'For\\\\xeat de Prey Lang': not UTF-8 text (byte 0xea, line 1)"),
    Case("empty.geojson", fails="empty.geojson: is empty (0 bytes)"),
    Case("xss.geojson", written=1, logged="xss.geojson feature 0, field 'name' = '<img src=x onerror=alert(1)>': holds HTML markup"),
    Case("duplicate_keys.geojson", rejects=(("0", "name", "key given twice with different values ('A' and 'B')"),), written=1),
    Case("nan.geojson", rejects=(("0", "area", "not a finite number (NaN and Infinity are not JSON)"),), written=1),
    Case("control_chars.geojson", written=1, repaired=1, logged="field 'name' = 'Prey\\x00 Lang\\u202e': repaired: control characters removed"),
    Case("formula.geojson", written=2),  # text that starts with "=" is data; files written for spreadsheets quote it
    Case("long_field.geojson", rejects=(("0", "name", "20,000 characters, more than the limit of 10,000 (setting ingest_max_field_chars)"),), written=1),
    Case("duplicate_conflict.geojson", rejects=(("1", "name", "same key as feature 0, with other values (geometry)"),), written=1),
    Case("broken.geojson", fails="broken.geojson: cannot be read as GeoJSON: Unterminated string starting at (line 1, column 53)"),
    Case("not_geojson.json", fails="not_geojson.json: cannot be read as GeoJSON: the top level is not an object"),
    Case("kml_entities.kml", fails="kml_entities.kml: is KML with a DOCTYPE or entity declarations, which ecowatch refuses"),
    Case("kml_unclosed_ring.kml", rejects=(("1", "geometry", "geometry cannot be read"),), written=1),
    Case("unsupported.xyz", fails="unsupported.xyz: unsupported format '.xyz'"),
    Case("seizures_unterminated_quote.csv", fails="seizures_unterminated_quote.csv: CSV syntax error near line 6: unexpected end of data"),
    Case("seizures_header_only.csv", fails="seizures_header_only.csv: has a header line but no rows"),
    Case("seizures_empty.csv", fails="seizures_empty.csv: is empty"),
    Case("seizures_cp1252.csv", fails="seizures_cp1252.csv: row 3, field 'notes' = 'bois pr\\\\xe9cieux': not UTF-8 text (byte 0xe9, line 3)"),
    Case("seizures_duplicate_header.csv", fails="seizures_duplicate_header.csv: row 1: column 'date' appears twice (columns 2 and 10)"),
    Case("seizures_ambiguous_date.csv", rejects=(("3", "date", "ambiguous: 3 May or 5 March; declare the format in the mapping"),), written=1),
    Case("seizures_nan_infinity.csv", rejects=(("2", "quantity", "must be a finite number >= 0"), ("4", "quantity", "must be a finite number >= 0")), written=2),
    Case("seizures_xss.csv", written=2, logged="seizures_xss.csv row 2, field 'notes' = '<img src=x onerror=alert(1)>': holds HTML markup"),
    Case("seizures_duplicate_ids.csv", rejects=(("4", "seizure_id", "same seizure_id as row 2, with other values (date, quantity, notes)"),), written=2),
    Case("seizures_swapped.csv", rejects=(("4", "lat", "outside -90..90; lat/lon look swapped (lon 107.4, lat 13.6 would be in the region)"),), written=2),
    Case("seizures_ragged.csv", rejects=(("4", "", "12 cells, the header has 10"),), written=2),
    Case("seizures_formula.xlsx", rejects=(("2", "notes", "a formula cell"),), written=1),
    Case("seizures_two_sheets.xlsx", fails="seizures_two_sheets.xlsx: holds sheets 'Seizures', 'Notes'; choose one with --sheet NAME"),
    Case("seizures_two_sheets.xlsx", rejects=(("2", "notes", "a formula cell"),), written=1, args=("--sheet", "Seizures")),
    Case("seizures_entities.xlsx", fails="seizures_entities.xlsx: declares the XML entity 'lol', which ecowatch refuses: entities can expand without bound ('billion laughs')"),
    Case("seizures_external_entity.xlsx", fails="seizures_external_entity.xlsx: declares the external XML entity 'host' (pointing at 'file:///etc/hostname'), which ecowatch refuses"),
    Case("seizures_polygon.geojson", rejects=(("0", "geometry", "a LineString; a seizure is a Point"),), written=1),
]


def test_every_corpus_file_has_a_case():
    files = {p.name for p in BAD.iterdir() if p.suffix not in (".py", ".md")}
    assert files == {c.file for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file}{' ' + ' '.join(c.args) if c.args else ''}{' world' if c.env else ''}" for c in CASES])
def test_bad_input_ends_in_a_clear_message(case: Case, tmp_path: Path, caplog: pytest.LogCaptureFixture):
    store = tmp_path / "s.gpkg"
    layer = "seizures" if case.seizures else "aoi"
    command = ["ingest", "seizures"] if case.seizures else ["ingest", "boundaries", "aoi"]
    caplog.set_level(logging.WARNING)
    result = CliRunner().invoke(
        cli, [*command, str(BAD / case.file), *case.args, "--store", str(store)],
        env={"ECOWATCH_DATA_DIR": str(tmp_path), "ECOWATCH_REJECTS_MAX_SHARE": "1", **case.env},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception  # never a traceback
    with open_store(store) as st:
        runs = st.read("ingest_runs")
        count = st.count(layer)
    if case.fails:
        assert result.exit_code == 1, result.output
        assert case.fails in result.output.replace("\n", " "), result.output
        assert count == 0 and runs["status"].tolist() == ["failed"]  # the store is left as it was
        return
    assert result.exit_code == 0, result.output
    run = runs.iloc[-1]
    assert (run["status"], count, int(run["n_written"]), int(run["n_repaired"])) == ("completed", case.written, case.written, case.repaired)
    assert int(run["n_rejected"]) == len(case.rejects)
    if case.rejects:
        with open(run["rejects_file"], newline="", encoding="utf-8") as fh:
            got = [(r["row"], r["field"], r["reason"]) for r in csv.DictReader(fh)]
        for (row, fld, reason), (g_row, g_field, g_reason) in zip(case.rejects, got, strict=True):
            assert (g_row, g_field) == (row, fld) and reason in g_reason, got
    if case.logged:
        assert any(case.logged in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
