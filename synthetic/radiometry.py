"""Surface spectra of the synthetic scenes and the rendering of one acquisition.

Reflectance is harmonised Sentinel-2 L2A reflectance x 10 000 (no processing-baseline
offset). The values are typical of the region's evergreen forest, bare lateritic soil,
grass or crop, and a turbid river.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from synthetic.fields import smooth_field

logger = logging.getLogger(__name__)

BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B08", "B8A", "B11", "B12", "SCL")
"""Band order of every scene: seven reflectance bands, then the scene classification."""
N_REFLECTANCE = len(BANDS) - 1

# Land cover codes of :attr:`SyntheticSeries.landcover`.
LC_FOREST, LC_GRASS, LC_WATER = 0, 1, 2

# Sentinel-2 scene classification (SCL) codes used here.
SCL_SHADOW, SCL_VEGETATION, SCL_BARE, SCL_WATER, SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH = 3, 4, 5, 6, 8, 9

#                      B02   B03   B04   B08   B8A   B11   B12
FOREST = np.array([250, 500, 300, 3200, 3300, 1450, 600], dtype=np.float32)
SOIL = np.array([900, 1200, 1500, 2400, 2500, 3000, 2400], dtype=np.float32)
GRASS = np.array([450, 750, 800, 2600, 2700, 2200, 1300], dtype=np.float32)
WATER = np.array([500, 550, 400, 200, 180, 100, 80], dtype=np.float32)
CLOUD_BAND_FACTOR = np.array([1.0, 0.995, 0.99, 0.98, 0.98, 0.96, 0.95], dtype=np.float32)
CLOUD_DARKEST, CLOUD_BRIGHTEST = 5400.0, 7500.0  # before the band factor and the date's brightness
SHADOW_FACTOR = 0.3
NOISE_SD = 0.03  # per-pixel Gaussian noise, share of the value
SKY_SHADOW = 1  # sky codes: 0 clear, 1 shadow, 2..255 cloud thickness
SKY_THICK = 128  # cloud at or above this thickness is SCL 9 (high probability), below SCL 8
_NOISE_STREAM = 1
_TABLE_SIZE = 65_536


@functools.cache
def _normal_table() -> np.ndarray:
    """Standard normal quantiles at ``(k + 0.5) / 65 536``: indexing it with random uint16
    draws Gaussian noise (to ±4.3 sd) twice as fast as ``Generator.standard_normal``."""
    dist = NormalDist()
    return np.array([dist.inv_cdf((k + 0.5) / _TABLE_SIZE) for k in range(_TABLE_SIZE)], dtype=np.float32)


def surface(rng: np.random.Generator, landcover: np.ndarray, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Clear-sky reflectance and SCL of the unchanging landscape.

    Forest gets a spatially smooth texture at two scales (canopy gaps ~60 m, stands ~500 m);
    grass a smoother, weaker one; water none.

    Parameters
    ----------
    rng
        Source of randomness.
    landcover
        uint8 ``(row, col)`` of ``LC_*`` codes.
    resolution
        Pixel size, metres (sets the texture scales).

    Returns
    -------
    tuple of numpy.ndarray
        float32 reflectance x 10 000, shape ``(7, row, col)``, and uint8 SCL ``(row, col)``.
    """
    shape = landcover.shape
    fine = smooth_field(rng, shape, max(60.0 / resolution, 1.0))
    coarse = smooth_field(rng, shape, 500.0 / resolution)
    nir = smooth_field(rng, shape, 150.0 / resolution)
    texture = 1.0 + 0.04 * fine + 0.04 * coarse
    refl = np.empty((N_REFLECTANCE, *shape), dtype=np.float32)
    refl[:] = FOREST[:, None, None] * texture
    refl[3:5] *= 1.0 + 0.03 * nir
    grass = landcover == LC_GRASS
    refl[:, grass] = GRASS[:, None] * (1.0 + 0.03 * coarse[grass])
    water = landcover == LC_WATER
    refl[:, water] = WATER[:, None]
    np.clip(refl, 1.0, None, out=refl)
    scl = np.full(shape, SCL_VEGETATION, dtype=np.uint8)
    scl[water] = SCL_WATER
    return refl, scl


def soil(rng: np.random.Generator, n_pixels: int) -> np.ndarray:
    """Bare-soil reflectance of ``n_pixels`` cleared pixels, float32 ``(7, n_pixels)`` (±5 % per pixel)."""
    factor = 1.0 + 0.05 * np.clip(rng.standard_normal(n_pixels), -2.5, 2.5)
    return (SOIL[:, None] * factor[None, :]).astype(np.float32)


@dataclass(frozen=True, eq=False)
class ScenePlan:
    """Everything needed to render any acquisition of a series, independently of the others.

    Attributes
    ----------
    seed
        The series seed; each date's noise comes from its own stream ``(seed, 1, date index)``.
    surface
        float32 ``(7, row, col)``: clear-sky reflectance x 10 000 before any clearing.
    scl
        uint8 ``(row, col)``: SCL of that surface.
    cleared_index
        Flat pixel indices of every planted clearing.
    cleared_since
        For each of those pixels, the index of the first date on which it is bare soil.
    soil
        float32 ``(7, n)``: bare-soil reflectance of those pixels.
    sky
        Per cloudy date index, uint8 ``(row, col)``: 0 clear, 1 shadow, 2..255 cloud thickness.
    brightness
        Per date, the factor applied to every band (illumination and atmosphere, ±5 %).
    """

    seed: int
    surface: np.ndarray
    scl: np.ndarray
    cleared_index: np.ndarray
    cleared_since: np.ndarray
    soil: np.ndarray
    sky: Mapping[int, np.ndarray]
    brightness: np.ndarray

    def render(self, index: int) -> np.ndarray:
        """Acquisition ``index`` as uint16 ``(band, row, col)`` in :data:`BANDS` order.

        Reflectance bands are x 10 000 (1..65 535, never 0, which is no data); the last band
        holds SCL codes.
        """
        rng = np.random.default_rng([self.seed, _NOISE_STREAM, index])
        refl = self.surface.copy()
        scl = self.scl.copy()
        now = self.cleared_since <= index
        pixels = self.cleared_index[now]
        refl.reshape(N_REFLECTANCE, -1)[:, pixels] = self.soil[:, now]
        scl.reshape(-1)[pixels] = SCL_BARE
        sky = self.sky.get(index)
        if sky is not None:
            shadow = sky == SKY_SHADOW
            refl[:, shadow] *= SHADOW_FACTOR
            scl[shadow] = SCL_SHADOW
            cloud = sky > SKY_SHADOW
            thickness = (sky[cloud].astype(np.float32) - 2.0) / 253.0
            value = CLOUD_DARKEST + (CLOUD_BRIGHTEST - CLOUD_DARKEST) * thickness
            refl[:, cloud] = CLOUD_BAND_FACTOR[:, None] * value[None, :]
            scl[cloud] = np.where(sky[cloud] >= SKY_THICK, SCL_CLOUD_HIGH, SCL_CLOUD_MEDIUM)
        gain = _normal_table()[rng.integers(0, _TABLE_SIZE, refl.shape, dtype=np.uint16)]
        gain *= NOISE_SD * float(self.brightness[index])
        gain += float(self.brightness[index])
        refl *= gain
        np.clip(refl, 1.0, 65535.0, out=refl)
        np.rint(refl, out=refl)
        out = np.empty((len(BANDS), *scl.shape), dtype=np.uint16)
        out[:N_REFLECTANCE] = refl
        out[N_REFLECTANCE] = scl
        return out
