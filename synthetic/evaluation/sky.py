"""The atmosphere over an evaluation scene on one date, and an SCL band that gets it wrong.

Per date the sky holds opaque clouds with thin edges, their shadows (cast 8-40 px away), thin
cloud or haze with a gradient across the scene, and a scene-wide illumination factor. The SCL
band is made from the truth (land state and sky) and then spoiled the ways real ones are:
thin cloud and haze labelled clear, shadows labelled vegetation or dark, turbid water labelled
bare soil or vegetation, flooded vegetation labelled vegetation or dark, clear bright ground
labelled cloud.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from synthetic.evaluation.landscape import smooth_field

logger = logging.getLogger(__name__)

# Sentinel-2 SCL codes the generator writes.
SCL_NODATA, SCL_DARK, SCL_SHADOW, SCL_VEG, SCL_BARE, SCL_WATER, SCL_UNCLASSIFIED, SCL_CLOUD_MED, SCL_CLOUD_HIGH, SCL_CIRRUS = 0, 2, 3, 4, 5, 6, 7, 8, 9, 10

CLOUD = np.array([0.42, 0.41, 0.40, 0.42, 0.42, 0.33, 0.25])  # bright, flat, lower in the SWIR
HAZE_PATH = np.array([0.085, 0.065, 0.050, 0.022, 0.020, 0.006, 0.003])  # added per unit haze depth (blue >> SWIR)
HAZE_LOSS = np.array([0.30, 0.26, 0.22, 0.12, 0.11, 0.04, 0.02])  # direct-beam loss per unit haze depth
SHADOW_KEEP = (0.25, 0.55)  # share of the light a full shadow leaves (range over dates)
THIN_LABELLED_CLEAR = 0.35  # cloud opacity below which SCL calls the pixel clear
SHADOW_LABEL_P = 0.45  # chance that a date's shadows are labelled SCL 3 at all


@dataclass
class Sky:
    """One date's sky over ``(row, col)``: opacity of cloud 0-1, haze depth 0-1, shadow 0-1."""

    cloud: NDArray[np.float32]
    haze: NDArray[np.float32]
    shadow: NDArray[np.float32]
    illumination: float
    shadow_labelled: bool


def draw_sky(rng: np.random.Generator, n: int, cover: float, haze: float) -> Sky:
    """A sky with about ``cover`` (0-1) of the scene under cloud and haze depth up to ``haze``."""
    s = n / 256.0
    cloud = np.zeros((n, n), np.float32)
    if cover > 0.005:
        f = smooth_field(rng, n, rng.uniform(10, 30) * s)
        t = float(np.quantile(f, 1 - cover))
        cloud = np.clip((f - t) / 0.6 + 0.15, 0, 1).astype(np.float32)  # thin rim, opaque core
        cloud[f < t - 0.15] = 0
    shadow = np.zeros((n, n), np.float32)
    if cloud.any():
        dr, dc = (int(v * s) for v in rng.integers(8, 40, 2) * rng.choice([-1, 1], 2))
        shifted = np.roll(np.roll(np.clip(cloud * 1.6, 0, 1), dr, 0), dc, 1)
        shadow = (shifted * (1 - np.clip(cloud * 3, 0, 1))).astype(np.float32)
    hz = np.zeros((n, n), np.float32)
    if haze > 0:
        ang = rng.uniform(0, 2 * np.pi)
        rr, cc = np.mgrid[0:n, 0:n] / n
        ramp = (np.cos(ang) * rr + np.sin(ang) * cc)
        ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
        hz = np.clip(haze * (0.2 + 0.8 * ramp) * (1 + 0.25 * smooth_field(rng, n, 40 * s)), 0, 1).astype(np.float32)
    return Sky(cloud, hz, shadow, float(rng.uniform(0.94, 1.06)), bool(rng.random() < SHADOW_LABEL_P))


def apply_sky(refl: NDArray[np.float32], sky: Sky) -> NDArray[np.float32]:
    """Reflectance ``(band, row, col)`` seen through ``sky`` (in place, returned)."""
    for b in range(refl.shape[0]):
        x = refl[b]
        x *= sky.illumination
        x *= 1 - (1 - np.float32(SHADOW_KEEP[0])) * sky.shadow
        x *= 1 - np.float32(HAZE_LOSS[b]) * sky.haze
        x += np.float32(HAZE_PATH[b]) * sky.haze
        x *= 1 - sky.cloud
        x += np.float32(CLOUD[b]) * sky.cloud
    return refl


def scl_for(rng: np.random.Generator, surface_ndvi: NDArray[np.float32], is_water: NDArray[np.bool_],
            turbid: NDArray[np.bool_], flooded_veg: NDArray[np.bool_], bright_ground: NDArray[np.bool_],
            sky: Sky) -> tuple[NDArray[np.uint8], dict[str, NDArray[np.bool_]]]:
    """The SCL band of a date, and where it is wrong (masks keyed by error kind).

    Clear land: vegetation (4) when the surface's NDVI > 0.4, bare (5) otherwise, water (6).
    Errors: turbid water -> 5 or 4 (60 % of such pixels on a date); flooded vegetation -> 4 or 2
    (70 %); ~1 date in 5, patches of bright ground (soil, roads, settlements, bare crops) -> 8;
    shadows -> 3 only on dates where ``sky.shadow_labelled`` (and only where shadow > 0.5),
    elsewhere 4 or 2; cloud opacity >= 0.6 -> 9, 0.35-0.6 -> 8 (or 10), below 0.35 -> clear.
    """
    n = surface_ndvi.shape[0]
    scl = np.where(surface_ndvi > 0.4, SCL_VEG, SCL_BARE).astype(np.uint8)
    scl[is_water] = SCL_WATER
    errors: dict[str, NDArray[np.bool_]] = {}
    pick = smooth_field(rng, n, 6.0)
    turbid_wrong = turbid & is_water & (pick > -0.25)
    scl[turbid_wrong] = np.where(pick[turbid_wrong] > 0.6, SCL_VEG, SCL_BARE)
    flood_wrong = flooded_veg & (pick < 0.5)
    scl[flood_wrong] = np.where(pick[flood_wrong] > -0.3, SCL_VEG, SCL_DARK)
    errors["water_labels"] = turbid_wrong | flood_wrong
    false_cloud = np.zeros((n, n), bool)
    if rng.random() < 0.2:
        false_cloud = bright_ground & (smooth_field(rng, n, 12.0) > 0.3)
        scl[false_cloud] = SCL_CLOUD_MED
    errors["false_cloud"] = false_cloud
    shade = sky.shadow > 0.5
    if sky.shadow_labelled:
        scl[shade] = SCL_SHADOW
        errors["shadow_unlabelled"] = (sky.shadow > 0.15) & ~shade
    else:
        scl[shade & (pick > 0.8)] = SCL_DARK
        errors["shadow_unlabelled"] = sky.shadow > 0.15
    cirrus = rng.random() < 0.3
    scl[(sky.cloud >= THIN_LABELLED_CLEAR) & (sky.cloud < 0.6)] = SCL_CIRRUS if cirrus else SCL_CLOUD_MED
    scl[sky.cloud >= 0.6] = SCL_CLOUD_HIGH
    errors["thin_cloud_unlabelled"] = (sky.cloud > 0.03) & (sky.cloud < THIN_LABELLED_CLEAR)
    errors["haze"] = sky.haze > 0.15
    return scl, errors
