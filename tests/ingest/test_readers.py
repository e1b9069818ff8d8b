"""Every boundary format lands alike; archives, encodings, layers and limits behave as documented."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from ingest.errors import LimitError, SourceError, TextEncodingError
from ingest.limits import Limits, json_deep_path, json_max_depth
from ingest.mapping import FieldMapping
from ingest.readers.vector import read_features
from jobs.ingest_boundaries import ingest_boundaries
from layers import open_store

SQUARES = [shapely.box(107.40, 13.60, 107.45, 13.65), shapely.box(107.50, 13.60, 107.55, 13.65)]


@pytest.fixture
def store(store_path):
    with open_store(store_path) as st:
        yield st


def frame(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame({"name": ["Prey Lang", "Réserve"]}, geometry=SQUARES, crs=4326)
    return gdf.to_crs(crs)


def zip_folder(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"data/{f.name}")
    return out


@pytest.mark.parametrize(
    ("suffix", "driver", "crs"),
    [
        (".geojson", "GeoJSON", "EPSG:4326"),
        (".geojson", "GeoJSON", "EPSG:32648"),  # legacy crs member, as the ODC files
        (".shp", "ESRI Shapefile", "EPSG:32648"),
        (".gpkg", "GPKG", "EPSG:4326"),
        (".fgb", "FlatGeobuf", "EPSG:32648"),
        (".kml", "KML", "EPSG:4326"),
    ],
)
def test_each_format_lands_the_same_features(store, settings, tmp_path, suffix, driver, crs):
    path = tmp_path / f"aoi{suffix}"
    frame(crs).to_file(path, driver=driver)
    run = ingest_boundaries(store, settings, "aoi", path)
    assert (run.read, run.written, run.rejected) == (2, 2, 0)
    got = store.read("aoi").sort_values("name")
    assert got["name"].tolist() == ["Prey Lang", "Réserve"]
    assert got.geometry.iloc[0].normalize().equals_exact(shapely.MultiPolygon([SQUARES[0]]).normalize(), tolerance=1e-6)
    again = ingest_boundaries(store, settings, "aoi", path)
    assert again.written == 0 and store.count("aoi") == 2


def test_zipped_shapefile_and_kmz(store, settings, tmp_path):
    shp = tmp_path / "shp"
    shp.mkdir()
    frame("EPSG:32648").to_file(shp / "areas.shp")
    run = ingest_boundaries(store, settings, "aoi", zip_folder(shp, tmp_path / "areas.zip"))
    assert run.written == 2
    kml = tmp_path / "doc.kml"
    frame().to_file(kml, driver="KML")
    kmz = tmp_path / "areas.kmz"
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.write(kml, "doc.kml")
    run = ingest_boundaries(store, settings, "aoi", kmz)
    assert (run.read, run.rejected, store.count("aoi")) == (2, 0, 2)  # the same AOIs (key: name), now from the KMZ
    assert set(store.read("aoi")["source"]) == {"areas.kmz"}


def test_several_shapefiles_in_a_zip_need_a_choice(store, settings, tmp_path):
    shp = tmp_path / "shp"
    shp.mkdir()
    frame().iloc[:1].to_file(shp / "north.shp")
    frame().iloc[1:].to_file(shp / "south.shp")
    archive = zip_folder(shp, tmp_path / "two.zip")
    with pytest.raises(SourceError, match=r"holds 2 datasets \(north, south\); choose one with --sheet NAME"):
        ingest_boundaries(store, settings, "aoi", archive)
    run = ingest_boundaries(store, settings, "aoi", archive, layer_name="south")
    assert store.read("aoi")["name"].tolist() == ["Réserve"] and run.written == 1


def test_geopackage_layers(store, settings, tmp_path):
    path = tmp_path / "two.gpkg"
    frame().iloc[:1].to_file(path, layer="north")
    frame().iloc[1:].to_file(path, layer="south")
    with pytest.raises(SourceError, match=r"holds 2 layers \(north, south\); choose one with --sheet NAME"):
        ingest_boundaries(store, settings, "aoi", path)
    with pytest.raises(SourceError, match="has no layer 'east'; layers: north, south"):
        ingest_boundaries(store, settings, "aoi", path, layer_name="east")
    assert ingest_boundaries(store, settings, "aoi", path, layer_name="north").written == 1


def test_declared_encoding_reads_cp1252(store, settings, tmp_path):
    path = tmp_path / "cp.geojson"
    path.write_bytes(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Forêt"}, "geometry": shapely.geometry.mapping(SQUARES[0])}]}, ensure_ascii=False).encode("cp1252"))
    with pytest.raises(TextEncodingError, match="feature 0, field 'name'"):
        ingest_boundaries(store, settings, "aoi", path)
    mapping = tmp_path / "m.toml"
    mapping.write_text('encoding = "cp1252"\n[fields]\nname = "name"\n')
    ingest_boundaries(store, settings, "aoi", path, mapping=FieldMapping.from_file(mapping))
    assert store.read("aoi")["name"].tolist() == ["Forêt"]


def test_file_size_limit_names_the_setting(store, settings, tmp_path):
    path = tmp_path / "aoi.geojson"
    frame().to_file(path)
    small = settings.model_copy(update={"ingest_max_file_mb": 0.0001})
    with pytest.raises(LimitError, match=r"more than the limit of 0.0 MB \(setting ingest_max_file_mb\)"):
        ingest_boundaries(store, small, "aoi", path)
    assert store.count("aoi") == 0 and store.read("ingest_runs")["status"].tolist() == ["failed"]


def test_crs_override_warns_when_the_file_declares_another(tmp_path, caplog):
    path = tmp_path / "aoi.geojson"
    frame("EPSG:32648").to_file(path)
    table = read_features(path, limits=Limits(), crs="EPSG:32647")
    assert table.frame.crs.to_epsg() == 32647
    assert "overridden by --crs EPSG:32647" in caplog.text


def test_json_depth_scan_finds_the_deep_field():
    data = b'{"features": [{"properties": {"a": "[[[[", "b": [[[[1]]]]}}]}'
    assert json_max_depth(data) == 8
    path, offset = json_deep_path(data, 5)
    assert path == ["features", 0, "properties", "b", 0] and offset > 0


def test_archive_that_unpacks_past_the_size_limit_is_refused(store, settings, tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("aoi.geojson", b" " * 2_000_000)  # 2 MB of spaces, a few KB zipped
    small = settings.model_copy(update={"ingest_max_file_mb": 1.0})
    with pytest.raises(LimitError, match=r"bomb.zip: 2.0 MB, more than the limit of 1.0 MB \(setting ingest_max_file_mb\)"):
        ingest_boundaries(store, small, "aoi", archive)


def test_coverage_from_the_setting(store, settings, tmp_path):
    from tests.ingest.test_boundaries import REGION

    ingest_boundaries(store, settings, "countries", REGION / "countries.geojson", mapping=FieldMapping.from_file(REGION / "mappings" / "countries.toml"))
    path = tmp_path / "pa.geojson"
    frame().to_file(path)
    cfg = settings.model_copy(update={"boundary_coverage": {"pa.geojson": ["Cambodia", "Laos"]}})
    ingest_boundaries(store, cfg, "protected-areas", path, mapping=FieldMapping.from_file(_pa_mapping(tmp_path)))
    cover = store.read("coverage").set_index("source")
    assert cover.loc["pa.geojson", "kind"] == "protected_areas"
    assert cover.loc["pa.geojson"].geometry.area > 10  # two countries' worth of degrees²


def _pa_mapping(folder: Path) -> Path:
    path = folder / "pa.toml"
    path.write_text('[fields]\nsource_id = "name"\nname = "name"\n')
    return path


@pytest.mark.parametrize("suffix, driver", [(".shp", "ESRI Shapefile"), (".gpkg", "GPKG"), (".fgb", "FlatGeobuf")])
def test_ogr_files_read_in_batches_give_what_one_read_gives(tmp_path, monkeypatch, suffix, driver):
    from ingest.readers import ogr

    n = 11
    frame = gpd.GeoDataFrame(
        {"name": [f"f{i}" for i in range(n)], "size": list(range(n))},
        geometry=[shapely.box(100 + i, 10, 100.5 + i, 10.5) for i in range(n)], crs="EPSG:4326",
    )
    path = tmp_path / f"many{suffix}"
    frame.to_file(path, driver=driver)
    limits = Limits()
    whole = read_features(path, limits=limits)
    for batch in (2, 11, 5):  # uneven, exactly the count, and a batch that ends one short
        monkeypatch.setattr(ogr, "BATCH_FEATURES", batch)
        parts = read_features(path, limits=limits)
        assert list(parts.frame.index) == list(whole.frame.index)
        assert list(parts.frame["name"]) == list(whole.frame["name"]) and sorted(whole.frame["name"]) == sorted(frame["name"])
        assert parts.frame.geometry.geom_equals(whole.frame.geometry).all()
        assert parts.read == n and not parts.rejects
