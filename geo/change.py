"""Per-pixel forest-loss detection: cloud-masked NDVI and NBR drops against a baseline.

The kernel is one fused pass per pixel over its time series (numba, parallel over rows): no
temporary (date, row, col) arrays besides the inputs. Inputs are Sentinel-2 L2A reflectances
x 10 000 (uint16, harmonised) and the SCL band.

Per pixel:

1. the baseline is the median NDVI and the median NBR of the valid baseline observations
   (valid: SCL not in the invalid set and reflectances not 0); fewer than
   ``min_baseline_observations`` leaves the pixel unassessed;
2. only forest is watched: baseline NDVI >= ``forest_ndvi_min``;
3. a valid monitoring observation whose NDVI *and* NBR fall below the baseline by at least
   ``ndvi_drop`` and ``nbr_drop`` makes the pixel a candidate (``first`` = that date);
   ``confirm_observations`` further valid observations that also drop make it ``HIGH``
   confidence; a valid observation that does not drop before that drops the candidate
   (regrowth, haze, a missed cloud); a candidate still unconfirmed at the end is ``LOW``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from geo.errors import InputShapeError

NONE, LOW, HIGH = 0, 1, 2
UNASSESSED = 255  # too few valid baseline observations, or no forest there


@dataclass(frozen=True)
class ChangeParams:
    """Thresholds of the detector (see :class:`config.Settings` for their meaning)."""

    invalid_scl_classes: Sequence[int] = (0, 1, 2, 3, 8, 9, 10, 11)
    forest_ndvi_min: float = 0.6
    ndvi_drop: float = 0.25
    nbr_drop: float = 0.20
    min_baseline_observations: int = 2
    confirm_observations: int = 1


@dataclass
class ChangeResult:
    """Per-pixel outcome, each array of shape (row, col).

    ``status``: NONE, LOW, HIGH or UNASSESSED; ``first``/``last``: index into the monitoring
    dates of the first flagged and the last valid observation (-1 when none); drops are the
    baseline minus the value at ``first`` (NaN where not flagged); ``baseline_ndvi`` is NaN where
    unassessed.
    """

    status: NDArray[np.uint8]
    first: NDArray[np.int16]
    last: NDArray[np.int16]
    ndvi_drop: NDArray[np.float32]
    nbr_drop: NDArray[np.float32]
    baseline_ndvi: NDArray[np.float32]


def invalid_lut(classes: Sequence[int]) -> NDArray[np.bool_]:
    """A 256-entry table: True for SCL codes that make an observation invalid."""
    lut = np.zeros(256, dtype=np.bool_)
    lut[np.asarray(list(classes), dtype=np.int64)] = True
    return lut


@numba.njit(cache=True, inline="always")
def _indices(red, nir, swir2):  # numba: float32 in, float32 out (untyped: mypy cannot see numba types)
    return (nir - red) / (nir + red), (nir - swir2) / (nir + swir2)


@numba.njit(parallel=True, cache=True)
def _kernel(red, nir, swir2, scl, n_base, lut, forest_min, d_ndvi, d_nbr, min_obs, n_confirm,
            status, first, last, drop_ndvi, drop_nbr, base_ndvi):  # pragma: no cover - compiled
    n_t, n_r, n_c = red.shape
    for r in numba.prange(n_r):
        buf_n = np.empty(n_base, dtype=np.float32)
        buf_b = np.empty(n_base, dtype=np.float32)
        for c in range(n_c):
            k = 0
            for t in range(n_base):
                rd = np.float32(red[t, r, c])
                nr = np.float32(nir[t, r, c])
                sw = np.float32(swir2[t, r, c])
                if lut[scl[t, r, c]] or rd <= 0 or nr <= 0 or sw <= 0:
                    continue
                buf_n[k], buf_b[k] = _indices(rd, nr, sw)
                k += 1
            status[r, c] = UNASSESSED
            first[r, c] = -1
            last[r, c] = -1
            drop_ndvi[r, c] = np.nan
            drop_nbr[r, c] = np.nan
            base_ndvi[r, c] = np.nan
            if k < min_obs:
                continue
            bn = np.float32(np.median(buf_n[:k]))
            bb = np.float32(np.median(buf_b[:k]))
            base_ndvi[r, c] = bn
            if bn < forest_min:
                continue
            state = NONE
            start = -1
            confirms = 0
            dn0 = np.float32(np.nan)
            db0 = np.float32(np.nan)
            for t in range(n_base, n_t):
                rd = np.float32(red[t, r, c])
                nr = np.float32(nir[t, r, c])
                sw = np.float32(swir2[t, r, c])
                if lut[scl[t, r, c]] or rd <= 0 or nr <= 0 or sw <= 0:
                    continue
                last[r, c] = t - n_base
                v_n, v_b = _indices(rd, nr, sw)
                dropped = (bn - v_n) >= d_ndvi and (bb - v_b) >= d_nbr
                if state == HIGH:
                    continue
                if dropped:
                    if start < 0:
                        start = t - n_base
                        confirms = 0
                        dn0 = bn - v_n
                        db0 = bb - v_b
                    else:
                        confirms += 1
                    state = HIGH if confirms >= n_confirm else LOW
                elif start >= 0:
                    start = -1
                    state = NONE
            status[r, c] = state
            if state != NONE:
                first[r, c] = start
                drop_ndvi[r, c] = dn0
                drop_nbr[r, c] = db0


def detect_change(
    red: NDArray[np.integer],
    nir: NDArray[np.integer],
    swir2: NDArray[np.integer],
    scl: NDArray[np.integer],
    n_baseline: int,
    params: ChangeParams = ChangeParams(),
) -> ChangeResult:
    """Detect forest loss per pixel.

    Parameters
    ----------
    red, nir, swir2
        B04, B08 and B12 reflectance x 10 000, shape (date, row, col), any integer or float dtype
        (0 means no data). The first ``n_baseline`` dates are the baseline period, the rest the
        monitoring period, each in date order.
    scl
        Scene classification codes, same shape, uint8.
    n_baseline
        Number of baseline dates.

    Raises
    ------
    InputShapeError
        When shapes differ, or there is no baseline or no monitoring date.
    """
    shape = red.shape
    if red.ndim != 3 or any(a.shape != shape for a in (nir, swir2, scl)):
        raise InputShapeError(f"red, nir, swir2 and scl must share a (date, row, col) shape; got {[a.shape for a in (red, nir, swir2, scl)]}")
    if not 0 < n_baseline < shape[0]:
        raise InputShapeError(f"need at least one baseline and one monitoring date; got {n_baseline} of {shape[0]} as baseline")
    rows, cols = shape[1:]
    out = ChangeResult(
        status=np.empty((rows, cols), np.uint8),
        first=np.empty((rows, cols), np.int16),
        last=np.empty((rows, cols), np.int16),
        ndvi_drop=np.empty((rows, cols), np.float32),
        nbr_drop=np.empty((rows, cols), np.float32),
        baseline_ndvi=np.empty((rows, cols), np.float32),
    )
    _kernel(
        red, nir, swir2, scl.astype(np.uint8, copy=False), n_baseline, invalid_lut(params.invalid_scl_classes),
        np.float32(params.forest_ndvi_min), np.float32(params.ndvi_drop), np.float32(params.nbr_drop),
        params.min_baseline_observations, params.confirm_observations,
        out.status, out.first, out.last, out.ndvi_drop, out.nbr_drop, out.baseline_ndvi,
    )
    return out
