"""The sky of a hard synthetic series: clouds and shadows (labelled in SCL), thin cloud edges and
thin clouds SCL misses, haze (sometimes labelled cirrus), no-data stripes, and the rendering of a
date through it (point-spread function, illumination, noise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from synthetic.fields import dilate, shift, smooth_field
from synthetic.hard_land import SIZE, WET_MONTHS, Land


@numba.njit(parallel=True, cache=True)
def _compose(refl, haze, dark, alpha, cloud_factor, haze_path, brightness, noise, out):  # pragma: no cover - compiled
    """Point-spread function (centre 0.52, edge neighbours 0.09, corners 0.03), haze, shadow,
    cloud, illumination and noise, fused: ``refl`` and ``noise`` ``(band, row, col)`` -> uint16 ``out``."""
    n_b, n_r, n_c = refl.shape
    for r in numba.prange(n_r):
        for c in range(n_c):
            a = alpha[r, c]
            h = haze[r, c]
            cloud = 5400.0 + 2100.0 * min(max(a, 0.0), 1.0)
            for k in range(n_b):
                edge = 0.0
                corner = 0.0
                for dr in (-1, 0, 1):
                    rr = min(max(r + dr, 0), n_r - 1)
                    for dc in (-1, 0, 1):
                        cc = min(max(c + dc, 0), n_c - 1)
                        if dr == 0 and dc == 0:
                            continue
                        if dr == 0 or dc == 0:
                            edge += refl[k, rr, cc]
                        else:
                            corner += refl[k, rr, cc]
                v = 0.52 * refl[k, r, c] + 0.09 * edge + 0.03 * corner
                v = v * (1.0 - 0.12 * h) + haze_path[k] * h
                v *= dark[r, c]
                v = v * (1.0 - a) + cloud_factor[k] * cloud * a
                v *= brightness * (1.0 + 0.025 * noise[k, r, c])
                out[k, r, c] = np.uint16(min(max(round(v), 1.0), 65535.0))


@dataclass
class _Sky:
    alpha: np.ndarray
    flagged: np.ndarray
    shadow: np.ndarray
    shadow_missed: np.ndarray
    haze: np.ndarray
    cirrus: np.ndarray
    nodata: np.ndarray
    brightness: float


def _sky(b: Land, t: int, rng: np.random.Generator) -> _Sky:
    """Clouds (flagged), their missed edges and shadows, missed thin clouds, haze, no data of date ``t``."""
    shape = b.shape
    day = b.dates[t]
    wet = day.month in WET_MONTHS
    alpha = np.zeros(shape, np.float32)  # cloud opacity
    flagged = np.zeros(shape, np.uint8)  # SCL given to clouds: 0 none, 8, 9
    shadow = np.zeros(shape, bool)
    shadow_missed = np.zeros(shape, bool)
    if rng.random() < (0.65 if wet else 0.25):
        cover = rng.uniform(0.15, 0.7) if wet else rng.uniform(0.05, 0.35)
        field = smooth_field(rng, shape, SIZE / 10.0) + 0.35 * smooth_field(rng, shape, SIZE / 40.0)
        level = np.quantile(field, 1 - cover)
        cloud = field > level
        thick = np.clip((field - level) / 1.0, 0, 1)
        alpha[cloud] = 0.85 + 0.15 * thick[cloud]
        flagged[cloud] = np.where(thick[cloud] > 0.35, 9, 8)
        ring_prev = cloud
        for a in (0.4, 0.25, 0.12)[: int(rng.integers(1, 4))]:  # thin edges SCL misses
            ring = dilate(ring_prev, 1) & ~ring_prev
            alpha[ring] = a
            ring_prev = ring_prev | ring
        dy, dx = int(-rng.uniform(10, 35)), int(-rng.uniform(5, 25))
        moved = shift(cloud, dy, dx)
        shadow = moved & ~ring_prev
        shadow_missed = shift(ring_prev, dy, dx) & ~moved & ~ring_prev
    missed = np.zeros(shape, np.float32)
    if rng.random() < 0.08:
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        for _ in range(int(rng.integers(1, 4))):
            cy, cx = rng.uniform(0, SIZE, 2)
            rad = rng.uniform(4, 15)
            opa = rng.uniform(0.25, 0.6)
            missed = np.maximum(missed, opa * np.clip(1.5 - np.hypot(yy - cy, xx - cx) / rad, 0, 1).astype(np.float32))
    alpha = np.maximum(alpha, missed)
    haze = np.zeros(shape, np.float32)
    cirrus = np.zeros(shape, bool)
    if rng.random() < 0.15:
        haze = (rng.uniform(0.3, 1.0) * (0.5 + 0.5 * np.tanh(smooth_field(rng, shape, 60.0)))).astype(np.float32)
        if rng.random() < 0.5:
            cirrus = haze > 0.8
    nodata = np.zeros(shape, bool)
    if rng.random() < 0.05:
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        theta = math.radians(rng.uniform(95, 115))
        pos = xx * math.cos(theta) + yy * math.sin(theta)
        s0 = rng.uniform(pos.min(), pos.max())
        nodata = np.abs(pos - s0) < rng.uniform(8, 25)
    return _Sky(alpha, flagged, shadow, shadow_missed, haze, cirrus, nodata, float(rng.uniform(0.96, 1.04)))


def render(b: Land, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bands (uint16, ``(band, row, col)``), SCL and the truth's clean-view mask of date ``t``."""
    rng = np.random.default_rng([b.seed, 7, t])
    sky = _sky(b, t, rng)
    refl, scl = b.surface(t)
    dark = np.ones(b.shape, np.float32)
    dark[sky.shadow] = 0.35
    dark[sky.shadow_missed] = 0.7
    alpha = sky.alpha
    out = np.empty(refl.shape, np.uint16)
    noise = rng.standard_normal(refl.shape, dtype=np.float32)
    _compose(refl, sky.haze, dark, alpha, b.sp.CLOUD_FACTOR, b.sp.HAZE_PATH, sky.brightness, noise, out)
    scl[sky.cirrus] = 10
    scl[sky.shadow] = 3
    flagged = sky.flagged
    scl[flagged > 0] = flagged[flagged > 0]
    nodata = sky.nodata
    out[:, nodata] = 0
    scl[nodata] = 0
    clean = (alpha < 0.1) & ~sky.shadow & ~nodata & ~sky.cirrus & (flagged == 0)
    return out, scl, clean


