"""The user's path by hand on a small generated scene: boundaries aoi -> imagery -> detect -> export."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from cli.main import cli
from synthetic.scenes import Grid, generate_series, write_series
from tests.ingest.truth import match_truth

CRS = "EPSG:32648"
BOUNDS = (760_000.0, 1_505_000.0, 765_120.0, 1_510_120.0)  # 256 x 256 px at 20 m


def ecowatch(*args: str, store: Path) -> str:
    result = CliRunner().invoke(cli, [*args, "--store", str(store)], env={"ECOWATCH_DATA_DIR": str(store.parent)})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("seed", [3, 11])
def test_pipeline_by_hand(tmp_path: Path, seed: int):
    grid = Grid.from_bounds(BOUNDS, 20.0, CRS)
    zone = shapely.box(*BOUNDS).buffer(-200)
    series = generate_series(
        grid, {"forest": zone}, seed=seed, baseline=(dt.date(2023, 9, 1), dt.date(2023, 12, 31)),
        monitor=(dt.date(2024, 1, 1), dt.date(2024, 4, 30)), n_clearings={"forest": 4},
    )
    scenes = tmp_path / "scenes"
    write_series(series, scenes)
    aoi = tmp_path / "aoi.geojson"
    gpd.GeoDataFrame({"name": ["small"]}, geometry=[shapely.box(*BOUNDS)], crs=CRS).to_file(aoi)
    store = tmp_path / "s.gpkg"
    ecowatch("ingest", "boundaries", "aoi", str(aoi), store=store)
    out = ecowatch("ingest", "imagery", "--provider", "local", "--path", str(scenes), "--aoi", "small",
                   "--from", "2023-09-01", "--to", "2024-04-30", store=store)
    assert f"{len(series.dates)} scene(s) for small" in out
    out = ecowatch("detect", "--aoi", "small", "--baseline", "2023-09-01/2023-12-31", "--monitor", "2024-01-01/2024-04-30", store=store)
    exported = tmp_path / "clearings.geojson"
    ecowatch("export", "clearings", "--format", "geojson", "-o", str(exported), store=store)
    doc = json.loads(exported.read_text())
    detected = gpd.GeoDataFrame.from_features(doc["features"], crs="EPSG:4326")
    detected["first_detected"] = detected["first_detected"].astype("datetime64[ns]")
    truth = series.truth[~series.truth["below_mmu"]]
    matches, false = match_truth(truth, detected, CRS)
    assert all(m.iou >= 0.5 for m in matches), matches
    assert all(0.85 <= m.area_ratio <= 1.15 for m in matches), matches
    assert false == []
    # a second detect run keeps every id and adds nothing
    ecowatch("detect", "--aoi", "small", "--baseline", "2023-09-01/2023-12-31", "--monitor", "2024-01-01/2024-04-30", store=store)
    ecowatch("export", "clearings", "--format", "geojson", "-o", str(exported), store=store)
    again = json.loads(exported.read_text())
    assert sorted(f["properties"]["clearing_id"] for f in again["features"]) == sorted(detected["clearing_id"])
