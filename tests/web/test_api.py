"""The JSON API: the layer list, features by bounding box, and its errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import shapely
from flask.testing import FlaskClient
from shapely.geometry import shape

from layers import get_layer
from web.layer_specs import map_layers

WORLD = "-180,-90,180,90"


def _features(client: FlaskClient, layer: str, bbox: str, **params: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in {"bbox": bbox, **params}.items())
    response = client.get(f"/api/layers/{layer}/features?{query}")
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/geo+json"
    body: dict[str, Any] = orjson.loads(response.data)
    return body


def test_layers_lists_every_map_layer_with_counts(client: FlaskClient, facts: Any) -> None:
    response = client.get("/api/layers")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = orjson.loads(response.data)
    items = {item["name"]: item for item in body["layers"]}
    assert list(items) == [layer.name for layer in map_layers()]
    expected = {name: dict(facts.total).get(name, 0) for name in items}  # layers not written: 0
    assert {name: item["count"] for name, item in items.items()} == expected
    clearings = items["clearings"]
    declared = get_layer("clearings")
    assert clearings["title"] == declared.title
    assert clearings["geometry_type"] == "MULTIPOLYGON"
    assert clearings["style"] == declared.style
    assert [f["name"] for f in clearings["popup"]] == list(declared.popup)
    assert clearings["synthetic"] is True and items["countries"]["synthetic"] is False
    assert clearings["features_url"] == "/api/layers/clearings/features"
    assert body["max_features"] == 5000


def test_layers_leave_out_off_map_layers(client: FlaskClient) -> None:
    names = {item["name"] for item in orjson.loads(client.get("/api/layers").data)["layers"]}
    assert "coverage" not in names and "scenes" not in names and "links" not in names


def test_features_are_a_feature_collection_in_lon_lat(client: FlaskClient, facts: Any) -> None:
    body = _features(client, "clearings", ",".join(map(str, facts.aoi_bounds)))
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == len(body["features"]) == 2
    assert "aggregate" not in body and body["numberMatched"] == 2
    feature = next(f for f in body["features"] if f["properties"]["clearing_id"] == facts.hostile_clearing)
    assert feature["type"] == "Feature" and isinstance(feature["id"], int)
    geom = shape(feature["geometry"])
    assert geom.geom_type == "MultiPolygon"
    west, south, east, north = geom.bounds
    assert 107 < west < east < 108 and 13 < south < north < 14  # lon, lat order
    ring = geom.geoms[0].exterior
    assert ring.is_ccw  # RFC 7946 right-hand rule
    props = feature["properties"]
    assert list(props) == list(get_layer("clearings").field_names)  # what an export carries (one writer)
    assert props["first_detected"] == "2024-02-11"  # dates as ISO strings
    assert props["reasons"] == ["Inside concession EL-1.", f"Holder: {facts.hostile}"]  # JSON as lists
    assert props["risk"] == 35 and props["area_ha"] == 412.5


def test_bbox_filter_keeps_only_features_in_the_box(client: FlaskClient, facts: Any) -> None:
    near = _features(client, "clearings", ",".join(map(str, facts.aoi_bounds)))
    assert facts.far_clearing not in {f["properties"]["clearing_id"] for f in near["features"]}
    far = _features(client, "clearings", "103.9,11.9,104.1,12.1")
    assert [f["properties"]["clearing_id"] for f in far["features"]] == [facts.far_clearing]
    nothing = _features(client, "clearings", "0,0,1,1")
    assert nothing["features"] == [] and nothing["numberMatched"] == 0
    everything = _features(client, "seizures", WORLD)
    assert everything["numberReturned"] == dict(facts.total)["seizures"]
    box = shapely.box(*facts.aoi_bounds)
    for feature in near["features"]:
        assert shape(feature["geometry"]).intersects(box)


def test_points_and_nulls(client: FlaskClient, facts: Any) -> None:
    body = _features(client, "seizures", ",".join(map(str, facts.aoi_bounds)))
    by_case = {f["properties"]["case_reference"]: f for f in body["features"]}
    hostile = by_case[facts.hostile_script]
    assert hostile["geometry"]["type"] == "Point"
    assert hostile["properties"]["quantity"] is None  # a missing real is null, not NaN
    far = _features(client, "clearings", "103.9,11.9,104.1,12.1")
    assert far["features"][0]["properties"]["risk"] is None


def test_over_the_limit_is_an_aggregate_not_a_sample(client: FlaskClient) -> None:
    body = _features(client, "seizures", WORLD, limit="2")
    assert body["numberReturned"] == 0 and body["numberMatched"] == 3 and body["limit"] == 2
    assert body["aggregate"]["count"] == 3 == sum(f["properties"]["count"] for f in body["features"])
    assert body["aggregate"]["cells"] == len(body["features"]) and body["aggregate"]["area"] is False
    for feature in body["features"]:
        assert feature["geometry"]["type"] == "Polygon"
        assert set(feature["properties"]) == {"cell", "count"}
    clearings = _features(client, "clearings", WORLD, limit="1")
    assert clearings["aggregate"]["area"] is True
    assert sum(f["properties"]["area_ha"] for f in clearings["features"]) == pytest.approx(3 * 412.5, abs=0.2)


def test_features_carry_the_fields_the_role_sees(client: FlaskClient) -> None:
    body = _features(client, "seizures", WORLD)  # this app serves planners: every field
    for feature in body["features"]:
        assert list(feature["properties"]) == list(get_layer("seizures").field_names)


@pytest.mark.parametrize(
    ("bbox", "fragment"),
    [
        (None, "bbox is required"),
        ("", "bbox is required"),
        ("1,2,3", "got 3 parts"),
        ("1,2,3,4,5", "got 5 parts"),
        ("a,2,3,4", "west 'a' is not a finite number"),
        ("nan,2,3,4", "is not a finite number"),
        ("1,inf,3,4", "south 'inf' is not a finite number"),
        ("1,2,1e999,4", "is not a finite number"),
        ("1_0,2,30,4", "is not a finite number"),
        ("0x1,2,3,4", "is not a finite number"),
        ("-181,0,10,10", "west (-181) is outside -180..180"),
        ("0,0,180.5,10", "east (180.5) is outside -180..180"),
        ("0,-91,10,10", "south (-91) is outside -90..90"),
        ("10,0,5,10", "west (10) must be less than east (5)"),
        ("0,10,10,10", "south (10) must be less than north (10)"),
        ("170,0,-170,10", "must be less than east"),
    ],
)
def test_bad_bbox_is_a_400_with_a_clear_message(client: FlaskClient, bbox: str | None, fragment: str) -> None:
    url = "/api/layers/clearings/features" + ("" if bbox is None else f"?bbox={bbox}")
    response = client.get(url)
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    body = orjson.loads(response.data)
    assert body["error"] == "bad_request" and body["parameter"] == "bbox"
    assert fragment in body["message"]


@pytest.mark.parametrize("limit", ["0", "-1", "5001", "abc", "1.5", ""])
def test_bad_limit_is_a_400(client: FlaskClient, limit: str) -> None:
    response = client.get(f"/api/layers/clearings/features?bbox={WORLD}&limit={limit}")
    assert response.status_code == 400
    assert orjson.loads(response.data)["parameter"] == "limit"


@pytest.mark.parametrize("name", ["nope", "links", "coverage", "ingest_runs", "<script>"])
def test_unknown_or_off_map_layer_is_a_404(client: FlaskClient, name: str) -> None:
    response = client.get(f"/api/layers/{name}/features?bbox={WORLD}")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    body = orjson.loads(response.data)
    assert body["error"] == "not_found" and "no map layer named" in body["message"]


def test_api_answers_are_not_cached(client: FlaskClient) -> None:
    response = client.get(f"/api/layers/aoi/features?bbox={WORLD}")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_clearing_popup_lists_flags(client: FlaskClient, facts: Any) -> None:
    body = _features(client, "clearings", ",".join(map(str, facts.aoi_bounds)))
    flags = {f["properties"]["clearing_id"]: f["properties"].get("flags") for f in body["features"]}
    assert flags[facts.hostile_clearing] == ["inside_concession"]


@pytest.mark.parametrize(
    ("layer", "query", "expected"),
    [
        ("clearings", "confidence=low", {"CL-0002"}),
        ("clearings", "confidence=high", {"CL-0001", "CL-0099"}),
        ("clearings", "status=confirmed", {"CL-0002"}),
        ("clearings", "risk=50", {"CL-0002"}),
        ("clearings", "risk=30-40", {"CL-0001"}),
        ("clearings", "flag=protected_area", {"CL-0002"}),
        ("clearings", "period=2024Q2", {"CL-0002"}),
        ("clearings", "from=2024-01-01&to=2024-03-01", {"CL-0001", "CL-0099"}),
        ("clearings", "aoi=elsewhere", set()),
        ("clearings", "commodity=timber", {"CL-0001", "CL-0002", "CL-0099"}),  # not a clearing's field
        ("seizures", "commodity=wildlife", {"S-2"}),
        ("seizures", "commodity=timber,wildlife", {"S-1", "S-2", "S-9"}),
        ("seizures", "country=Cambodia", {"S-1", "S-2", "S-9"}),
        ("seizures", "country=Viet Nam", set()),
        ("seizures", "period=2024-05", {"S-1", "S-2", "S-9"}),
        ("seizures", "period=2023", set()),
        ("concessions", "country=Cambodia", {"EL-1", "EL-2"}),
        ("concessions", "country=Laos", set()),
    ],
)
def test_filters_narrow_each_layer_on_its_own_fields(client: FlaskClient, layer: str, query: str, expected: set[str]) -> None:
    response = client.get(f"/api/layers/{layer}/features?bbox={WORLD}&{query}")
    assert response.status_code == 200, response.data
    body = orjson.loads(response.data)
    key = {"clearings": "clearing_id", "seizures": "seizure_id", "concessions": "source_id"}[layer]
    assert {f["properties"][key] for f in body["features"]} == expected
    assert body["numberMatched"] == len(expected)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("confidence=medium", "confidence"), ("risk=200", "risk"), ("commodity=ivory", "commodity"),
     ("period=2024Q5", "period"), ("colour=red", "colour"), ("country=%3Cb%3E", "country"), ("properties=nope", "properties")],
)
def test_bad_filters_are_a_400_naming_the_parameter(client: FlaskClient, query: str, parameter: str) -> None:
    response = client.get(f"/api/layers/clearings/features?bbox={WORLD}&{query}")
    assert response.status_code == 400
    assert orjson.loads(response.data)["parameter"] == parameter


def test_properties_narrow_what_is_sent(client: FlaskClient) -> None:
    body = _features(client, "clearings", WORLD, properties="clearing_id,confidence")
    assert body["features"] and all(list(f["properties"]) == ["clearing_id", "confidence"] for f in body["features"])
