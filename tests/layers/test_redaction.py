"""The one redaction function: roles, sensitive fields, generalised seizure locations."""

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from layers import get_layer
from layers.errors import LayerError
from layers.opaque_ids import opaque_ids
from layers.redaction import Access, redact, visible_fields

SEIZURES = get_layer("seizures")
KEY = b"test key " * 4
NGO = Access("ngo", KEY)


def seizures() -> gpd.GeoDataFrame:
    pts = [(107.41, 13.61), (107.42, 13.62), (107.43, 13.63), (107.91, 13.61)]  # three in one 0.1-degree cell
    return gpd.GeoDataFrame(
        {"seizure_id": ["a", "b", "c", "d"], "date": pd.to_datetime(["2024-01-01"] * 4), "case_reference": ["C1", "C2", "C3", "C4"],
         "agency": ["X"] * 4, "notes": ["n"] * 4, "commodity_group": ["timber"] * 4, "location_precision": ["exact"] * 4},
        geometry=[shapely.Point(p) for p in pts], crs=4326,
    )


@pytest.mark.parametrize("role", ["planner", "analyst", "admin"])
def test_enforcement_roles_see_everything(role):
    out = redact(SEIZURES, seizures(), role)
    pd.testing.assert_frame_equal(pd.DataFrame(out), pd.DataFrame(seizures()))


def test_ngo_gets_no_sensitive_fields_and_generalised_points():
    out = redact(SEIZURES, seizures(), NGO)
    assert not {"case_reference", "agency", "notes"} & set(out.columns)
    assert sorted(out["seizure_id"]) == sorted(opaque_ids(KEY, "seizures", ["a", "b", "c"]))  # "d" is alone in its cell: suppressed
    assert list(out.index) == list(out["seizure_id"])  # no store row id: it follows the exact points
    assert {(round(p.x, 6), round(p.y, 6)) for p in out.geometry} == {(107.45, 13.65)}
    assert set(out["location_precision"]) == {"grid 0.1 degrees"}


def test_visible_fields_and_unknown_role():
    names = ["date", "case_reference", "agency"]
    assert [f.name for f in visible_fields(SEIZURES, names, "ngo")] == ["date"]
    assert [f.name for f in visible_fields(SEIZURES, names, "planner")] == names
    with pytest.raises(LayerError, match="unknown role 'guest'"):
        redact(SEIZURES, seizures(), "guest")  # type: ignore[arg-type]
    with pytest.raises(LayerError, match="id key"):
        redact(SEIZURES, seizures(), "ngo")  # a generalised role needs the key of its opaque ids


def test_ngo_export_cannot_single_out_points_with_a_bbox_or_filter_on_hidden_fields(tmp_path):
    from layers import open_store
    from layers.export import export_layer, parse_where

    store = open_store(tmp_path / "s.gpkg")
    store.upsert("seizures", seizures())
    out = tmp_path / "x.geojson"
    # a box around one real point only: the cell is still judged on all its points
    n = export_layer(store, "seizures", out, bbox=(107.405, 13.605, 107.415, 13.615), role=NGO)
    assert n == 0  # the generalised point (cell centre 107.45, 13.65) lies outside this box
    assert export_layer(store, "seizures", out, bbox=(107.44, 13.64, 107.46, 13.66), role=NGO) == 3
    assert export_layer(store, "seizures", out, bbox=(107.405, 13.605, 107.415, 13.615), role="planner") == 1
    with pytest.raises(ValueError, match="FIELD one of"):
        parse_where("seizures", ["agency=X"], "ngo")
    with pytest.raises(LayerError, match="cannot filter"):
        export_layer(store, "seizures", out, where={"agency": "X"}, role=NGO)


def test_nested_transaction_failure_undoes_only_its_own_writes(tmp_path):
    from layers import open_store

    store = open_store(tmp_path / "s.gpkg")
    with store.transaction():
        store.upsert("seizures", seizures().iloc[:1])
        with pytest.raises(RuntimeError), store.transaction():
            store.upsert("seizures", seizures().iloc[1:2])
            raise RuntimeError("inner")
    assert store.read("seizures")["seizure_id"].tolist() == ["a"]


def test_opaque_ids_are_keyed_stable_and_filters_apply_to_them(tmp_path):
    from layers import open_store
    from layers.export import export_layer
    from layers.opaque_ids import content_id

    store = open_store(tmp_path / "s.gpkg")
    store.upsert("seizures", seizures())
    layer = get_layer("seizures")
    first = redact(layer, store.read("seizures"), NGO)["seizure_id"].tolist()
    again = redact(layer, store.read("seizures"), Access("ngo", KEY))["seizure_id"].tolist()
    other = redact(layer, store.read("seizures"), Access("ngo", b"another key " * 3))["seizure_id"].tolist()
    assert first == again and not set(first) & set(other) and not {"a", "b", "c"} & set(first)
    out = tmp_path / "x.geojson"
    # a guessed internal id confirms nothing; the opaque id a partner holds finds its record
    assert export_layer(store, "seizures", out, where={"seizure_id": "a"}, role=NGO) == 0
    assert export_layer(store, "seizures", out, where={"seizure_id": opaque_ids(KEY, "seizures", ["a"])[0]}, role=NGO) == 1
    # ids made from content are keyed: no plain hash of hidden fields to check a guess against
    parts = ["2024-01-01", "timber", "", "", "", "", "107.4100000", "13.6100000", "", "", "", "", "", "X", "C1", "n"]
    assert content_id(KEY, parts) == content_id(KEY, parts) != content_id(b"another key " * 3, parts)
    assert content_id(KEY, parts).startswith("SZ-")


def test_generalised_roles_read_links_as_counts_and_no_runs(tmp_path):
    from layers import open_store
    from layers.redaction import read_redacted, source_layer

    store = open_store(tmp_path / "s.gpkg")
    assert source_layer(get_layer("links"), NGO).name == "links_generalised"
    assert source_layer(get_layer("links"), "planner").name == "links"
    assert "seizure_id" not in read_redacted(store, get_layer("links"), NGO).columns
    with pytest.raises(LayerError, match="cannot read layer 'ingest_runs'"):
        read_redacted(store, get_layer("ingest_runs"), NGO)
