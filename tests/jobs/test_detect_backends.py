"""The ``detect`` job on each store backend: a re-run keeps ids and review states, on PostGIS as on a GeoPackage."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from cli.main import cli
from config import load_settings
from jobs.detect import detect
from layers import open_store
from tests.jobs.detect_scenes import (
    AOI,
    CRS,
    NORTH,
    RES,
    SOIL,
    WEST,
    forest_stack,
    paint,
    pixel_box,
    write_stack,
)
from tests.jobs.test_detect import BASELINE, DAYS, FIRST_RUN, GROWING, LATER, SECOND_RUN, SHAPE

pytestmark = pytest.mark.backend


def _ecowatch(store_url: str, data_dir: Path, *args: str) -> None:
    result = CliRunner().invoke(cli, [*args, "--store", store_url], env={"ECOWATCH_DATA_DIR": str(data_dir)})
    assert result.exit_code == 0, result.output


def _clearings(store_url: str) -> gpd.GeoDataFrame:
    with open_store(store_url, readonly=True) as st:
        return st.read("clearings").set_index("clearing_id")


def test_a_re_run_keeps_ids_and_review_states(store_url: str, tmp_path: Path) -> None:
    stack = forest_stack(len(DAYS), SHAPE)
    paint(stack, slice(12, None), pixel_box(GROWING[0], slice(50, 100), SHAPE), SOIL, 5)
    paint(stack, slice(17, None), pixel_box(*GROWING, SHAPE), SOIL, 5)
    paint(stack, slice(13, None), pixel_box(*LATER, SHAPE), SOIL, 5)
    write_stack(stack, DAYS, tmp_path / "scenes")
    h, w = SHAPE
    aoi_file = tmp_path / "aoi.geojson"
    gpd.GeoDataFrame({"name": [AOI]}, geometry=[shapely.box(WEST, NORTH - h * RES, WEST + w * RES, NORTH)], crs=CRS).to_file(aoi_file)
    _ecowatch(store_url, tmp_path, "ingest", "boundaries", "aoi", str(aoi_file))
    _ecowatch(store_url, tmp_path, "ingest", "imagery", "--provider", "local", "--path", str(tmp_path / "scenes"), "--aoi", AOI,
              "--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat())
    settings = load_settings({}, data_dir=tmp_path, detect_threads=2)

    with open_store(store_url) as st:
        detect(st, settings, aoi=AOI, baseline=BASELINE, monitor=FIRST_RUN)
    first = _clearings(store_url)
    assert len(first) == 2
    big = first["area_ha"].idxmax()
    with open_store(store_url) as st:
        st.upsert("clearings", first.reset_index()[["clearing_id"]].assign(review_status=["confirmed" if c == big else "dismissed" for c in first.index]))
        run = detect(st, settings, aoi=AOI, baseline=BASELINE, monitor=SECOND_RUN)
    again = _clearings(store_url)
    assert sorted(again.index) == sorted(first.index), run.message
    assert set(again["review_status"]) == {"confirmed", "dismissed"} and again.loc[big, "review_status"] == "confirmed"
    assert again.loc[big, "area_ha"] > first.loc[big, "area_ha"]
    assert again.loc[big, "geometry"].covers(first.loc[big, "geometry"].buffer(-1e-7))
    assert "2 updated" in run.message
