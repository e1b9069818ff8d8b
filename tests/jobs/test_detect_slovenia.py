"""Real data through the standard path: the 5 full-band Slovenian scenes (2015), no clearing there.

The scenes (tests/data/eolearn_slovenia_s2/README.md) are written as the local provider's
GeoTIFFs (B02 B03 B04 B08 B11 B12 as digital numbers, SCL derived from the cloud mask as issue 4
prescribes: CLM = 1 -> 9, IS_DATA = 0 -> 0, else 4), registered with ``ingest boundaries`` and
``ingest imagery``, and run through ``detect`` with the default thresholds, except that one
valid baseline observation is enough (the baseline, 11 and 31 July, has one clear date; the
monitoring dates are 20 August, cloudy, 30 August and 9 September).

Asserted: most of the patch is watched (the test means something), the clearings reported cover
< 0.5 % of it, and so do the flagged pixels of the same kernel run in memory.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.transform import from_bounds

from config import load_settings
from geo.change.detection import HIGH, LOW, UNASSESSED, detect_change
from jobs.detect import Period, detect, params_from
from layers import open_store
from tests.jobs.detect_scenes import ecowatch

DATA = Path(__file__).resolve().parents[1] / "data" / "eolearn_slovenia_s2"
ENV = {"ECOWATCH_REGION_BBOX": "13,45,16,47"}  # the patch is not in the Mekong
BASELINE = Period(dt.date(2015, 7, 1), dt.date(2015, 8, 10))
MONITOR = Period(dt.date(2015, 8, 11), dt.date(2015, 9, 30))


def scenes() -> tuple[list[dt.date], np.ndarray, np.ndarray, list[str]]:
    """Dates ascending, DN ``(date, row, col, band)``, SCL ``(date, row, col)`` and the band names."""
    ref = np.load(DATA / "reference_scenes.npz")
    masks = np.load(DATA / "ndvi_series.npz")
    stamps = [t[:10] for t in json.loads((DATA / "timestamps.json").read_text())]
    order = np.argsort(ref["dates"])
    dates = [str(ref["dates"][i]) for i in order]
    at = [stamps.index(d) for d in dates]
    scl = np.where(masks["is_data"][at] == 0, 0, np.where(masks["clm"][at] == 1, 9, 4)).astype(np.uint8)
    return [dt.date.fromisoformat(d) for d in dates], ref["dn"][order], scl, [str(b) for b in ref["bands"]]


def test_real_summer_scenes_flag_nothing_through_the_standard_path(tmp_path: Path):
    dates, dn, scl, bands = scenes()
    bbox = shapely.geometry.shape(json.loads((DATA / "bbox.geojson").read_text()))
    rows, cols = dn.shape[1:3]
    folder = tmp_path / "scenes"
    folder.mkdir()
    profile = {"driver": "GTiff", "dtype": "uint16", "count": len(bands) + 1, "width": cols, "height": rows, "crs": "EPSG:32633",
               "transform": from_bounds(*bbox.bounds, cols, rows), "nodata": 0}
    for t, day in enumerate(dates):
        with rasterio.open(folder / f"S2_{day:%Y%m%d}.tif", "w", **profile) as dst:
            for k, name in enumerate(bands, start=1):
                dst.write(dn[t, :, :, k - 1], k)
                dst.set_band_description(k, name)
            dst.write(scl[t].astype(np.uint16), len(bands) + 1)
            dst.set_band_description(len(bands) + 1, "SCL")
            dst.update_tags(TIFFTAG_DATETIME=f"{day:%Y:%m:%d} 00:00:00")
    aoi = tmp_path / "aoi.geojson"
    gpd.GeoDataFrame({"name": ["slovenia"]}, geometry=[bbox], crs="EPSG:32633").to_file(aoi)
    store = tmp_path / "store.gpkg"
    ecowatch("ingest", "boundaries", "aoi", str(aoi), store=store, env=ENV)
    ecowatch("ingest", "imagery", "--provider", "local", "--path", str(folder), "--aoi", "slovenia",
             "--from", "2015-07-01", "--to", "2015-09-30", store=store, env=ENV)
    settings = load_settings({}, data_dir=tmp_path, min_baseline_observations=1, region_bbox=(13.0, 45.0, 16.0, 47.0))
    with open_store(store) as st:
        run = detect(st, settings, aoi="slovenia", baseline=BASELINE, monitor=MONITOR)
        found = st.read("clearings")
    patch_ha = rows * cols * 0.01
    assert "from 2 baseline and 3 monitoring scene(s)" in run.message, run.message
    watched = int(run.message.split("; ")[-2].split(" %")[0])
    assert watched >= 50, run.message
    assert found["area_ha"].sum() < 0.005 * patch_ha, found[["area_ha", "first_detected", "confidence"]]
    assert not (found["area_ha"] >= 0.5).any(), found  # issue 14: no alert of 0.5 ha or more
    b = {name: dn[..., k] for k, name in enumerate(bands)}
    change = detect_change(b["B04"], b["B08"], b["B12"], scl, 2, params_from(settings), dates=dates)
    assert (change.status != UNASSESSED).mean() >= 0.5
    # scattered pixels only (0.7 % since the issue-14 drops of 0.15; none makes an alert, above)
    assert np.isin(change.status, [LOW, HIGH]).mean() < 0.01
