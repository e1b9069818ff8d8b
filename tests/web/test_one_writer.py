"""The map's API and an export say the same of a feature: one reader (redaction), one writer (layers.geojson)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from config import load_settings
from layers import LAYERS, open_store
from layers.export import export_layer
from layers.opaque_ids import load_id_key
from layers.redaction import Access
from web import create_app
from web.layer_specs import map_layers

from .conftest import PASSWORDS, log_in

WORLD = "-180,-90,180,90"


@pytest.mark.parametrize("role", ["planner", "ngo"])
@pytest.mark.parametrize("layer", [lyr.name for lyr in map_layers()])
def test_export_and_api_carry_identical_features(tmp_path: Path, map_store: Path, role: str, layer: str) -> None:
    settings = load_settings({}, data_dir=tmp_path)
    app = create_app(settings, store_url=str(map_store))
    client = app.test_client()
    assert log_in(client, role, PASSWORDS[role]).status_code == 303
    api = orjson.loads(client.get(f"/api/layers/{layer}/features", query_string={"bbox": WORLD}).data)
    app.extensions["ecowatch"].close()
    access = Access(role, load_id_key(settings)) if role == "ngo" else Access(role)  # type: ignore[arg-type]
    with open_store(map_store) as store:
        export_layer(store, layer, tmp_path / "x.geojson", role=access)
    exported = {f["id"]: f for f in orjson.loads((tmp_path / "x.geojson").read_bytes())["features"]}
    lyr = next(x for x in LAYERS if x.name == layer)
    if not lyr.map_where:  # the map shows only the latest period of a time series; an export has every row
        assert len(exported) == len(api["features"])
    for feature in api["features"]:
        assert exported[feature["id"]] == feature  # same id, geometry (same precision, orientation) and properties (same date rule)


def test_the_clearing_with_dates_and_json_reads_the_same(tmp_path: Path, map_store: Path, facts) -> None:
    settings = load_settings({}, data_dir=tmp_path)
    app = create_app(settings, store_url=str(map_store))
    client = app.test_client()
    assert log_in(client, "planner", PASSWORDS["planner"]).status_code == 303
    body = orjson.loads(client.get("/api/layers/clearings/features", query_string={"bbox": WORLD}).data)
    app.extensions["ecowatch"].close()
    with open_store(map_store) as store:
        export_layer(store, "clearings", tmp_path / "c.geojson", role="planner")
    exported = orjson.loads((tmp_path / "c.geojson").read_bytes())["features"]
    one = next(f for f in body["features"] if f["properties"]["clearing_id"] == facts.hostile_clearing)
    same = next(f for f in exported if f["properties"]["clearing_id"] == facts.hostile_clearing)
    assert one["properties"] == same["properties"]
    assert isinstance(one["properties"]["first_detected"], str) and len(one["properties"]["first_detected"]) == 10  # YYYY-MM-DD
