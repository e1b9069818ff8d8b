"""The landscape of a hard synthetic series (tests/geo/hard_scenes.py): land cover, spectra, seasons.

Evergreen and dry deciduous forest, a rubber block, crop parcels on shifting calendars, grass, a
lake whose level rises in the wet season (higher in 2024), and the surface reflectance of any
date, including the clearings :mod:`synthetic.hard_clearings` plants.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from affine import Affine

from synthetic.fields import smooth_field
from synthetic.scenes import acquisition_dates

CRS = "EPSG:32648"
RES = 20.0
SIZE = 384
ORIGIN = (700_000.0, 1_520_000.0)  # west, north
BASELINE = (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
MONITOR = (dt.date(2024, 1, 1), dt.date(2024, 9, 30))
REVISIT = 10
MMU_HA = 0.5

EVERGREEN, DECIDUOUS, RUBBER, CROP, GRASS, LAKE = 0, 1, 2, 3, 4, 5
BAND_NAMES = ("B02", "B03", "B04", "B08", "B11", "B12")
#                        B02   B03   B04   B08   B11   B12
EVERGREEN_S = np.array([250, 500, 300, 3200, 1450, 600], np.float32)
DECID_ON = np.array([280, 560, 350, 3000, 1600, 700], np.float32)
DECID_OFF = np.array([520, 760, 720, 2300, 2450, 1450], np.float32)
RUBBER_ON = np.array([240, 520, 280, 3300, 1400, 580], np.float32)
RUBBER_OFF = np.array([480, 700, 620, 2400, 2300, 1300], np.float32)
CROP_GREEN = np.array([300, 650, 350, 3800, 1800, 800], np.float32)
CROP_BARE = np.array([950, 1250, 1400, 2300, 2900, 2300], np.float32)
STUBBLE = np.array([800, 1050, 1100, 2200, 2600, 1900], np.float32)
GRASS_GREEN = np.array([450, 750, 800, 2600, 2200, 1300], np.float32)
GRASS_DRY = np.array([800, 1050, 1200, 2300, 2900, 2200], np.float32)
WATER_S = np.array([520, 560, 400, 200, 100, 80], np.float32)
MUD = np.array([600, 750, 700, 1200, 1400, 900], np.float32)
SOIL = np.array([900, 1200, 1500, 2400, 3000, 2400], np.float32)
BURN = np.array([450, 600, 700, 1400, 2000, 1800], np.float32)
ROAD = np.array([1300, 1600, 1900, 2700, 3300, 2800], np.float32)
CLOUD_FACTOR = np.array([1.0, 0.995, 0.99, 0.98, 0.96, 0.95], np.float32)
HAZE_PATH = np.array([1100, 1000, 900, 380, 90, 45], np.float32)
WET_MONTHS = range(5, 11)


class _Spectra:
    """The spectra above, cut to the bands being rendered (attributes of the same names)."""

    def __init__(self, band_idx: list[int]) -> None:
        self._cut = {name: value[band_idx] for name, value in globals().items()
                     if isinstance(value, np.ndarray) and value.shape == (len(BAND_NAMES),)}

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["_cut"][name]
        except KeyError:
            raise AttributeError(name) from None


def _circ(doy: np.ndarray | float, start: float, end: float) -> np.ndarray:
    """Fraction 0..1 of the way from ``start`` to ``end`` (days of year, on a circle)."""
    span = (end - start) % 365.0
    return np.clip(((np.asarray(doy) - start) % 365.0) / max(span, 1.0), 0.0, 1.0)


def _leaf_off(doy: np.ndarray, fall: float, bare: float, flush: float, green: float) -> np.ndarray:
    """Leaf-off fraction: 0 before ``fall``, 1 from ``bare`` to ``flush``, 0 again from ``green``."""
    d = np.asarray(doy, dtype=np.float64) % 365.0
    down = _circ(d, fall, bare)
    up = 1.0 - _circ(d, flush, green)
    in_fall = ((d - fall) % 365.0) < ((bare - fall) % 365.0)
    in_bare = ((d - bare) % 365.0) < ((flush - bare) % 365.0)
    in_up = ((d - flush) % 365.0) < ((green - flush) % 365.0)
    return np.where(in_fall, down, np.where(in_bare, 1.0, np.where(in_up, up, 0.0)))


def _crop_state(days_since_sow: np.ndarray, grow: np.ndarray | float, peak: np.ndarray | float, senesce: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Green fraction and "bare" (tilled) flag of a crop ``days_since_sow`` after sowing (negative: before)."""
    d = days_since_sow
    green = np.where(d < 0, 0.0, np.where(d < grow, d / grow, np.where(d < grow + peak, 1.0,
                     np.where(d < grow + peak + senesce, 1.0 - (d - grow - peak) / senesce, 0.0))))
    bare = (d > -25) & (d < 10)
    return green, bare


class Land:
    """The landscape of one series and its seasons (and, once planted, its clearings)."""

    def __init__(self, seed: int, no_change: bool, true_colour: bool) -> None:
        self.seed = seed
        self.no_change = no_change
        self.names = BAND_NAMES if true_colour else BAND_NAMES[2:]
        self.band_idx = [BAND_NAMES.index(b) for b in self.names]
        self.dates, self.n_base = acquisition_dates(BASELINE, MONITOR, REVISIT)
        self.shape = (SIZE, SIZE)
        self.transform = Affine(RES, 0.0, ORIGIN[0], 0.0, -RES, ORIGIN[1])
        self.rng = np.random.default_rng([seed, 41])
        self.sp = _Spectra(self.band_idx)
        # what synthetic.hard_clearings plants: date index each pixel is cleared (-1 never), how
        # it looks afterwards, whether it is old (baseline year); where clearings may go
        self.cleared_at = np.full(self.shape, -1, np.int16)
        self.burnt = np.zeros(self.shape, bool)
        self.regrow = np.zeros(self.shape, bool)
        self.is_road = np.zeros(self.shape, bool)
        self.old = np.zeros(self.shape, bool)
        self.allowed = np.zeros(self.shape, bool)
        self.blocked = np.zeros(self.shape, bool)

    def landscape(self) -> None:
        rng, shape = self.rng, self.shape
        yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
        cover = np.full(shape, EVERGREEN, np.uint8)
        decid = smooth_field(rng, shape, 28.0)
        cover[decid > np.quantile(decid, 1 - rng.uniform(0.18, 0.28))] = DECIDUOUS
        # lake: an irregular basin; rho 0 at its centre, 1 at its rim
        cy, cx = rng.uniform(0.2, 0.8, 2) * SIZE
        a, b = rng.uniform(35, 55, 2)
        ang = np.arctan2(yy - cy, xx - cx)
        wobble = 1.0 + 0.12 * np.cos(3 * ang + rng.uniform(0, 6.3)) + 0.06 * np.cos(5 * ang + rng.uniform(0, 6.3))
        self.rho = np.hypot((yy - cy) / a, (xx - cx) / b) / wobble
        # crops: parcels in an agricultural zone away from the lake
        agri = smooth_field(rng, shape, 60.0)
        zone = (agri > np.quantile(agri, 1 - rng.uniform(0.15, 0.22))) & (self.rho > 1.3)
        self.parcel = np.zeros(shape, np.int32)
        n_parcel = 0
        r = 0
        while r < SIZE:
            h = int(rng.integers(8, 22))
            c = int(rng.integers(0, 6))
            while c < SIZE:
                w = int(rng.integers(8, 26))
                n_parcel += 1
                self.parcel[r:r + h - 1, c:c + w - 1] = n_parcel  # one-pixel bunds between parcels
                c += w
            r += h
        self.parcel[~zone] = 0
        cover[zone] = GRASS  # bunds and zone edges
        cover[zone & (self.parcel > 0)] = CROP
        self.n_parcel = n_parcel
        self.crop_kind = rng.choice(3, size=n_parcel + 1, p=[0.45, 0.35, 0.20])  # rice, cassava, double rice
        self.sow = {year: rng.uniform(-15, 15, n_parcel + 1) for year in (2022, 2023, 2024)}
        # a rubber block, grass patches
        for _ in range(int(rng.integers(1, 3))):
            h, w = rng.integers(25, 55, 2)
            r0, c0 = rng.integers(0, SIZE - 60, 2)
            block = np.zeros(shape, bool)
            block[r0:r0 + h, c0:c0 + w] = True
            cover[block & (cover != CROP) & (self.rho > 1.2)] = RUBBER
        grass = smooth_field(rng, shape, 12.0)
        cover[(grass > np.quantile(grass, 0.96)) & (cover == EVERGREEN)] = GRASS
        cover[self.rho < 0.85] = LAKE
        self.cover = cover
        self.texture = (1.0 + 0.04 * smooth_field(rng, shape, 2.0) + 0.04 * smooth_field(rng, shape, 25.0)).astype(np.float32)
        self.decid_shift = 8.0 * smooth_field(rng, shape, 20.0)  # days, per stand
        self.decid_depth = np.clip(0.85 + 0.1 * smooth_field(rng, shape, 20.0), 0.6, 1.0)
        self.year_shift = {2022: 0.0, 2023: 0.0, 2024: float(rng.uniform(-10, 10))}
        self.year_depth = {2022: 1.0, 2023: 1.0, 2024: float(rng.uniform(0.9, 1.1))}
        self.lake_peak = {2022: 0.85, 2023: 0.85, 2024: float(rng.uniform(0.93, 0.98))}

    def surface(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Clear-sky reflectance ``(band, row, col)`` and SCL of date ``t``, before atmosphere."""
        day = self.dates[t]
        doy = day.timetuple().tm_yday
        year = day.year
        cover = self.cover
        out = np.empty((len(self.band_idx), *self.shape), np.float32)
        out[:] = self.sp.EVERGREEN_S[:, None, None]
        scl = np.full(self.shape, 4, np.uint8)
        d = cover == DECIDUOUS
        f = _leaf_off(doy - self.decid_shift[d] - self.year_shift[year], 350, 40, 95, 130) * self.decid_depth[d] * self.year_depth[year]
        f = np.clip(f, 0, 1).astype(np.float32)
        out[:, d] = self.sp.DECID_ON[:, None] * (1 - f) + self.sp.DECID_OFF[:, None] * f
        rb = cover == RUBBER
        f = np.float32(_leaf_off(np.array(doy - self.year_shift[year]), 12, 35, 50, 72))
        out[:, rb] = (self.sp.RUBBER_ON * (1 - f) + self.sp.RUBBER_OFF * f)[:, None]
        g = cover == GRASS
        f = np.float32(_leaf_off(np.array(doy), 320, 20, 110, 150))
        out[:, g] = (self.sp.GRASS_GREEN * (1 - f) + self.sp.GRASS_DRY * f)[:, None]
        self._crops(out, scl, day)
        self._lake(out, scl, day)
        out *= self.texture
        self._cleared(out, scl, t)
        return out, scl

    def _crops(self, out: np.ndarray, scl: np.ndarray, day: dt.date) -> None:
        p = self.parcel
        green = np.zeros(self.n_parcel + 1)
        bare = np.zeros(self.n_parcel + 1, bool)
        sow_doy = np.array([180.0, 120.0, 175.0])[self.crop_kind]
        grow, peak, sen = np.array([50, 90, 45.0])[self.crop_kind], np.array([40, 150, 30.0])[self.crop_kind], np.array([25, 20, 20.0])[self.crop_kind]
        for year in (day.year - 1, day.year):
            since = (day - dt.date(year, 1, 1)).days - sow_doy - self.sow[year]
            gg, bb = _crop_state(since, grow, peak, sen)
            green = np.maximum(green, gg)
            bare |= bb
        second = self.crop_kind == 2  # double rice: a dry-season crop as well
        since2 = (day - dt.date(day.year, 1, 1)).days + 20 - self.sow[day.year]
        g2, b2 = _crop_state(since2, 45.0, 30.0, 20.0)
        green = np.where(second, np.maximum(green, g2), green)
        bare |= second & b2
        px = p > 0
        gp = green[p[px]].astype(np.float32)
        under = np.where(bare[p[px]][None, :], self.sp.CROP_BARE[:, None], self.sp.STUBBLE[:, None])
        out[:, px] = self.sp.CROP_GREEN[:, None] * gp + under * (1 - gp)
        scl[px] = np.where(gp > 0.4, 4, 5)

    def _lake(self, out: np.ndarray, scl: np.ndarray, day: dt.date) -> None:
        doy = day.timetuple().tm_yday
        peak = self.lake_peak[day.year]
        level = 0.55 + (peak - 0.55) * 0.5 * (1 + math.cos(2 * math.pi * (doy - 265) / 365.0))
        water = self.rho < level
        out[:, water] = self.sp.WATER_S[:, None]
        scl[water] = 6
        shore = (self.rho < 0.85) & ~water
        exposed = np.clip((level - self.rho[shore]) * -20.0, 0, 1).astype(np.float32)  # freshly exposed: mud
        out[:, shore] = self.sp.MUD[:, None] * (1 - exposed) + self.sp.GRASS_GREEN[:, None] * exposed
        scl[shore] = np.where(exposed > 0.5, 4, 5)

    def _cleared(self, out: np.ndarray, scl: np.ndarray, t: int) -> None:
        now = (self.cleared_at >= 0) & (self.cleared_at <= t)
        if not now.any():
            return
        since = np.array([(self.dates[t] - self.dates[int(k)]).days for k in range(len(self.dates))])[self.cleared_at[now]]
        soil = np.where(self.is_road[now][None, :], self.sp.ROAD[:, None], self.sp.SOIL[:, None])
        burn = self.burnt[now] & (since < 25)
        spec = np.where(burn[None, :], self.sp.BURN[:, None], soil)
        grow = np.where(self.regrow[now], np.clip((since - 60) / 240.0, 0, 0.5), 0.0).astype(np.float32)
        out[:, now] = spec * (1 - grow) + self.sp.GRASS_GREEN[:, None] * grow
        scl[now] = np.where(grow > 0.35, 4, 5)
