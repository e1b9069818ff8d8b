"""A hard synthetic Sentinel-2 L2A series for the change detector's accuracy suite.

:func:`generate` draws, from one seed, a 384 x 384 px grid at 20 m (UTM 48N, 7.7 km across), one
baseline year (2023) and nine monitoring months (January-September 2024) every 10 days, with:

* **landscape**: evergreen forest; dry deciduous (dipterocarp) forest stands that drop their
  leaves every dry season, their timing shifted per stand and per year and their depth varying
  between years; a rubber block that winters in January-February; crop parcels (wet-season
  rice, cassava, double-cropped rice) sown on dates that shift per parcel and per year; grass
  that browns in the dry season; a lake whose level rises in the wet season, higher in 2024 than
  in 2023, so that it floods forest at its rim;
* **clearings** from 0.2 to 200 ha appearing at known monitoring dates, some growing in stages,
  a new road advancing in segments with clearings opening along it, some burnt at first, some
  regrowing grass; two clearings made early in the baseline year (not new: never to be flagged);
* **sky**: clouds (more in the wet season) and their shadows labelled in SCL; thin cloud edges
  and isolated thin clouds that SCL misses; haze, sometimes labelled cirrus; no-data stripes;
  per-date illumination, a mild point-spread function, and 2.5 % noise;
* the **no-change** variant (``no_change=True``): the same landscape and sky, nothing cleared.

Reflectance is x 10 000 as uint16 (0 = no data) for ``B04 B08 B11 B12`` (``B02 B03`` too with
``true_colour=True``) and SCL codes; arrays are ``(date, row, col)``.

The truth: ``cleared_at`` (date index a pixel is cleared, -1 never), ``visible_at`` (first date
on or after that with a clean view of the pixel: no cloud, shadow, missed cloud, no data), and
one object per 8-connected patch of the pixels cleared in the monitoring period, with
``first_visible``: the first date by which at least a minimum-mapping-unit's worth of its
pixels had been seen cleared (the same rule :mod:`geo.change.objects` uses for ``first_detected``).

The pieces: :mod:`synthetic.hard_land` (land cover, spectra, seasons), :mod:`synthetic.hard_clearings`
(what is cleared, where and when), :mod:`synthetic.hard_sky` (clouds, haze, no data, rendering).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from rasterio.features import rasterize, shapes

from synthetic.hard_clearings import plant_clearings
from synthetic.hard_land import (  # noqa: F401 - re-exported for the tests
    BASELINE,
    CROP,
    CRS,
    DECIDUOUS,
    EVERGREEN,
    GRASS,
    LAKE,
    MMU_HA,
    MONITOR,
    RES,
    REVISIT,
    RUBBER,
    SIZE,
    Land,
)
from synthetic.hard_sky import render


@dataclass
class HardSeries:
    """One generated series and its truth (see the module docstring)."""

    seed: int
    dates: list[dt.date]
    n_baseline: int
    transform: Affine
    crs: str
    bands: dict[str, np.ndarray]
    scl: np.ndarray
    landcover: np.ndarray
    cleared_at: np.ndarray
    visible_at: np.ndarray
    old_clearing: np.ndarray
    flooded_forest: np.ndarray
    objects: gpd.GeoDataFrame

    @property
    def monitor_dates(self) -> list[dt.date]:
        return self.dates[self.n_baseline:]


def _objects(b: Land, visible_at: np.ndarray) -> gpd.GeoDataFrame:
    new = (b.cleared_at >= 0) & ~b.old
    mmu_px = math.ceil(MMU_HA * 10_000 / RES**2 - 1e-9)
    polys = [shapely.geometry.shape(g) for g, v in shapes(new.astype(np.uint8), mask=new, connectivity=8, transform=b.transform) if v == 1]
    rows = []
    if polys:
        labels = rasterize([(p, i) for i, p in enumerate(polys, start=1)], out_shape=b.shape, transform=b.transform, dtype="int32")
        for i, poly in enumerate(polys, start=1):
            own = (labels == i) & new
            seen = np.sort(np.where(visible_at[own] >= 0, visible_at[own], len(b.dates) + 1))
            k = min(mmu_px, seen.size) - 1
            fv = int(seen[k])
            n_px = int(own.sum())
            rows.append({
                "truth_id": i, "n_pixels": n_px, "area_ha": n_px * RES**2 / 10_000, "below_mmu": n_px * RES**2 / 10_000 < MMU_HA,
                "appears": b.dates[int(b.cleared_at[own].min())],
                "first_visible": b.dates[fv] if fv < len(b.dates) else None,
                "growing": bool(len(np.unique(b.cleared_at[own])) > 1), "road": bool(b.is_road[own].any()),
                "deciduous_share": float((b.cover[own] == DECIDUOUS).mean()), "geometry": poly,
            })
    cols = ["truth_id", "n_pixels", "area_ha", "below_mmu", "appears", "first_visible", "growing", "road", "deciduous_share"]
    return gpd.GeoDataFrame(rows, columns=[*cols, "geometry"], geometry="geometry", crs=CRS)


def generate(seed: int, *, no_change: bool = False, true_colour: bool = False) -> HardSeries:
    """Generate the hard series of ``seed`` (deterministic); see the module docstring."""
    b = Land(seed, no_change, true_colour)
    b.landscape()
    plant_clearings(b)
    n = len(b.dates)
    bands = np.empty((len(b.names), n, *b.shape), np.uint16)
    scl = np.empty((n, *b.shape), np.uint8)
    visible_at = np.full(b.shape, -1, np.int16)
    flooded = np.zeros(b.shape, bool)
    for t in range(n):
        data, scl[t], clean = render(b, t)
        bands[:, t] = data
        todo = (b.cleared_at >= 0) & (b.cleared_at <= t) & (visible_at < 0) & clean
        visible_at[todo] = t
        if t >= b.n_base:
            flooded |= (scl[t] == 6) & (b.rho >= 0.85)
    return HardSeries(
        seed=seed, dates=b.dates, n_baseline=b.n_base, transform=b.transform, crs=CRS,
        bands={name: bands[i] for i, name in enumerate(b.names)}, scl=scl, landcover=b.cover,
        cleared_at=b.cleared_at, visible_at=visible_at, old_clearing=b.old, flooded_forest=flooded,
        objects=_objects(b, visible_at),
    )
