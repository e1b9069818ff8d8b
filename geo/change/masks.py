"""Valid observations: which pixels of an acquisition can be used, from SCL codes and no-data values.

An observation is *valid* when its Sentinel-2 scene classification (SCL) is not one of the
invalid classes (a setting: by default no data, saturated, dark, cloud shadow, clouds, cirrus,
snow) and its reflectances are not the no-data value 0. Cloud, cirrus and shadow masks can be
grown by a few pixels (:func:`dilate_clouds`), because SCL tends to miss the thin edges of
clouds.

Inside numba kernels the invalid set is tested as up to three inclusive ranges of *valid* codes
passed as scalars (:func:`range_bounds`, :func:`in_ranges`): a 256-entry lookup table there
stops LLVM from vectorising the loop (NOTES.md, "Speed"), and an array of ranges would be
reloaded from memory after every store (numba cannot prove arrays do not alias).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numba
import numpy as np
from numpy.typing import NDArray

from geo.errors import InputShapeError

logger = logging.getLogger(__name__)

SCL_CODES = range(0, 12)  # 0 no data .. 11 snow
SCL_SHADOW, SCL_WATER, SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS = 3, 6, 8, 9, 10
DILATED = 255  # SCL value written over pixels inside a grown cloud or shadow mask (never valid)
MAX_RANGES = 6  # the most runs of valid codes that 0..11 can hold
GROWING_CLASSES = (SCL_SHADOW, SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS)  # the masks dilate_clouds grows by default


def range_bounds(invalid_classes: Sequence[int]) -> tuple[int, int, int, int, int, int]:
    """The valid runs of :func:`valid_ranges` as three ``(low, high)`` scalar pairs for kernels
    (unused pairs are the empty ``(1, 0)``).

    Raises
    ------
    InputShapeError
        When a class is outside 0..11, or the valid codes make more than three runs (e.g.
        every other code invalid): name the invalid set as up to three ranges of valid codes.
    """
    runs = valid_ranges(invalid_classes)
    if len(runs) > 3:
        raise InputShapeError(f"the valid SCL codes {runs.tolist()} make {len(runs)} runs; the detector takes at most 3")
    flat = [int(v) for run in runs for v in run] + [1, 0] * (3 - len(runs))
    return flat[0], flat[1], flat[2], flat[3], flat[4], flat[5]


@numba.njit(inline="always", cache=True)
def in_ranges(code, lo0, hi0, lo1, hi1, lo2, hi2):  # numba: SCL code and 3 scalar ranges -> bool  # pragma: no cover
    """True when ``code`` lies in one of three inclusive ranges given as scalars (no memory loads)."""
    return (lo0 <= code <= hi0) or (lo1 <= code <= hi1) or (lo2 <= code <= hi2)


def valid_ranges(invalid_classes: Sequence[int]) -> NDArray[np.int64]:
    """Inclusive ``(low, high)`` runs of the SCL codes 0..11 that are *not* invalid.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(n, 2)``; ``n`` is 0 when every code is invalid. Codes above 11 (and
        :data:`DILATED`) never fall in a range.

    Raises
    ------
    InputShapeError
        When a class is outside 0..11.
    """
    invalid = set(int(c) for c in invalid_classes)
    bad = sorted(c for c in invalid if c not in SCL_CODES)
    if bad:
        raise InputShapeError(f"SCL classes are 0..11; got {bad}")
    runs: list[list[int]] = []
    for code in SCL_CODES:
        if code in invalid:
            continue
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return np.array(runs, dtype=np.int64).reshape(-1, 2)


@numba.njit(cache=True, nogil=True)
def _dilate_date(scl, t, grow, radius, out):  # pragma: no cover - compiled
    n_r, n_c = scl.shape[1], scl.shape[2]
    found = False
    for r in range(n_r):  # most dates of most windows hold no cloud: nothing to grow
        for c in range(n_c):
            if grow[scl[t, r, c]]:
                found = True
                break
        if found:
            break
    if not found:
        return
    rows = np.zeros((n_r, n_c), dtype=np.bool_)
    for r in range(n_r):  # grow along rows
        last = -(radius + 1)
        for c in range(n_c):
            if grow[scl[t, r, c]]:
                last = c
                for cc in range(max(c - radius, 0), c):
                    rows[r, cc] = True
            if c - last <= radius:
                rows[r, c] = True
    for c in range(n_c):  # then along columns
        last = -(radius + 1)
        for r in range(n_r):
            if rows[r, c]:
                last = r
                for rr in range(max(r - radius, 0), r):
                    if not grow[scl[t, rr, c]]:
                        out[t, rr, c] = 255
            if r - last <= radius and not grow[scl[t, r, c]]:
                out[t, r, c] = 255


@numba.njit(parallel=True, cache=True)
def _dilate_parallel(scl, grow, radius, out):  # pragma: no cover - compiled
    for t in numba.prange(scl.shape[0]):
        _dilate_date(scl, t, grow, radius, out)


@numba.njit(cache=True, nogil=True)
def _dilate_serial(scl, grow, radius, out):  # pragma: no cover - compiled
    for t in range(scl.shape[0]):
        _dilate_date(scl, t, grow, radius, out)


def dilate_clouds(
    scl: NDArray[np.integer],
    radius_px: int,
    classes: Sequence[int] = GROWING_CLASSES,
    *,
    parallel: bool = True,
) -> NDArray[np.uint8]:
    """SCL with cloud, cirrus and shadow masks grown by ``radius_px`` pixels (a square, per date).

    Pixels newly inside a grown mask get the code :data:`DILATED` (255), which no valid range
    holds; the others keep their code.

    Parameters
    ----------
    scl
        Scene classification codes, shape ``(date, row, col)`` (or ``(row, col)``), any
        integer dtype with values 0..255.
    radius_px
        Pixels to grow by (0 returns a uint8 copy).
    classes
        The codes whose masks grow.
    parallel
        Spread dates over numba's threads (``False`` inside jobs that run windows in parallel).

    Returns
    -------
    numpy.ndarray
        uint8, same shape as ``scl``; a new array.

    Raises
    ------
    InputShapeError
        For an array that is not 2-D or 3-D, or a negative radius.
    """
    if scl.ndim not in (2, 3):
        raise InputShapeError(f"SCL must be (date, row, col) or (row, col); got shape {scl.shape}")
    if radius_px < 0:
        raise InputShapeError(f"dilation radius must be >= 0 pixels; got {radius_px}")
    codes = np.ascontiguousarray(scl, dtype=np.uint8)
    out = codes.copy()
    if radius_px == 0 or codes.size == 0:
        return out
    grow = np.zeros(256, dtype=np.bool_)  # a table is fine here: this pass is not the hot kernel
    grow[np.asarray(list(classes), dtype=np.int64)] = True
    stack = codes if codes.ndim == 3 else codes[None]
    (_dilate_parallel if parallel else _dilate_serial)(stack, grow, int(radius_px), out if out.ndim == 3 else out[None])
    return out


def classes_present(scl: NDArray[np.uint8], classes: Sequence[int] = GROWING_CLASSES) -> NDArray[np.bool_]:
    """Per date of a ``(date, row, col)`` uint8 SCL stack: does any pixel hold one of ``classes``?

    One pass, no temporary array: a job asks this of each block it decodes, so that windows with
    no cloud or shadow skip the dilation.
    """
    if scl.ndim != 3 or scl.dtype != np.uint8:
        raise InputShapeError(f"SCL must be a (date, row, col) uint8 stack; got {scl.dtype} {scl.shape}")
    table = np.zeros(256, dtype=np.bool_)
    table[np.asarray(list(classes), dtype=np.int64)] = True
    out = np.zeros(scl.shape[0], dtype=np.bool_)
    _present(scl, table, out)
    return out


@numba.njit(cache=True, nogil=True)
def _present(scl, table, out):  # pragma: no cover - compiled
    for t in range(scl.shape[0]):
        found = False
        for r in range(scl.shape[1]):
            for c in range(scl.shape[2]):
                found |= table[scl[t, r, c]]
            if found:
                break
        out[t] = found


def valid_observations(
    scl: NDArray[np.integer],
    invalid_classes: Sequence[int],
    *reflectances: NDArray[np.number],
) -> NDArray[np.bool_]:
    """Where an observation is valid: SCL not invalid and every given reflectance above 0.

    Parameters
    ----------
    scl
        SCL codes, any shape.
    invalid_classes
        The SCL classes that invalidate an observation (e.g. ``Settings.invalid_scl_classes``).
    *reflectances
        Bands of the same shape whose value 0 (or NaN) means no data.

    Returns
    -------
    numpy.ndarray
        bool, the shape of ``scl``.

    Raises
    ------
    InputShapeError
        When a band's shape differs from ``scl``'s.
    """
    ok = np.zeros(256, dtype=np.bool_)
    for low, high in valid_ranges(invalid_classes):
        ok[low:high + 1] = True
    valid = ok[np.asarray(scl, dtype=np.uint8)]
    for band in reflectances:
        if band.shape != scl.shape:
            raise InputShapeError(f"band shape {band.shape} differs from SCL shape {scl.shape}")
        valid &= np.asarray(band) > 0
    return valid
