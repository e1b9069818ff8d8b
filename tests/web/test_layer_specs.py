"""Layer specs and draw order, read from the catalogue."""

from __future__ import annotations

from dataclasses import replace

import pytest

from layers import CATALOG, LAYERS, Field, get_layer
from layers.catalog import MIN_ZOOM_DETAIL
from web.layer_specs import draw_rank, field_label, get_map_layer, layer_spec, map_layers


def test_map_layers_are_the_on_map_spatial_layers() -> None:
    expected = {lyr.name for lyr in LAYERS if lyr.on_map and lyr.geometry_type}
    assert {lyr.name for lyr in map_layers()} == expected
    assert get_map_layer("links", "planner") is None and get_map_layer("nope", "planner") is None
    assert get_map_layer("clearings", "planner") is CATALOG["clearings"]


def test_map_layers_per_role() -> None:
    every = {lyr.name for lyr in map_layers()}
    for role in ("planner", "analyst", "ngo", "admin"):
        assert {lyr.name for lyr in map_layers(role)} == every  # ngo: seizures generalised, still a layer
    public = {lyr.name for lyr in map_layers("viewer")}
    assert public == {lyr.name for lyr in LAYERS if lyr.on_map and lyr.geometry_type and lyr.public}
    assert {"seizures", "observation_gaps"}.isdisjoint(public) and {"clearings", "hotspot_cells", "countries"} <= public
    assert get_map_layer("seizures", "viewer") is None


def test_draw_order_filled_then_outline_then_lines_then_points() -> None:
    ranks = [draw_rank(lyr) for lyr in map_layers()]
    assert ranks == sorted(ranks)
    for lyr in map_layers():
        expected = {"POINT": 3, "MULTILINESTRING": 2}.get(str(lyr.geometry_type))
        if expected is None:
            expected = 1 if lyr.style.get("fillOpacity") == 0 else 0
        assert draw_rank(lyr) == expected


def test_a_polygon_without_fill_opacity_counts_as_filled() -> None:
    lyr = replace(get_layer("concessions"), style={"color": "#000"})
    assert draw_rank(lyr) == 0


@pytest.mark.parametrize(
    ("name", "label"),
    [("area_ha", "Area (ha)"), ("first_detected", "First detected"), ("iucn_category", "IUCN category"),
     ("ndvi_drop", "NDVI drop"), ("risk", "Risk"), ("distance_km", "Distance (km)")],
)
def test_field_label(name: str, label: str) -> None:
    assert field_label(name) == label


def test_spec_carries_the_declaration() -> None:
    lyr = get_layer("seizures")
    spec = layer_spec(lyr, {"synthetic": True, "other": 1}, "planner")
    assert spec["name"] == "seizures" and spec["title"] == lyr.title
    assert spec["geometry_type"] == "POINT" and spec["style"] == lyr.style and spec["style"] is not lyr.style
    assert [p["name"] for p in spec["popup"]] == list(lyr.popup)
    assert spec["synthetic"] is True and layer_spec(lyr, {}, "planner")["synthetic"] is False
    assert spec["min_zoom"] == lyr.min_zoom == MIN_ZOOM_DETAIL and layer_spec(get_layer("countries"), {}, "planner")["min_zoom"] is None


def test_spec_popup_follows_visibility() -> None:
    lyr = replace(get_layer("seizures"), popup=("date", "case_reference"))
    assert [p["name"] for p in layer_spec(lyr, {}, role="ngo")["popup"]] == ["date"]
    assert [p["name"] for p in layer_spec(lyr, {}, role="planner")["popup"]] == ["date", "case_reference"]
    assert isinstance(lyr.field("case_reference"), Field)
