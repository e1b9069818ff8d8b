"""XLSX is zipped XML parsed in Python (openpyxl): it goes through defusedxml, and entity declarations
are refused with an error naming the file. (KML is parsed by GDAL, after ecowatch refuses any
DOCTYPE in it: ``kml_entities.kml`` in the bad corpus.)"""

from __future__ import annotations

import zipfile
from pathlib import Path

import defusedxml
import openpyxl
import pytest

from ingest.errors import SourceError
from ingest.limits import Limits
from ingest.readers.tables import read_xlsx_table

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"


def chain(err: BaseException | None) -> list[BaseException]:
    out = []
    while err is not None:
        out.append(err)
        err = err.__cause__ or err.__context__
    return out


@pytest.mark.parametrize(
    ("file", "expected", "refusal"),
    [
        ("seizures_entities.xlsx", "seizures_entities.xlsx: declares the XML entity 'lol', which ecowatch refuses", defusedxml.EntitiesForbidden),
        ("seizures_external_entity.xlsx", "seizures_external_entity.xlsx: declares the external XML entity 'host' (pointing at 'file:///etc/hostname')", defusedxml.EntitiesForbidden),
    ],
)
def test_entity_declarations_are_refused_by_defusedxml(file, expected, refusal):
    with pytest.raises(SourceError) as info:
        read_xlsx_table(BAD / file, limits=Limits())
    assert str(info.value).startswith(expected)
    assert "nothing was read from this file" in str(info.value)
    assert any(isinstance(e, refusal) for e in chain(info.value))  # defusedxml said no, not a later check


def test_a_clean_workbook_still_reads():
    table = read_xlsx_table(BAD / "seizures_formula.xlsx", limits=Limits())
    # row 2 holds a formula cell: rejected by the reader (values only), the other row read
    assert table.rows == [3] and table.columns["seizure_id"] == ["X-2"]
    assert [(r.feature, r.field) for r in table.rejects] == [(2, "notes")] and "a formula cell" in table.rejects[0].reason


def test_refused_when_openpyxl_would_parse_without_defusedxml(monkeypatch):
    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)
    with pytest.raises(SourceError, match=r"^seizures_formula.xlsx: was not read: openpyxl would parse its XML without defusedxml"):
        read_xlsx_table(BAD / "seizures_formula.xlsx", limits=Limits())


def test_broken_sheet_xml_is_a_clear_error_not_a_traceback(tmp_path):
    """The sheet's XML is parsed lazily, while rows are read; an error there still names the file."""
    src = BAD / "seizures_formula.xlsx"
    out = tmp_path / "truncated.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data[: data.index(b"<row r=\"3\"") + 20]  # cut inside the third row
            zout.writestr(info, data)
    with pytest.raises(SourceError, match=r"^truncated.xlsx: cannot be read as an XLSX workbook: "):
        read_xlsx_table(out, limits=Limits())
