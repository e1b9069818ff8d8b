"""The synthetic Sentinel-2 L2A series: determinism, truth that matches the pixels, GeoTIFF output."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import numpy as np
import pytest
import rasterio
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.features import rasterize

from synthetic.scenes import (
    BANDS,
    TRUTH_COLUMNS,
    TRUTH_FILE,
    Grid,
    SyntheticError,
    acquisition_dates,
    generate_series,
    read_truth,
    scene_path,
    write_series,
)

X0, Y0 = 754_000.0, 1_501_000.0
RES = 20.0
SIZE = 256 * RES
BASELINE = (dt.date(2023, 1, 1), dt.date(2023, 6, 30))
MONITOR = (dt.date(2023, 7, 1), dt.date(2024, 3, 31))
CLOUD_OR_SHADOW = (3, 8, 9)
B = {name: i for i, name in enumerate(BANDS)}


def _zones() -> dict[str, shapely.Geometry]:
    """Four zones of different kinds: a round one, a box, a two-part one, one running off the grid."""
    return {
        "protected_area": shapely.Point(X0 + 1400, Y0 + 1400).buffer(1200),
        "inside_concession": shapely.box(X0 + 2800, Y0 + 200, X0 + 5000, Y0 + 2500),
        "outside_concessions": shapely.MultiPolygon(
            [shapely.box(X0 + 200, Y0 + 2800, X0 + 1300, Y0 + 4900), shapely.box(X0 + 1500, Y0 + 2800, X0 + 2600, Y0 + 4900)]
        ),
        "no_concession_data": shapely.box(X0 + 2800, Y0 + 2800, X0 + 5600, Y0 + 5600),
    }


def _grid(pixels: int = 256) -> Grid:
    return Grid.from_bounds((X0, Y0, X0 + pixels * RES, Y0 + pixels * RES), RES, "EPSG:32648")


def _generate(seed: int, **kwargs: object) -> object:
    return generate_series(_grid(), _zones(), seed=seed, baseline=BASELINE, monitor=MONITOR, **kwargs)


@pytest.fixture(scope="module")
def series():
    return _generate(7)


@pytest.fixture(scope="module")
def data(series):
    return series.data


def _ndvi(scene: np.ndarray) -> np.ndarray:
    red, nir = scene[B["B04"]].astype(float), scene[B["B08"]].astype(float)
    return (nir - red) / (nir + red)


def _index(series, date: dt.date) -> int:
    return series.dates.index(date)


# --- grid and dates -----------------------------------------------------------------------------


def test_grid_from_bounds():
    grid = Grid.from_bounds((754_000, 1_501_000, 774_000, 1_521_000), 20, "EPSG:32648")
    assert grid.shape == (1000, 1000)
    assert grid.crs.to_epsg() == 32648
    assert tuple(grid.transform)[:6] == (20.0, 0.0, 754_000.0, 0.0, -20.0, 1_521_000.0)
    assert grid.bounds == (754_000.0, 1_501_000.0, 774_000.0, 1_521_000.0)
    assert grid.pixel_area_m2 == 400.0


@pytest.mark.parametrize(
    ("bounds", "resolution", "crs", "message"),
    [
        ((0, 0, 1, 1), 0.001, "EPSG:4326", "projected CRS"),
        ((10, 0, 0, 10), 1, "EPSG:32648", "west < east"),
        ((0, 0, 10, 10), 0, "EPSG:32648", "resolution must be > 0"),
    ],
)
def test_grid_rejects(bounds, resolution, crs, message):
    with pytest.raises(ValueError, match=message):
        Grid.from_bounds(bounds, resolution, crs)


def test_acquisition_dates():
    dates, first = acquisition_dates(BASELINE, MONITOR, 10)
    assert dates[0] == BASELINE[0]
    assert all((b - a).days % 10 == 0 for a, b in itertools.pairwise(dates))
    assert dates[first - 1] <= BASELINE[1] < MONITOR[0] <= dates[first]
    assert dates[-1] <= MONITOR[1]


@pytest.mark.parametrize(
    ("baseline", "monitor", "message"),
    [
        ((dt.date(2023, 1, 1), dt.date(2023, 6, 30)), (dt.date(2023, 6, 1), dt.date(2023, 12, 31)), "baseline start"),
        ((dt.date(2023, 1, 1), dt.date(2023, 6, 30)), (dt.date(2023, 7, 1), dt.date(2023, 7, 25)), "need >= 4"),
    ],
)
def test_acquisition_dates_rejects(baseline, monitor, message):
    with pytest.raises(ValueError, match=message):
        acquisition_dates(baseline, monitor, 10)


# --- determinism --------------------------------------------------------------------------------


def test_same_seed_same_series(series, data):
    again = _generate(7)
    assert again.dates == series.dates
    np.testing.assert_array_equal(again.data, data)
    assert_geodataframe_equal(again.truth, series.truth)


def test_other_seed_other_series(series, data):
    other = _generate(8)
    assert not np.array_equal(other.scene(0), data[0])
    assert [g.wkb for g in other.truth.geometry] != [g.wkb for g in series.truth.geometry]


def test_scenes_do_not_depend_on_call_order(series, data):
    last = len(series.dates) - 1
    np.testing.assert_array_equal(series.scene(last), data[last])
    np.testing.assert_array_equal(series.scene(3), data[3])
    np.testing.assert_array_equal(series.scene(-1), data[last])
    with pytest.raises(IndexError, match="out of range"):
        series.scene(len(series.dates))


def test_data_shape_and_type(series, data):
    assert series.bands == BANDS == ("B02", "B03", "B04", "B08", "B8A", "B11", "B12", "SCL")
    assert data.dtype == np.uint16
    assert data.shape == (len(series.dates), 8, 256, 256)
    assert data[:, :7].min() >= 1  # 0 is no data
    assert series.dates == sorted(series.dates)


# --- the truth ----------------------------------------------------------------------------------


def test_truth_table(series):
    truth = series.truth
    assert list(truth.columns) == [*TRUTH_COLUMNS, "geometry"]
    assert truth.crs.to_epsg() == 32648
    assert list(truth["truth_id"]) == list(range(1, len(truth) + 1))
    assert (truth.geom_type == "Polygon").all() and truth.is_valid.all()
    assert set(truth["zone"]) == set(_zones())
    ordinary = truth[~truth["below_mmu"]]
    assert ordinary.groupby("zone").size().to_dict() == dict.fromkeys(_zones(), 3)
    assert 1 <= truth["below_mmu"].sum() <= 2


def test_clearing_sizes(series):
    truth = series.truth
    ordinary, tiny = truth[~truth["below_mmu"]], truth[truth["below_mmu"]]
    assert ordinary["area_ha"].between(1.0, 25.0).all()
    assert tiny["area_ha"].between(0.1, 0.3).all()
    assert ordinary["area_ha"].max() > 2 * ordinary["area_ha"].min()  # sizes vary


def test_truth_area_is_the_pixel_area(series):
    truth = series.truth
    counts = np.bincount(series.labels.ravel(), minlength=len(truth) + 1)[1:]
    np.testing.assert_array_equal(truth["n_pixels"], counts)
    np.testing.assert_allclose(truth.geometry.area, counts * RES * RES, rtol=1e-12)
    np.testing.assert_allclose(truth["area_ha"], counts * RES * RES / 10_000, rtol=1e-12)


def test_truth_geometry_is_the_raster(series):
    burnt = rasterize(
        zip(series.truth.geometry, series.truth["truth_id"], strict=True),
        out_shape=series.grid.shape, transform=series.grid.transform, dtype=np.int32,
    )
    np.testing.assert_array_equal(burnt, series.labels)


def test_clearings_are_not_boxes(series):
    truth = series.truth[~series.truth["below_mmu"]]
    assert (truth.geometry.area / truth.geometry.envelope.area < 0.9).all()


def test_clearings_lie_inside_their_zone(series):
    zones = _zones()
    for row in series.truth.itertuples():
        # every pixel at least 2 pixels from the zone's edge
        assert zones[row.zone].buffer(1e-6).contains(row.geometry.buffer(2 * RES)), row.truth_id
        others = [g for name, g in zones.items() if name != row.zone]
        assert not any(g.intersects(row.geometry) for g in others)


def test_clearings_lie_in_forest_apart_from_each_other(series):
    assert (series.landcover[series.labels > 0] == 0).all()
    for a, b in itertools.combinations(series.truth.geometry, 2):
        assert a.distance(b) >= 3 * RES


def test_appearance_dates(series):
    first_monitor = series.dates[series.first_monitor]
    assert first_monitor >= MONITOR[0]
    last_allowed = series.dates[-3]
    truth = series.truth
    assert all(first_monitor <= d <= last_allowed for d in truth["appears"])
    assert all(a <= v <= last_allowed for a, v in zip(truth["appears"], truth["first_visible"], strict=True))
    assert len(set(truth["appears"])) >= len(truth) // 2  # spread over the period, not bunched


def test_about_a_third_hidden_at_first(series):
    hidden = series.truth["hidden_first"]
    assert round(len(hidden) / 3) - 1 <= hidden.sum() <= round(len(hidden) / 3) + 1
    assert (series.truth["appears"][~hidden] == series.truth["first_visible"][~hidden]).all()
    assert (series.truth["appears"][hidden] < series.truth["first_visible"][hidden]).all()


def test_hidden_clearings_are_under_cloud_then_clear(series, data):
    for row in series.truth.itertuples():
        mine = series.labels == row.truth_id
        on_appears = data[_index(series, row.appears), B["SCL"]][mine]
        on_visible = data[_index(series, row.first_visible), B["SCL"]][mine]
        if row.hidden_first:
            assert np.isin(on_appears, CLOUD_OR_SHADOW).all(), row.truth_id
        assert (on_visible == 5).all(), row.truth_id  # bare soil, no cloud nor shadow


def test_clearings_appear_when_the_truth_says(series, data):
    for row in series.truth.itertuples():
        mine = series.labels == row.truth_id
        appears = _index(series, row.appears)
        scl = data[:, B["SCL"]][:, mine]
        assert not (scl[:appears] == 5).any(), row.truth_id  # forest (or cloud) before
        visible_after = ~np.isin(scl[appears:], CLOUD_OR_SHADOW)
        assert (scl[appears:][visible_after] == 5).all(), row.truth_id  # bare soil after, where seen


# --- radiometry ---------------------------------------------------------------------------------


def test_forest_soil_grass_water_values(series, data):
    last = data[-1]
    ndvi = _ndvi(last)
    scl = last[B["SCL"]]
    clear = ~np.isin(scl, CLOUD_OR_SHADOW)
    forest = clear & (series.landcover == 0) & (series.labels == 0)
    soil = clear & (series.labels > 0)
    grass = clear & (series.landcover == 1)
    water = clear & (series.landcover == 2)
    assert forest.sum() > 1000 and soil.sum() > 100 and grass.sum() > 100 and water.sum() > 50
    assert np.percentile(ndvi[forest], [0.5, 99.5]).tolist() == pytest.approx([0.8, 0.85], abs=0.05)
    assert np.percentile(ndvi[soil], [0.5, 99.5]).tolist() == pytest.approx([0.2, 0.26], abs=0.1)
    assert 0.4 <= np.median(ndvi[grass]) <= 0.6
    assert np.median(ndvi[water]) < 0
    assert (scl[forest] == 4).all() and (scl[grass] == 4).all() and (scl[soil] == 5).all() and (scl[water] == 6).all()
    assert np.median(last[B["B08"]][forest]) == pytest.approx(3200, rel=0.08)
    assert np.median(last[B["B11"]][soil]) == pytest.approx(3000, rel=0.08)
    assert 0.10 <= grass.sum() / clear.sum() <= 0.22


def test_clouds_and_shadows(series, data):
    scl = data[:, B["SCL"]]
    cloud = np.isin(scl, (8, 9))
    cloudy_dates = cloud.any(axis=(1, 2))
    assert 0.2 <= cloudy_dates.mean() <= 0.45
    for i in np.flatnonzero(cloudy_dates):
        assert (scl[i] == 3).any(), i  # every cloudy date has shadows
        low, high = np.percentile(data[i, :7][:, cloud[i]], [1, 99])
        assert 4700 <= low < high <= 8400, i  # bright in every band: 5000-8000 give or take the noise
    clear_dates = np.flatnonzero(~cloudy_dates)
    assert not np.isin(scl[clear_dates], (3, 8, 9, 10)).any()
    natural = [i for i in np.flatnonzero(cloudy_dates) if cloud[i].mean() > 0.03]
    assert all(cloud[i].mean() <= 0.35 for i in natural)


def test_grass_does_not_change(series, data):
    scl = data[:, B["SCL"]]
    clear = [i for i in range(len(series.dates)) if not np.isin(scl[i], CLOUD_OR_SHADOW).any()]
    grass = series.landcover == 1
    first, last = data[clear[0], B["B04"]][grass], data[clear[-1], B["B04"]][grass]
    assert np.median(np.abs(first.astype(float) - last) / first) < 0.15


# --- errors -------------------------------------------------------------------------------------


def test_unknown_zone_in_counts():
    with pytest.raises(ValueError, match="not zones"):
        _generate(1, n_clearings={"elsewhere": 2})


def test_negative_seed():
    with pytest.raises(ValueError, match="seed must be >= 0"):
        _generate(-1)


def test_zone_without_room():
    zones = {"tiny_zone": shapely.box(X0 + 1000, Y0 + 1000, X0 + 1300, Y0 + 1300)}
    with pytest.raises(SyntheticError, match="zone 'tiny_zone': no room"):
        generate_series(_grid(), zones, seed=3, baseline=BASELINE, monitor=MONITOR, n_tiny=0)


# --- invariants over seeds ------------------------------------------------------------------------


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_truth_invariants_hold_for_any_seed(seed):
    zones = {"a": shapely.box(X0 + 100, Y0 + 100, X0 + 2500, Y0 + 2500), "b": shapely.box(X0 + 2700, Y0 + 100, X0 + 5000, Y0 + 2500)}
    grid = Grid.from_bounds((X0, Y0, X0 + SIZE, Y0 + 2600), RES, "EPSG:32648")
    s = generate_series(grid, zones, seed=seed, baseline=BASELINE, monitor=MONITOR, n_clearings={"a": 2, "b": 2})
    for row in s.truth.itertuples():
        assert zones[row.zone].buffer(1e-6).contains(row.geometry.buffer(2 * RES))
        assert row.geometry.area == pytest.approx(row.n_pixels * RES * RES, rel=1e-12)
        mine = s.labels == row.truth_id
        appears = s.scene(_index(s, row.appears))[B["SCL"]][mine]
        assert np.isin(appears, CLOUD_OR_SHADOW).all() if row.hidden_first else (appears == 5).all()
        assert (s.scene(_index(s, row.first_visible))[B["SCL"]][mine] == 5).all()


# --- GeoTIFF output -----------------------------------------------------------------------------


def test_write_series_round_trip(series, data, tmp_path):
    paths = write_series(series, tmp_path)
    assert paths == [scene_path(tmp_path, d) for d in series.dates]
    assert paths[0].name == f"S2_SYN_{series.dates[0]:%Y%m%d}.tif"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*(p.name for p in paths), TRUTH_FILE])
    for index in (0, len(paths) // 2, len(paths) - 1):
        with rasterio.open(paths[index]) as src:
            assert src.descriptions == BANDS
            assert src.count == 8 and src.dtypes == ("uint16",) * 8
            assert src.crs == series.grid.crs
            assert src.transform == series.grid.transform
            assert (src.width, src.height) == (series.grid.width, series.grid.height)
            tags = src.tags()
            assert tags["TIFFTAG_DATETIME"] == f"{series.dates[index]:%Y:%m:%d} 00:00:00"
            assert tags["ECOWATCH_SYNTHETIC"] == "yes"
            assert tags["ECOWATCH_SEED"] == "7"
            assert src.compression.name == "deflate"
            assert src.block_shapes[0] == (256, 256)
            assert src.nodata == 0
            np.testing.assert_array_equal(src.read(), data[index])


def test_write_series_truth_file(series, tmp_path):
    write_series(series, tmp_path)
    document = json.loads((tmp_path / TRUTH_FILE).read_text(encoding="utf-8"))
    assert document["ecowatch_synthetic"]["seed"] == 7
    first = document["features"][0]["properties"]
    assert first["appears"] == series.truth["appears"].iloc[0].isoformat()
    truth = read_truth(tmp_path / TRUTH_FILE)
    assert truth.crs.to_epsg() == 4326
    assert list(truth["truth_id"]) == list(series.truth["truth_id"])
    assert list(truth["appears"]) == list(series.truth["appears"])
    assert list(truth["first_visible"]) == list(series.truth["first_visible"])
    assert list(truth["hidden_first"]) == list(series.truth["hidden_first"])
    assert list(truth["zone"]) == list(series.truth["zone"])
    back = truth.to_crs(series.truth.crs)
    assert (back.geometry.symmetric_difference(series.truth.geometry).area < 1e-3).all()
    assert all(shapely.is_ccw(g.exterior) for g in truth.geometry)  # RFC 7946 right-hand rule


def test_write_series_leaves_no_partial_file(series, tmp_path, monkeypatch):
    def broken(index: int) -> np.ndarray:
        raise RuntimeError("render failed")

    monkeypatch.setattr(series, "scene", broken)
    with pytest.raises(RuntimeError, match="render failed"):
        write_series(series, tmp_path, threads=1)
    assert list(tmp_path.iterdir()) == []
