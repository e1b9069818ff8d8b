"""The ``detect`` job on scenes written to disk: windows, re-runs, quicklooks, observation gaps, forest masks."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.features
import shapely
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import from_bounds

from config import load_settings
from geo.change.detection import ChangeParams, detect_change
from geo.change.objects import clearing_objects
from jobs.detect import Period, detect, params_from
from layers import open_store
from tests.jobs.detect_scenes import (
    AOI,
    CLOUD,
    CRS,
    NORTH,
    RES,
    SOIL,
    WEST,
    as_written,
    dates,
    forest_stack,
    paint,
    pixel_box,
    prepare_store,
    transform,
    write_stack,
)

SHAPE = (192, 192)
DAYS = dates(10, 12)
BASELINE = Period(DAYS[0], DAYS[9])
FIRST_RUN = Period(DAYS[10], DAYS[15])
SECOND_RUN = Period(DAYS[10], DAYS[21])
GROWING = (slice(40, 100), slice(50, 140))  # first cols 50:100 (date 12), then all (date 17): crosses 64-px windows
LATER = (slice(130, 160), slice(20, 50))  # date 13
CLOUDED = (slice(150, 192), slice(120, 192))  # the last five dates


@pytest.fixture(scope="module")
def stack() -> dict[str, np.ndarray]:
    s = forest_stack(len(DAYS), SHAPE)
    paint(s, slice(12, None), pixel_box(GROWING[0], slice(50, 100), SHAPE), SOIL, 5)
    paint(s, slice(17, None), pixel_box(*GROWING, SHAPE), SOIL, 5)
    paint(s, slice(13, None), pixel_box(*LATER, SHAPE), SOIL, 5)
    paint(s, slice(17, None), pixel_box(*CLOUDED, SHAPE), CLOUD, 9)
    return s


@pytest.fixture
def store(tmp_path: Path, stack) -> Path:
    write_stack(stack, DAYS, tmp_path / "scenes")
    return prepare_store(tmp_path, tmp_path / "scenes", SHAPE, DAYS)


def settings_for(store: Path, **overrides: object):
    return load_settings({}, data_dir=store.parent, detect_threads=2, **overrides)


def clearings(store: Path) -> gpd.GeoDataFrame:
    with open_store(store) as st:
        return st.read("clearings").set_index("clearing_id")


def test_a_clearing_across_window_boundaries_is_one_polygon(store, stack):
    settings = settings_for(store, window_px=64)
    with open_store(store) as st:
        run = detect(st, settings, aoi=AOI, baseline=BASELINE, monitor=FIRST_RUN)
    assert "2 new" in run.message
    got = clearings(store)
    assert len(got) == 2
    # the same kernel and objects on the whole grid at once, in memory
    b = stack
    n = 16
    change = detect_change(*(as_written(b[k][:n]) for k in ("B04", "B08", "B12")), as_written(b["SCL"][:n]).astype(np.uint8), 10,
                           params_from(settings), dates=DAYS[:n])
    whole = clearing_objects(change, transform(), CRS, DAYS[10:n], settings.mmu_ha).to_crs("EPSG:4326")
    assert sorted(got["area_ha"]) == pytest.approx(sorted(whole["area_ha"]))
    grown = got.loc[got["area_ha"].idxmax()]
    assert grown.geometry.geom_type in ("Polygon", "MultiPolygon") and len(shapely.get_parts(grown.geometry)) == 1
    assert grown.area_ha == pytest.approx(60 * 50 * RES**2 / 10_000, rel=0.02)
    expected = whole.geometry.iloc[int(np.argmax(whole["area_ha"]))]
    assert shapely.symmetric_difference(grown.geometry, expected).area < 1e-6 * expected.area


def test_a_re_run_keeps_ids_and_review_status_and_grows_the_clearing(store):
    settings = settings_for(store)
    with open_store(store) as st:
        detect(st, settings, aoi=AOI, baseline=BASELINE, monitor=FIRST_RUN)
    first = clearings(store)
    big, small = first["area_ha"].idxmax(), first["area_ha"].idxmin()
    with open_store(store) as st:
        st.upsert("clearings", first.reset_index()[["clearing_id"]].assign(review_status=["confirmed" if c == big else "dismissed" for c in first.index]))
        run = detect(st, settings, aoi=AOI, baseline=BASELINE, monitor=SECOND_RUN)
    again = clearings(store)
    assert sorted(again.index) == sorted(first.index), run.message
    assert again.loc[big, "review_status"] == "confirmed" and again.loc[small, "review_status"] == "dismissed"
    assert again.loc[big, "area_ha"] == pytest.approx(60 * 90 * RES**2 / 10_000, rel=0.02)
    assert first.loc[big, "area_ha"] == pytest.approx(60 * 50 * RES**2 / 10_000, rel=0.02)
    assert again.loc[big, "geometry"].covers(first.loc[big, "geometry"].buffer(-1e-7))
    assert pd_date(again.loc[big, "first_detected"]) == DAYS[12] == pd_date(first.loc[big, "first_detected"])
    assert pd_date(again.loc[big, "last_observed"]) > pd_date(first.loc[big, "last_observed"])
    assert again.loc[big, "run_id"] == first.loc[big, "run_id"], "run_id stays the run that first found it"
    assert "2 updated" in run.message


def test_a_review_made_while_detect_runs_is_kept(store, monkeypatch):
    """An analyst confirms a clearing after detect first read the review states (while its windows
    ran) and before it writes: detect reads them again inside its write transaction."""
    import jobs.detect

    settings = settings_for(store)
    with open_store(store) as st:
        detect(st, settings, aoi=AOI, baseline=BASELINE, monitor=FIRST_RUN)
    first = clearings(store)
    reviewed = first["area_ha"].idxmax()
    known = jobs.detect._known
    looks: list[int] = []

    def known_then_a_review(st, aoi):
        frame = known(st, aoi)
        looks.append(len(frame))
        if len(looks) == 1:  # the analyst's review, from another connection, between the two looks
            with open_store(store) as analyst:
                analyst.upsert("clearings", first.reset_index()[["clearing_id"]].iloc[[list(first.index).index(reviewed)]].assign(review_status="confirmed"))
        return frame

    monkeypatch.setattr(jobs.detect, "_known", known_then_a_review)
    with open_store(store) as st:
        detect(st, settings, aoi=AOI, baseline=BASELINE, monitor=SECOND_RUN)
    assert len(looks) == 2
    assert clearings(store).loc[reviewed, "review_status"] == "confirmed"


def pd_date(value: object) -> dt.date:
    import pandas as pd

    return pd.Timestamp(value).date()


def test_quicklooks_are_written_and_not_blank(store):
    with open_store(store) as st:
        detect(st, settings_for(store), aoi=AOI, baseline=BASELINE, monitor=SECOND_RUN)
    got = clearings(store)
    for cid, looks in got["quicklooks"].items():
        assert set(looks) == {"before_true_colour", "after_true_colour", "before_ndvi", "after_ndvi"}, cid
        images = {}
        for name, rel in looks.items():
            path = store.parent / rel
            assert path.suffix == ".png" and path.is_file()
            assert not list(path.parent.glob("*.aux.xml"))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a PNG chip has no georeferencing, on purpose
                with rasterio.open(path) as png:
                    images[name] = png.read()
            assert images[name].shape[0] == 3 and min(images[name].shape[1:]) >= 128
            assert images[name].std() > 10, f"{cid} {name} is blank"
        assert not np.array_equal(images["before_true_colour"], images["after_true_colour"])
        assert not np.array_equal(images["before_ndvi"], images["after_ndvi"])


def test_observation_gaps_mark_where_nothing_was_seen_lately(store):
    with open_store(store) as st:
        detect(st, settings_for(store), aoi=AOI, baseline=BASELINE, monitor=SECOND_RUN)
        gaps = st.read("observation_gaps")
        clear_gaps = st.read("observation_gaps", where={"since": DAYS[17]})
    assert list(gaps["aoi"]) == [AOI] and len(clear_gaps) == 1
    row = clear_gaps.iloc[0]
    assert pd_date(row["until"]) == SECOND_RUN.end
    # the clouded 42 x 72 px, grown by the 1-px dilation, seen in whole 8-px blocks: 5 x 9 blocks of 2.56 ha
    assert row["area_ha"] == pytest.approx(45 * 2.56, rel=0.02)
    cloud = gpd.GeoSeries([shapely.box(WEST + 120 * RES, NORTH - 192 * RES, WEST + 192 * RES, NORTH - 150 * RES)], crs=CRS).to_crs(4326)
    assert cloud.iloc[0].buffer(1e-6).covers(row.geometry)


def test_a_tree_cover_raster_decides_what_is_forest(store, tmp_path: Path):
    cover = tmp_path / "treecover.tif"
    west, south, east, north = gpd.GeoSeries([shapely.box(WEST, NORTH - 192 * RES, WEST + 192 * RES, NORTH)], crs=CRS).to_crs(4326).total_bounds
    data = np.full((400, 400), 10, np.uint8)
    data[:, :200] = 80  # dense cover in the western half only
    with rasterio.open(cover, "w", driver="GTiff", width=400, height=400, count=1, dtype="uint8", crs="EPSG:4326",
                       transform=from_bounds(west, south, east, north, 400, 400)) as dst:
        dst.write(data, 1)
    settings = settings_for(store, forest_cover_path=str(cover), forest_cover_min=30.0)
    with open_store(store) as st:
        run = detect(st, settings, aoi=AOI, baseline=BASELINE, monitor=FIRST_RUN)
    got = clearings(store)
    assert len(got) == 2, run.message
    big = got.loc[got["area_ha"].idxmax()]
    assert big.area_ha == pytest.approx(60 * 46 * RES**2 / 10_000, rel=0.06)  # cols 50..~96 of 50..100
    assert "50 % of the area watched" in run.message


def test_params_follow_the_settings(tmp_path: Path):
    settings = load_settings({}, data_dir=tmp_path, season_observations=7, nir_rise_max=0.2, cloud_dilation_px=3, baseline_low_quantile=0.2)
    p = params_from(settings)
    assert isinstance(p, ChangeParams)
    assert (p.season_observations, p.nir_rise_max, p.cloud_dilation_px, p.low_quantile) == (7, 0.2, 3, 0.2)


@pytest.mark.parametrize("tile_px", [64, 1])  # SCL decoded by tiles, or by strips of an untiled file
def test_windows_give_exactly_the_whole_grid_result(tmp_path: Path, stack, tile_px):
    """Cloud masks grow across window edges as on the whole grid; an AOI cuts windows; nothing differs."""
    from rasterio.windows import Window

    from geo.change.detection import FlaggedPixels
    from ingest.imagery.local import open_scene
    from jobs.detect_windows import WindowTask, assemble, plan_windows, run_windows, split_by_aoi

    s = {k: v.copy() for k, v in stack.items()}
    paint(s, 12, pixel_box(slice(30, 110), slice(40, 64), SHAPE), CLOUD, 9)  # ends on a window edge: grows into the next
    paint(s, 14, pixel_box(slice(64, 70), slice(0, 192), SHAPE), CLOUD, 8)  # a band along a row of window edges
    write_stack(s, DAYS, tmp_path / "scenes")
    scenes = [open_scene(p) for p in sorted((tmp_path / "scenes").glob("*.tif"))]
    params = params_from(settings_for(tmp_path / "x.gpkg"))
    aoi = shapely.Point(WEST + 120 * RES, NORTH - 110 * RES).buffer(70 * RES)  # a disc: windows cut, one corner outside
    region = Window(0, 0, SHAPE[1], SHAPE[0])
    windows, masks = split_by_aoi(aoi, scenes[0], plan_windows(region, 64, tile_px))
    assert 0 < len(windows) < 9 and any(m is not None for m in masks)
    half = len(windows) // 2
    tasks = [WindowTask(tuple(scenes), scenes[0], tuple(windows[a:b]), (0, 0, SHAPE[1], SHAPE[0]), 10, tuple(DAYS),
                        ("B04", "B08", "B12"), params, tuple(masks[a:b]), None, (0, 0), tile_px)
             for a, b in ((0, half), (half, len(windows)))]
    pixels, _, _ = assemble(run_windows(tasks, threads=2), (0, 0, SHAPE[1], SHAPE[0]), (0, 0))
    whole = detect_change(*(as_written(s[k]) for k in ("B04", "B08", "B12")), as_written(s["SCL"]).astype(np.uint8), 10, params, dates=DAYS)
    inside = rasterio.features.geometry_mask([aoi], out_shape=SHAPE, transform=transform(), invert=True)
    whole.status[~inside] = 255
    expected = FlaggedPixels.from_result(whole)
    assert len(expected) > 1000
    for name in ("index", "status", "first", "last", "ndvi_drop", "nbr_drop"):
        assert np.array_equal(getattr(pixels, name), getattr(expected, name), equal_nan=True), name


def test_a_scene_on_another_grid_is_read_warped_onto_the_reference(tmp_path: Path):
    from rasterio.windows import Window

    from ingest.imagery.local import open_scene
    from ingest.imagery.scene_windows import read_bands

    s = forest_stack(2, (32, 32))
    s["B04"][:] = np.arange(32 * 32, dtype=np.float32).reshape(1, 32, 32) + 1
    write_stack(s, DAYS[:2], tmp_path / "a")
    ref = open_scene(next((tmp_path / "a").glob("*.tif")))
    shifted = tmp_path / "shifted.tif"  # the same pixels, on a grid two pixels to the east
    with rasterio.open(ref.path) as src:
        profile = src.profile | {"transform": transform() @ rasterio.Affine.translation(2, 0)}
        with rasterio.open(shifted, "w", **profile) as dst:
            dst.write(src.read())
            dst.descriptions = src.descriptions
            dst.update_tags(**src.tags())
    other = open_scene(shifted)
    got = read_bands(other, ref, Window(-1, 0, 34, 32), ("B04",))[0]
    want = as_written(s["B04"][0])
    assert (got[:, :3] == 0).all() and (got[:, 33] == 0).all()  # nothing there, or outside the reference raster
    assert np.array_equal(got[:, 3:33], want[:, :30])


@pytest.mark.parametrize(("tile_px", "side", "max_bytes"), [(64, 64, None), (64, 96, None), (1, 64, None), (64, 64, 1)])
def test_scl_blocks_give_each_window_the_whole_grid_dilation(tmp_path: Path, stack, tile_px, side, max_bytes):
    """Windows on or off the tile grid, tiled or striped files, a cache too small for one block:
    every window's SCL is the whole grid's dilated SCL cut to it; blocks are decoded once when
    the cache holds them, again (not wrongly) when it does not."""
    from geo.change.masks import dilate_clouds
    from ingest.imagery.local import open_scene
    from ingest.imagery.scene_windows import SceneReader
    from jobs.detect_windows import plan_windows
    from jobs.scl_blocks import SclBlocks, _Ring

    s = {k: v.copy() for k, v in stack.items()}
    paint(s, 12, pixel_box(slice(30, 110), slice(40, 64), SHAPE), CLOUD, 9)
    paint(s, 14, pixel_box(slice(63, 66), slice(0, 192), SHAPE), CLOUD, 3)  # shadow along a row of tile edges
    write_stack(s, DAYS, tmp_path / "scenes")
    scenes = tuple(open_scene(p) for p in sorted((tmp_path / "scenes").glob("*.tif")))
    params = ChangeParams(cloud_dilation_px=2)
    windows = plan_windows(rasterio.windows.Window(0, 0, SHAPE[1], SHAPE[0]), side, tile_px)
    blocks = SclBlocks(len(scenes), params.cloud_dilation_px, tile_px, (0, 0, SHAPE[1], SHAPE[0]), windows, max_bytes=max_bytes)
    whole = dilate_clouds(as_written(s["SCL"]).astype(np.uint8), 2)
    rings = 0
    with SceneReader(scenes, scenes[0]) as reader:
        for col, row, w, h in reversed(windows):  # any order
            assert np.array_equal(blocks.codes(reader, (col, row, w, h)), whole[:, row:row + h, col:col + w])
            rings += sum(isinstance(data, _Ring) for data, _ in blocks.blocks.values())
    assert not blocks.blocks  # every block dropped once its last window took it
    assert rings > 0 or max_bytes is not None or tile_px == 1  # blocks only halos still need are kept as their border (one strip here)
    if max_bytes is None:
        assert blocks.decoded == len(blocks.need)
    else:
        assert blocks.decoded > len(blocks.need)


def test_too_few_baseline_scenes_is_a_clear_error_and_writes_nothing(store):
    from ingest.errors import IngestError

    settings = settings_for(store, min_baseline_observations=3)
    with open_store(store) as st, pytest.raises(IngestError, match=r"has 2 baseline scene\(s\).*min_baseline_observations"):
        detect(st, settings, aoi=AOI, baseline=Period(DAYS[0], DAYS[1]), monitor=FIRST_RUN)
    assert clearings(store).empty


def test_a_failing_window_fails_the_run_and_waits_for_the_others(tmp_path: Path, stack, monkeypatch):
    """Dask stops at the first failed window while others still run: the readers they use are
    closed only after them, and no window starts after the failure."""
    import time

    import jobs.detect_windows as dw
    from ingest.imagery.local import open_scene

    write_stack(stack, DAYS, tmp_path / "scenes")
    scenes = tuple(open_scene(p) for p in sorted((tmp_path / "scenes").glob("*.tif")))
    windows = dw.plan_windows(rasterio.windows.Window(0, 0, SHAPE[1], SHAPE[0]), 64, 64)
    task = dw.WindowTask(scenes, scenes[0], tuple(windows), (0, 0, SHAPE[1], SHAPE[0]), 10, tuple(DAYS), ("B04", "B08", "B12"),
                         ChangeParams(), tuple(None for _ in windows), None, (0, 0), 64)
    real, started, finished = dw._process, [], []

    def slow_or_failing(task, reader, blocks, scratch, window, mask):
        started.append(window)
        if window == windows[-1]:
            raise OSError("disk gone")
        time.sleep(0.3)
        out = real(task, reader, blocks, scratch, window, mask)  # reads from the reader: it must still be open
        finished.append(window)
        return out

    monkeypatch.setattr(dw, "_process", slow_or_failing)
    with pytest.raises(OSError, match="disk gone"):
        dw.run_windows([task], threads=2)
    assert len(started) < len(windows), "windows kept starting after the failure"
    assert len(finished) == len(started) - 1, "a window running when the run failed did not finish cleanly"


@pytest.mark.parametrize("n_dates", [2, 24, 45])
def test_scl_blocks_of_a_full_tile_are_decoded_once_for_long_series(n_dates):
    """A 10 980 px tile of 512 px blocks, windows sized by the memory budget, done bottom row first
    (as Dask's threads take them): every block is decoded once, within the cache's ceiling."""
    from jobs.detect_windows import plan_windows, window_side
    from jobs.scl_blocks import SCL_CACHE_BYTES, SclBlocks

    class Blank:  # a reader of SCL blocks with nothing in them
        def stack(self, win, bands):
            return {"SCL": np.full((n_dates, int(win.height), int(win.width)), 4, np.uint8)}

    size, tile = 10_980, 512
    region = rasterio.windows.Window(0, 0, size, size)
    windows = plan_windows(region, window_side(1024, 256, n_dates, region, 2, tile), tile)
    blocks = SclBlocks(n_dates, 1, tile, (0, 0, size, size), windows)
    peak = 0
    for window in reversed(windows):
        blocks.codes(Blank(), window)
        peak = max(peak, sum(data.nbytes for data, _ in blocks.blocks.values()))
    assert blocks.decoded == len(blocks.need) == 23 * 23  # 22 x 22 tiles, and the halo reaches one block row and column past the top-left edge
    assert peak <= blocks.max_bytes <= SCL_CACHE_BYTES[1]


@pytest.mark.parametrize("shape", [(1, 1), (5, 7), (130, 257)])
def test_chip_pngs_read_back_exactly(tmp_path: Path, shape):
    """The chips' own PNG encoder: GDAL's PNG driver reads back every pixel."""
    from jobs.quicklooks import png_bytes

    image = np.random.default_rng(sum(shape)).integers(0, 256, (3, *shape), dtype=np.uint8)
    path = tmp_path / "chip.png"
    path.write_bytes(png_bytes(image))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as png:
            assert (png.driver, png.count, png.dtypes[0]) == ("PNG", 3, "uint8")
            assert np.array_equal(png.read(), image)
