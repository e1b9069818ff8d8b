"""End to end: `ecowatch demo --no-serve` against the synthetic truth, on three seeds."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from cli.demo import ZONE_FLAGS
from layers import CATALOG, open_store
from tests.conftest import run_demo_cli
from tests.ingest.truth import match_truth

DEMO_SEED = 2024


REGION = Path(__file__).resolve().parents[2] / "config" / "regions" / "mekong"


def crossing_km(geom, crs) -> float:
    crossings = gpd.read_file(REGION / "border_crossings.geojson").to_crs(crs)
    return float(crossings.distance(geom).min() / 1000.0)


def corridor_km(geom, crs) -> float:
    corridors = gpd.read_file(REGION / "corridors.geojson").to_crs(crs)
    return float(corridors.distance(geom).min() / 1000.0)


def check_against_truth(store: Path, seed: int) -> None:
    truth = gpd.read_file(store.parent / "demo" / f"seed-{seed}" / "imagery" / "truth.geojson")
    with open_store(store) as st:
        detected = st.read("clearings", where={"aoi": "ratanakiri-oyadav"})
        links = st.read("links")
        assert st.layer_info("clearings")["synthetic"] is True
        assert st.layer_info("seizures")["synthetic"] is True
        assert st.layer_info("scenes")["synthetic"] is True
    assert truth["zone"].nunique() == 4, "every zone is planted"
    big = truth[~truth["below_mmu"]]
    utm = big.to_crs("EPSG:32648")
    matches, false = match_truth(big, detected)
    for m, t in zip(matches, big.itertuples(), strict=True):
        assert m.iou >= 0.5, f"seed {seed}: truth {m.truth_id} ({t.zone}, {t.area_ha:.2f} ha) found with IoU {m.iou:.2f}"
        assert 0.85 <= m.area_ratio <= 1.15, f"seed {seed}: truth {m.truth_id} area ratio {m.area_ratio:.2f}"
        assert 0 <= m.lag_days <= 10, f"seed {seed}: truth {m.truth_id} first detected {m.lag_days} days after first visible"
        flags = detected.set_index("clearing_id").loc[m.clearing_id, "flags"]
        legal = tuple(f for f in flags if not f.startswith("near_"))
        assert legal == ZONE_FLAGS[t.zone], f"seed {seed}: truth {m.truth_id} in {t.zone} flagged {flags}"
        # proximity, computed here independently in UTM 48N from the truth polygon
        for code, distance_km, limit in (("near_crossing", crossing_km(utm.geometry.loc[t.Index], "EPSG:32648"), 10.0), ("near_corridor", corridor_km(utm.geometry.loc[t.Index], "EPSG:32648"), 5.0)):
            if abs(distance_km - limit) > 0.2:
                assert (code in flags) == (distance_km < limit), f"seed {seed}: truth {m.truth_id} {code}: {distance_km:.2f} km, flags {flags}"
    assert false == [], f"seed {seed}: clearings where none was planted: {false}"
    # every clearing has reasons for its flags and a risk score
    assert all(len(f) == len(r) > 0 for f, r in zip(detected["flags"], detected["reasons"], strict=True))
    assert detected["risk"].between(0, 100).all()
    # seizures planted next to a clearing after it appeared link to it; decoys link to nothing
    seizures = pd.read_csv(store.parent / "demo" / f"seed-{seed}" / "seizures_synthetic.csv")
    by_truth = {m.truth_id: m.clearing_id for m in matches}
    for s in seizures.itertuples():
        # (region-wide synthetic clearings elsewhere may also link: only the AOI's are judged here)
        linked = set(links.loc[links["seizure_id"] == s.seizure_id, "clearing_id"]) & set(detected["clearing_id"])
        if pd.isna(s.expected_truth_id):
            assert not linked, f"decoy {s.seizure_id} linked to {linked}"
        elif int(s.expected_truth_id) in by_truth:
            assert by_truth[int(s.expected_truth_id)] in linked


def test_demo_store_matches_truth(demo_store: Path):
    check_against_truth(demo_store, DEMO_SEED)


@pytest.mark.slow  # two more whole demo runs
@pytest.mark.parametrize("seed", [7, 31])
def test_demo_on_other_seeds(tmp_path: Path, seed: int):
    store = tmp_path / "demo.gpkg"
    run_demo_cli(store, seed)
    check_against_truth(store, seed)


@pytest.mark.slow  # a whole demo run again
def test_second_demo_run_changes_no_row_count(demo_store: Path):
    with open_store(demo_store) as st:
        before = {name: st.count(name) for name in CATALOG}
        clearings = st.read("clearings").set_index("clearing_id")
    run_demo_cli(demo_store)
    with open_store(demo_store) as st:
        after = {name: st.count(name) for name in CATALOG}
        again = st.read("clearings").set_index("clearing_id")
    runs = after.pop("ingest_runs") - before.pop("ingest_runs")
    assert after == before
    assert runs == 11  # each command of the demo but export records its run
    assert sorted(again.index) == sorted(clearings.index)


def test_export_is_rfc7946(demo_store: Path, tmp_path: Path):
    out = tmp_path / "clearings.geojson"
    from click.testing import CliRunner

    from cli.main import cli

    result = CliRunner().invoke(cli, ["export", "clearings", "--format", "geojson", "-o", str(out), "--where", "aoi=ratanakiri-oyadav", "--store", str(demo_store)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert "crs" not in doc and doc["type"] == "FeatureCollection" and doc["features"]
    for feature in doc["features"]:
        geom = shapely.geometry.shape(feature["geometry"])
        minx, miny, maxx, maxy = geom.bounds
        assert 107.3 < minx < maxx < 107.6 and 13.5 < miny < maxy < 13.8  # lon/lat, not UTM
        for poly in shapely.get_parts(geom):
            assert poly.exterior.is_ccw, "exterior rings counter-clockwise (right-hand rule)"
            assert all(not ring.is_ccw for ring in poly.interiors)
        props = feature["properties"]
        assert props["first_detected"][:4] == "2024" and isinstance(props["flags"], list)


def test_designed_hotspot_segments_carry_their_trend(demo_store: Path):
    design = json.loads((demo_store.parent / "demo" / f"seed-{DEMO_SEED}" / "region_design.json").read_text())
    assert set(design.values()) == {"intensifying", "persistent", "diminishing", "new"}
    with open_store(demo_store) as st:
        latest = st.read("hotspot_segments", where={"latest": True}).set_index("segment_id")
        periods = st.read("hotspot_segments", where={"segment_id": next(iter(design))})
        assert st.layer_info("hotspot_segments")["synthetic"] is True
    assert len(latest) >= 40 and len(periods) >= 8
    wrong = {seg: (want, latest.loc[seg, "trend"]) for seg, want in design.items() if latest.loc[seg, "trend"] != want}
    assert not wrong, wrong
    assert all(latest.loc[seg, "hot_class"].startswith("hot") for seg in design)
