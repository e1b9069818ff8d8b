"""Evaluation scenes: the catalogue, the fixed tuning and test seeds, and the rendering.

A scene is a time series of Sentinel-2-like acquisitions (``n_per_year`` dates a year over
``baseline_years`` baseline years and one monitoring year) with its truth: land cover, every
loss event (clearing, logging gap, skid trail) with its footprint and the day its canopy was cut,
and, per pixel, which confounders touched it in the monitoring year.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from affine import Affine
from numpy.typing import NDArray

from synthetic.evaluation import landscape as land
from synthetic.evaluation import sky as skies
from synthetic.evaluation import spectra as sp

logger = logging.getLogger(__name__)

# Confounder bits of EvalScene.confounders, in the order false alarms are attributed to them.
CONFOUNDERS: tuple[str, ...] = ("water-level change", "crop cycle", "shifting cultivation", "leaf-off", "road/settlement",
                                "cloud SCL missed", "shadow SCL missed", "haze", "SCL false cloud", "SCL water error")
_BIT = {name: 1 << i for i, name in enumerate(CONFOUNDERS)}

SCENES: dict[str, dict[str, Any]] = {
    "mixed": dict(mix=dict(deciduous=0.15, rubber=0.08, crops=0.2, swidden=0.02, water=0.05, roads=1), clearings=(10, (0.3, 6.0)),
                  logging=2, cover=0.35, haze=0.5, hazy=0.25, flood="higher"),
    "small_clearings": dict(mix=dict(deciduous=0.1, crops=0.1, roads=1), clearings=(24, (0.1, 1.5)), logging=0, cover=0.3, haze=0.3,
                            hazy=0.15, flood=None),
    "cloudy": dict(mix=dict(crops=0.15, water=0.04, swidden=0.02), clearings=(10, (0.3, 5.0)), logging=1, cover=0.85, haze=0.7, hazy=0.5,
                   flood="higher", per_year=12),
    "deciduous_crops": dict(mix=dict(deciduous=0.45, rubber=0.15, crops=0.25), clearings=(8, (0.4, 6.0)), logging=0, cover=0.3,
                            haze=0.3, hazy=0.15, flood=None),
    "logging": dict(mix=dict(deciduous=0.1, roads=1), clearings=(4, (0.5, 4.0)), logging=6, cover=0.3, haze=0.3, hazy=0.15, flood=None),
    # one control scene per confounder: no clearing, no logging
    "control_crops": dict(mix=dict(crops=0.4, swidden=0.06), clearings=(0, (1, 1)), logging=0, cover=0.25, haze=0.2, hazy=0.1, flood=None),
    "control_water": dict(mix=dict(water=0.14), clearings=(0, (1, 1)), logging=0, cover=0.25, haze=0.2, hazy=0.1, flood="both"),
    "control_haze": dict(mix=dict(deciduous=0.1), clearings=(0, (1, 1)), logging=0, cover=0.45, haze=0.9, hazy=0.6, flood=None),
    "control_shadow": dict(mix=dict(), clearings=(0, (1, 1)), logging=0, cover=0.6, haze=0.1, hazy=0.1, flood=None, shadows_always=True),
    "control_scl": dict(mix=dict(water=0.08, crops=0.15, roads=1), clearings=(0, (1, 1)), logging=0, cover=0.2, haze=0.2, hazy=0.1,
                        flood="higher", false_cloud=0.5),
    "control_leaf_off": dict(mix=dict(deciduous=0.6, rubber=0.3), clearings=(0, (1, 1)), logging=0, cover=0.25, haze=0.2, hazy=0.1,
                             flood=None),
    "control_roads": dict(mix=dict(roads=3, crops=0.05), clearings=(0, (1, 1)), logging=0, cover=0.25, haze=0.2, hazy=0.1, flood=None),
}
MAIN_SCENES = tuple(k for k in SCENES if not k.startswith("control_"))
CONTROL_SCENES = tuple(k for k in SCENES if k.startswith("control_"))

# (scene, seed, baseline years). Tuning cases may be used to choose thresholds; test cases never.
TUNING_CASES: tuple[tuple[str, int, int], ...] = tuple(
    (name, seed, years) for name in SCENES for seed, years in ((11, 1), (12, 3), (13, 2))
)
TEST_CASES: tuple[tuple[str, int, int], ...] = (
    ("mixed", 9001, 1), ("mixed", 9002, 3), ("small_clearings", 9003, 1), ("cloudy", 9004, 2),
    ("deciduous_crops", 9005, 1), ("deciduous_crops", 9006, 3), ("logging", 9007, 2),
    ("control_crops", 9101, 1), ("control_water", 9102, 1), ("control_haze", 9103, 1), ("control_shadow", 9104, 1),
    ("control_scl", 9105, 1), ("control_leaf_off", 9106, 1), ("control_roads", 9107, 1),
)
TEST_SEEDS = frozenset(seed for _, seed, _ in TEST_CASES)


@dataclass
class EvalScene:
    """A rendered scene and its truth. Arrays are ``(date, row, col)`` or ``(row, col)``.

    ``bands``: B02 B03 B04 B08 B8A B11 B12 as uint16 reflectance x 10 000 (0 = no data);
    ``scl``: uint8 SCL codes; ``event_labels``: int32, the id of the loss event of each pixel
    (0 = none; ids index ``events``); ``events``: one row per event (``id``, ``kind`` clearing /
    gap / trail, ``area_ha``, ``date`` the canopy was cut, ``monitoring`` whether that date is in
    the monitoring year); ``confounders``: uint16 bits named by :data:`CONFOUNDERS`.
    """

    name: str
    seed: int
    baseline_years: int
    dates: list[dt.date]
    n_baseline: int
    bands: dict[str, NDArray[np.uint16]]
    scl: NDArray[np.uint8]
    landcover: NDArray[np.uint8]
    event_labels: NDArray[np.int32]
    events: pd.DataFrame
    confounders: NDArray[np.uint16]
    transform: Affine = field(default_factory=lambda: Affine(10.0, 0.0, 700_000.0, 0.0, -10.0, 1_500_000.0))
    crs: str = "EPSG:32648"

    @property
    def monitor_dates(self) -> list[dt.date]:
        return self.dates[self.n_baseline:]

    def confounder_mask(self, name: str) -> NDArray[np.bool_]:
        """Pixels touched by confounder ``name`` (one of :data:`CONFOUNDERS`) in the monitoring year."""
        return (self.confounders & _BIT[name]) > 0


def _dates(rng: np.random.Generator, first_year: int, years: int, per_year: int) -> list[dt.date]:
    out = []
    for y in range(years):
        start = dt.date(first_year + y, 1, 1)
        slots = np.linspace(0, 365, per_year, endpoint=False) + rng.uniform(0, 365 / per_year)
        for s in np.sort(slots + rng.integers(-6, 7, per_year)):
            out.append(start + dt.timedelta(days=int(np.clip(s, 0, 364))))
    return sorted(set(out))


def generate(name: str, seed: int, baseline_years: int = 1, n: int = 256) -> EvalScene:
    """Render scene ``name`` of :data:`SCENES` for ``seed`` on an ``n x n`` grid of 10 m pixels."""
    cfg = SCENES[name]
    rng = np.random.default_rng([seed, baseline_years, n])
    pal = sp.palette(rng)
    ground = land.lay_out(rng, n, cfg["mix"])
    years = baseline_years + 1
    first_year = 2019
    dates = _dates(rng, first_year, years, int(cfg.get("per_year", 8)))
    day0 = dt.date(first_year, 1, 1)
    mon0 = (dt.date(first_year + baseline_years, 1, 1) - day0).days
    n_baseline = sum(d.year < first_year + baseline_years for d in dates)
    count, sizes = cfg["clearings"]
    scale = (n / 256.0) ** 2
    if count:
        land.place_clearings(rng, ground, int(round(count * scale)), sizes, (mon0 + 10, mon0 + 320))
    if cfg["logging"]:
        land.place_logging(rng, ground, int(round(cfg["logging"] * scale)), (mon0 + 10, mon0 + 300))
    shifts = rng.uniform(-sp.SEASON_SHIFT_DAYS, sp.SEASON_SHIFT_DAYS, years)
    flood_amp = rng.uniform(0.5, 1.1)
    year_level = np.zeros(years)
    if cfg["flood"] in ("higher", "both"):
        year_level[-1] = rng.uniform(0.6, 1.2)  # an exceptional flood in the monitoring year
    low_level = np.zeros(years)
    if cfg["flood"] == "both":
        low_level[-1] = -rng.uniform(0.5, 1.0)  # and the dry season's water recedes further than before
    lc = ground.landcover
    classes = [int(c) for c in np.unique(lc)]
    n_dates = len(dates)
    bands = {b: np.zeros((n_dates, n, n), np.uint16) for b in sp.BANDS}
    scl = np.zeros((n_dates, n, n), np.uint8)
    conf = np.zeros((n, n), np.uint16)
    labels = np.zeros((n, n), np.int32)
    rows = []
    kept = []
    for e in ground.events:
        e.mask = e.mask & (labels == 0)  # footprints do not overlap: a pixel belongs to its first event
        if e.mask.any():
            kept.append(e)
            labels[e.mask] = len(kept)
    ground.events = kept
    for i, e in enumerate(ground.events, start=1):
        d = day0 + dt.timedelta(days=e.day)
        rows.append(dict(id=i, kind=e.kind, area_ha=float(e.mask.sum() * land.PIXEL_HA), date=d, monitoring=e.day >= mon0))
    events = pd.DataFrame(rows, columns=["id", "kind", "area_ha", "date", "monitoring"])
    ever_wet = np.zeros((n, n), bool)
    base_wet = np.zeros((n, n), bool)
    bright = np.isin(lc, (sp.ROAD, sp.SETTLEMENT, sp.CROP))
    for k, d in enumerate(dates):
        day = (d - day0).days
        y = d.year - first_year
        doy = float(d.timetuple().tm_yday)
        monitoring = k >= n_baseline
        refl = np.empty((7, n, n), np.float32)
        for c in classes:
            m = lc == c
            g = sp.green_fraction(c, np.full(int(m.sum()), doy), shifts[y], ground.phase[m], ground.depth[m]).astype(np.float32)
            refl[:, m] = pal.canopy[c][:, None] * g + pal.background[c][:, None] * (1 - g)
        for e in ground.events:
            if day < e.day:
                continue
            ds = day - e.day
            cut = min(1.0, (ds + 1) / (e.fell_days + 1)) * e.loss
            regrow = min(ds / e.regrow_days, 1.0) * e.regrow_max
            under = pal.burnt if e.burnt and ds < 60 else pal.slash
            target = (under * (1 - regrow) + pal.regrowth * regrow)[:, None]
            refl[:, e.mask] = refl[:, e.mask] * (1 - cut) + target * cut
        level = flood_amp * float(sp._bump(np.array([doy - shifts[y]]), 250.0, 90.0)[0]) + year_level[y] * float(
            sp._bump(np.array([doy - shifts[y]]), 250.0, 120.0)[0]) + low_level[y] * float(sp._bump(np.array([doy - shifts[y]]), 80.0, 110.0)[0])
        depth = level - ground.elevation
        water = depth > 0.7
        flooded = (depth > 0) & ~water & (lc != sp.WATER)
        exposed = (lc == sp.WATER) & (depth <= 0)
        turbid = ground.riverbank & (rng.random() < 0.6)
        wspec = np.where(turbid, pal.turbid_water[:, None, None], pal.canopy[sp.WATER][:, None, None]).astype(np.float32)
        refl = np.where(water[None], wspec, refl)
        refl = np.where(flooded[None], 0.55 * wspec + 0.45 * refl, refl)
        refl = np.where(exposed[None], pal.background[sp.GRASS][:, None, None], refl).astype(np.float32)
        if monitoring:
            ever_wet |= water | flooded | exposed
        else:
            base_wet |= water | flooded
        refl *= ground.texture
        refl *= rng.normal(1.0, 0.025, refl.shape).astype(np.float32)
        surface_ndvi = (refl[3] - refl[2]) / np.maximum(refl[3] + refl[2], 1e-6)
        wet_season = sp._bump(np.array([doy - shifts[y]]), 230.0, 110.0)[0]
        cover = cfg["cover"] * (0.25 + 0.75 * wet_season) * rng.uniform(0.3, 1.3) if rng.random() > 0.3 or cfg["cover"] > 0.5 else 0.0
        hazy = rng.random() < cfg["hazy"]
        sky = skies.draw_sky(rng, n, min(cover, 0.95), cfg["haze"] * rng.uniform(0.4, 1.0) if hazy else 0.0)
        if cfg.get("shadows_always"):
            sky.shadow_labelled = False
        refl = skies.apply_sky(refl, sky)
        codes, errors = skies.scl_for(rng, surface_ndvi, water, turbid & water, flooded, bright & (surface_ndvi < 0.35), sky)
        if cfg.get("false_cloud") and rng.random() < cfg["false_cloud"]:
            extra = bright & (land.smooth_field(rng, n, 10.0) > 0.0)
            codes[extra] = skies.SCL_CLOUD_MED
            errors["false_cloud"] = errors["false_cloud"] | extra
        if rng.random() < 0.1:  # the swath edge: a corner with no data
            rr, cc = np.mgrid[0:n, 0:n]
            edge = (rr + cc * rng.uniform(0.3, 1.5)) < rng.uniform(0.1, 0.5) * n
            refl[:, edge] = 0
            codes[edge] = skies.SCL_NODATA
        for b, name_b in enumerate(sp.BANDS):
            bands[name_b][k] = np.clip(np.rint(refl[b] * 10_000), 0, 65_535).astype(np.uint16)
        scl[k] = codes
        if monitoring:
            for key, bit in (("thin_cloud_unlabelled", "cloud SCL missed"), ("shadow_unlabelled", "shadow SCL missed"), ("haze", "haze"),
                             ("false_cloud", "SCL false cloud"), ("water_labels", "SCL water error")):
                conf[errors[key]] |= _BIT[bit]
    conf[ever_wet | base_wet] |= _BIT["water-level change"]  # wet, flooded or laid bare on some date
    conf[lc == sp.CROP] |= _BIT["crop cycle"]
    conf[lc == sp.SWIDDEN] |= _BIT["shifting cultivation"]
    conf[np.isin(lc, (sp.DECIDUOUS, sp.RUBBER))] |= _BIT["leaf-off"]
    road = np.isin(lc, (sp.ROAD, sp.SETTLEMENT))
    road[1:] |= road[:-1].copy()
    road[:-1] |= road[1:].copy()
    road[:, 1:] |= road[:, :-1].copy()
    road[:, :-1] |= road[:, 1:].copy()
    conf[road] |= _BIT["road/settlement"]
    logger.debug("scene %s seed %d: %d dates, %d events", name, seed, n_dates, len(events))
    return EvalScene(name, seed, baseline_years, dates, n_baseline, bands, scl, lc, labels, events, conf)
