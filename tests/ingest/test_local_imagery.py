"""The local provider: band descriptions, dates, and clear errors for unusable files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.enums
import rasterio.shutil
from rasterio.transform import from_origin
from rasterio.warp import reproject

from ingest.errors import SourceError
from ingest.imagery.local import open_scene
from jobs.ingest_imagery import ingest_imagery
from tests.ingest.reference_scenes import (
    AOI_NAME,
    CRS,
    TRANSFORM,
    aoi_window_of,
    reference,
    store_with_aoi,
    write_local,
)

BANDS = ["B04", "B08", "B11", "B12", "SCL"]


def tif(path: Path, bands=BANDS, dtype="uint16", date_tag: str | None = "2024:03:05 00:00:00", crs="EPSG:32648") -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=8, height=8, count=len(bands), dtype=dtype, crs=crs,
                       transform=from_origin(760000, 1510000, 10, 10)) as ds:
        ds.write(np.ones((len(bands), 8, 8), dtype=dtype))
        for i, b in enumerate(bands, start=1):
            ds.set_band_description(i, b)
        if date_tag:
            ds.update_tags(TIFFTAG_DATETIME=date_tag)
    return path


def test_bands_found_by_description_in_any_order(tmp_path):
    s = open_scene(tif(tmp_path / "x.tif", bands=["SCL", "B12", "B02", "B11", "B08", "B04"]))
    assert s.bands["SCL"] == 1 and s.bands["B04"] == 6 and s.bands["B02"] == 3
    assert s.acquired == dt.date(2024, 3, 5) and s.scale == 10_000


def test_date_from_file_name_and_float_scale(tmp_path):
    s = open_scene(tif(tmp_path / "S2_2024-02-29_T48.tif", dtype="float32", date_tag=None))
    assert s.acquired == dt.date(2024, 2, 29) and s.scale == 1.0


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: tif(p / "nodate.tif", date_tag=None), "no acquisition date"),
        (lambda p: tif(p / "x_20240230.tif", date_tag=None), "not a real date"),
        (lambda p: tif(p / "few.tif", bands=["B04", "B08", "SCL"]), "lack SWIR (B12 or B11); the minimum is red B04, a NIR band"),
        (lambda p: tif(p / "geo.tif", crs="EPSG:4326"), "needs a projected CRS"),
        (lambda p: (p / "vrt.tif").write_text("<VRTDataset rasterXSize='1' rasterYSize='1'></VRTDataset>") and p / "vrt.tif", "not a readable GeoTIFF"),
        (lambda p: (p / "trunc.tif").write_bytes(tif(p / "full.tif").read_bytes()[:300]) and p / "trunc.tif", "not a readable GeoTIFF"),
    ],
)
def test_unusable_files_are_named_with_the_reason(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(SourceError) as info:
        open_scene(path)
    assert str(path.name) in str(info.value) and reason in str(info.value)


def test_no_band_descriptions_is_named(tmp_path):
    path = tmp_path / "plain_20240305.tif"
    with rasterio.open(path, "w", driver="GTiff", width=8, height=8, count=5, dtype="uint16", crs="EPSG:32648",
                       transform=from_origin(760000, 1510000, 10, 10)) as ds:
        ds.write(np.ones((5, 8, 8), dtype="uint16"))
    with pytest.raises(SourceError, match="its 5 band.s. have no descriptions; describe them by band name: red B04, a NIR band .B08 or B8A., a SWIR band .B12 or B11. and a mask"):
        open_scene(path)


def test_absurd_dimensions_are_refused_before_reading(tmp_path):
    path = tmp_path / "huge_20240305.tif"
    with rasterio.open(path, "w", driver="GTiff", width=30_000, height=30_000, count=5, dtype="uint16", crs="EPSG:32648",
                       transform=from_origin(760000, 1510000, 10, 10), tiled=True, sparse_ok=True) as ds:
        for i, b in enumerate(BANDS, start=1):
            ds.set_band_description(i, b)
    assert path.stat().st_size < 5_000_000  # only the header: nothing to read
    with pytest.raises(SourceError, match=r"30000 x 30000 px is larger than the 400,000,000 px limit"):
        open_scene(path)


def test_a_truncated_cog_whose_header_survived_is_caught_when_opened(tmp_path):
    full = tif(tmp_path / "full.tif")
    cog = tmp_path / "cog.tif"
    rasterio.shutil.copy(full, cog, driver="COG", compress="deflate")
    data = cog.read_bytes()
    cut = tmp_path / "cut_20240305.tif"
    cut.write_bytes(data[: len(data) - 40])
    with pytest.raises(SourceError, match=r"truncated or corrupt GeoTIFF: band \d \(\w+\) cannot be read"):
        open_scene(cut)


def test_other_formats_named_tif_are_refused(tmp_path):
    png = tmp_path / "x.png"
    with rasterio.open(png, "w", driver="PNG", width=8, height=8, count=1, dtype="uint8", crs="EPSG:32648",
                       transform=from_origin(760000, 1510000, 10, 10)) as ds:
        ds.write(np.ones((1, 8, 8), dtype="uint8"))
    disguised = tmp_path / "S2_20240305.tif"
    png.rename(disguised)
    with pytest.raises(SourceError, match="not a readable GeoTIFF"):
        open_scene(disguised)


def test_unusable_files_are_rejected_and_the_others_registered(tmp_path, settings):
    ref = reference()
    folder = tmp_path / "scenes"
    write_local(ref, folder, ref.dates[:3])
    (folder / "S2_BAD_20230905.tif").write_text("<VRTDataset rasterXSize='1' rasterYSize='1'></VRTDataset>")
    store = store_with_aoi(tmp_path, settings)
    run = ingest_imagery(store, settings, provider="local", path=folder, aoi=AOI_NAME, date_from=ref.dates[0], date_to=ref.dates[2])
    assert run.message.startswith("3 scene(s)") and "rejected 1" in run.message and "3 used in place" in run.message
    rejects = run.rejects_path.read_text()
    assert "S2_BAD_20230905.tif" in rejects and "not a readable GeoTIFF" in rejects
    assert sorted(store.read("scenes")["path"]) == sorted(str(p.resolve()) for p in folder.glob("S2_REF_*.tif"))


def test_a_file_on_another_grid_is_warped_onto_the_first_files_grid_with_a_warning(tmp_path, settings, caplog):
    ref = reference()
    folder = tmp_path / "scenes"
    write_local(ref, folder, ref.dates[:1])
    day = ref.dates[2]
    other = folder / f"S2_UTM47_{day:%Y%m%d}.tif"  # the same scene in the next UTM zone, 10 m
    dst_transform = from_origin(1_411_700, 1_522_400, 10, 10)  # covers the reference area in EPSG:32647
    warped = np.zeros((8, 300, 300), dtype=np.uint16)
    reproject(ref.scenes[day], warped, src_transform=TRANSFORM, src_crs=CRS, dst_transform=dst_transform, dst_crs="EPSG:32647",
              resampling=rasterio.enums.Resampling.nearest, src_nodata=0, dst_nodata=0)
    with rasterio.open(other, "w", driver="GTiff", width=300, height=300, count=8, dtype="uint16", crs="EPSG:32647",
                       transform=dst_transform, nodata=0) as dst:
        dst.write(warped)
        for i, b in enumerate(("B02", "B03", "B04", "B08", "B8A", "B11", "B12", "SCL"), start=1):
            dst.set_band_description(i, b)
    store = store_with_aoi(tmp_path, settings)
    run = ingest_imagery(store, settings, provider="local", path=folder, aoi=AOI_NAME, date_from=ref.dates[0], date_to=day)
    assert "1 fetched" in run.message and "1 used in place" in run.message
    assert f"{other.name} is on another grid than the AOI's (EPSG:32648 10 m 220 x 206 px at (760200, 1507480)): warping it onto that grid" in caplog.text
    rows = store.read("scenes").sort_values("acquired")
    first, second = (Path(p) for p in rows["path"])
    assert second.is_relative_to(settings.data_dir / "imagery" / "local")
    kept, warped_back = aoi_window_of(first), aoi_window_of(second)
    assert kept[:2] == warped_back[:2]  # same CRS and window transform
    assert (warped_back[2][-1] == ref.scenes[day][-1][22:228, 20:240]).mean() > 0.97  # SCL survives the round trip nearly everywhere
