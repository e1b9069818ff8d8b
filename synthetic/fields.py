"""Random fields and the masks drawn from them: smooth noise, irregular blobs, dilation, shifts.

Only NumPy: smoothing is a Gaussian filter applied in the Fourier domain on a grid coarse
enough for the requested scale, then upsampled bilinearly, so a 1000 x 1000 field costs a
few milliseconds whatever its correlation length.
"""

from __future__ import annotations

import logging
import math

import numpy as np

logger = logging.getLogger(__name__)

_WORK_SIGMA = 3.0  # smoothing scale, in work-grid cells, below which the field is computed at full size


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """White noise smoothed by a Gaussian of ``sigma_px`` pixels, normalised to mean 0, sd 1.

    Parameters
    ----------
    rng
        Source of randomness (consumed deterministically).
    shape
        ``(row, col)`` of the field.
    sigma_px
        Standard deviation of the Gaussian kernel, in pixels (> 0).

    Returns
    -------
    numpy.ndarray
        float32, shape ``(row, col)``; not periodic (the field is padded before filtering).
    """
    rows, cols = shape
    factor = max(1, int(sigma_px // _WORK_SIGMA))
    sigma = sigma_px / factor
    pad = int(math.ceil(3 * sigma))
    core = (-(-rows // factor) + 2, -(-cols // factor) + 2)
    work = (core[0] + 2 * pad, core[1] + 2 * pad)
    white = rng.standard_normal(work)
    fy = np.fft.fftfreq(work[0])[:, None]
    fx = np.fft.rfftfreq(work[1])[None, :]
    transfer = np.exp(-2.0 * (math.pi * sigma) ** 2 * (fy * fy + fx * fx))
    field = np.fft.irfft2(np.fft.rfft2(white) * transfer, s=work)[pad:-pad, pad:-pad]
    field = _upsample(field, factor, shape) if factor > 1 else field[:rows, :cols]
    field = field.astype(np.float32)
    field -= field.mean()
    sd = float(field.std())
    if sd > 0:
        field /= sd
    return field


def _upsample(coarse: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of ``coarse`` by an integer ``factor``, cropped to ``shape``."""
    out = coarse
    for axis, size in enumerate(shape):
        src = (np.arange(size) + 0.5) / factor - 0.5 + 1.0  # +1: the core starts one cell early
        src = np.clip(src, 0, out.shape[axis] - 1)
        lo = np.floor(src).astype(np.intp)
        hi = np.minimum(lo + 1, out.shape[axis] - 1)
        weight = (src - lo).astype(np.float32)
        if axis == 0:
            out = out[lo, :] * (1 - weight)[:, None] + out[hi, :] * weight[:, None]
        else:
            out = out[:, lo] * (1 - weight)[None, :] + out[:, hi] * weight[None, :]
    return out


def star_blob(
    rng: np.random.Generator, n_pixels: int, *, max_elongation: float = 2.2, roughness: float = 0.45
) -> np.ndarray:
    """An irregular, star-shaped blob of exactly ``n_pixels`` pixels.

    The outline is an ellipse (random elongation and orientation) whose radius is modulated
    by harmonics 2-6 with random phases; the ``n_pixels`` pixels closest to the centre in that
    metric are kept, so the blob has no holes and is compact.

    Parameters
    ----------
    rng
        Source of randomness.
    n_pixels
        Number of pixels set (>= 1).
    max_elongation
        Largest ratio of the ellipse's axes.
    roughness
        Sum of the harmonics' amplitudes (< 1): 0 is a smooth ellipse.

    Returns
    -------
    numpy.ndarray
        bool, shape ``(row, col)``, cropped to the blob's bounding box.
    """
    if n_pixels < 1:
        raise ValueError(f"a blob needs at least one pixel, got {n_pixels}")
    elongation = rng.uniform(1.0, max_elongation)
    angle = rng.uniform(0.0, math.pi)
    orders = np.arange(2, 7)
    amplitudes = rng.dirichlet(np.ones(orders.size)) * roughness * rng.uniform(0.4, 1.0)
    phases = rng.uniform(0.0, 2 * math.pi, orders.size)
    radius = math.sqrt(n_pixels / math.pi)
    half = int(math.ceil(radius * math.sqrt(elongation) / (1 - roughness))) + 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    u = (xx * math.cos(angle) + yy * math.sin(angle)) / math.sqrt(elongation)
    v = (-xx * math.sin(angle) + yy * math.cos(angle)) * math.sqrt(elongation)
    theta = np.arctan2(v, u)
    outline = 1.0 + np.tensordot(amplitudes, np.cos(orders[:, None, None] * theta + phases[:, None, None]), axes=1)
    score = np.hypot(u, v) / outline
    keep = np.argpartition(score.ravel(), n_pixels - 1)[:n_pixels]
    mask = np.zeros(score.size, dtype=bool)
    mask[keep] = True
    return crop(mask.reshape(score.shape))


def crop(mask: np.ndarray) -> np.ndarray:
    """``mask`` cut to the bounding box of its set pixels (unchanged if none is set)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return mask
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of a 2-D ``mask`` by a square of half-width ``radius`` pixels (same shape)."""
    out = mask.copy()
    for axis in (0, 1):
        src = out.copy()
        for step in range(1, radius + 1):
            if axis == 0:
                out[step:] |= src[:-step]
                out[:-step] |= src[step:]
            else:
                out[:, step:] |= src[:, :-step]
                out[:, :-step] |= src[:, step:]
    return out


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion by a square of half-width ``radius``; pixels beyond the array count as set."""
    return ~dilate(~mask, radius)


def paste(target: np.ndarray, patch: np.ndarray, row: int, col: int) -> tuple[slice, slice, np.ndarray]:
    """Where ``patch`` lands on ``target`` with its top-left corner at ``(row, col)``, clipped.

    Returns
    -------
    tuple
        ``(row slice, col slice, the part of patch inside target)``; the slices may be empty.
    """
    r0, c0 = max(row, 0), max(col, 0)
    r1 = min(row + patch.shape[0], target.shape[0])
    c1 = min(col + patch.shape[1], target.shape[1])
    if r1 <= r0 or c1 <= c0:
        return slice(0, 0), slice(0, 0), patch[:0, :0]
    return slice(r0, r1), slice(c0, c1), patch[r0 - row : r1 - row, c0 - col : c1 - col]


def shift(mask: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``mask`` moved by ``(rows, cols)`` pixels (positive: down, right); vacated pixels unset."""
    out = np.zeros_like(mask)
    rs, cs, part = paste(out, mask, rows, cols)
    out[rs, cs] = part
    return out
