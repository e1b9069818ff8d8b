"""Write the bad-input corpus of this folder (deterministic; run it again after changing a case).

    python tests/data/bad/make_corpus.py

Every file is made here, by ecowatch's authors, from nothing but the code below (no third-party
data): see README.md for what each one is and what ingest must say about it.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import geopandas as gpd
import shapely

HERE = Path(__file__).resolve().parent
SQUARE = [[107.40, 13.60], [107.45, 13.60], [107.45, 13.65], [107.40, 13.65], [107.40, 13.60]]
SQUARE2 = [[107.50, 13.60], [107.55, 13.60], [107.55, 13.65], [107.50, 13.65], [107.50, 13.60]]


def feature(props: dict, geom: dict | None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geom}


def poly(ring: list) -> dict:
    return {"type": "Polygon", "coordinates": [ring]}


def fc(*features: dict, **extra: object) -> str:
    return json.dumps({"type": "FeatureCollection", **extra, "features": list(features)}, ensure_ascii=False)


def write(name: str, text: str | bytes) -> None:
    path = HERE / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)


def zipped(name: str, members: dict[str, bytes], links: tuple[str, ...] = ()) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            info = zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            if member in links:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, data)
    write(name, buf.getvalue())


def shapefile(stem: str, *, prj: bool, cpg: bool, encoding: str) -> dict[str, bytes]:
    folder = HERE / f".{stem}"
    folder.mkdir(exist_ok=True)
    frame = gpd.GeoDataFrame({"name": ["Forêt protégée", "Réserve"]}, geometry=[shapely.Polygon(SQUARE), shapely.Polygon(SQUARE2)], crs=4326)
    frame.to_file(folder / f"{stem}.shp", encoding=encoding)
    out = {}
    for f in sorted(folder.iterdir()):
        keep = (f.suffix != ".prj" or prj) and (f.suffix != ".cpg" or cpg)
        if keep:
            data = f.read_bytes()
            if f.suffix == ".dbf":
                data = data[:29] + b"\x00" + data[30:]  # no language driver id: the encoding is not declared
            out[f.name] = data
        f.unlink()
    folder.rmdir()
    return out


def boundaries() -> None:
    bowtie = [[107.40, 13.60], [107.45, 13.65], [107.45, 13.60], [107.40, 13.65], [107.40, 13.60]]
    write("bowtie.geojson", fc(feature({"name": "bowtie"}, poly(bowtie))))
    write("empty_geometry.geojson", fc(feature({"name": "empty"}, {"type": "Polygon", "coordinates": []}), feature({"name": "good"}, poly(SQUARE))))
    write("null_geometry.geojson", fc(feature({"name": "null"}, None), feature({"name": "good"}, poly(SQUARE))))
    flat = [[107.40, 13.60], [107.45, 13.60], [107.50, 13.60], [107.40, 13.60]]
    write("degenerate.geojson", fc(feature({"name": "flat"}, poly(flat)), feature({"name": "short ring"}, poly(SQUARE[:3])), feature({"name": "good"}, poly(SQUARE))))
    write("wrong_type.geojson", fc(feature({"name": "a line"}, {"type": "LineString", "coordinates": SQUARE[:2]}), feature({"name": "good"}, poly(SQUARE))))
    write("z_mixed.geojson", fc(feature({"name": "3d"}, poly([[x, y, 120.0] for x, y in SQUARE])), feature({"name": "2d"}, poly(SQUARE2))))
    across = [[179.5, -16.5], [-179.5, -16.5], [-179.5, -16.0], [179.5, -16.0], [179.5, -16.5]]
    write("antimeridian.geojson", fc(feature({"name": "fiji"}, poly(across))))
    write("swapped_latlon.geojson", fc(feature({"name": "swapped"}, poly([[y, x] for x, y in SQUARE]))))
    utm = [[754000, 1501000], [774000, 1501000], [774000, 1521000], [754000, 1521000], [754000, 1501000]]
    write("projected_in_lonlat.geojson", fc(feature({"name": "utm"}, poly(utm))))
    write("outside_region.geojson", fc(feature({"name": "rome"}, poly([[x - 95.0, y + 28.3] for x, y in SQUARE]))))
    n = 100_000
    ring = [[round(107.4 + 0.05 * i / n, 7), 13.60 if i % 2 == 0 else 13.6002] for i in range(n - 3)]
    ring += [[107.45, 13.65], [107.40, 13.65], ring[0]]
    zipped("many_vertices.zip", {"many_vertices.geojson": fc(feature({"name": "comb"}, poly(ring))).encode()})
    deep = "[" * 20_000 + "]" * 20_000
    write("deep_nesting.geojson", '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "deep", "tags": ' + deep + '}, "geometry": null}]}')
    good = fc(feature({"name": "good"}, poly(SQUARE))).encode()
    zipped("zip_slip.zip", {"../../outside.geojson": good})
    zipped("zip_absolute.zip", {"/tmp/absolute.geojson": good})
    zipped("zip_symlink.zip", {"link.geojson": b"/etc/passwd"}, links=("link.geojson",))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("aoi.geojson", good)
    zipped("zip_nested.zip", {"inner.zip": inner.getvalue()})
    zipped("shapefile_no_prj.zip", shapefile("no_prj", prj=False, cpg=True, encoding="utf-8"))
    zipped("shapefile_cp1252.zip", shapefile("cp1252", prj=True, cpg=False, encoding="cp1252"))
    write("cp1252.geojson", fc(feature({"name": "Forêt de Prey Lang"}, poly(SQUARE))).encode("cp1252"))
    write("empty.geojson", b"")
    xss = {"name": "<img src=x onerror=alert(1)>", "<script>alert('key')</script>": "value"}
    write("xss.geojson", fc(feature(xss, poly(SQUARE))))
    write("duplicate_keys.geojson", '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "name": "B"}, '
          f'"geometry": {json.dumps(poly(SQUARE))}}}, {{"type": "Feature", "properties": {{"name": "C"}}, "geometry": {json.dumps(poly(SQUARE2))}}}]}}')
    write("nan.geojson", '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "n", "area": NaN}, '
          f'"geometry": {json.dumps(poly(SQUARE))}}}, {{"type": "Feature", "properties": {{"name": "ok", "area": 1}}, "geometry": {json.dumps(poly(SQUARE2))}}}]}}')
    write("control_chars.geojson", fc(feature({"name": "Prey\x00 Lang\u202e"}, poly(SQUARE))))
    write("formula.geojson", fc(feature({"name": '=HYPERLINK("http://example.invalid","click")'}, poly(SQUARE)), feature({"name": "good"}, poly(SQUARE2))))
    write("long_field.geojson", fc(feature({"name": "x" * 20_000}, poly(SQUARE)), feature({"name": "good"}, poly(SQUARE2))))
    write("duplicate_conflict.geojson", fc(feature({"name": "same"}, poly(SQUARE)), feature({"name": "same"}, poly(SQUARE2))))
    write("broken.geojson", fc(feature({"name": "cut"}, poly(SQUARE)))[:60])
    write("not_geojson.json", json.dumps([1, 2, 3]))
    kml_bomb = ('<?xml version="1.0"?>\n<!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
                '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>&b;</name><Point><coordinates>107.4,13.6</coordinates></Point></Placemark></Document></kml>\n')
    write("kml_entities.kml", kml_bomb)
    unclosed = " ".join(f"{x},{y}" for x, y in SQUARE[:4])
    closed = " ".join(f"{x},{y}" for x, y in SQUARE2)
    write("kml_unclosed_ring.kml", '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
          f'<Placemark><name>open</name><Polygon><outerBoundaryIs><LinearRing><coordinates>{unclosed}</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>'
          f'<Placemark><name>closed</name><Polygon><outerBoundaryIs><LinearRing><coordinates>{closed}</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>'
          '</Document></kml>\n')
    write("unsupported.xyz", "1 2 3\n")


HEADER = "seizure_id,date,commodity_group,commodity,species,quantity,unit,lon,lat,notes\n"
ROW = "S-{i},2024-03-0{d},timber,rosewood logs,Dalbergia cochinchinensis,{q},m3,107.4{i},13.6{i},{notes}\n"


def rows(*specs: dict) -> str:
    out = []
    for i, spec in enumerate(specs, start=1):
        values = {"i": i, "d": min(i, 9), "q": 1.5, "notes": "", **spec}
        out.append(ROW.format(**values))
    return "".join(out)


def seizures() -> None:
    write("seizures_unterminated_quote.csv", HEADER + rows({}) + 'S-9,2024-03-02,timber,"rosewood,Dalbergia oliveri,1,m3,107.4,13.6,\n' + rows({}, {}))
    write("seizures_header_only.csv", HEADER)
    write("seizures_empty.csv", b"")
    write("seizures_cp1252.csv", (HEADER + rows({}, {"notes": "bois précieux"})).encode("cp1252"))
    write("seizures_duplicate_header.csv", HEADER.replace("notes", "date") + rows({}, {}))
    write("seizures_ambiguous_date.csv", HEADER + rows({}, {}).replace("2024-03-02", "03/05/2024"))
    write("seizures_nan_infinity.csv", HEADER + rows({"q": "NaN"}, {}, {"q": "Infinity"}, {}))
    write("seizures_xss.csv", HEADER.replace("\n", ",<script>alert(1)</script>\n")
          + rows({"notes": "<img src=x onerror=alert(1)>,x"}, {"notes": "fine,y"}))
    write("seizures_duplicate_ids.csv", HEADER + rows({}, {}) + ROW.format(i=1, d=5, q=9.0, notes="other values"))
    write("seizures_swapped.csv", HEADER + rows({}, {}) + "S-9,2024-03-02,timber,logs,,2,m3,13.6,107.4,\n")
    write("seizures_ragged.csv", HEADER + rows({}, {}) + "S-9,2024-03-02,timber,logs,,2,m3,107.4,13.6,,extra,cells\n")
    openpyxl = __import__("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Seizures"
    ws.append([h for h in HEADER.strip().split(",")])
    ws.append(["X-1", "2024-03-02", "timber", "logs", "Dalbergia oliveri", 2, "m3", 107.4, 13.6, '=HYPERLINK("http://example.invalid","see file")'])
    ws.append(["X-2", "2024-03-03", "wildlife", "scales", "Manis javanica", 3, "kg", 107.5, 13.7, "plain note"])
    wb.save(HERE / "seizures_formula.xlsx")
    xlsx_entities(wb)
    wb.create_sheet("Notes").append(["compiled by hand"])
    wb.save(HERE / "seizures_two_sheets.xlsx")
    line = {"type": "LineString", "coordinates": [[107.4, 13.6], [107.5, 13.7]]}
    point = {"type": "Point", "coordinates": [107.4, 13.6]}
    base = {"date": "2024-03-02", "commodity_group": "wildlife", "species": "Manis javanica", "quantity": 2, "unit": "kg"}
    write("seizures_polygon.geojson", fc(feature({**base, "seizure_id": "G-1"}, line), feature({**base, "seizure_id": "G-2"}, point)))


# the first three levels of a "billion laughs": each entity is ten of the one before
LAUGHS = (
    '<!DOCTYPE worksheet [<!ENTITY lol "lol">'
    '<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>'
)
EXTERNAL = '<!DOCTYPE workbook [<!ENTITY host SYSTEM "file:///etc/hostname">]>'


def _with_entities(data: bytes, doctype: str, ref: str, after: bytes) -> bytes:
    """An XLSX part with ``doctype`` after its XML declaration and ``ref`` inserted after ``after``."""
    text = data.decode("utf-8")
    decl_end = text.index("?>") + 2 if text.startswith("<?xml") else 0
    text = text[:decl_end] + doctype + text[decl_end:]
    pos = text.index(after.decode()) + len(after)
    return (text[:pos] + ref + text[pos:]).encode("utf-8")


def xlsx_entities(wb: object) -> None:
    """A workbook whose sheet expands entities in a cell, and one whose workbook part reads a local file."""
    buf = io.BytesIO()
    wb.save(buf)  # type: ignore[attr-defined]
    for name, member, doctype, ref, after in (
        ("seizures_entities.xlsx", "xl/worksheets/sheet1.xml", LAUGHS, "&lol2;", b"<t>X-1"),
        ("seizures_external_entity.xlsx", "xl/workbook.xml", EXTERNAL, "&host;", b'<sheet name="Seizures'),
    ):
        with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin, zipfile.ZipFile(HERE / name, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = zin.read(info.filename)
                zout.writestr(info, _with_entities(data, doctype, ref, after) if info.filename == member else data)


if __name__ == "__main__":
    boundaries()
    seizures()
    print(f"corpus written to {HERE}")  # noqa: T201
