"""Tables of records: CSV (strict), XLSX sheets, and GeoJSON points read as rows.

CSV: UTF-8 (a BOM is fine; UTF-16 with a BOM too), or the mapping's ``encoding``; the delimiter
(comma, semicolon, tab or bar) is taken from the header line; an unterminated quote or another
syntax error fails the file with its line; a row with more or fewer cells than the header is
rejected. XLSX: one sheet (``--sheet NAME`` when there are several), cells as typed (dates stay
dates); a row with a formula cell is rejected (a formula is not data: its value depends on the
workbook; text that merely starts with ``=`` is data).
Row numbers are what a user sees: the line of a CSV file, the row of a sheet, the position of a
GeoJSON feature. A header with a repeated column name, an empty file and a header without rows
fail the file.
"""

from __future__ import annotations

import csv
import io
import logging
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.archives import check_zip
from ingest.errors import ArchiveError, SourceError
from ingest.limits import Limits, check_file_size
from ingest.readers.encoding import decode, has_escapes, refuse
from ingest.readers.features import RawReject
from ingest.readers.geojson import read_geojson

logger = logging.getLogger(__name__)

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".geojson", ".json")
_DELIMITERS = (",", ";", "\t", "|")


@dataclass
class Table:
    """Rows of one table: raw cell values by column, the row numbers users see, rows refused whole."""

    name: str
    header: list[str]
    columns: dict[str, list[Any]]
    rows: list[int]
    unit: str = "row"
    rejects: list[RawReject] = field(default_factory=list)

    def record(self, i: int) -> dict[str, Any]:
        """The ``i``-th row as it was read (for the rejects file)."""
        return {h: self.columns[h][i] for h in self.header}

    @property
    def read(self) -> int:
        return len(self.rows) + len(self.rejects)


def _check_header(name: str, header: list[str], line: int = 1) -> list[str]:
    header = [str(h).strip() if h is not None else "" for h in header]
    seen: dict[str, int] = {}
    for i, h in enumerate(header, start=1):
        if not h:
            continue
        if h in seen:
            raise SourceError(name, f"row {line}: column {h!r} appears twice (columns {seen[h]} and {i}); rename or remove one")
        seen[h] = i
    return header


def _sniff(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv_table(path: Path, *, limits: Limits, encoding: str | None = None, name: str | None = None) -> Table:
    """Read a CSV file strictly (see the module docstring).

    Raises
    ------
    SourceError
        Missing, empty, header-only, undecodable, a repeated column name, or a CSV syntax error
        (with its line).
    """
    name = name or path.name
    check_file_size(path, limits, name=name)
    data = path.read_bytes()
    text, bad_at = decode(data, encoding, name)
    if not text.strip():
        raise SourceError(name, "is empty; expected a header line and rows")
    delimiter = _sniff(text.split("\n", 1)[0])
    csv.field_size_limit(max(csv.field_size_limit(), limits.max_file_bytes))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = _check_header(name, next(reader))
        records = list(reader)
    except csv.Error as err:
        raise SourceError(name, f"CSV syntax error near line {reader.line_num + 1}: {err}") from err
    width = len(header)
    body_lines = text.count("\n", text.index("\n") + 1 if "\n" in text else len(text)) + (0 if text.endswith("\n") else 1)
    if body_lines == len(records):  # no cell spans lines: record k is on line k + 2
        lines: list[int] = list(range(2, len(records) + 2))
    else:
        lines, line = [], 2
        for cells in records:
            lines.append(line)
            line += 1 + sum(c.count("\n") for c in cells)
    values: list[list[str]] = []
    rows: list[int] = []
    rejects: list[RawReject] = []
    for line, cells in zip(lines, records, strict=True):
        if not "".join(cells).strip():
            continue
        if len(cells) != width:
            rec = dict(zip(header, cells, strict=False))
            rejects.append(RawReject(line, "", None, f"{len(cells)} cells, the header has {width}", rec))
            continue
        values.append(cells)
        rows.append(line)
    if bad_at is not None:
        _refuse_escapes(name, data, bad_at, header, values, rows)
    if not values and not rejects:
        raise SourceError(name, "has a header line but no rows")
    columns = {h: list(col) for h, col in zip(header, zip(*values, strict=True), strict=True)} if values else {h: [] for h in header}
    return Table(name, header, columns, rows, "row", rejects)


def _refuse_escapes(name: str, data: bytes, offset: int, header: list[str], values: list[list[str]], rows: list[int]) -> None:
    for h in header:
        if has_escapes(h):
            raise refuse(name, "row 1, column name", h, data, offset)
    for line, cells in zip(rows, values, strict=True):
        for h, cell in zip(header, cells, strict=True):
            if has_escapes(cell):
                raise refuse(name, f"row {line}, field '{h}'", cell, data, offset)
    raise refuse(name, "", None, data, offset)


def _unsafe_xml(name: str, err: BaseException) -> SourceError | None:
    """The refusal of a workbook whose XML declares entities or a DTD (defusedxml's error anywhere in
    ``err``'s chain), or None for any other error."""
    from defusedxml import (
        DefusedXmlException,
        DTDForbidden,
        EntitiesForbidden,
        ExternalReferenceForbidden,
    )

    seen: BaseException | None = err
    while seen is not None and not isinstance(seen, DefusedXmlException):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return None
    if isinstance(seen, EntitiesForbidden | ExternalReferenceForbidden) and seen.sysid:
        what = f"declares the external XML entity {seen.name!r} (pointing at {seen.sysid[:80]!r})" if isinstance(seen, EntitiesForbidden) else f"holds an external XML reference ({seen.sysid[:80]!r})"
    elif isinstance(seen, EntitiesForbidden):
        what = f"declares the XML entity {seen.name!r}"
    elif isinstance(seen, DTDForbidden):
        what = "holds an XML DOCTYPE"
    else:
        what = f"holds XML that is not safe to parse ({seen})"
    return SourceError(
        name, f"{what}, which ecowatch refuses: entities can expand without bound ('billion laughs') or read files outside the workbook; "
        "nothing was read from this file (save it again from a spreadsheet program, or as CSV)",
    )


def _refuse_xml_declarations(path: Path, name: str) -> None:
    """Refuse a workbook any of whose XML parts declares a DTD or entities, before openpyxl reads it.

    openpyxl parses through defusedxml only when lxml is not installed (with lxml it uses lxml's own
    parser); so every part's prologue is read here through defusedxml, whatever is installed. The
    declarations come before the root element: each part is read only up to its first element.
    """
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            if not member.endswith((".xml", ".rels", ".vml")):
                continue
            try:
                with zf.open(member) as fh:
                    for _ in iterparse(fh, events=("start",)):
                        break
            except DefusedXmlException as err:
                raise _unsafe_xml(name, err) or SourceError(name, f"holds XML that is not safe to parse ({err})") from err
            except (ParseError, zipfile.BadZipFile, OSError, ValueError, KeyError, RuntimeError):
                continue  # XML or zip trouble that is not a declaration: openpyxl reports it, with its message


def read_xlsx_table(path: Path, *, limits: Limits, sheet: str | None = None, name: str | None = None) -> Table:
    """Read one sheet of an XLSX workbook (cells as typed; a row with a formula cell rejected).

    Raises
    ------
    SourceError
        Not a workbook, unsafe as a zip, XML declaring entities (parsed through defusedxml, which
        refuses them), several sheets and no ``sheet``, no such sheet, an empty sheet, a header
        without rows, or a repeated column name.
    """
    import openpyxl  # imported here: only XLSX input needs it
    from openpyxl.utils.exceptions import InvalidFileException

    name = name or path.name
    check_file_size(path, limits, name=name)
    try:
        check_zip(path, limits)
    except ArchiveError as err:
        raise SourceError(name, f"is not a workbook ecowatch can open: {err.reason}") from err
    if not openpyxl.DEFUSEDXML:
        raise SourceError(name, "was not read: openpyxl would parse its XML without defusedxml (OPENPYXL_DEFUSEDXML is set in the environment); unset it")
    _refuse_xml_declarations(path, name)
    # openpyxl leaves the archive it opened unclosed when it fails; it never closes one it is given
    with path.open("rb") as fh, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            wb = openpyxl.load_workbook(fh, read_only=True, data_only=False)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as err:
            raise _unsafe_xml(name, err) or SourceError(name, f"cannot be read as an XLSX workbook: {err}") from err
        try:
            names = list(wb.sheetnames)
            if sheet is None and len(names) > 1:
                raise SourceError(name, f"holds sheets {', '.join(repr(n) for n in names)}; choose one with --sheet NAME")
            if sheet is not None and sheet not in names:
                raise SourceError(name, f"has no sheet {sheet!r}; sheets: {', '.join(repr(n) for n in names)}")
            ws = wb[sheet or names[0]]
            grid, formulas = [], {}
            for i, r in enumerate(ws.iter_rows(), start=ws.min_row or 1):
                grid.append((i, [c.value for c in r]))
                found = next((j for j, c in enumerate(r) if getattr(c, "data_type", None) == "f"), None)
                if found is not None:
                    formulas[i] = found
        except (KeyError, ValueError, TypeError, SyntaxError) as err:  # the sheet's XML is parsed here, lazily
            raise _unsafe_xml(name, err) or SourceError(name, f"cannot be read as an XLSX workbook: {err}") from err
        finally:
            wb.close()
    for w in caught:
        logger.info("%s: %s", name, w.message)
    grid = [(i, r) for i, r in grid if any(v is not None and str(v).strip() for v in r)]
    if not grid:
        raise SourceError(name, f"sheet {sheet or names[0]!r} is empty; expected a header row and rows")
    head_row, head = grid[0]
    while head and (head[-1] is None or not str(head[-1]).strip()):
        head.pop()
    header = _check_header(name, [str(h) if h is not None else "" for h in head], head_row)
    width = len(header)
    values, rows, rejects = [], [], []
    for i, cells in grid[1:]:
        cells = [v.strip() if isinstance(v, str) else v for v in cells]
        extra = [v for v in cells[width:] if v is not None and str(v).strip()]
        cells = (cells + [None] * width)[:width]
        if extra:
            rejects.append(RawReject(i, "", None, f"has values beyond the last named column ({extra[0]!r:.40})", dict(zip(header, cells, strict=True))))
            continue
        if i in formulas:
            j = formulas[i]
            rejects.append(RawReject(
                i, header[j] if j < width else "", cells[j] if j < width else None,
                "a formula cell: ecowatch reads values, not formulas; paste the values (Paste special > Values) and ingest again",
                dict(zip(header, cells, strict=True)),
            ))
            continue
        values.append(cells)
        rows.append(i)
    if not values and not rejects:
        raise SourceError(name, "has a header row but no rows")
    columns = {h: list(col) for h, col in zip(header, zip(*values, strict=True), strict=True)} if values else {h: [] for h in header}
    return Table(name, header, columns, rows, "row", rejects)


def read_point_table(path: Path, *, limits: Limits, encoding: str | None = None, name: str | None = None) -> Table:
    """GeoJSON features as rows: their properties, and ``lon``/``lat`` from a Point geometry (in EPSG:4326)."""
    name = name or path.name
    feats = read_geojson(path, limits=limits, encoding=encoding, name=name)
    frame = feats.frame
    rejects = list(feats.rejects)
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    geoms = frame.geometry
    kinds = geoms.geom_type
    bad = geoms.notna() & (kinds != "Point")
    for idx in frame.index[bad]:
        rejects.append(RawReject(idx, "geometry", kinds[idx], f"a {kinds[idx]}; a seizure is a Point (or no geometry and a place name)", frame.drop(columns="geometry").loc[idx].to_dict()))
    frame = frame[~bad]
    attrs = frame.drop(columns="geometry")
    header = [str(c) for c in attrs.columns]
    columns = {h: attrs[h].tolist() for h in header}
    has_point = frame.geometry.notna().to_numpy()
    if has_point.any():
        for axis in ("lon", "lat"):
            if axis not in columns:
                header.append(axis)
                columns[axis] = [None] * len(frame)
        xs, ys = frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
        for i in range(len(frame)):
            if has_point[i]:
                columns["lon"][i], columns["lat"][i] = float(xs[i]), float(ys[i])
    if len(frame) == 0 and not rejects:
        raise SourceError(name, "has no features")
    return Table(name, header, columns, [int(i) for i in frame.index], "feature", rejects)


def read_table(path: Path, *, limits: Limits, sheet: str | None = None, encoding: str | None = None) -> Table:
    """Read a table of records from CSV, XLSX or GeoJSON (by the file's suffix).

    Raises
    ------
    SourceError
        A missing or unusable file (see the readers).
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(str(path), "no such file")
    suffix = path.suffix.lower()
    if sheet is not None and suffix != ".xlsx":
        raise SourceError(str(path), "--sheet is for XLSX workbooks")
    if suffix in (".csv", ".tsv", ".txt"):
        table = read_csv_table(path, limits=limits, encoding=encoding, name=str(path))
    elif suffix == ".xlsx":
        table = read_xlsx_table(path, limits=limits, sheet=sheet, name=str(path))
    elif suffix in (".geojson", ".json"):
        table = read_point_table(path, limits=limits, encoding=encoding, name=str(path))
    elif suffix in (".xls", ".xlsm", ".xlsb", ".ods"):
        raise SourceError(str(path), f"unsupported format {suffix!r}; save the sheet as .xlsx (no macros) or .csv")
    else:
        raise SourceError(str(path), f"unsupported format {suffix!r}; seizure records can be {', '.join(TABLE_SUFFIXES)}")
    table.name = path.name
    return table
