"""Seizure ingest from CSV: validation, rejects with reasons, natural keys, strict CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ingest.errors import SourceError
from ingest.seizures import ingest_seizures
from layers import open_store

HEADER = "seizure_id,date,commodity_group,commodity,species,quantity,unit,lon,lat,agency,case_reference,notes,synthetic\n"


@pytest.fixture
def store(store_path):
    with open_store(store_path) as st:
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
    assert messages["4"][0] == "date" and "declare its format" in messages["4"][2]
    assert messages["5"] == ("commodity_group", "ivory", "must be one of timber, wildlife")
    assert messages["6"] == ("quantity", "NaN", "must be a finite number >= 0")
    assert messages["8"] == ("seizure_id", "K-1", "duplicates line 2")


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
