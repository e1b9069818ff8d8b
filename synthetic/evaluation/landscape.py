"""The ground of an evaluation scene: land cover, water levels, roads, clearings and logging.

Everything here is drawn from the seed's random generator on a square grid of 10 m pixels and is
the scene's truth: what is where, and on which day the canopy of a clearing or a logging gap was
cut. Nothing here knows how any detector works.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from synthetic.evaluation.spectra import (
    CROP,
    DECIDUOUS,
    EVERGREEN,
    FOREST_CLASSES,
    GRASS,
    ROAD,
    RUBBER,
    SETTLEMENT,
    SWIDDEN,
    WATER,
)

logger = logging.getLogger(__name__)

PIXEL_M = 10.0
PIXEL_HA = PIXEL_M * PIXEL_M / 10_000.0


def smooth_field(rng: np.random.Generator, n: int, scale_px: float) -> NDArray[np.float32]:
    """A stationary Gaussian random field ``(n, n)``, mean 0, sd 1, correlation length ~``scale_px``."""
    white = rng.standard_normal((n, n))
    f = np.fft.fftfreq(n)
    k2 = f[:, None] ** 2 + f[None, :] ** 2
    spec = np.fft.fft2(white) * np.exp(-2.0 * (np.pi * scale_px) ** 2 * k2)
    out = np.real(np.fft.ifft2(spec))
    return ((out - out.mean()) / max(out.std(), 1e-9)).astype(np.float32)


def blob(rng: np.random.Generator, n: int, area_px: float, centre: tuple[float, float] | NDArray[np.float64]) -> NDArray[np.bool_]:
    """An irregular, compact patch of about ``area_px`` pixels around ``centre`` (row, col)."""
    r0 = np.sqrt(area_px / np.pi)
    ecc = rng.uniform(1.0, 2.2)
    ang = rng.uniform(0, np.pi)
    half = int(np.ceil(r0 * ecc * 1.6)) + 2
    rr, cc = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    u = (rr * np.cos(ang) + cc * np.sin(ang)) / np.sqrt(ecc)
    v = (-rr * np.sin(ang) + cc * np.cos(ang)) * np.sqrt(ecc)
    theta = np.arctan2(v, u)
    wobble = 1.0 + sum(rng.uniform(-0.18, 0.18) * np.cos(k * theta + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 5))
    local = np.hypot(u, v) <= r0 * wobble
    out = np.zeros((n, n), bool)
    r, c = int(round(centre[0])), int(round(centre[1]))
    rs, cs = np.nonzero(local)
    rs, cs = rs + r - half, cs + c - half
    keep = (rs >= 0) & (rs < n) & (cs >= 0) & (cs < n)
    out[rs[keep], cs[keep]] = True
    return out


def polyline(points: NDArray[np.float64], n: int, width_px: float) -> NDArray[np.bool_]:
    """Pixels within ``width_px / 2`` of a polyline through ``points`` ``(k, 2)`` (row, col)."""
    out = np.zeros((n, n), bool)
    for a, b in zip(points[:-1], points[1:], strict=True):
        steps = int(np.hypot(*(b - a)) * 2) + 1
        t = np.linspace(0, 1, steps)[:, None]
        pts = a[None, :] * (1 - t) + b[None, :] * t
        rad = max(int(np.ceil(width_px / 2)), 0)
        for dr in range(-rad, rad + 1):
            for dc in range(-rad, rad + 1):
                if dr * dr + dc * dc <= (width_px / 2) ** 2 + 0.25:
                    rr = np.clip(np.round(pts[:, 0]).astype(int) + dr, 0, n - 1)
                    cc = np.clip(np.round(pts[:, 1]).astype(int) + dc, 0, n - 1)
                    out[rr, cc] = True
    return out


def wander(rng: np.random.Generator, start: NDArray[np.float64], heading: float, length_px: float, step: float,
           turn: float) -> NDArray[np.float64]:
    """Vertices of a wandering line: ``length_px`` long, steps of ``step`` px, heading noise ``turn`` rad."""
    pts = [np.asarray(start, float)]
    for _ in range(max(int(length_px / step), 1)):
        heading += rng.normal(0.0, turn)
        pts.append(pts[-1] + step * np.array([np.sin(heading), np.cos(heading)]))
    return np.array(pts)


@dataclass
class Event:
    """One loss event of the truth: a clearing or a logging gap / skid trail."""

    kind: str  # "clearing" | "gap" | "trail"
    mask: NDArray[np.bool_]
    day: int  # days since the scene's first day on which the canopy is cut
    burnt: bool = False
    fell_days: int = 0  # felling spread over this many days
    regrow_days: int = 300  # days to reach the regrowth ceiling
    regrow_max: float = 0.5  # share of regrowth spectrum at the ceiling
    loss: float = 1.0  # canopy share removed (gaps and trails < 1)


@dataclass
class Ground:
    """The truth of the ground for one scene, every array ``(row, col)``."""

    landcover: NDArray[np.uint8]
    phase: NDArray[np.float32]  # per-pixel phenology offset, days
    depth: NDArray[np.float32]  # per-pixel phenology depth, 0-1
    texture: NDArray[np.float32]  # per-pixel, per-band multiplicative texture, (band, row, col)
    elevation: NDArray[np.float32]  # metres above the low-water level (water where level > elevation)
    riverbank: NDArray[np.bool_]  # pixels whose water is turbid when it is there
    events: list[Event] = field(default_factory=list)


def _parcels(rng: np.random.Generator, n: int, zone: NDArray[np.bool_], size_px: tuple[int, int]) -> list[NDArray[np.bool_]]:
    """Rectangular parcels tiling ``zone``, each ``size_px`` (min, max) pixels on a side."""
    out = []
    r = 0
    while r < n:
        h = int(rng.integers(*size_px))
        c = int(rng.integers(0, size_px[0]))
        while c < n:
            w = int(rng.integers(*size_px))
            m = np.zeros((n, n), bool)
            m[r:r + h, c:c + w] = True
            if (m & zone).sum() > 0.6 * m.sum():
                out.append(m & zone)
            c += w + int(rng.integers(1, 3))
        r += h + int(rng.integers(1, 3))
    return out


def lay_out(rng: np.random.Generator, n: int, mix: dict[str, float]) -> Ground:
    """Draw land cover, water and roads for a scene of ``n x n`` pixels.

    ``mix`` gives shares of the scene (0-1): ``deciduous``, ``rubber``, ``crops``, ``swidden``,
    ``water`` (lake and river with seasonal margins), ``roads`` (0 or 1: a road network with
    settlements). Evergreen forest fills the rest.
    """
    lc = np.full((n, n), EVERGREEN, np.uint8)
    s = n / 256.0
    if mix.get("deciduous", 0) > 0:
        f = smooth_field(rng, n, 18 * s)
        lc[f > np.quantile(f, 1 - mix["deciduous"])] = DECIDUOUS
    if mix.get("rubber", 0) > 0:
        for p in _parcels(rng, n, np.ones((n, n), bool), (int(20 * s) + 4, int(45 * s) + 6)):
            if rng.random() < mix["rubber"]:
                lc[p] = RUBBER
    if mix.get("crops", 0) > 0:
        side = smooth_field(rng, n, 40 * s) + np.linspace(-1.5, 1.5, n)[None, :] * rng.choice([-1, 1])
        zone = side > np.quantile(side, 1 - mix["crops"])
        for p in _parcels(rng, n, zone, (int(8 * s) + 4, int(22 * s) + 6)):
            lc[p] = CROP if rng.random() < 0.8 else GRASS
        for _ in range(int(rng.integers(2, 5))):  # parcels inside the forest, next to it
            ctr = rng.uniform(0.1 * n, 0.9 * n, 2)
            lc[blob(rng, n, rng.uniform(60, 400) * s * s, ctr) & (lc == EVERGREEN)] = CROP
    if mix.get("swidden", 0) > 0:
        target = mix["swidden"] * n * n
        while (lc == SWIDDEN).sum() < target:
            ctr = rng.uniform(0.05 * n, 0.95 * n, 2)
            lc[blob(rng, n, rng.uniform(50, 300), ctr) & np.isin(lc, FOREST_CLASSES)] = SWIDDEN
    elevation = (2.0 + smooth_field(rng, n, 25 * s)).astype(np.float32)  # well above any water
    riverbank = np.zeros((n, n), bool)
    if mix.get("water", 0) > 0:
        lake = smooth_field(rng, n, 30 * s)
        lake_c = rng.uniform(0.25 * n, 0.75 * n, 2)
        rr, cc = np.mgrid[0:n, 0:n]
        bowl = np.hypot(rr - lake_c[0], cc - lake_c[1]) / (np.sqrt(mix["water"] * n * n / np.pi) + 1e-6)
        lake_elev = (bowl - 1.0) * 3.0 + 0.3 * lake  # 0 at the low-water shore, metres
        river_pts = wander(rng, np.array([0.0, rng.uniform(0.2, 0.8) * n]), np.pi / 2, 1.6 * n, 6.0, 0.25)
        river_d = np.full((n, n), np.inf)
        core = polyline(river_pts, n, 3.0 * s + 2)
        riverbank = polyline(river_pts, n, 14.0 * s + 6)
        river_d[core] = -0.5
        river_d[riverbank & ~core] = 0.6 + 0.5 * rng.random()
        elevation = np.minimum(elevation, np.minimum(lake_elev, river_d)).astype(np.float32)
        lc[elevation < 0] = WATER
        riverbank |= (lake_elev > -0.6) & (lake_elev < 1.5)
    if mix.get("roads", 0) > 0:
        for _ in range(int(1 + 2 * mix["roads"])):
            pts = wander(rng, rng.uniform(0, n, 2), rng.uniform(0, 2 * np.pi), 1.5 * n, 8.0, 0.12)
            road = polyline(pts, n, rng.uniform(1.0, 2.5)) & (lc != WATER)
            lc[road] = ROAD
            for k in range(int(rng.integers(1, 4))):
                p = pts[int(rng.integers(0, len(pts)))]
                if 0 <= p[0] < n and 0 <= p[1] < n:
                    lc[blob(rng, n, rng.uniform(40, 250), tuple(p)) & (lc != WATER) & (lc != ROAD)] = SETTLEMENT if k % 2 == 0 else GRASS
    phase = np.zeros((n, n), np.float32)
    depth = rng.uniform(0.45, 0.75, (n, n)).astype(np.float32)
    depth[lc == RUBBER] = rng.uniform(0.55, 0.85, int((lc == RUBBER).sum()))
    phase += (8.0 * smooth_field(rng, n, 20 * s)).astype(np.float32)  # stands leaf out a week apart
    crop_phase = rng.uniform(-40, 40)
    phase[np.isin(lc, (CROP, SWIDDEN))] += np.float32(crop_phase)
    texture = np.exp(0.06 * np.stack([smooth_field(rng, n, 1.5) * 0.7 + smooth_field(rng, n, 6 * s) * 0.7 for _ in range(7)])).astype(np.float32)
    return Ground(lc, phase, depth, texture, elevation, riverbank)


def place_clearings(rng: np.random.Generator, ground: Ground, count: int, area_ha: tuple[float, float],
                    day_range: tuple[int, int]) -> None:
    """Add ``count`` clearings of log-uniform size in ``area_ha``, cut between days ``day_range``,
    inside forest (never in the water margins), not touching each other."""
    n = ground.landcover.shape[0]
    taken = np.zeros((n, n), bool)
    forest = np.isin(ground.landcover, FOREST_CLASSES) & (ground.elevation > 1.0)
    tries = 0
    while sum(e.kind == "clearing" for e in ground.events) < count and tries < 50 * count:
        tries += 1
        area_px = np.exp(rng.uniform(np.log(area_ha[0]), np.log(area_ha[1]))) / PIXEL_HA
        ctr = rng.uniform(0.04 * n, 0.96 * n, 2)
        m = blob(rng, n, area_px, ctr)
        grown = m.copy()
        grown[1:] |= m[:-1]
        grown[:-1] |= m[1:]
        grown[:, 1:] |= grown[:, :-1]
        grown[:, :-1] |= grown[:, 1:]
        if m.sum() < 4 or (m & ~forest).sum() > 0.1 * m.sum() or (grown & taken).any():
            continue
        m &= forest
        taken |= m
        for _ in range(2):  # keep a gap of a few pixels around each clearing
            taken[1:] |= taken[:-1]
            taken[:-1] |= taken[1:]
            taken[:, 1:] |= taken[:, :-1]
            taken[:, :-1] |= taken[:, 1:]
        ground.events.append(Event("clearing", m, int(rng.integers(*day_range)), burnt=bool(rng.random() < 0.3),
                                   fell_days=int(rng.integers(0, 25)), regrow_days=int(rng.integers(150, 400)),
                                   regrow_max=float(rng.uniform(0.2, 0.7))))


def place_logging(rng: np.random.Generator, ground: Ground, trails: int, day_range: tuple[int, int]) -> None:
    """Selective logging: ``trails`` skid trails (10 m wide, canopy 25-45 % opened) wandering into
    evergreen forest, each with canopy gaps of 0.05-0.3 ha (60-90 % of the canopy taken) along it."""
    n = ground.landcover.shape[0]
    forest = (ground.landcover == EVERGREEN) & (ground.elevation > 1.0)
    cleared = np.zeros((n, n), bool)
    for e in ground.events:
        cleared |= e.mask
    for _ in range(trails):
        day = int(rng.integers(*day_range))
        pts = wander(rng, rng.uniform(0.1 * n, 0.9 * n, 2), rng.uniform(0, 2 * np.pi), rng.uniform(0.25, 0.5) * n, 5.0, 0.35)
        trail = polyline(pts, n, 1.0) & forest & ~cleared
        ground.events.append(Event("trail", trail, day, loss=float(rng.uniform(0.25, 0.45)), regrow_days=500, regrow_max=0.6))
        for p in pts[:: max(len(pts) // int(rng.integers(3, 7)), 1)][1:]:
            gap = blob(rng, n, rng.uniform(0.05, 0.3) / PIXEL_HA, tuple(p + rng.normal(0, 2, 2))) & forest & ~cleared
            if gap.sum() >= 3:
                ground.events.append(Event("gap", gap, day + int(rng.integers(0, 40)), loss=float(rng.uniform(0.6, 0.9)),
                                           regrow_days=400, regrow_max=0.5))
                cleared |= gap
        cleared |= trail
