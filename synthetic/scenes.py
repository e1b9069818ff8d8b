"""A deterministic synthetic Sentinel-2 L2A time series with a known truth.

:func:`generate_series` plants forest clearings of known place, size and date in a
landscape of textured forest, grass or crop patches and a river, under clouds and their
shadows; :func:`write_series` writes it as the ``local`` imagery provider's input (one
multi-band GeoTIFF per acquisition, DESIGN.md "Local imagery") with ``truth.geojson``.

Memory stays bounded: a series holds the landscape and the skies of cloudy dates (for the
1000 x 1000 px demo AOI, about 60 MB in all) and renders any acquisition on demand with
:meth:`SyntheticSeries.scene`, from its own random stream, so scenes do not depend on the
order they are asked for. :attr:`SyntheticSeries.data` stacks every scene (dates x 8 x rows x
cols x 2 bytes: about 1 GB for the demo AOI) and is meant for small test grids.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.features import shapes
from shapely.geometry import shape as to_shape
from shapely.geometry.base import BaseGeometry

from layers.files import atomic_path
from synthetic.clearings import Planted, plan_sizes, plant
from synthetic.errors import SyntheticError
from synthetic.landscape import land_cover
from synthetic.radiometry import BANDS, ScenePlan, soil, surface
from synthetic.raster_grid import Grid
from synthetic.sky import WINDOW_MARGIN, natural_clouds, schedule, shadow_offsets

logger = logging.getLogger(__name__)

__all__ = ["BANDS", "TRUTH_COLUMNS", "TRUTH_FILE", "Grid", "SyntheticError", "SyntheticSeries",
           "acquisition_dates", "generate_series", "read_truth", "scene_path", "write_series"]

TRUTH_FILE = "truth.geojson"
TRUTH_COLUMNS = ("truth_id", "zone", "area_ha", "n_pixels", "appears", "first_visible", "hidden_first", "below_mmu")
DEFAULT_CLEARINGS_PER_ZONE = 3
_DATE_COLUMNS = ("appears", "first_visible")


@dataclass(eq=False)
class SyntheticSeries:
    """A synthetic acquisition series on one grid, and the clearings planted in it.

    Attributes
    ----------
    grid
        The raster grid of every scene.
    dates
        Acquisition dates, ascending.
    bands
        Band names of a scene, in order: :data:`BANDS`.
    truth
        One row per planted clearing, geometry in the grid's CRS (exactly the cleared pixels),
        columns :data:`TRUTH_COLUMNS`: ``truth_id`` (int, the value in :attr:`labels`),
        ``zone`` (the planting zone's name), ``area_ha`` (pixel count x pixel area),
        ``n_pixels``, ``appears`` (date the ground is first cleared), ``first_visible``
        (first date it is cleared and no pixel of it is under cloud or shadow),
        ``hidden_first`` (``first_visible`` is later than ``appears``), ``below_mmu`` (a
        tiny clearing of 0.1-0.3 ha that a detector should drop).
    seed
        The seed everything was drawn from.
    landcover
        uint8 ``(row, col)``: 0 forest, 1 grass or crop, 2 water (before any clearing).
    labels
        int32 ``(row, col)``: ``truth_id`` of the clearing at each pixel, 0 elsewhere.
    first_monitor
        Index in :attr:`dates` of the first acquisition of the monitoring period.
    """

    grid: Grid
    dates: list[dt.date]
    bands: tuple[str, ...]
    truth: gpd.GeoDataFrame
    seed: int
    landcover: np.ndarray
    labels: np.ndarray
    first_monitor: int
    plan: ScenePlan = field(repr=False)

    def scene(self, index: int) -> np.ndarray:
        """Acquisition ``index`` (of :attr:`dates`) as uint16 ``(band, row, col)``.

        Reflectance bands are harmonised reflectance x 10 000 (never 0, the no-data value);
        the ``SCL`` band holds scene classification codes. Each call renders afresh (about
        0.1 s for 1000 x 1000 px) and returns the same array for the same index.

        Raises
        ------
        IndexError
            If ``index`` is not an acquisition of the series.
        """
        if not -len(self.dates) <= index < len(self.dates):
            raise IndexError(f"acquisition {index} out of range: the series has {len(self.dates)}")
        return self.plan.render(index % len(self.dates))

    def scenes(self) -> Iterator[tuple[dt.date, np.ndarray]]:
        """``(date, scene)`` for each acquisition in turn, one scene in memory at a time."""
        for index, date in enumerate(self.dates):
            yield date, self.scene(index)

    @cached_property
    def data(self) -> np.ndarray:
        """Every scene stacked: uint16 ``(date, band, row, col)``, computed on first access.

        Takes ``dates x 8 x rows x cols x 2`` bytes; use :meth:`scene` on large grids.
        """
        out = np.empty((len(self.dates), len(self.bands), *self.grid.shape), dtype=np.uint16)
        for index in range(len(self.dates)):
            out[index] = self.scene(index)
        return out


def acquisition_dates(
    baseline: tuple[dt.date, dt.date], monitor: tuple[dt.date, dt.date], revisit_days: int
) -> tuple[list[dt.date], int]:
    """Dates every ``revisit_days`` from the baseline's start that fall in either period.

    Returns
    -------
    tuple
        The dates, ascending, and the index of the first one in the monitoring period.

    Raises
    ------
    ValueError
        If a period is inverted, the periods overlap, ``revisit_days`` < 1, or the monitoring
        period holds fewer than 4 acquisitions (a clearing needs a date to appear on and two
        more to be confirmed).
    """
    if revisit_days < 1:
        raise ValueError(f"revisit_days must be >= 1, got {revisit_days}")
    if not baseline[0] <= baseline[1] < monitor[0] <= monitor[1]:
        raise ValueError(f"need baseline start <= end < monitor start <= end, got baseline {baseline}, monitor {monitor}")
    step = dt.timedelta(days=revisit_days)
    dates: list[dt.date] = []
    day = baseline[0]
    while day <= monitor[1]:
        if day <= baseline[1] or day >= monitor[0]:
            dates.append(day)
        day += step
    first = next(i for i, d in enumerate(dates) if d >= monitor[0]) if dates[-1] >= monitor[0] else len(dates)
    if len(dates) - first < 4:
        raise ValueError(f"the monitoring period {monitor} holds {len(dates) - first} acquisitions every {revisit_days} days; need >= 4")
    return dates, first


def generate_series(
    grid: Grid,
    zones: Mapping[str, BaseGeometry],
    *,
    seed: int,
    baseline: tuple[dt.date, dt.date],
    monitor: tuple[dt.date, dt.date],
    revisit_days: int = 10,
    n_clearings: Mapping[str, int] | None = None,
    n_tiny: int | None = None,
    area_range_ha: tuple[float, float] = (1.0, 25.0),
    tiny_range_ha: tuple[float, float] = (0.1, 0.3),
    hidden_share: float = 1 / 3,
) -> SyntheticSeries:
    """Generate a synthetic series with clearings planted in named zones.

    Parameters
    ----------
    grid
        The raster grid (projected CRS in metres).
    zones
        Planting zones by name, shapely geometries in the grid's CRS; they should not overlap,
        so that a clearing's zone is the flag a correct analysis gives it.
    seed
        Everything is drawn from it (>= 0): the same seed gives identical scenes and truth.
    baseline, monitor
        ``(first, last)`` dates of the baseline and monitoring periods (inclusive, disjoint).
    revisit_days
        Days between acquisitions, one cadence from the baseline's first date.
    n_clearings
        Clearings per zone name (default 3 for a zone not named); names must be zones.
    n_tiny
        Clearings below the 0.5 ha mapping unit to add in random zones (default 1 or 2).
    area_range_ha
        Sizes of the ordinary clearings, hectares (log-uniform).
    tiny_range_ha
        Sizes of the tiny ones, hectares.
    hidden_share
        Share of clearings under a cloud on the date they appear.

    Returns
    -------
    SyntheticSeries

    Raises
    ------
    ValueError
        For a negative seed, unknown zone names in ``n_clearings``, or bad periods (see
        :func:`acquisition_dates`).
    SyntheticError
        When a zone has no room for its clearings.
    """
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    unknown = sorted(set(n_clearings or {}) - set(zones))
    if unknown:
        raise ValueError(f"n_clearings names {unknown}, which are not zones; zones are {sorted(zones)}")
    dates, first_monitor = acquisition_dates(baseline, monitor, revisit_days)
    res = max(grid.resolution)
    rng = np.random.default_rng([seed, 0])
    landcover = land_cover(rng, grid)
    refl, scl = surface(rng, landcover, res)
    counts = {z: int((n_clearings or {}).get(z, DEFAULT_CLEARINGS_PER_ZONE)) for z in zones}
    tiny = int(rng.integers(1, 3)) if n_tiny is None else n_tiny
    jobs = plan_sizes(rng, zones, counts, tiny, area_range_ha, tiny_range_ha, grid.pixel_area_m2)
    planted = plant(rng, grid, landcover, zones, jobs)
    offsets = shadow_offsets(rng, len(dates), res)
    skies = natural_clouds(rng, grid.shape, dates, offsets)
    appears = schedule(rng, planted, skies, offsets, grid.shape, first_monitor, hidden_share, res)
    labels = np.zeros(grid.shape, dtype=np.int32)
    for truth_id, p in enumerate(planted, start=1):
        labels[p.row : p.row + p.mask.shape[0], p.col : p.col + p.mask.shape[1]][p.mask] = truth_id
    truth = _truth(grid, planted, labels, appears, skies, dates)
    index = [np.flatnonzero(labels == truth_id) for truth_id in range(1, len(planted) + 1)]
    since = [np.full(ix.size, day) for ix, day in zip(index, appears, strict=True)]
    cleared = np.concatenate(index) if index else np.zeros(0, dtype=np.intp)
    plan = ScenePlan(
        seed=seed, surface=refl, scl=scl, cleared_index=cleared,
        cleared_since=np.concatenate(since) if since else np.zeros(0, dtype=int),
        soil=soil(rng, cleared.size), sky=skies, brightness=rng.uniform(0.95, 1.05, len(dates)),
    )
    logger.info(
        "synthetic series: %d dates, %d x %d px, %d clearings (%d hidden at first), %d cloudy dates",
        len(dates), grid.width, grid.height, len(truth), int(truth["hidden_first"].sum()), len(skies),
    )
    return SyntheticSeries(grid, dates, BANDS, truth, seed, landcover, labels, first_monitor, plan)


def _truth(
    grid: Grid, planted: list[Planted], labels: np.ndarray, appears: list[int],
    skies: Mapping[int, np.ndarray], dates: list[dt.date],
) -> gpd.GeoDataFrame:
    """The truth table, polygons traced from ``labels`` so raster and truth agree."""
    rows = []
    for truth_id, (p, day) in enumerate(zip(planted, appears, strict=True), start=1):
        win = p.window(grid.shape, WINDOW_MARGIN)
        own = labels[win] == truth_id
        traced = [to_shape(g) for g, _ in shapes(own.astype(np.uint8), mask=own, connectivity=4,
                                                  transform=grid.window_transform(win[0].start, win[1].start))]
        if len(traced) != 1:
            raise SyntheticError(f"clearing {truth_id} traced as {len(traced)} polygons; expected one")
        visible = next((d for d in range(day, len(dates)) if skies.get(d) is None or not skies[d][win][own].any()),
                       len(dates) - 1)
        rows.append({
            "truth_id": truth_id, "zone": p.zone, "area_ha": p.n_pixels * grid.pixel_area_m2 / 10_000,
            "n_pixels": p.n_pixels, "appears": dates[day], "first_visible": dates[visible],
            "hidden_first": visible != day, "below_mmu": p.below_mmu,
            "geometry": shapely.orient_polygons(traced[0]),
        })
    frame = pd.DataFrame(rows, columns=[*TRUTH_COLUMNS, "geometry"])
    frame = frame.astype({"truth_id": "int64", "n_pixels": "int64", "area_ha": "float64",
                          "hidden_first": "bool", "below_mmu": "bool"})
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=_crs_text(grid))


def _crs_text(grid: Grid) -> str:
    epsg = grid.crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else grid.crs.to_wkt()


def scene_path(folder: Path, date: dt.date) -> Path:
    """Where :func:`write_series` puts the scene of ``date``: ``folder/S2_SYN_<YYYYMMDD>.tif``."""
    return Path(folder) / f"S2_SYN_{date:%Y%m%d}.tif"


def write_series(series: SyntheticSeries, folder: Path, *, threads: int = 2) -> list[Path]:
    """Write one GeoTIFF per acquisition and ``truth.geojson`` into ``folder``.

    Each file is uint16, DEFLATE (horizontal predictor), tiled 256 x 256, band-interleaved,
    bands described by name, no-data 0, tagged ``TIFFTAG_DATETIME="YYYY:MM:DD 00:00:00"``,
    ``ECOWATCH_SYNTHETIC="yes"`` and ``ECOWATCH_SEED``. Every file is written to a temporary
    name and renamed, so a reader never sees half a file.

    Parameters
    ----------
    series
        The series to write.
    folder
        Created if missing; files of the same names are replaced.
    threads
        Scenes rendered and compressed at once (each holds about 0.1 GB for 1000 x 1000 px).

    Returns
    -------
    list of pathlib.Path
        The GeoTIFFs, in date order (``truth.geojson`` is :data:`TRUTH_FILE` in ``folder``).

    Raises
    ------
    OSError
        If the folder or a file cannot be written (temporary files are removed).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        done = pool.map(lambda index: _write_scene(series, index, folder), range(len(series.dates)))
        for count, path in enumerate(done, start=1):
            paths.append(path)
            if count % 10 == 0 or count == len(series.dates):
                logger.info("wrote %d of %d synthetic scenes to %s", count, len(series.dates), folder)
    truth = series.truth.to_crs("EPSG:4326")
    truth["geometry"] = shapely.orient_polygons(truth.geometry.values)
    for column in _DATE_COLUMNS:
        truth[column] = [d.isoformat() for d in truth[column]]
    document = json.loads(truth.to_json(drop_id=True))
    document["ecowatch_synthetic"] = {"seed": series.seed, "crs_of_scenes": _crs_text(series.grid)}
    with atomic_path(folder / TRUTH_FILE) as tmp:
        tmp.write_text(json.dumps(document), encoding="utf-8")
    return paths


def _write_scene(series: SyntheticSeries, index: int, folder: Path) -> Path:
    """Render acquisition ``index`` and write it as one GeoTIFF; returns its path."""
    date, grid = series.dates[index], series.grid
    path = scene_path(folder, date)
    profile = {
        "driver": "GTiff", "dtype": "uint16", "count": len(series.bands), "width": grid.width,
        "height": grid.height, "crs": grid.crs, "transform": grid.transform, "nodata": 0,
        "compress": "deflate", "predictor": 2, "zlevel": 1, "tiled": True, "blockxsize": 256,
        "blockysize": 256, "interleave": "band",
    }
    scene = series.scene(index)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(scene)
        for band, name in enumerate(series.bands, start=1):
            dst.set_band_description(band, name)
        dst.update_tags(TIFFTAG_DATETIME=f"{date:%Y:%m:%d} 00:00:00", ECOWATCH_SYNTHETIC="yes",
                        ECOWATCH_SEED=str(series.seed))
    return path


def read_truth(path: Path) -> gpd.GeoDataFrame:
    """Read a ``truth.geojson`` written by :func:`write_series` (EPSG:4326, dates as ``datetime.date``)."""
    truth = gpd.read_file(path)
    for column in _DATE_COLUMNS:
        truth[column] = [dt.date.fromisoformat(str(v)[:10]) for v in truth[column]]
    return truth
