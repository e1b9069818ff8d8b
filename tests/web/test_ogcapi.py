"""OGC API – Features through the Flask client: documents, collections per role, items, paging, filters, HTML."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from layers import open_store
from layers.api_tokens import add_token
from layers.ogc_features import MAX_LIMIT

OGC = "/api/ogc"


@pytest.fixture
def tokens(map_store: Path) -> dict[str, str]:
    with open_store(map_store) as st:
        return {role: add_token(st, f"{role}-token", role) for role in ("viewer", "planner", "ngo", "admin", "analyst")}


def _get(client: FlaskClient, token: str, url: str, **headers: str):
    return client.get(url, headers={"Authorization": f"Bearer {token}", **headers})


def _json(client: FlaskClient, token: str, url: str) -> dict:
    response = _get(client, token, url)
    assert response.status_code == 200, (url, response.status_code, response.data[:300])
    return orjson.loads(response.data)


def test_landing_conformance_and_a_valid_openapi_document(app: Flask, tokens: dict[str, str]) -> None:
    client = app.test_client()
    landing = _json(client, tokens["viewer"], OGC)
    rels = {link["rel"]: link for link in landing["links"]}
    assert {"self", "alternate", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    conf = _json(client, tokens["viewer"], OGC + "/conformance")["conformsTo"]
    assert {"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/" + c for c in ("core", "geojson", "html", "oas30")} <= set(conf)
    doc = _get(client, tokens["viewer"], OGC + "/api")
    assert doc.headers["Content-Type"] == "application/vnd.oai.openapi+json;version=3.0"
    spec = orjson.loads(doc.data)
    validate(spec)
    assert spec["components"]["parameters"]["limit"]["schema"]["maximum"] == MAX_LIMIT
    assert client.get(OGC).status_code == 401  # no session, no token


def test_collections_are_the_layers_the_role_may_read(app: Flask, tokens: dict[str, str]) -> None:
    client = app.test_client()
    ids = {role: [c["id"] for c in _json(client, tok, OGC + "/collections")["collections"]] for role, tok in tokens.items()}
    assert "seizures" in ids["planner"] and "seizures" in ids["ngo"] and "seizures" not in ids["viewer"]
    assert "clearings" in ids["viewer"] and "hotspot_cells" in ids["viewer"]
    for role_ids in ids.values():
        assert not {"users", "sessions", "api_tokens", "access_log", "ingest_runs", "links", "hotspot_cells_generalised"} & set(role_ids)
    one = _json(client, tokens["ngo"], OGC + "/collections/seizures")
    assert one["id"] == "seizures" and one["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
    assert {"items", "self", "http://www.opengis.net/def/rel/ogc/1.0/queryables"} <= {link["rel"] for link in one["links"]}
    assert _get(client, tokens["viewer"], OGC + "/collections/seizures/items").status_code == 404
    assert _get(client, tokens["planner"], OGC + "/collections/users/items").status_code == 404


def test_items_pages_add_up_to_number_matched(app: Flask, tokens: dict[str, str], facts) -> None:
    client = app.test_client()
    url = OGC + "/collections/clearings/items?limit=1"
    seen, pages = [], 0
    while url:
        response = _get(client, tokens["planner"], url)
        assert response.status_code == 200 and response.mimetype == "application/geo+json"
        page = orjson.loads(response.data)
        assert page["numberMatched"] == 3 and page["numberReturned"] == len(page["features"]) == 1
        seen += [f["properties"]["clearing_id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        prev = [link["href"] for link in page["links"] if link["rel"] == "prev"]
        assert bool(prev) == (pages > 0)
        url = urlsplit(nxt[0]).path + "?" + urlsplit(nxt[0]).query if nxt else None
        pages += 1
    assert pages == 3 and sorted(seen) == ["CL-0001", "CL-0002", "CL-0099"]
    capped = _json(client, tokens["planner"], OGC + f"/collections/clearings/items?limit={MAX_LIMIT * 10}")
    assert parse_qs(urlsplit(capped["links"][0]["href"]).query)["limit"] == [str(MAX_LIMIT)]


def test_bbox_datetime_and_property_filters(app: Flask, tokens: dict[str, str], facts) -> None:
    client = app.test_client()
    w, s, e, n = facts.aoi_bounds
    items = OGC + "/collections/clearings/items"
    assert _json(client, tokens["planner"], f"{items}?bbox={w},{s},{e},{n}")["numberMatched"] == 2
    assert _json(client, tokens["planner"], f"{items}?datetime=2024-04-01/..")["numberMatched"] == 1
    assert _json(client, tokens["planner"], f"{items}?datetime=../2024-02-11")["numberMatched"] == 2
    assert _json(client, tokens["planner"], f"{items}?datetime=2024-02-11")["numberMatched"] == 2
    assert _json(client, tokens["planner"], f"{items}?confidence=low")["numberMatched"] == 1
    assert _json(client, tokens["planner"], f"{items}?flag=protected_area&risk=80")["numberMatched"] == 1  # the map's filter names
    assert _json(client, tokens["planner"], f"{items}?review_status=confirmed")["numberMatched"] == 1
    # the viewer sees confirmed clearings only, whatever it asks for
    assert _json(client, tokens["viewer"], f"{items}?review_status=new")["numberMatched"] == 0
    seizures = OGC + "/collections/seizures/items"
    assert _json(client, tokens["planner"], f"{seizures}?commodity_group=wildlife")["numberMatched"] == 1
    assert _json(client, tokens["planner"], f"{seizures}?quantity=12.5")["numberMatched"] == 2
    assert _json(client, tokens["planner"], f"{seizures}?commodity=wildlife&period=2024")["numberMatched"] == 1  # the map's names
    assert _json(client, tokens["planner"], f"{seizures}?period=2023")["numberMatched"] == 0
    assert _get(client, tokens["planner"], f"{seizures}?risk=50").status_code == 400  # a clearing filter
    queryables = _json(client, tokens["ngo"], OGC + "/collections/seizures/queryables")["properties"]
    assert "commodity_group" in queryables and not {"case_reference", "agency", "notes", "place", "corridor_distance_km"} & set(queryables)
    assert "case_reference" in _json(client, tokens["planner"], OGC + "/collections/seizures/queryables")["properties"]


@pytest.mark.parametrize(("query", "parameter"), [
    ("bbox=1,2,3", "bbox"), ("bbox=10,0,5,1", "bbox"), ("limit=0", "limit"), ("limit=x", "limit"), ("offset=-1", "offset"),
    ("datetime=yesterday", "datetime"), ("datetime=2024-05-01/2024-01-01", "datetime"), ("nonsense=1", "nonsense"),
    ("risk=abc", "risk"), ("area_ha=big", "area_ha"), ("crs=EPSG:3857", "crs"), ("f=xml", "f"),
])
def test_bad_parameters_are_400_naming_the_parameter(app: Flask, tokens: dict[str, str], query: str, parameter: str) -> None:
    response = _get(app.test_client(), tokens["planner"], f"{OGC}/collections/clearings/items?{query}")
    assert response.status_code == 400, query
    assert orjson.loads(response.data)["parameter"] == parameter


def test_a_hidden_field_cannot_be_filtered_on(app: Flask, tokens: dict[str, str]) -> None:
    response = _get(app.test_client(), tokens["ngo"], f"{OGC}/collections/seizures/items?case_reference=CASE-S-1")
    assert response.status_code == 400 and orjson.loads(response.data)["parameter"] == "case_reference"


def test_one_item_by_the_id_the_items_carry(app: Flask, tokens: dict[str, str]) -> None:
    client = app.test_client()
    for role in ("planner", "viewer", "ngo"):
        page = _json(client, tokens[role], OGC + "/collections/clearings/items")
        for feature in page["features"]:
            one = _get(client, tokens[role], f"{OGC}/collections/clearings/items/{feature['id']}")
            assert one.status_code == 200 and one.mimetype == "application/geo+json"
            body = orjson.loads(one.data)
            assert {k: body[k] for k in ("id", "geometry", "properties")} == {k: feature[k] for k in ("id", "geometry", "properties")}
    unconfirmed = _json(client, tokens["planner"], OGC + "/collections/clearings/items?review_status=new")["features"][0]["id"]
    assert _get(client, tokens["viewer"], f"{OGC}/collections/clearings/items/{unconfirmed}").status_code == 404
    assert _get(client, tokens["planner"], f"{OGC}/collections/clearings/items/999999").status_code == 404
    assert _get(client, tokens["planner"], f"{OGC}/collections/clearings/items/nope").status_code == 404


def test_html_by_f_or_accept_with_every_value_escaped(app: Flask, tokens: dict[str, str], facts) -> None:
    client = app.test_client()
    by_accept = _get(client, tokens["planner"], OGC + "/collections/concessions/items", Accept="text/html,application/xhtml+xml,*/*;q=0.8")
    by_f = _get(client, tokens["planner"], OGC + "/collections/concessions/items?f=html")
    for response in (by_accept, by_f):
        assert response.status_code == 200 and response.mimetype == "text/html"
        html = response.get_data(as_text=True)
        assert facts.hostile not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert _get(client, tokens["planner"], OGC + "/collections/concessions/items", Accept="application/json").mimetype == "application/geo+json"
    for url in ("", "/conformance", "/collections", "/collections/clearings", "/collections/clearings/queryables"):
        page = _get(client, tokens["planner"], OGC + url + "?f=html")
        assert page.status_code == 200 and page.mimetype == "text/html", url
