"""Small scene stacks written as local GeoTIFFs, for the tests of the ``detect`` job.

A stack is a stable forest (3 % noise) on a 20 m grid in UTM 48N, with clearings, clouds and
growth painted in by the test; :func:`write_stack` writes it in the local provider's layout and
:func:`prepare_store` registers an AOI covering the grid and the scenes, through the CLI.
"""

from __future__ import annotations

import datetime as dt
import traceback
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner

from cli.main import cli

CRS = "EPSG:32648"
RES = 20.0
WEST, NORTH = 760_000.0, 1_510_000.0
BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
FOREST = np.array([250, 500, 300, 3200, 1450, 600], np.float32)
SOIL = np.array([900, 1200, 1500, 2400, 3000, 2400], np.float32)
CLOUD = np.array([6000, 6000, 5900, 5900, 5800, 5700], np.float32)
AOI = "plot"


def transform() -> Affine:
    return Affine(RES, 0.0, WEST, 0.0, -RES, NORTH)


def dates(n_baseline: int = 10, n_monitor: int = 12) -> list[dt.date]:
    """Every 10 days from 2024-01-01; the first ``n_baseline`` are the baseline."""
    return [dt.date(2024, 1, 1) + dt.timedelta(days=10 * i) for i in range(n_baseline + n_monitor)]


def forest_stack(n_dates: int, shape: tuple[int, int], seed: int = 0) -> dict[str, np.ndarray]:
    """Reflectance x 10 000 ``{band: (date, row, col) float32}`` of a noisy forest, and ``SCL``."""
    rng = np.random.default_rng(seed)
    out = {b: FOREST[i] * (1 + 0.03 * rng.standard_normal((n_dates, *shape))).astype(np.float32) for i, b in enumerate(BANDS)}
    out["SCL"] = np.full((n_dates, *shape), 4, np.float32)
    return out


def paint(stack: dict[str, np.ndarray], when: slice | int, mask: np.ndarray, spectrum: np.ndarray, scl: int) -> None:
    """Set ``spectrum`` and SCL code ``scl`` on the pixels of ``mask`` for dates ``when``."""
    for i, b in enumerate(BANDS):
        stack[b][when, mask] = spectrum[i]
    stack["SCL"][when, mask] = scl


def as_written(band: np.ndarray) -> np.ndarray:
    """A band's values as :func:`write_stack` stores them (rounded uint16)."""
    return np.clip(np.rint(band), 0, 65535).astype(np.uint16)


def write_stack(stack: dict[str, np.ndarray], days: list[dt.date], folder: Path) -> None:
    """One uint16 GeoTIFF per date (DEFLATE, tiled), bands described, date in ``TIFFTAG_DATETIME``."""
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = stack["B04"].shape
    names = (*BANDS, "SCL")
    profile = {"driver": "GTiff", "dtype": "uint16", "count": len(names), "width": w, "height": h, "crs": CRS,
               "transform": transform(), "nodata": 0, "compress": "deflate", "tiled": True, "blockxsize": 64, "blockysize": 64}
    for t, day in enumerate(days):
        with rasterio.open(folder / f"S2_{day:%Y%m%d}.tif", "w", **profile) as dst:
            for k, name in enumerate(names, start=1):
                dst.write(as_written(stack[name][t]), k)
                dst.set_band_description(k, name)
            dst.update_tags(TIFFTAG_DATETIME=f"{day:%Y:%m:%d} 00:00:00")


def ecowatch(*args: str, store: Path, env: dict[str, str] | None = None) -> str:
    """Run ``ecowatch ARGS --store STORE`` in-process; the output (the exit status must be 0)."""
    result = CliRunner().invoke(cli, [*args, "--store", str(store)], env={"ECOWATCH_DATA_DIR": str(store.parent), **(env or {})})
    trace = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info and result.exit_code else ""
    assert result.exit_code == 0, result.output + trace
    return result.output


def prepare_store(tmp_path: Path, scenes: Path, shape: tuple[int, int], days: list[dt.date]) -> Path:
    """A store with the AOI ``plot`` (the grid's box) and the scenes of ``scenes`` registered."""
    h, w = shape
    box = shapely.box(WEST, NORTH - h * RES, WEST + w * RES, NORTH)
    aoi_file = tmp_path / "aoi.geojson"
    gpd.GeoDataFrame({"name": [AOI]}, geometry=[box], crs=CRS).to_file(aoi_file)
    store = tmp_path / "store.gpkg"
    ecowatch("ingest", "boundaries", "aoi", str(aoi_file), store=store)
    ecowatch("ingest", "imagery", "--provider", "local", "--path", str(scenes), "--aoi", AOI,
             "--from", days[0].isoformat(), "--to", days[-1].isoformat(), store=store)
    return store


def pixel_box(rows: slice, cols: slice, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[rows, cols] = True
    return mask
