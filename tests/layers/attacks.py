"""What a partner NGO receives, and the attacks it could run on it to locate seizures.

:func:`build_scenario` writes a small region (corridors, crossings, clearings, seizures in
0.1-degree cells, some holding fewer than three: suppressed) and runs ``analyse``.
:func:`ngo_outputs` collects everything an ngo can read: every layer exported in every format,
and every route of the app served as ngo. The attacks then work on those outputs only:

- :func:`multilaterate`: any numeric property that names a distance, paired with a feature it
  measures from (joined on ids across layers), fixes a seizure by least squares in its cell;
- :func:`count_attack`: the attacker recomputes every count it can read (links per clearing,
  seizures per H3 cell, per corridor segment and period) from the published seizures; any count
  that differs says something the published cell does not, and the attacker moves each seizure
  inside its cell to where the counts agree best.

:func:`judge` compares each estimate with the truth: an attack wins on a seizure when its
estimate is closer to the true point than the centre of the seizure's published cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import geopandas as gpd
import h3
import mapbox_vector_tile
import numpy as np
import openpyxl
import orjson
import pandas as pd
import pyogrio
import shapely
import shapely.geometry
from pyproj import Transformer

from config import Settings
from jobs.analyse import analyse
from layers import LAYERS, open_store
from layers.accounts import HashParams, add_account
from layers.errors import LayerError
from layers.export import FORMATS, export_layer
from layers.opaque_ids import opaque_ids
from layers.redaction import Access
from web import create_app

CELL = 0.1
GENERATED_AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # exports made at one time, so that two scenarios' files compare byte for byte
UTM = "EPSG:32648"
_TO_UTM = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
WORLD = "-180,-90,180,90"
# the cells seizures are planted in: (column, row) of 0.1-degree cells from (107.0 E, 13.0 N), and how many
VISIBLE_CELLS = {(2, 3): 4, (3, 3): 3, (4, 4): 5, (5, 3): 3, (6, 5): 4, (3, 6): 3, (7, 2): 6}
SUPPRESSED_CELLS = {(2, 5): 1, (5, 6): 2, (8, 4): 1, (4, 1): 2}


@dataclass
class Truth:
    """The seizures as they are: internal id, exact lon/lat, cell centre and whether published."""

    ids: list[str]
    lon: np.ndarray
    lat: np.ndarray
    visible: np.ndarray

    def centre(self, i: int) -> tuple[float, float]:
        return ((np.floor(self.lon[i] / CELL) + 0.5) * CELL, (np.floor(self.lat[i] / CELL) + 0.5) * CELL)


def _cells(cells: dict[tuple[int, int], int], rng: np.random.Generator, start: int) -> list[dict[str, Any]]:
    rows = []
    for (cx, cy), n in cells.items():
        for _ in range(n):
            k = start + len(rows)
            rows.append({
                "seizure_id": f"KH-CASE-{k:04d}", "case_reference": f"CR/{k:04d}/2023", "agency": "Forestry Administration",
                "notes": f"informant {k}", "place": "O Yadav",
                "date": pd.Timestamp(dt.date(2023, 1, 1) + dt.timedelta(days=int(rng.integers(0, 360)))),
                "commodity_group": "timber" if rng.random() < 0.6 else "wildlife", "commodity": "logs",
                "location_precision": "exact", "synthetic": True, "source": "scenario.csv",
                "lon": 107.0 + (cx + rng.uniform(0.05, 0.95)) * CELL, "lat": 13.0 + (cy + rng.uniform(0.05, 0.95)) * CELL,
            })
    return rows


def scenario_seizures(seed: int = 7, *, jitter: int | None = None, extra_suppressed: bool = False) -> pd.DataFrame:
    """The scenario's seizures; ``jitter`` moves every one elsewhere inside its own cell, ``extra_suppressed`` adds two in a new cell."""
    rng = np.random.default_rng(seed)
    rows = _cells(VISIBLE_CELLS, rng, 0) + _cells(SUPPRESSED_CELLS, rng, 100)
    if extra_suppressed:
        rows += _cells({(9, 1): 2}, np.random.default_rng(seed + 1), 200)
    frame = pd.DataFrame(rows)
    if jitter is not None:
        other = np.random.default_rng(jitter)
        frame["lon"] = (np.floor(frame["lon"] / CELL) + other.uniform(0.05, 0.95, len(frame))) * CELL
        frame["lat"] = (np.floor(frame["lat"] / CELL) + other.uniform(0.05, 0.95, len(frame))) * CELL
    return frame


def build_scenario(path: Path, settings: Settings, seizures: pd.DataFrame) -> Truth:
    """A store at ``path`` with the scenario's reference layers, clearings and ``seizures``, analysed."""
    corridor = shapely.LineString([(107.1, 13.25), (107.5, 13.45), (107.95, 13.5)])
    corridors = gpd.GeoDataFrame({"source_id": ["c1"], "name": ["SEC"], "sub_corridor": ["SEC northern"], "kind": ["schematic"], "source": ["t"]},
                                 geometry=[corridor], crs=4326)
    crossings = gpd.GeoDataFrame({"source_id": ["x1", "x2", "x3"], "name": ["O Yadav", "Trapeang Kriel", "Bavet"], "kind": ["road"] * 3, "source": ["t"] * 3},
                                 geometry=[shapely.Point(107.45, 13.65), shapely.Point(107.2, 13.2), shapely.Point(107.8, 13.35)], crs=4326)
    rng = np.random.default_rng(3)
    n = 24
    lon, lat = 107.05 + rng.uniform(0, 0.9, n), 13.05 + rng.uniform(0, 0.65, n)
    clearings = gpd.GeoDataFrame(
        {"clearing_id": [f"CL-{i:03d}" for i in range(n)], "aoi": "scenario", "area_ha": 4.0, "confidence": ["high", "low"] * (n // 2),
         "first_detected": pd.to_datetime([dt.date(2022, 10, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 300, n)]),
         "review_status": "new", "synthetic": True},
        geometry=[shapely.box(x, y, x + 0.002, y + 0.002) for x, y in zip(lon, lat, strict=True)], crs=4326,
    )
    points = gpd.GeoDataFrame(seizures.drop(columns=["lon", "lat"]), geometry=shapely.points(seizures["lon"], seizures["lat"]), crs=4326)
    with open_store(path) as store:
        store.upsert("corridors", corridors)
        store.upsert("border_crossings", crossings)
        store.upsert("clearings", clearings)
        store.upsert("seizures", points)
        analyse(store, settings)
    centre_x = (np.floor(seizures["lon"] / CELL) + 0.5).round(6)
    centre_y = (np.floor(seizures["lat"] / CELL) + 0.5).round(6)
    per_cell = pd.Series(list(zip(centre_x, centre_y, strict=True))).value_counts()
    visible = np.array([per_cell[c] >= 3 for c in zip(centre_x, centre_y, strict=True)])
    return Truth(seizures["seizure_id"].tolist(), seizures["lon"].to_numpy(float), seizures["lat"].to_numpy(float), visible)


@dataclass
class Outputs:
    """Everything an ngo received: features per (channel, layer), raw bodies, refused layers, API counts."""

    features: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    bodies: dict[str, bytes] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    api_counts: dict[str, int] = field(default_factory=dict)

    def layer(self, name: str) -> list[dict[str, Any]]:
        """The features of ``name`` from the first channel that has it (exports and API agree; see the tests)."""
        for (_, layer), feats in self.features.items():
            if layer == name:
                return feats
        return []

    def all_features(self) -> Iterable[tuple[str, dict[str, Any]]]:
        for (_, layer), feats in self.features.items():
            for f in feats:
                yield layer, f


def _table_features(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        row = dict(row)
        fid = row.pop("id")
        if "lon" in row:
            geometry: Any = {"type": "Point", "coordinates": [float(row.pop("lon")), float(row.pop("lat"))]}
        elif "wkt" in row:
            wkt = row.pop("wkt")  # a geometry too large for a spreadsheet cell is a note in parentheses
            geometry = shapely.geometry.mapping(shapely.from_wkt(wkt)) if wkt and not wkt.startswith("(") else None
        else:
            geometry = None
        out.append({"id": fid, "geometry": geometry, "properties": row})
    return out


def _read_export(path: Path, fmt: str) -> list[dict[str, Any]]:
    """The features of an exported file, whatever its format (values as the format holds them)."""
    if fmt == "geojson":
        return list(orjson.loads(path.read_bytes())["features"])
    if fmt == "csv":
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith(("#", '"#'))]
        return _table_features(list(csv.DictReader(lines)))
    if fmt == "xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        try:
            values = [list(r) for r in book["features"].iter_rows(values_only=True)]
        finally:
            book.close()
        return _table_features([dict(zip(values[0], r, strict=True)) for r in values[1:]]) if values else []
    if fmt == "gpkg":
        frame = pyogrio.read_dataframe(path, layer=pyogrio.list_layers(path)[0][0])
        feats = orjson.loads(frame.to_json(na="null")) if isinstance(frame, gpd.GeoDataFrame) else {"features": [
            {"properties": r, "geometry": None} for r in frame.to_dict("records")]}
        return [{"id": f["properties"].pop("feature_id"), "geometry": f["geometry"], "properties": f["properties"]} for f in feats["features"]]
    if fmt == "kml":
        ns = {"k": "http://www.opengis.net/kml/2.2"}
        root = ElementTree.fromstring(path.read_bytes())
        out = []
        for mark in root.iterfind(".//k:Placemark", ns):
            props = {d.get("name"): d.findtext("k:value", default="", namespaces=ns) for d in mark.iterfind(".//k:Data", ns)}
            point = mark.findtext("k:Point/k:coordinates", namespaces=ns)
            geometry = {"type": "Point", "coordinates": [float(v) for v in point.split(",")]} if point else None
            out.append({"id": mark.findtext("k:name", namespaces=ns), "geometry": geometry, "properties": props})
        return out
    raise AssertionError(f"the attacker test has no reader for export format {fmt!r}: add one")


# routes whose answers depend on a query or on path arguments: what the attacker asks of them
ROUTE_QUERIES: dict[str, list[dict[str, str]]] = {
    "map_search.find": [{"q": q} for q in ("CL", "C", "S", "case", "A", "1", "Mekong", "Dalbergia", "seizure")],
}
ROUTE_ARGUMENTS: dict[str, dict[str, object]] = {
    "imagery.tile": {"day": "2024-01-01", "z": 0, "x": 0, "y": 0},
}


def _canonical(features: list[dict[str, Any]]) -> bytes:
    """What a binary export says, independent of its container's timestamps (for byte comparisons)."""
    return orjson.dumps(features, option=orjson.OPT_SORT_KEYS, default=str)


def ngo_outputs(store_path: Path, settings: Settings, key: bytes, tmp: Path, *, thorough: bool = True) -> Outputs:
    """Every layer exported as ngo in every format, and every route of the app served as ngo."""
    out = Outputs()
    access = Access("ngo", key)
    # An ngo reading a layer reads its generalised twin (Layer.generalised_from): the twins asked by
    # name give the same features. The thorough crawl reads them in every format; the quick one
    # (a large store) in GeoJSON, checked equal to what the public name gave.
    twins = {layer.generalised_from: layer.name for layer in LAYERS if layer.generalised_from}
    with open_store(store_path) as store:
        for layer in LAYERS:
            for fmt in FORMATS if thorough or layer.name not in twins else ("geojson",):
                path = tmp / f"{layer.name}.{fmt}"
                try:
                    export_layer(store, layer.name, path, fmt=fmt, role=access, generated_at=GENERATED_AT)
                except LayerError:
                    out.refused.add(layer.name)
                    continue
                feats = _read_export(path, fmt)
                out.bodies[f"export {layer.name} {fmt}"] = _canonical(feats) if fmt in ("gpkg", "xlsx") else path.read_bytes()
                out.features[(f"export-{fmt}", layer.name)] = feats
    for twin, public in twins.items():
        if twin not in out.refused and not thorough:
            assert _canonical(out.features[("export-geojson", twin)]) == _canonical(out.features[("export-geojson", public)]), twin
    password = "attacker-ngo-password"
    with open_store(store_path) as store:
        add_account(store, "attacker-ngo", "ngo", password, params=HashParams(1, 1024, 1), min_length=12, replace=True)
    app = create_app(settings, str(store_path))
    client = app.test_client()
    token = client.get("/login").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    logged_in = client.post("/login", data={"username": "attacker-ngo", "password": password, "csrf_token": token})
    assert logged_in.status_code == 303, logged_in.status_code
    ogc_endpoints = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint == "static" or rule.endpoint.startswith("auth."):
            continue
        if rule.endpoint.startswith(("ogcapi.", "exports.", "tiles.")):
            ogc_endpoints.add(rule.endpoint)
            continue
        if rule.rule.startswith("/review/"):
            # the review desk refuses the ngo role whole: nothing of it may answer
            url = app.url_map.bind("localhost").build(rule.endpoint, {a: "CL-0001" for a in rule.arguments})
            response = client.get(url)
            assert response.status_code == 403, (url, response.status_code)
            out.bodies[f"GET {url}"] = response.data
            continue
        if rule.endpoint in ROUTE_ARGUMENTS:  # routes with arguments of their own (imagery tiles): filled here
            url = app.url_map.bind("localhost").build(rule.endpoint, ROUTE_ARGUMENTS[rule.endpoint])
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            # an image of the stored scenes (no record's text in it); text answers are kept for the checks
            assert response.mimetype == "image/png" or rule.endpoint != "imagery.tile", response.mimetype
            continue
        if rule.endpoint.startswith("watch.unsubscribe"):
            # the e-mail's unsubscribe link: without a valid signed token it answers nothing
            url = app.url_map.bind("localhost").build(rule.endpoint, {"sid": "SUB-0000000000000000", "token": "0" * 40})
            response = client.get(url)
            assert response.status_code == 404, (url, response.status_code)
            out.bodies[f"GET {url}"] = response.data
            continue
        if rule.endpoint.startswith("evidence."):
            _evidence_reports(app, client, rule.endpoint, out)
            continue
        if rule.arguments - {"name"}:
            raise AssertionError(f"route {rule.rule} takes arguments the attacker test does not fill: extend ngo_outputs")
        if rule.endpoint in ROUTE_QUERIES:  # routes that need a query (the map's search): every one asked
            for query in ROUTE_QUERIES[rule.endpoint]:
                url = app.url_map.bind("localhost").build(rule.endpoint, {})
                response = client.get(url, query_string=query)
                assert response.status_code == 200, (url, query, response.status_code)
                out.bodies[f"GET {url}?{query}"] = response.data
            continue
        names = [lyr["name"] for lyr in orjson.loads(client.get("/api/layers").data)["layers"]] if rule.arguments else [None]
        for name in names:
            url = app.url_map.bind("localhost").build(rule.endpoint, {"name": name} if name else {})
            response = client.get(url, query_string={"bbox": WORLD} if name else None)
            assert response.status_code == 200, (url, response.status_code)
            out.bodies[f"GET {url}"] = response.data
            if name:
                out.features[("api", name)] = orjson.loads(response.data)["features"]
            elif url.endswith("/layers"):
                out.api_counts = {lyr["name"]: lyr["count"] for lyr in orjson.loads(response.data)["layers"]}
    assert ogc_endpoints == OGC_ENDPOINTS, f"OGC API routes the attacker test does not read: {ogc_endpoints ^ OGC_ENDPOINTS}: extend ogc_outputs"
    ogc_outputs(client, out, tmp, thorough=thorough)
    app.extensions["ecowatch"].close()
    return out


MAX_REPORTS = 20


def _evidence_reports(app: Any, client: Any, endpoint: str, out: Outputs) -> None:
    """Every clearing's and corridor segment's evidence report (page and sealed JSON) as ngo.

    The PDF routes print the same page with Chromium: one is fetched to see that it answers, its
    bytes (a compressed PDF with a creation time) are not compared."""
    if endpoint.startswith("evidence.clearing"):
        linked = {f["properties"]["clearing_id"] for f in out.layer("links") if f["properties"].get("seizures")}
        every = {f["properties"]["clearing_id"] for f in out.layer("clearings")}
        arg = "cid"
    else:
        linked = {f["properties"]["segment_id"] for f in out.layer("hotspot_segments")
                  if f["properties"]["seizures_timber"] + f["properties"]["seizures_wildlife"]}
        every = {f["properties"]["segment_id"] for f in out.layer("hotspot_segments")}
        arg = "sid"
    # those that say something of seizures first; at most MAX_REPORTS of each kind (the demo has thousands)
    ids = (sorted(linked) + sorted(every - linked))[:MAX_REPORTS]
    assert ids, endpoint
    if endpoint.endswith("_pdf"):
        ids = ids[:1] if endpoint == "evidence.clearing_pdf" else []
    for ident in ids:
        url = app.url_map.bind("localhost").build(endpoint, {arg: ident})
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if not endpoint.endswith("_pdf"):
            out.bodies[f"GET {url}"] = response.data


OGC = "/api/ogc"
OGC_ENDPOINTS = {f"ogcapi.{e}" for e in ("landing", "conformance", "openapi", "openapi_html", "collections_list", "collection", "queryables_doc", "items", "item")}
OGC_ENDPOINTS |= {"exports.download", "tiles.tile"}
# the probes an attacker makes with boxes and filters: 0.05-degree boxes over the scenario's region
# (half a cell), one box per published and per suppressed cell's centre, each month, each group
PROBE_BOXES = [f"{107.0 + i * 0.05:.2f},{13.0 + j * 0.05:.2f},{107.05 + i * 0.05:.2f},{13.05 + j * 0.05:.2f}" for i in range(20) for j in range(16)]
PROBE_FILTERS = [f"datetime=2023-{m:02d}-01/2023-{m:02d}-28" for m in range(1, 13)] + ["commodity_group=timber", "commodity_group=wildlife"]


def _ogc_get(client: Any, out: Outputs, url: str, media: str = "application/json") -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.data[:200])
    out.bodies[f"GET {url}"] = response.data
    return orjson.loads(response.data) if media == "application/json" else response.data


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    return z, int((lon + 180) / 360 * n), int((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n)


def _tiles(layer: str) -> list[tuple[int, int, int]]:
    """The tiles over the scenario's region at zooms 6 and 10, and for seizures at zoom 14 the tile of every
    cell's centre in the region (where published points are), chosen without the truth."""
    out = {_tile_of(lon, lat, z) for z in (6, 10) for lon in np.arange(107.0, 108.01, 0.1) for lat in np.arange(13.0, 13.81, 0.1)}
    if layer == "seizures":
        out |= {_tile_of(107.05 + i * CELL, 13.05 + j * CELL, 14) for i in range(10) for j in range(8)}
    return sorted(out)


def ogc_outputs(client: Any, out: Outputs, tmp: Path, *, thorough: bool = True) -> None:
    """Every OGC API - Features resource as ngo: documents, collections, every page of items (JSON
    and HTML), every single item, probes with small boxes and filters, and every download."""
    for path in ("", "/conformance", "/api", "/api.html", "/collections", "/?f=html", "/collections?f=html"):
        _ogc_get(client, out, OGC + path, "text/html" if "html" in path else "application/json")
    for collection in _ogc_get(client, out, OGC + "/collections")["collections"]:
        name = collection["id"]
        _ogc_get(client, out, f"{OGC}/collections/{name}")
        _ogc_get(client, out, f"{OGC}/collections/{name}/queryables")
        if not thorough:  # a large store (the demo): the first page, one item, one download
            page = _ogc_get(client, out, f"{OGC}/collections/{name}/items?limit=100")
            out.features[("ogc-first-page", name)] = page["features"]
            for f in page["features"][:1]:
                _ogc_get(client, out, f"{OGC}/collections/{name}/items/{f['id']}")
            response = client.get(f"/api/exports/{name}/geojson")
            assert response.status_code == 200, (name, response.status_code)
            continue
        feats: list[dict[str, Any]] = []
        url: str | None = f"{OGC}/collections/{name}/items?limit=7"
        while url:
            page = _ogc_get(client, out, url)
            feats += page["features"]
            nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
            url = nxt[0].removeprefix("http://localhost") if nxt else None
        assert len(feats) == page["numberMatched"], name
        out.features[("ogc", name)] = feats
        _ogc_get(client, out, f"{OGC}/collections/{name}/items?limit=7&f=html", "text/html")
        for f in feats:
            _ogc_get(client, out, f"{OGC}/collections/{name}/items/{f['id']}")
        if name == "seizures":
            for probe in [f"bbox={b}" for b in PROBE_BOXES] + PROBE_FILTERS:
                _ogc_get(client, out, f"{OGC}/collections/seizures/items?{probe}")
        for z, x, y in _tiles(name):  # vector tiles, decoded (cells at low zoom, features at high)
            response = client.get(f"/api/tiles/{name}/{z}/{x}/{y}.mvt")
            assert response.status_code == 200, (name, z, x, y, response.status_code)
            out.bodies[f"GET /api/tiles/{name}/{z}/{x}/{y}.mvt"] = _canonical([mapbox_vector_tile.decode(response.data)])
        for fmt in FORMATS:  # the app's downloads: files made now, compared by what they hold
            response = client.get(f"/api/exports/{name}/{fmt}")
            assert response.status_code == 200, (name, fmt, response.status_code)
            path = tmp / f"web-{name}.{fmt}"
            path.write_bytes(response.data)
            out.features[(f"web-export-{fmt}", name)] = _read_export(path, fmt)
            out.bodies[f"GET /api/exports/{name}/{fmt}"] = _canonical(out.features[(f"web-export-{fmt}", name)])


# ---------------------------------------------------------------------------------------------
# what the attacker computes from the outputs
# ---------------------------------------------------------------------------------------------
def published_seizures(out: Outputs) -> pd.DataFrame:
    """The seizures layer as published: id, cell centre, date, commodity group."""
    rows = [
        {"id": f["id"], "lon": f["geometry"]["coordinates"][0], "lat": f["geometry"]["coordinates"][1],
         "date": pd.Timestamp(f["properties"]["date"]), "group": f["properties"]["commodity_group"]}
        for f in out.layer("seizures")
    ]
    return pd.DataFrame(rows, columns=["id", "lon", "lat", "date", "group"])


def _utm(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    x, y = _TO_UTM.transform(np.asarray(lon, float), np.asarray(lat, float))
    return shapely.points(x, y)


def _to_utm(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_UTM.transform(xy[:, 0], xy[:, 1])))


def clearings_of(out: Outputs) -> pd.DataFrame:
    feats = out.layer("clearings")
    lonlat = np.asarray([shapely.geometry.shape(f["geometry"]) for f in feats], dtype=object)
    frame = pd.DataFrame({
        "clearing_id": [f["properties"]["clearing_id"] for f in feats],
        "first": [pd.Timestamp(f["properties"]["first_detected"]) for f in feats],
    })
    frame["lonlat_array"] = [lonlat] * len(frame)
    frame["zones"] = [{}] * len(frame)
    return frame


def _in_zone(x: float, y: float, clearings: pd.DataFrame) -> tuple[shapely.Geometry, np.ndarray]:
    """The point and the clearings in the point's own UTM zone (the published rule measures there)."""
    code = int(np.clip(np.floor((x + 180.0) / 6.0) + 1, 1, 60)) + (32600 if y >= 0 else 32700)
    cache = clearings["zones"].iloc[0]  # one dict shared by the frame's rows: zone -> (transformer, clearings there)
    if code not in cache:
        tr = Transformer.from_crs("EPSG:4326", f"EPSG:{code}", always_xy=True)
        lonlat = clearings["lonlat_array"].iloc[0]
        cache[code] = (tr, np.asarray([shapely.transform(g, lambda xy, t=tr: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))) for g in lonlat], dtype=object))
    tr, geoms = cache[code]
    px, py = tr.transform(x, y)
    return shapely.Point(px, py), geoms


def _seizure_links(pub: pd.DataFrame, k: int, x: float, y: float, clearings: pd.DataFrame, settings: Settings) -> list[str]:
    """The clearings seizure ``k`` links to when it lies at ``(x, y)``, by the published matching rule."""
    pt, geoms = _in_zone(float(x), float(y), clearings)
    radius, lag_max = settings.match_radius_km, settings.match_max_lag_days
    d = shapely.distance(pt, geoms) / 1000.0
    lag = (pub["date"].iloc[k] - clearings["first"]).dt.days.to_numpy()
    ok = (d <= radius) & (lag >= 0) & (lag <= lag_max)
    score = (1 - d / radius) * (1 - lag / max(lag_max, 1))
    cand = sorted((-round(float(score[j]), 4), clearings["clearing_id"].iloc[j]) for j in np.flatnonzero(ok))
    return [cid for _, cid in cand[: settings.match_max_candidates]]


def _seizure_cell(pub: pd.DataFrame, k: int, x: float, y: float, settings: Settings) -> tuple[str, str, str]:
    return (h3.latlng_to_cell(float(y), float(x), settings.h3_resolution), str(pub["date"].iloc[k].to_period("Q")), str(pub["group"].iloc[k]))


def link_counts(pub: pd.DataFrame, lon: np.ndarray, lat: np.ndarray, clearings: pd.DataFrame, settings: Settings) -> dict[str, int]:
    """Seizures linked per clearing, by the published matching rule, with seizures at ``lon``/``lat``."""
    counts = dict.fromkeys(clearings["clearing_id"], 0)
    for k in range(len(pub)):
        for cid in _seizure_links(pub, k, lon[k], lat[k], clearings, settings):
            counts[cid] += 1
    return counts


def cell_counts(pub: pd.DataFrame, lon: np.ndarray, lat: np.ndarray, settings: Settings) -> dict[tuple[str, str, str], int]:
    """Seizures per (H3 cell, quarter, commodity group) with seizures at ``lon``/``lat``."""
    counts: dict[tuple[str, str, str], int] = {}
    for k in range(len(pub)):
        key = _seizure_cell(pub, k, lon[k], lat[k], settings)
        counts[key] = counts.get(key, 0) + 1
    return counts


def published_cell_counts(out: Outputs) -> dict[tuple[str, str, str], int]:
    counts = {}
    for f in out.layer("hotspot_cells"):
        p = f["properties"]
        for group in ("timber", "wildlife"):
            if p[f"seizures_{group}"]:
                counts[(p["cell"], p["period"], group)] = int(p[f"seizures_{group}"])
    return counts


def published_link_counts(out: Outputs) -> dict[str, int]:
    return {f["properties"]["clearing_id"]: int(f["properties"]["seizures"]) for f in out.layer("links")}


# ---------------------------------------------------------------------------------------------
# attacks
# ---------------------------------------------------------------------------------------------
_DISTANCE = re.compile(r"(distance|bearing|_km$|_m$)")


def _feature_index(out: Outputs) -> dict[str, list[shapely.Geometry]]:
    """Every text property value of every spatial feature -> the distinct geometries (UTM) it names, for id joins."""
    index: dict[str, dict[bytes, shapely.Geometry]] = {}
    for layer, f in out.all_features():
        if not f.get("geometry") or layer == "seizures":
            continue
        geom = shapely.geometry.shape(f["geometry"])
        for v in f["properties"].values():
            if isinstance(v, str):
                index.setdefault(v, {}).setdefault(shapely.to_wkb(geom), geom)
    return {v: [_to_utm(g) for g in geoms.values()] for v, geoms in index.items()}


def _tokens(name: str) -> set[str]:
    return set(name.split("_")) - {"km", "m", "distance", "id"}


def distance_constraints(out: Outputs) -> dict[str, list[tuple[shapely.Geometry, float]]]:
    """Per published seizure id (or any id a record names): (reference geometry, distance km) pairs."""
    index = _feature_index(out)
    seizure_ids = set(published_seizures(out)["id"])
    found: dict[str, list[tuple[shapely.Geometry, float]]] = {}
    for _, f in out.all_features():
        props = {**f["properties"], "id": f.get("id")}
        sid = next((v for v in props.values() if isinstance(v, str) and v in seizure_ids), None)
        if sid is None:
            continue
        for dname, d in props.items():
            if not isinstance(d, int | float) or isinstance(d, bool) or not _DISTANCE.search(dname):
                continue
            refs = [(n, v) for n, v in props.items() if isinstance(v, str) and v != sid and v in index]
            paired = [r for r in refs if _tokens(r[0]) & _tokens(dname)] or (refs if len(refs) == 1 else [])
            for _, v in paired:
                if len(index[v]) == 1:
                    found.setdefault(sid, []).append((index[v][0], float(d)))
    return found


def _candidates(centre: tuple[float, float], n: int = 41) -> tuple[np.ndarray, np.ndarray]:
    g = (np.arange(n) + 0.5) / n - 0.5
    lon, lat = np.meshgrid(centre[0] + g * CELL, centre[1] + g * CELL)
    return lon.ravel(), lat.ravel()


def multilaterate(out: Outputs) -> dict[str, tuple[float, float]]:
    """The least-squares point in each published seizure's cell given its distance constraints."""
    pub = published_seizures(out).set_index("id")
    estimates = {}
    for sid, cons in distance_constraints(out).items():
        lon, lat = _candidates((pub.loc[sid, "lon"], pub.loc[sid, "lat"]))
        pts = _utm(lon, lat)
        err = sum((shapely.distance(pts, g) / 1000.0 - d) ** 2 for g, d in cons)
        best = int(np.argmin(err))
        estimates[sid] = (float(lon[best]), float(lat[best]))
    return estimates


def count_attack(out: Outputs, settings: Settings) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """Estimates from counts that differ from what the published seizures give, and which counts differed."""
    pub = published_seizures(out)
    clearings = clearings_of(out)
    lon, lat = pub["lon"].to_numpy(float), pub["lat"].to_numpy(float)
    links_pub, cells_pub = published_link_counts(out), published_cell_counts(out)
    differ = []
    if link_counts(pub, lon, lat, clearings, settings) != links_pub:
        differ.append("links")
    if cell_counts(pub, lon, lat, settings) != cells_pub:
        differ.append("hotspot_cells")
    if not differ:
        return {}, differ

    base_links = link_counts(pub, lon, lat, clearings, settings)
    base_cells = cell_counts(pub, lon, lat, settings)

    def mismatch(k: int, x: float, y: float) -> int:
        """How far the counts are from the published ones with seizure ``k`` at ``(x, y)`` and the others at their centres."""
        total = 0
        if "links" in differ:
            got = dict(base_links)
            for cid in _seizure_links(pub, k, lon[k], lat[k], clearings, settings):
                got[cid] -= 1
            for cid in _seizure_links(pub, k, x, y, clearings, settings):
                got[cid] += 1
            total += sum(abs(got.get(c, 0) - links_pub.get(c, 0)) for c in set(got) | set(links_pub))
        if "hotspot_cells" in differ:
            got_c = dict(base_cells)
            old, new = _seizure_cell(pub, k, lon[k], lat[k], settings), _seizure_cell(pub, k, x, y, settings)
            got_c[old] -= 1
            got_c[new] = got_c.get(new, 0) + 1
            total += sum(abs(got_c.get(c, 0) - cells_pub.get(c, 0)) for c in set(got_c) | set(cells_pub))
        return total

    estimates = {}
    for k in range(len(pub)):
        cand_lon, cand_lat = _candidates((lon[k], lat[k]), 9)
        scores = np.array([mismatch(k, x, y) for x, y in zip(cand_lon, cand_lat, strict=True)])
        best = np.flatnonzero(scores == scores.min())
        estimates[pub["id"].iloc[k]] = (float(cand_lon[best].mean()), float(cand_lat[best].mean()))
    return estimates, differ


def judge(truth: Truth, key: bytes, estimates: dict[str, tuple[float, float]]) -> list[str]:
    """The seizures an attack located closer to their true point than the centre of their published cell."""
    opaque = dict(zip(opaque_ids(key, "seizures", list(truth.ids)), range(len(truth.ids)), strict=True))
    wins = []
    for sid, (x, y) in estimates.items():
        i = opaque[sid]
        true = _utm(np.array([truth.lon[i]]), np.array([truth.lat[i]]))[0]
        centre = _utm(np.array([truth.centre(i)[0]]), np.array([truth.centre(i)[1]]))[0]
        guess = _utm(np.array([x]), np.array([y]))[0]
        if shapely.distance(guess, true) < shapely.distance(centre, true) - 1.0:  # metres
            wins.append(f"{truth.ids[i]}: estimate {shapely.distance(guess, true):.0f} m from the truth, cell centre {shapely.distance(centre, true):.0f} m")
    return wins
