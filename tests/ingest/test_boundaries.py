"""Boundary ingest: the real ODC files with the shipped mappings, rejects, repairs, idempotence."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from config import region_dir
from ingest.errors import SourceError, TooManyRejectsError
from ingest.mapping import FieldMapping, categorise
from jobs.ingest_boundaries import ingest_boundaries
from layers import open_store

REGION = region_dir("mekong")


def load(store, settings, kind, file, mapping=None, **kw):
    fm = FieldMapping.from_file(REGION / "mappings" / mapping) if mapping else None
    return ingest_boundaries(store, settings, kind, Path(file), mapping=fm, **kw)


pytestmark = pytest.mark.backend  # every test runs on the GeoPackage and on PostGIS


@pytest.fixture
def store(store_url):
    with open_store(store_url) as st:
        yield st


def test_odc_files_load_with_the_shipped_mappings(store, settings, caplog):
    load(store, settings, "countries", REGION / "countries.geojson", "countries.toml")
    run = load(store, settings, "concessions", REGION / "concessions_odc_2014.geojson", "concessions.toml")
    assert (run.read, run.written, run.rejected, run.repaired) == (225, 225, 0, 2)
    assert sum("invalid geometry repaired" in r.message for r in caplog.records) >= 2
    run = load(store, settings, "protected-areas", REGION / "protected_areas_odc_2013.geojson", "protected_areas.toml")
    assert (run.read, run.written, run.rejected) == (33, 33, 0)
    conc = store.read("concessions").set_index("source_id")
    assert conc.geometry.is_valid.all() and (conc.geometry.geom_type == "MultiPolygon").all()
    # ELC-001: contract 26/10/2000 for 70 years
    assert str(conc.at["ELC-001", "valid_from"].date()) == "2000-10-26"
    assert str(conc.at["ELC-001", "valid_to"].date()) == "2070-10-26"
    assert bool(conc.at["ELC-067", "cancelled"]) is True
    assert bool(conc.at["ELC-001", "cancelled"]) is False
    assert conc.loc["ELC-026", "area_ha"] == pytest.approx(20_667, rel=0.01)
    coverage = store.read("coverage")
    assert set(coverage["kind"]) == {"concessions", "protected_areas"}
    # every written purpose matches a category keyword (none falls through to the default)
    rule = FieldMapping.from_file(REGION / "mappings" / "concessions.toml").rules["purpose_category"]
    purposes = conc["purpose"].dropna()
    assert purposes.nunique() >= 80
    assert [p for p in purposes.unique() if categorise(p, rule.keywords or {}, None) is None] == []
    assert conc["purpose_category"].notna().all()
    assert set(conc["purpose_category"]) <= {
        "plantation: rubber", "plantation: oil palm", "plantation: acacia", "plantation: sugar cane", "plantation: cassava",
        "agro-industry", "mining", "logging", "tourism", "other",
    }
    assert conc.loc[conc["purpose"].isna(), "purpose_category"].eq("other").all()


def test_reingest_changes_nothing(store, settings):
    load(store, settings, "countries", REGION / "countries.geojson", "countries.toml")
    before = store.read("countries")
    run = load(store, settings, "countries", REGION / "countries.geojson", "countries.toml")
    assert run.written == 0
    assert store.count("countries") == len(before)


def write_fc(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def feat(props: dict, geom: dict | None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geom}


def test_bad_features_are_rejected_with_reasons_and_good_ones_land(store, settings, tmp_path):
    square = shapely.geometry.mapping(shapely.box(107, 13, 107.1, 13.1))
    bowtie = {"type": "Polygon", "coordinates": [[[107, 13], [107.1, 13.1], [107.1, 13], [107, 13.1], [107, 13]]]}
    line = {"type": "LineString", "coordinates": [[107, 13], [107.1, 13.1]]}
    f = write_fc(tmp_path / "pa.geojson", [
        feat({"Name": "Good", "Status": "NP", "Category": None}, square),
        feat({"Name": "Bowtie <script>", "Status": "NP", "Category": None}, bowtie),
        feat({"Name": "NoGeom", "Status": "NP", "Category": None}, None),
        feat({"Name": "Line", "Status": "NP", "Category": None}, line),
        feat({"Name": "Good", "Status": "NP", "Category": None}, square),
    ])
    load(store, settings, "countries", REGION / "countries.geojson", "countries.toml")
    run = load(store, settings.model_copy(update={"rejects_max_share": 0.8}), "protected-areas", f, "protected_areas.toml")
    assert (run.read, run.written, run.rejected, run.repaired) == (5, 2, 3, 1)
    assert sorted(store.read("protected_areas")["name"]) == ["Bowtie <script>", "Good"]
    with open(run.rejects_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    reasons = {(r["row"], r["field"]): r["reason"] for r in rows}
    assert reasons[("2", "geometry")] == "no geometry"
    assert reasons[("3", "geometry")] == "a LineString, but this layer holds Polygon or MultiPolygon"
    assert reasons[("4", "source,source_id")] == "same key as feature 0 (a repeat)"
    assert json.loads(rows[0]["record"])["Name"] in ("NoGeom", "Line", "Good")
    runs = store.read("ingest_runs")
    assert runs["rejects_file"].iloc[-1] == str(run.rejects_path)


def test_too_many_rejects_fail_the_run_and_leave_the_store_unchanged(store, settings, tmp_path):
    f = write_fc(tmp_path / "aoi.geojson", [feat({"name": "a"}, None), feat({"name": "b"}, None), feat({"name": "c"}, shapely.geometry.mapping(shapely.box(107, 13, 107.1, 13.1)))])
    with pytest.raises(TooManyRejectsError, match="2 of 3 records rejected"):
        load(store, settings, "aoi", f)
    assert store.count("aoi") == 0
    assert store.read("ingest_runs")["status"].tolist() == ["failed"]
    with pytest.raises(TooManyRejectsError, match="--strict"):
        load(store, settings.model_copy(update={"rejects_max_share": 1.0}), "aoi", f, strict=True)
    assert store.count("aoi") == 0


def test_projected_file_without_crs_needs_crs(store, settings, tmp_path):
    path = tmp_path / "aoi.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feat({"name": "u"}, shapely.geometry.mapping(shapely.box(754000, 1501000, 774000, 1521000)))]}))
    run = load(store, settings.model_copy(update={"rejects_max_share": 1.0}), "aoi", path)
    assert run.rejected == 1  # read as lon/lat: out of range, rejected with the hint
    assert "is the CRS right? (--crs)" in run.rejects_path.read_text()
    run = load(store, settings, "aoi", path, crs="EPSG:32648")
    assert run.written == 1
    minx, miny, maxx, maxy = store.read("aoi").total_bounds
    assert 107.3 < minx < maxx < 107.6


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.geojson", None, "no such file"),
        ("a.csv", "x,y\n", "unsupported format '.csv'"),
        ("broken.geojson", '{"type": "FeatureCollection", "features": [', "cannot be read as GeoJSON"),
    ],
)
def test_unusable_files_fail_with_the_file_named(store, settings, tmp_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(SourceError) as info:
        load(store, settings, "aoi", path)
    assert str(path) in str(info.value) and reason in str(info.value)
    assert store.read("ingest_runs")["status"].tolist() == ["failed"]


def test_mapping_naming_a_missing_column_fails_before_writing(store, settings, tmp_path):
    f = write_fc(tmp_path / "c.geojson", [feat({"holder": "x"}, shapely.geometry.mapping(shapely.box(0, 0, 1, 1)))])
    with pytest.raises(SourceError, match="names column 'name', which the file does not have"):
        load(store, settings, "concessions", f, "concessions.toml")


def test_geopackage_input(store, settings, tmp_path):
    path = tmp_path / "aoi.gpkg"
    gpd.GeoDataFrame({"name": ["g"]}, geometry=[shapely.box(107, 13, 107.1, 13.1)], crs=4326).to_file(path)
    run = load(store, settings, "aoi", path)
    assert run.written == 1 and store.read("aoi")["name"].tolist() == ["g"]
