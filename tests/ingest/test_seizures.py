"""Seizure ingest from CSV: validation, rejects with reasons, natural keys, strict CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from ingest.errors import SourceError
from jobs.ingest_seizures import ingest_seizures
from layers import open_store

HEADER = "seizure_id,date,commodity_group,commodity,species,quantity,unit,lon,lat,agency,case_reference,notes,synthetic\n"


pytestmark = pytest.mark.backend  # every test runs on the GeoPackage and on PostGIS


@pytest.fixture
def store(store_url):
    with open_store(store_url) as st:
        yield st


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "seizures_2024.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_good_rows_land_bad_rows_are_kept_with_reasons(store, settings, tmp_path):
    path = write(tmp_path, (
        "K-1,2024-03-02,timber,rosewood logs,Dalbergia cochinchinensis,12.5,m3,107.45,13.66,Customs,C-1,\"note, with comma\",false\n"
        "K-2,2024-03-05,wildlife,pangolin scales,Manis javanica,30,kg,181.2,13.6,Customs,C-2,,false\n"
        "K-3,03/05/2024,timber,logs,,5,logs,107.4,13.6,,,,false\n"
        "K-4,2024-03-06,ivory,tusks,,2,pieces,107.4,13.6,,,,false\n"
        "K-5,2024-03-07,wildlife,turtles,,NaN,pieces,107.4,13.6,,,,false\n"
        ",2024-03-08,wildlife,turtles,,3,pieces,107.41,13.61,,,,true\n"
        "K-1,2024-03-09,timber,logs,,1,t,107.4,13.6,,,,false\n"
    ))
    run = ingest_seizures(store, settings.model_copy(update={"rejects_max_share": 0.8}), path)
    assert (run.read, run.written, run.rejected) == (7, 2, 5)
    got = store.read("seizures").set_index("seizure_id")
    assert got.loc["K-1", "notes"] == "note, with comma"
    assert got.loc["K-1", "commodity_group"] == "timber"
    hashed = [i for i in got.index if i.startswith("SZ-")]
    assert len(hashed) == 1
    assert store.layer_info("seizures")["synthetic"] is True
    with open(run.rejects_path, newline="") as fh:
        rejects = list(csv.DictReader(fh))
    messages = {r["row"]: (r["field"], r["value"], r["reason"]) for r in rejects}
    assert messages["3"] == ("lon", "181.2", "outside -180..180")
    assert messages["4"][0] == "date" and messages["4"][2].startswith("ambiguous: 3 May or 5 March; declare the format")
    assert messages["5"] == ("commodity_group", "ivory", "must be one of timber, wildlife")
    assert messages["6"] == ("quantity", "NaN", "must be a finite number >= 0")
    assert messages["8"] == ("seizure_id", "K-1", "same seizure_id as row 2, with other values (date, commodity, species, cites_appendix)")


def test_reingest_is_idempotent(store, settings, tmp_path):
    path = write(tmp_path, ",2024-03-08,wildlife,turtles,,3,pieces,107.41,13.61,,,,false\n")
    ingest_seizures(store, settings, path)
    run = ingest_seizures(store, settings, path)
    assert run.written == 0 and store.count("seizures") == 1


@pytest.mark.parametrize(
    ("body", "header", "reason"),
    [
        ('K-1,2024-03-02,timber,"unterminated,x,1,t,107,13,,,,\n', HEADER, "CSV syntax error"),
        ("", "", "is empty"),
        ("1,2\n", "seizure_id,date\n", "lacks required column(s) ['commodity_group', 'lon', 'lat']"),
    ],
)
def test_unusable_csv_fails_naming_the_file(store, settings, tmp_path, body, header, reason):
    path = write(tmp_path, body, header)
    with pytest.raises(SourceError) as info:
        ingest_seizures(store, settings, path)
    assert "seizures_2024.csv" in str(info.value) and reason in str(info.value)
    assert store.count("seizures") == 0


def test_non_utf8_is_refused(store, settings, tmp_path):
    path = tmp_path / "cp1252.csv"
    path.write_bytes((HEADER + "K-1,2024-03-02,timber,bois précieux,,1,t,107,13,,,,false\n").encode("cp1252"))
    with pytest.raises(SourceError, match="not UTF-8"):
        ingest_seizures(store, settings, path)


FULL = "date,commodity_group,commodity,species,cites_appendix,quantity,unit,lon,lat,utm_zone,easting,northing,place,country,location_precision,transport_mode,notes\n"


def ingest_text(store, settings, tmp_path, body: str, **kw):
    path = tmp_path / "s.csv"
    path.write_text(FULL + body, encoding="utf-8")
    return ingest_seizures(store, settings.model_copy(update={"rejects_max_share": 1.0}), path, **kw)


def reasons(run) -> dict[str, tuple[str, str]]:
    with open(run.rejects_path, newline="") as fh:
        return {r["row"]: (r["field"], r["reason"]) for r in csv.DictReader(fh)}


def test_locations_dms_utm_places_and_countries(store, settings, tmp_path):
    from ingest.mapping import FieldMapping
    from jobs.ingest_boundaries import ingest_boundaries
    from tests.ingest.test_boundaries import REGION

    for kind, f, m in (("countries", "countries.geojson", "countries.toml"), ("border-crossings", "border_crossings.geojson", "border_crossings.toml")):
        ingest_boundaries(store, settings, kind, REGION / f, mapping=FieldMapping.from_file(REGION / "mappings" / m))
    run = ingest_text(store, settings, tmp_path, (
        "2024-03-02,timber,logs,Siamese rosewood,,2,m3,107°27'E,\"13°39'36\"\"N\",,,,,,,truck,dms\n"
        "2024-03-02,wildlife,scales,Manis javanica,,3,kg,,,48N,764000,1511000,,,,boat,utm\n"
        "2024-03-02,wildlife,scales,pangolin,,3,kg,,,,,,O Yadav,,,,place\n"
        "2024-03-02,wildlife,scales,pangolin,,4,kg,,,,,,Somewhere unknown,Lao PDR,,,country fallback\n"
        "2024-03-02,wildlife,scales,pangolin,,5,kg,,,,,,,VN,,,iso code\n"
        "2024-03-02,wildlife,scales,pangolin,,6,kg,,,,,,Atlantis,,,,unknown place\n"
        "2024-03-02,wildlife,scales,pangolin,,7,kg,13.66,107.45,,,,,,,,swapped\n"
        "2024-03-02,wildlife,scales,pangolin,,8,kg,\"107,45\",13.66,,,,,,,,decimal comma\n"
        "2024-03-02,wildlife,scales,pangolin,,9,kg,107.45 N,13.66,,,,,,,,hemisphere\n"
        "2024-03-02,wildlife,scales,pangolin,,10,kg,,,,,,,,,,nowhere\n"
    ))
    got = store.read("seizures").set_index("notes")
    assert got.loc["dms"].geometry.x == pytest.approx(107.45) and got.loc["dms"].geometry.y == pytest.approx(13.66)
    assert got.loc["dms", "species"] == "Dalbergia cochinchinensis" and got.loc["dms", "cites_appendix"] == "II"
    assert got.loc["dms", "transport_mode"] == "road" and got.loc["utm", "transport_mode"] == "river"
    assert 107.0 < got.loc["utm"].geometry.x < 107.6 and 13.5 < got.loc["utm"].geometry.y < 13.8
    assert (got.loc["place", "location_precision"], got.loc["place", "place"]) == ("place", "O Yadav")
    assert got.loc["place", "species"] == "Manis spp." and got.loc["place", "cites_appendix"] == "I"
    assert got.loc["country fallback", "location_precision"] == "country"
    assert got.loc["iso code", "location_precision"] == "country"
    bad = reasons(run)
    assert bad["7"] == ("place", "not a border crossing or country of the region; give lon/lat, or a country as well")
    assert bad["8"] == ("lat", "outside -90..90; lat/lon look swapped (lon 107.45, lat 13.66 would be in the region)")
    assert bad["9"] == ("lon", "a decimal comma; write a decimal point (13.66)")
    assert bad["10"] == ("lon", "hemisphere 'N' belongs to lat: are lat and lon swapped?")
    assert bad["11"][1].startswith("no location: give lon and lat")
    assert (run.read, run.written, run.rejected) == (10, 5, 5)


def test_species_groups_appendices_units(store, settings, tmp_path):
    run = ingest_text(store, settings, tmp_path, (
        "2024-03-02,,logs,dalbergia OLIVERI,,1200 kg,,107.4,13.6,,,,,,,,group from species\n"
        "2024-03-02,wildlife,logs,Dalbergia oliveri,,1,m3,107.4,13.6,,,,,,,,group conflict\n"
        "2024-03-02,wildlife,turtles,Cuora picturata,App. I,\"1,200\",pcs,107.4,13.6,,,,,,,,genus entry\n"
        "2024-03-02,wildlife,x,Pseudomys fictus,,1,kg,107.4,13.6,,,,,,,,unlisted binomial\n"
        "2024-03-02,wildlife,x,12 monkeys,,1,kg,107.4,13.6,,,,,,,,not a name\n"
        "2024-03-02,wildlife,x,Manis javanica,IV,1,kg,107.4,13.6,,,,,,,,bad appendix\n"
        "2024-03-02,wildlife,x,Manis javanica,,1,kg,107.4,13.6,,,,,,,postal,bad mode\n"
        "2024-03-02,wildlife,x,Manis javanica,,\"1,5\",kg,107.4,13.6,,,,,,,,decimal comma\n"
        "2024-03-02,wildlife,x,Manis javanica,,2,g,107.4,13.6,,,,,,,,grams\n"
        "2024-03-02,wildlife,x,Manis javanica,,2,,107.4,13.6,,,,,,,,no unit\n"
        "2099-03-02,wildlife,x,Manis javanica,,2,kg,107.4,13.6,,,,,,,,future\n"
    ))
    got = store.read("seizures").set_index("notes")
    assert got.loc["group from species", ["commodity_group", "species", "quantity", "unit"]].tolist() == ["timber", "Dalbergia oliveri", 1200.0, "kg"]
    assert got.loc["genus entry", ["species", "cites_appendix", "quantity", "unit"]].tolist() == ["Cuora picturata", "I", 1200.0, "pieces"]
    assert got.loc["unlisted binomial", "species"] == "Pseudomys fictus" and pd.isna(got.loc["unlisted binomial", "cites_appendix"])
    bad = reasons(run)
    assert bad["3"] == ("commodity_group", "the species list has Dalbergia oliveri as timber")
    assert bad["6"] == ("species", "not a scientific name (Genus species) nor a name in the species list")
    assert bad["7"] == ("cites_appendix", "not a CITES appendix (I, II or III)")
    assert bad["8"][0] == "transport_mode"
    assert bad["9"][1].startswith("a comma in a number")
    assert bad["10"][0] == "unit" and bad["11"] == ("unit", "a quantity needs a unit (kg, t, m3, pieces, logs)")
    assert bad["12"] == ("date", "in the future")


def test_xlsx_geojson_and_a_shipped_mapping(store, settings, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    import datetime as dt

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Seizures"
    ws.append(["Date of seizure", "Case number", "Seizing agency", "Species (scientific name)", "CITES Appendix", "Description of specimen",
               "Quantity", "Unit", "Location of seizure", "Country of seizure", "Alleged country of origin", "Countries of transit",
               "Country of final destination", "Mode of transport", "Method of detection", "Reason for seizure", "Additional information"])
    ws.append(["02/03/2024", "KH-2024-17", "Customs", "Manis javanica", "I", "scales", 31.5, "kg", "Bavet", "Cambodia", "Nigeria", "Viet Nam",
               "China", "Road", "X-ray", "no permit", ""])
    ws.append([dt.datetime(2024, 3, 5), "KH-2024-18", "Customs", "Dalbergia cochinchinensis", "", "logs", 12, "m3", "", "Cambodia", "", "",
               "Viet Nam", "River", "", "", ""])
    path = tmp_path / "report.xlsx"
    wb.save(path)
    from ingest.mapping import FieldMapping
    from tests.ingest.test_boundaries import REGION

    mapping = FieldMapping.from_file(REGION / "mappings" / "seizures_cites_illegal_trade.toml").with_overrides(["seizure_id=Case number"])
    run = ingest_seizures(store, settings, path, mapping=mapping)
    assert (run.read, run.written, run.rejected) == (2, 2, 0)
    got = store.read("seizures").set_index("seizure_id")
    assert str(got.loc["KH-2024-17", "date"].date()) == "2024-03-02" and str(got.loc["KH-2024-18", "date"].date()) == "2024-03-05"
    assert got.loc["KH-2024-17", ["place", "location_precision", "transit_country", "transport_mode"]].tolist() == ["Bavet", "place", "Viet Nam", "road"]
    assert got.loc["KH-2024-18", ["location_precision", "cites_appendix", "commodity_group"]].tolist() == ["country", "II", "timber"]
    assert got.loc["KH-2024-17", "notes"] == "X-ray / no permit"
    geo = tmp_path / "points.geojson"
    geo.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [107.4, 13.6]},
                   "properties": {"date": "2024-04-01", "species": "Panthera tigris", "quantity": 1, "unit": "pieces"}}]}))
    run = ingest_seizures(store, settings, geo)
    assert run.written == 1 and store.read("seizures", where={"species": "Panthera tigris"})["commodity_group"].tolist() == ["wildlife"]


def test_reingest_after_analysis_fields_changes_nothing(store, settings, tmp_path):
    path = write(tmp_path, "K-1,2024-03-02,timber,logs,Dalbergia oliveri,1,m3,107.45,13.66,,,,false\n")
    ingest_seizures(store, settings, path)
    store.upsert("seizures", pd.DataFrame({"seizure_id": ["K-1"], "corridor_segment": ["sec-001"], "corridor_distance_km": [3.2]}))
    run = ingest_seizures(store, settings, path)
    assert run.written == 0
    assert store.read("seizures")["corridor_segment"].tolist() == ["sec-001"]  # what analyse added is kept
