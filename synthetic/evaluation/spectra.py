"""Surface spectra and phenology of the evaluation scenes, drawn anew for every seed.

Reflectance is surface reflectance 0-1 (float32) in the bands :data:`BANDS`. Each land class has
a canopy (or surface) spectrum and, for classes whose canopy thins with the season, a background
(litter, soil, stubble) spectrum; what a pixel shows is their mix by the class's green fraction on
that day. Every seed multiplies each class's value in each band by its own factor drawn uniformly
in ``1 ± SPECTRAL_JITTER`` (so no two seeds share a spectrum), and every year of a scene shifts
the seasons by its own offset of up to ``± SEASON_SHIFT_DAYS``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

logger = logging.getLogger(__name__)

BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B08", "B8A", "B11", "B12")
"""Reflectance bands, in the order of the last axis of every spectrum here."""

SPECTRAL_JITTER = 0.25
"""Per seed, class and band: the spectrum is multiplied by a factor uniform in 1 ± this."""
SEASON_SHIFT_DAYS = 35
"""Per year of a scene: leaf-off, crop calendars and flood peaks move by up to ± this many days."""

# Land classes (codes of EvalScene.landcover).
EVERGREEN, DECIDUOUS, RUBBER, CROP, SWIDDEN, GRASS, WATER, ROAD, SETTLEMENT = range(9)
CLASS_NAMES = ("evergreen forest", "deciduous forest", "rubber", "crop", "shifting cultivation", "grass/shrub",
               "water", "road", "settlement")
FOREST_CLASSES = (EVERGREEN, DECIDUOUS, RUBBER)

# Typical values (surface reflectance) from published S2 L2A spectra of tropical land covers.
#                                 B02    B03    B04    B08    B8A    B11    B12
_CANOPY = {
    EVERGREEN: np.array([0.022, 0.045, 0.024, 0.300, 0.315, 0.150, 0.065]),
    DECIDUOUS: np.array([0.028, 0.055, 0.030, 0.330, 0.345, 0.170, 0.080]),
    RUBBER: np.array([0.026, 0.050, 0.028, 0.320, 0.335, 0.160, 0.075]),
    CROP: np.array([0.035, 0.070, 0.040, 0.380, 0.395, 0.200, 0.100]),
    SWIDDEN: np.array([0.030, 0.060, 0.035, 0.340, 0.355, 0.190, 0.095]),
    GRASS: np.array([0.040, 0.070, 0.055, 0.280, 0.295, 0.230, 0.130]),
    WATER: np.array([0.060, 0.070, 0.040, 0.020, 0.016, 0.008, 0.005]),
    ROAD: np.array([0.120, 0.140, 0.170, 0.210, 0.220, 0.280, 0.240]),
    SETTLEMENT: np.array([0.100, 0.115, 0.130, 0.200, 0.210, 0.240, 0.200]),
}
_BACKGROUND = {  # what shows through when the canopy thins
    EVERGREEN: np.array([0.050, 0.070, 0.080, 0.220, 0.230, 0.240, 0.160]),  # litter, branches
    DECIDUOUS: np.array([0.055, 0.075, 0.095, 0.200, 0.215, 0.260, 0.180]),
    RUBBER: np.array([0.055, 0.075, 0.090, 0.210, 0.220, 0.250, 0.170]),
    CROP: np.array([0.100, 0.130, 0.170, 0.230, 0.245, 0.320, 0.260]),  # tilled soil
    SWIDDEN: np.array([0.040, 0.050, 0.060, 0.120, 0.125, 0.180, 0.150]),  # burnt slash
    GRASS: np.array([0.080, 0.100, 0.130, 0.220, 0.230, 0.300, 0.230]),  # dry grass
    WATER: _CANOPY[WATER], ROAD: _CANOPY[ROAD], SETTLEMENT: _CANOPY[SETTLEMENT],
}
TURBID_WATER = np.array([0.090, 0.120, 0.120, 0.060, 0.050, 0.015, 0.010])
SLASH_SOIL = np.array([0.075, 0.095, 0.115, 0.200, 0.215, 0.300, 0.230])  # felled, cleared ground
BURNT = np.array([0.030, 0.040, 0.050, 0.100, 0.105, 0.150, 0.130])
REGROWTH = np.array([0.040, 0.075, 0.050, 0.300, 0.315, 0.220, 0.115])  # grass and shrubs on a clearing


@dataclass(frozen=True)
class Palette:
    """One seed's spectra: ``canopy[c]``, ``background[c]`` and the clearing spectra, each ``(band,)``."""

    canopy: dict[int, NDArray[np.float32]]
    background: dict[int, NDArray[np.float32]]
    turbid_water: NDArray[np.float32]
    slash: NDArray[np.float32]
    burnt: NDArray[np.float32]
    regrowth: NDArray[np.float32]


def palette(rng: np.random.Generator) -> Palette:
    """Spectra for one seed: every class and band scaled by its own factor in 1 ± SPECTRAL_JITTER."""
    def jit(v: NDArray[np.float64]) -> NDArray[np.float32]:
        return (v * rng.uniform(1 - SPECTRAL_JITTER, 1 + SPECTRAL_JITTER, v.size)).astype(np.float32)

    return Palette({c: jit(v) for c, v in _CANOPY.items()}, {c: jit(v) for c, v in _BACKGROUND.items()},
                   jit(TURBID_WATER), jit(SLASH_SOIL), jit(BURNT), jit(REGROWTH))


def _bump(doy: NDArray[np.float64], centre: NDArray[np.float64] | float, width: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """1 at ``centre`` falling smoothly to 0 at ± ``width`` days (on the 365-day circle)."""
    d = np.abs((doy - centre + 182.5) % 365.0 - 182.5)
    return np.where(d < width, 0.5 * (1 + np.cos(np.pi * np.minimum(d / np.maximum(width, 1e-6), 1.0))), 0.0)


def green_fraction(cls: int, doy: NDArray[np.float64], shift: float, phase: NDArray[np.float64],
                   depth: NDArray[np.float64]) -> NDArray[np.float64]:
    """Canopy (green) fraction 0-1 of the pixels of one class on day of year ``doy``.

    ``phase`` (days) and ``depth`` (0-1) are per pixel; ``shift`` is the year's season shift.
    Evergreen forest: a shallow dry-season dip (depth x 0.15, ~80 days). Deciduous forest: leaf-off
    for ~100 days, down by ``depth`` (0.45-0.75). Rubber: wintering, a sharp ~45-day fall by
    ``depth`` (0.55-0.85). Crops: two cycles a year of ~110 days (sowing at ``phase``), bare soil
    between. Shifting cultivation: slash and burn in the dry season, a crop, then green fallow.
    Grass: greens in the wet season. Water, roads and settlements: 1 (their own spectrum).
    """
    t = doy - shift - phase
    if cls == EVERGREEN:
        return 1.0 - 0.15 * depth * _bump(t, 60.0, 80.0)
    if cls == DECIDUOUS:
        return 1.0 - depth * _bump(t, 60.0, 100.0)
    if cls == RUBBER:
        return 1.0 - depth * _bump(t, 45.0, 45.0)
    if cls == CROP:
        return np.clip(_bump(t, 150.0, 70.0) * 1.15 + _bump(t, 290.0, 60.0) * 1.05, 0.0, 1.0)
    if cls == SWIDDEN:
        return np.clip(1.0 - 0.95 * _bump(t, 75.0, 55.0), 0.0, 1.0)
    if cls == GRASS:
        return 0.35 + 0.55 * _bump(t, 220.0, 120.0)
    return np.ones_like(t)
