"""Real band sets in local files: B8A for B08, B11 for B12, a CLM/Fmask cloud band for SCL, nodata -10000."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from ingest.errors import IngestError, SourceError
from ingest.imagery.local import open_scene
from ingest.imagery.scene_windows import read_stack
from jobs.detect import band_set

ROMANIA = Path(__file__).resolve().parents[1] / "data" / "s2_romania_nrt"


def theia(path: Path, bands=("B04", "B8A", "B11", "CLM"), nodata: float | None = -10000) -> Path:
    """An int16 THEIA-like file: reflectance x 10 000, a no-data corner of -10000, CLM 1 on a cloud."""
    data = np.full((len(bands), 6, 6), 3000, np.int16)
    data[:, 0, 0] = -10000
    if "CLM" in bands:
        clm = list(bands).index("CLM")
        data[clm] = 0
        data[clm, 2:4, 2:4] = 1
    with rasterio.open(path, "w", driver="GTiff", width=6, height=6, count=len(bands), dtype="int16", crs="EPSG:2154",
                       transform=from_origin(600000, 6800000, 10, 10), nodata=nodata) as ds:
        ds.write(data)
        for i, b in enumerate(bands, start=1):
            ds.set_band_description(i, b)
    return path


def test_romania_files_as_shipped_are_accepted_with_b08_and_b11():
    scene = open_scene(sorted(ROMANIA.glob("*.tif"))[0])
    assert scene.nir == "B08" and "B12" not in scene.bands and "SCL" in scene.bands
    assert band_set([scene], "auto") == (("B04", "NIR", "B11"), "NDMI (B04 B08 B11; mask SCL)")


def test_theia_band_set_reads_b8a_as_nir_clm_as_mask_and_nodata_as_zero(tmp_path):
    scene = open_scene(theia(tmp_path / "SENTINEL2A_20200315-104512_L2A_T31TCJ.tif"))
    assert scene.nir == "B8A" and scene.cloud_band == "CLM" and scene.nodata == -10000
    stack = read_stack([scene], scene, Window(0, 0, 6, 6), ("B04", "NIR", "B11", "SCL"))
    assert stack["B04"][0, 0, 0] == 0 and stack["B04"][0, 1, 1] == 3000 and stack["NIR"][0, 5, 5] == 3000
    assert stack["SCL"][0, 2, 2] == 9 and stack["SCL"][0, 1, 1] == 4
    assert band_set([scene], "auto")[1] == "NDMI (B04 B8A B11; mask CLM)"


def test_a_cloud_band_of_another_name_is_used_when_named(tmp_path):
    path = theia(tmp_path / "x_20200315.tif", bands=("B04", "B08", "B12", "CLOUDS"))
    with pytest.raises(SourceError, match=r"lack a mask \(SCL, or a 0/1 cloud band named in cloud_mask_bands, now \['CLM', 'FMASK'\]\)"):
        open_scene(path)
    assert open_scene(path, ("Clouds",)).cloud_band == "CLOUDS"


@pytest.mark.parametrize(
    ("bands", "lacks"),
    [
        (("B04", "B11", "SCL"), "lack NIR (B08 or B8A)"),
        (("B08", "B11", "SCL"), "lack red (B04)"),
        (("B04", "B08", "B11"), "lack a mask (SCL, or a 0/1 cloud band"),
        (("B03", "B8A"), "lack red (B04), SWIR (B12 or B11), a mask"),
    ],
)
def test_a_file_without_the_minimum_names_what_is_missing_and_what_would_do(tmp_path, bands, lacks):
    path = theia(tmp_path / "x_20200315.tif", bands=bands)
    with pytest.raises(SourceError) as info:
        open_scene(path)
    text = str(info.value)
    assert path.name in text and lacks in text and "the minimum is red B04, a NIR band (B08 or B8A), a SWIR band (B12 or B11)" in text


def test_nbr_asked_for_on_scenes_without_b12_is_a_clear_error(tmp_path):
    scene = open_scene(theia(tmp_path / "x_20200315.tif"))
    with pytest.raises(IngestError, match=r"1 scene\(s\) lack B12, which swir_index='nbr' needs \(first: x_20200315.tif\); set ECOWATCH_SWIR_INDEX=auto"):
        band_set([scene], "nbr")


def test_auto_takes_nbr_only_when_every_scene_has_b12(tmp_path):
    full = open_scene(theia(tmp_path / "a_20200315.tif", bands=("B04", "B08", "B11", "B12", "SCL")))
    short = open_scene(theia(tmp_path / "b_20200325.tif"))
    assert band_set([full], "auto")[0][2] == "B12"
    assert band_set([full, short], "auto")[0][2] == "B11"
