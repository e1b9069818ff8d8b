"""The imagery cache and the COG writer: all-or-nothing files, keys, stale temporary files, grids."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from ingest.imagery.cache import ImageryCache
from ingest.imagery.cog import BANDS, cog_writer, is_complete
from ingest.imagery.grid import AoiGrid
from ingest.imagery.providers import Acquisition
from jobs.ingest_imagery import ingest_imagery
from layers.files import remove_stale_parts
from tests.ingest.reference_scenes import (
    AOI_BOUNDS,
    AOI_NAME,
    reference,
    store_with_aoi,
    write_local,
)
from tests.ingest.reference_scenes import CRS as REF_CRS

GRID = AoiGrid(CRS.from_epsg(32648), Affine(10, 0, 760_200, 0, -10, 1_507_480), 220, 206)
DAY = dt.date(2024, 1, 5)


def test_a_cog_is_written_whole_with_the_band_layout(tmp_path):
    path = tmp_path / "a" / "x.tif"
    with cog_writer(path, GRID, DAY, tags={"ECOWATCH_SOURCE": "test"}) as dst:
        dst.write(np.full((8, 100, 100), 7, dtype=np.uint16), window=Window(0, 0, 100, 100))
    with rasterio.open(path) as ds:
        assert ds.descriptions == BANDS and ds.nodata == 0 and ds.tags()["TIFFTAG_DATETIME"] == "2024:01:05 00:00:00"
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and ds.tags()["ECOWATCH_SOURCE"] == "test"
        data = ds.read()
    assert (data[:, :100, :100] == 7).all() and (data[:, 100:, :] == 0).all()  # unwritten blocks are no data
    assert is_complete(path, GRID) and not is_complete(path, AoiGrid(GRID.crs, GRID.transform, 221, 206))
    assert [p.name for p in path.parent.iterdir()] == ["x.tif"]


@pytest.mark.parametrize("interruption", [RuntimeError("connection reset"), KeyboardInterrupt()])
def test_an_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path, interruption):
    path = tmp_path / "x.tif"
    with cog_writer(path, GRID, DAY) as dst:
        dst.write(np.full((8, 10, 10), 1, dtype=np.uint16), window=Window(0, 0, 10, 10))
    before = path.read_bytes()
    with pytest.raises(type(interruption)), cog_writer(path, GRID, DAY) as dst:
        dst.write(np.full((8, 10, 10), 2, dtype=np.uint16), window=Window(0, 0, 10, 10))
        raise interruption
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["x.tif"]


def test_stale_temporary_files_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    final = tmp_path / "x.tif"
    dead = tmp_path / ".x.tif.999999999-aaaa.tif.part"
    alive = tmp_path / f".x.tif.{os.getppid()}-bbbb.cog.part"
    other = tmp_path / ".y.tif.999999999-cccc.tif.part"
    for p in (dead, alive, other):
        p.write_bytes(b"half")
    assert remove_stale_parts(final) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name])


def test_cache_keys_follow_everything_that_decides_the_pixels(tmp_path):
    cache = ImageryCache(tmp_path)
    acq = Acquisition("S2L2A_20240105", DAY, 3.0, ("item-a",))
    path = cache.path_for("stac", "my aoi/1", acq, GRID, {"stac_url": "u"})
    assert path.parent == tmp_path / "stac" / "my-aoi-1" and path.name.startswith("20240105_S2L2A_20240105_")
    assert path == cache.path_for("stac", "my aoi/1", acq, GRID, {"stac_url": "u"})
    others = [
        cache.path_for("stac", "my aoi/1", Acquisition("S2L2A_20240105", DAY, 3.0, ("item-b",)), GRID, {"stac_url": "u"}),
        cache.path_for("stac", "my aoi/1", acq, AoiGrid(GRID.crs, GRID.transform, 220, 207), {"stac_url": "u"}),
        cache.path_for("stac", "my aoi/1", acq, GRID, {"stac_url": "v"}),
    ]
    assert len({path, *others}) == 4


def test_a_damaged_cache_file_is_fetched_again(tmp_path, settings, caplog):
    """A cached COG that no longer opens (a disk fault, a hand edit) is never used: it is fetched again."""
    ref = reference()
    folder = tmp_path / "scenes"
    first, day = ref.dates[:2]
    src = write_local(ref, folder, [first, day])[1]
    with rasterio.open(src, "r+") as ds:  # half a pixel off the first file's grid: warped into the cache
        t = ds.transform
        ds.transform = Affine(t.a, 0, t.c + 5, 0, t.e, t.f)
    store = store_with_aoi(tmp_path, settings)
    run = ingest_imagery(store, settings, provider="local", path=folder, aoi=AOI_NAME, date_from=first, date_to=day)
    assert "1 fetched, 0 from the cache, 1 used in place" in run.message
    cached = Path(store.read("scenes", where={"scene_id": src.stem})["path"].iloc[0])
    cached.write_bytes(cached.read_bytes()[:2000])
    with caplog.at_level(logging.WARNING):
        run = ingest_imagery(store, settings, provider="local", path=folder, aoi=AOI_NAME, date_from=first, date_to=day)
    assert "1 fetched, 0 from the cache" in run.message and "unreadable" in caplog.text
    assert is_complete(cached, GRID)


def test_the_aoi_grid_is_the_aoi_snapped_to_the_sentinel2_lattice():
    import geopandas as gpd

    aoi = gpd.GeoSeries([shapely.box(*AOI_BOUNDS)], crs=REF_CRS).to_crs("EPSG:4326").iloc[0]
    assert AoiGrid.for_aoi(aoi, 10.0) == GRID
    grid20 = AoiGrid.for_aoi(aoi, 20.0)
    assert grid20.transform.c % 20 == 0 and grid20.transform.f % 20 == 0 and grid20.bounds[0] <= AOI_BOUNDS[0]
    big = AoiGrid(GRID.crs, GRID.transform, 5_200, 3_000).tiles(2_500)  # the Process API's limit
    assert [(t.width, t.height) for t in big] == [(1733, 1500), (1734, 1500), (1733, 1500)] * 2
    tiles = GRID.tiles(64)
    assert len(tiles) == 16 and max(max(t.width, t.height) for t in tiles) <= 64
    assert sum(t.width * t.height for t in tiles) == GRID.width * GRID.height
    assert GRID.same_lattice(CRS.from_epsg(32648), Affine(10, 0, 760_000, 0, -10, 1_507_680))
    assert not GRID.same_lattice(CRS.from_epsg(32648), Affine(10, 0, 760_005, 0, -10, 1_507_680))
    assert not GRID.same_lattice(CRS.from_epsg(32647), Affine(10, 0, 760_000, 0, -10, 1_507_680))
