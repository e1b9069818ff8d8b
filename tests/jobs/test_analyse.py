"""`analyse` on a small store: every output is independent of the order records were stored in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import load_settings
from jobs.analyse import analyse
from layers import open_store

UTM = "EPSG:32648"


def records():
    line = gpd.GeoDataFrame({"source_id": ["c"], "name": ["SEC"], "sub_corridor": ["SEC northern"], "kind": ["schematic"], "source": ["t"]},
                            geometry=[shapely.LineString([(700_000, 1_500_000), (800_000, 1_510_000)])], crs=UTM)
    pa = gpd.GeoDataFrame({"source_id": ["p"], "name": ["Park"], "designation": ["NP"], "source": ["t"]}, geometry=[shapely.box(720_000, 1_495_000, 740_000, 1_505_000)], crs=UTM)
    clearings = gpd.GeoDataFrame(
        {
            "clearing_id": [f"c{i}" for i in range(8)], "aoi": "a", "area_ha": 4.0, "confidence": ["high", "low"] * 4,
            "first_detected": pd.to_datetime([dt.date(2023, 1 + 3 * (i % 4), 5) for i in range(8)]), "review_status": "new", "synthetic": True,
        },
        geometry=[shapely.box(700_000 + 12_000 * i, 1_500_500 + 1_000 * (i % 3), 700_200 + 12_000 * i, 1_500_700 + 1_000 * (i % 3)) for i in range(8)],
        crs=UTM,
    )
    seizures = gpd.GeoDataFrame(
        {"seizure_id": [f"s{i}" for i in range(6)], "date": pd.to_datetime([dt.date(2023, 2 + 2 * i, 1) for i in range(6)]),
         "commodity_group": ["timber", "wildlife"] * 3, "synthetic": True, "source": "t"},
        geometry=[shapely.Point(705_000 + 15_000 * i, 1_503_000) for i in range(6)], crs=UTM,
    )
    return {"corridors": line, "protected_areas": pa, "clearings": clearings, "seizures": seizures}


def outputs(path: Path | str, order: dict[str, list[int]], data_dir: Path | None = None) -> dict[str, pd.DataFrame]:
    with open_store(path) as store:
        for layer, frame in records().items():
            store.upsert(layer, frame.iloc[order.get(layer, list(range(len(frame))))])
        analyse(store, load_settings({}, data_dir=data_dir or Path(path).parent))
        keys = {"clearings": ["clearing_id"], "links": ["seizure_id", "clearing_id"], "seizures": ["seizure_id"],
                "hotspot_segments": ["segment_id", "period"], "hotspot_cells": ["cell", "period"]}
        out = {}
        for layer, key in keys.items():
            frame = pd.DataFrame(store.read(layer)).drop(columns=["geometry"], errors="ignore")
            out[layer] = frame.sort_values(key).reset_index(drop=True)
        return out


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations(range(8)), st.permutations(range(6)))
def test_row_order_changes_no_flag_score_link_or_hotspot(tmp_path_factory, perm_c, perm_s):
    base = outputs(tmp_path_factory.mktemp("a") / "s.gpkg", {})
    shuffled = outputs(tmp_path_factory.mktemp("b") / "s.gpkg", {"clearings": list(perm_c), "seizures": list(perm_s)})
    assert base["clearings"]["flags"].map(len).sum() > 0 and len(base["links"]) > 0 and len(base["hotspot_segments"]) > 0
    for layer in base:
        pd.testing.assert_frame_equal(base[layer], shuffled[layer], check_like=True)


def test_analyse_twice_changes_nothing(tmp_path):
    first = outputs(tmp_path / "s.gpkg", {})
    with open_store(tmp_path / "s.gpkg") as store:
        run = analyse(store, load_settings({}, data_dir=tmp_path))
        counts = {layer: store.count(layer) for layer in first}
    assert counts == {layer: len(frame) for layer, frame in first.items()}
    assert run.message.startswith("8 clearing(s) assessed")


def test_analysis_confidence_high_matches_and_counts_confirmed_clearings_only(tmp_path):
    every = outputs(tmp_path / "a.gpkg", {})
    with open_store(tmp_path / "b.gpkg") as store:
        for layer, frame in records().items():
            store.upsert(layer, frame)
        run = analyse(store, load_settings({}, data_dir=tmp_path, analysis_confidence="high"))
        links = pd.DataFrame(store.read("links"))
        clearings = pd.DataFrame(store.read("clearings"))
    high = set(records()["clearings"].query("confidence == 'high'")["clearing_id"])
    assert set(links["clearing_id"]) <= high and set(every["links"]["clearing_id"]) - high  # low ones were linked with "all"
    assert clearings["flags"].notna().all()  # every clearing is still flagged
    assert "matching and hotspots use confirmed (high) clearings only (4, setting analysis_confidence)" in run.message


@pytest.mark.backend
def test_analyse_gives_the_same_outputs_on_every_store(store_url: str, tmp_path: Path) -> None:
    """Flags, scores, links and hotspots on this backend equal the GeoPackage's, and a second run changes nothing."""
    got = outputs(store_url, {}, data_dir=tmp_path / "data")
    reference = outputs(tmp_path / "reference.gpkg", {})
    assert got.keys() == reference.keys()
    for layer in got:
        pd.testing.assert_frame_equal(got[layer], reference[layer], obj=layer)
    assert len(got["links"]) > 0 and len(got["hotspot_segments"]) > 0
    again = outputs(store_url, {}, data_dir=tmp_path / "data")
    for layer in got:
        pd.testing.assert_frame_equal(again[layer], got[layer], obj=layer)
