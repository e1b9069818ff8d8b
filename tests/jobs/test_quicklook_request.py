"""Quicklooks made on request: the chips of one clearing from the AOI's scenes, where detect puts them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import shapely

from config import Settings
from ingest.imagery.local import open_scene
from jobs.quicklook_request import chips_on_disk, make_quicklooks
from layers import open_store
from tests.ingest.reference_scenes import AOI_NAME, CRS, reference, write_local


def test_chips_made_on_request(tmp_path: Path, settings: Settings) -> None:
    paths = write_local(reference(), tmp_path / "scenes")
    store_path = tmp_path / "store" / "s.gpkg"
    with open_store(store_path) as store:
        scenes = [open_scene(p) for p in paths]
        footprint = shapely.box(760_000, 1_505_120, 762_560, 1_507_680)
        store.upsert("scenes", gpd.GeoDataFrame(
            [{"scene_id": s.scene_id, "provider": "local", "aoi": AOI_NAME, "acquired": s.acquired, "cloud_share": 0.0,
              "path": str(s.path), "crs": CRS, "synthetic": True, "geometry": footprint} for s in scenes],
            geometry="geometry", crs=CRS))
        clearing = shapely.box(761_000, 1_506_000, 761_200, 1_506_150)
        store.upsert("clearings", gpd.GeoDataFrame(
            [{"clearing_id": "CL-x", "aoi": AOI_NAME, "first_detected": dt.date(2024, 1, 20), "geometry": clearing}],
            geometry="geometry", crs=CRS))
        assert chips_on_disk(settings, AOI_NAME, "CL-x") == {}
        made = make_quicklooks(store, settings, "CL-x")
        assert set(made) == {"before_true_colour", "after_true_colour", "before_ndvi", "after_ndvi"}
        for rel in made.values():
            data = (settings.data_dir / rel).read_bytes()
            assert data.startswith(b"\x89PNG") and rel.startswith(f"quicklooks/{AOI_NAME}/CL-x/")
        assert chips_on_disk(settings, AOI_NAME, "CL-x") == made
        assert make_quicklooks(store, settings, "CL-none") == {}
