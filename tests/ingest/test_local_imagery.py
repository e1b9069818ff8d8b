"""The local provider: band descriptions, dates, and clear errors for unusable files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from ingest.errors import SourceError
from ingest.imagery.local import open_scene

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
        (lambda p: tif(p / "few.tif", bands=["B04", "B08", "SCL"]), "lack ['B11', 'B12']"),
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
