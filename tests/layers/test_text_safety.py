"""Formula-safe text: a corpus of spreadsheet injections through the rejects CSV, read back with ``csv``."""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

import pytest

from config import load_settings
from jobs.ingest_seizures import ingest_seizures
from layers import open_store
from layers.export import export_layer
from layers.opaque_ids import KEY_FILE, load_id_key
from layers.text_safety import needs_quote, normalise_text, spreadsheet_cell

INJECTIONS = [
    '=HYPERLINK("http://example.invalid","click")',
    "=cmd|' /C calc'!A0",  # DDE
    '=DDE("cmd";"/C calc";"!A0")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "=-1",
    "\x00=HYPERLINK(\"x\")",  # control character first
    "\x1b=1+1",  # escape
    "\x7f@SUM(1)",
    "\u202e=1+cmd|' /C calc'!A0",  # right-to-left override
    "\u2066=1+1\u2069",  # bidi isolate
    "\u200b=1+1",  # zero-width space
    "\ufeff=1+1",  # byte-order mark
    "\uff1d1+1",  # full-width =
    "\uff0b1+cmd|x!A0",  # full-width +
    "\uff0d2+3",  # full-width -
    "\uff20SUM(A1)",  # full-width @
    " =1+1",  # leading space
    "\u00a0=1+1",  # no-break space (NFKC: a space)
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "\u2028=1+1",  # line separator
    "-",
    "+",
    "-1e5+cmd",
]
PLAIN = ["-12.5", "-3", "+85512345678", "1e-3", "plain text", "a=1"]


def _starts_like_a_formula(cell: str) -> bool:
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r") or cell.lstrip()[:1] in ("=", "+", "-", "@")


def test_the_rule_on_its_own() -> None:
    assert len(INJECTIONS) >= 20
    for value in INJECTIONS:
        cell = spreadsheet_cell(value)
        assert cell.startswith("'") and cell[1:] == normalise_text(value), repr(value)
    for value in PLAIN:
        assert spreadsheet_cell(value) == value
    assert spreadsheet_cell(-3) == "-3" and spreadsheet_cell(None) == "" and not needs_quote("")


def _seizures_csv(path: Path) -> None:
    """Rows rejected for their quantity (an injection, a negative number, a phone number), and good rows with injections as notes."""
    header = ["seizure_id", "date", "commodity_group", "species", "quantity", "unit", "lon", "lat", "notes", "origin_country"]
    rows = []
    for i, bad in enumerate([*INJECTIONS, "-3"]):  # a numeric field: rejected, the value shown
        rows.append([f"BAD-{i}", "2024-03-02", "timber", "Dalbergia oliveri", bad, "m3", "107.4", "13.6", bad, "+85512345678"])
    # a text field: a phone number is not a species
    rows.append(["BAD-phone", "2024-03-02", "timber", "+85512345678", "2", "m3", "107.4", "13.6", "", "+85512345678"])
    for i, note in enumerate(INJECTIONS):
        rows.append([f"OK-{i}", "2024-03-02", "timber", "Dalbergia oliveri", "2", "m3", "107.4", "13.6", note, "-12.5"])
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def test_rejects_file_is_formula_safe_and_private(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=tmp_path, rejects_max_share=1.0)
    src = tmp_path / "seizures.csv"
    _seizures_csv(src)
    old = os.umask(0o000)  # the most permissive umask: the mode must not depend on it
    try:
        with open_store(tmp_path / "s.gpkg") as store:
            run = ingest_seizures(store, settings, src)
            stored = store.read("seizures", columns=["seizure_id", "notes", "origin_country"]).set_index("seizure_id")
    finally:
        os.umask(old)
    assert run.rejected == len(INJECTIONS) + 2
    path = Path(run.rejects_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with path.open(newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    header, body = table[0], table[1:]
    assert header == ["source", "row", "field", "value", "reason", "record"]
    cells = [cell for row in body for cell in row]
    assert not [c for c in cells if _starts_like_a_formula(c) and not c.startswith("'") and c not in ("-3", "+85512345678", "-12.5")]
    values = [row[header.index("value")] for row in body]
    for bad in INJECTIONS:  # shown as read (readers trim cells), quoted
        assert spreadsheet_cell(bad.strip()).startswith("'") and spreadsheet_cell(bad.strip()) in values
    assert "-3" in values and "+85512345678" in values  # plain numbers round-trip as data
    # ingest stores text as given after normalising: a note that starts with "=" is data
    for i, note in enumerate(INJECTIONS):
        assert stored.loc[f"OK-{i}", "notes"] == (normalise_text(note).strip() or None)
    assert set(stored["origin_country"]) == {"-12.5"}


def test_exports_and_the_id_key_are_private(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=tmp_path)
    old = os.umask(0o000)
    try:
        key = load_id_key(settings)
        with open_store(tmp_path / "s.gpkg") as store:
            export_layer(store, "seizures", tmp_path / "x.geojson", role="planner")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.geojson").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert load_id_key(settings) == key  # stable: kept in the data folder


@pytest.mark.parametrize("value", ["=1+1", "@x", "+cmd|x"])
def test_a_stored_formula_like_note_is_not_an_error(value: str) -> None:
    assert normalise_text(value) == value
