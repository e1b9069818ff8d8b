"""Per-pixel forest-loss detection: cloud-masked NDVI and SWIR-index drops against a seasonal baseline.

Inputs are Sentinel-2 L2A reflectances (x 10 000 as uint16, or float 0-1; 0 is no data) and the
SCL band, stacked ``(date, row, col)``: the baseline period's dates first, then the monitoring
period's, each in date order. :func:`detect_change` runs the fused kernel of
:mod:`geo.change.kernel`; :func:`detect_change_ndvi` is the same test on an NDVI series alone
(for archives that kept nothing else).

A pixel is flagged when a usable monitoring observation falls, in NDVI *and* in the SWIR index
(NBR with B12, or NDMI with B11), below the median of the baseline observations nearest to it in
season, and also below the pixel's own low range in the baseline (leaf-off, harvest); it is
``LOW`` on that first observation and ``HIGH`` once the next valid observation(s) confirm it. A
candidate that recovers before confirmation is dropped. Details in :mod:`geo.change.kernel` and
:mod:`geo.change.baseline`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from geo.change import kernel
from geo.change.baseline import season_order, season_window
from geo.change.masks import SCL_WATER, dilate_clouds, range_bounds
from geo.errors import InputShapeError

logger = logging.getLogger(__name__)

NONE, LOW, HIGH, WEAK, UNASSESSED = kernel.NONE, kernel.LOW, kernel.HIGH, kernel.WEAK, kernel.UNASSESSED


@dataclass(frozen=True)
class ChangeParams:
    """Thresholds of the detector (the matching :class:`config.Settings` fields say the same).

    Attributes
    ----------
    invalid_scl_classes
        SCL classes that make an observation invalid.
    forest_ndvi_min
        Median baseline NDVI from which a pixel is watched as forest (when no forest mask is given).
    ndvi_drop, nbr_drop
        Drops below the seasonal reference, in NDVI and in the SWIR index (NBR or NDMI), that
        make an observation a drop.
    min_baseline_observations
        Usable baseline observations a pixel needs to be assessed.
    confirm_observations
        Further drops that make a candidate ``HIGH``.
    bare_ndvi_max
        Pixels whose ``low_quantile`` of all baseline NDVI is at or below this were bare in the
        baseline (fields, swidden): a drop must also fall below that whole-baseline low range
        (bands path with several baseline dates).
    recovery_share
        An informative observation whose NDVI or SWIR-index drop is below this share of
        ``ndvi_drop`` / ``nbr_drop`` ends a candidate; one in between (partly dropped) neither
        confirms nor ends it (bands path with several baseline dates; elsewhere any non-drop
        ends it).
    grow_share
        Hysteresis: a pixel that is not flagged but would be with drops of this share of
        ``ndvi_drop`` / ``nbr_drop`` (same state machine, same range tests) is ``WEAK``; weak
        pixels 8-connected to a flagged pixel join its object (:mod:`geo.change.objects`), the
        others are dropped. 1 turns growth off (bands path with several baseline dates).
    withdraw_observations, transient_days
        A confirmed candidate is withdrawn (back to ``NONE``) when this many informative
        observations in a row are green again in both indices (drops below ``recovery_share`` of
        the thresholds) and the first of them came within ``transient_days`` of its first drop:
        leaf-off, wintering rubber, a crop cycle or a flood, not loss (a clearing's regrowth
        takes longer). 0 turns it off (bands path with several baseline dates and with dates).
    unconfirmed_nir_rise_max
        An unconfirmed candidate whose first drop was brighter in NIR than the season's baseline
        by more than this share is not published (nor grown): thin cloud and haze brighten every
        band, canopy loss rarely brightens NIR; confirmation publishes it as usual. Its weak
        twin goes too when it began on the same observation. At or above ``nir_rise_max`` it
        is off (brighter observations are skipped anyway). Bands path with several baseline dates.
    season_observations
        Baseline observations nearest in day of year whose median is the seasonal reference.
    low_quantile, low_margin, low_window_days
        A drop must also reach ``low_margin`` below this quantile of the pixel's baseline NDVI
        within ``low_window_days`` of the date in day of year (at least its
        ``season_observations`` nearest; the NDVI-only path: over the whole baseline).
    nir_rise_max
        Monitoring observations whose NIR exceeds the baseline's median NIR by more than this
        share are skipped as thin cloud or haze (bands path only).
    cloud_dilation_px
        Pixels by which SCL cloud, cirrus and shadow masks grow before the test.
    """

    invalid_scl_classes: Sequence[int] = (0, 1, 2, 3, 8, 9, 10, 11)
    forest_ndvi_min: float = 0.6
    ndvi_drop: float = 0.15
    nbr_drop: float = 0.15
    min_baseline_observations: int = 2
    confirm_observations: int = 1
    recovery_share: float = 0.5
    bare_ndvi_max: float = 0.33
    grow_share: float = 0.8
    withdraw_observations: int = 3
    transient_days: float = 90.0
    unconfirmed_nir_rise_max: float = 0.0
    season_observations: int = 5
    low_quantile: float = 0.1
    low_margin: float = 0.0
    low_window_days: float = 20.0
    nir_rise_max: float = 0.1
    cloud_dilation_px: int = 1


@dataclass
class ChangeResult:
    """Per-pixel outcome, each array of shape ``(row, col)``.

    ``status``: NONE, LOW, HIGH, WEAK (not flagged; would be at ``grow_share`` of the drops) or
    UNASSESSED; ``first``: index into the monitoring dates of the first drop of the flagged (or
    weak) run (-1 otherwise); ``last``: index of the pixel's last
    valid monitoring observation, for every pixel (-1 when none); ``ndvi_drop``/``nbr_drop``:
    seasonal reference minus the value at ``first`` (NaN where not flagged; ``nbr_drop`` is the
    SWIR index's, NaN on the NDVI-only path); ``baseline_ndvi``: median baseline NDVI (NaN
    with too few usable observations).
    """

    status: NDArray[np.uint8]
    first: NDArray[np.int16]
    last: NDArray[np.int16]
    ndvi_drop: NDArray[np.float32]
    nbr_drop: NDArray[np.float32]
    baseline_ndvi: NDArray[np.float32]

    @classmethod
    def empty(cls, rows: int, cols: int) -> ChangeResult:
        """An uninitialised result of ``rows x cols`` pixels."""
        return cls(
            status=np.empty((rows, cols), np.uint8), first=np.empty((rows, cols), np.int16),
            last=np.empty((rows, cols), np.int16), ndvi_drop=np.empty((rows, cols), np.float32),
            nbr_drop=np.empty((rows, cols), np.float32), baseline_ndvi=np.empty((rows, cols), np.float32),
        )

    def crop(self, rows: slice, cols: slice) -> ChangeResult:
        """The part of the result in ``rows`` x ``cols`` (copies)."""
        return ChangeResult(*(np.ascontiguousarray(getattr(self, f)[rows, cols]) for f in RESULT_FIELDS))


RESULT_FIELDS = ("status", "first", "last", "ndvi_drop", "nbr_drop", "baseline_ndvi")  # ChangeResult, in order


@dataclass
class FlaggedPixels:
    """The flagged (``LOW`` or ``HIGH``) and ``WEAK`` pixels of a grid, sparse: one entry per pixel.

    ``index`` is the flat pixel index ``row * width + col`` in the grid (int64, ascending); the
    other arrays hold the matching values of :class:`ChangeResult`.
    """

    index: NDArray[np.int64]
    status: NDArray[np.uint8]
    first: NDArray[np.int16]
    last: NDArray[np.int16]
    ndvi_drop: NDArray[np.float32]
    nbr_drop: NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.index.size)

    @classmethod
    def from_result(cls, change: ChangeResult, *, row_off: int = 0, col_off: int = 0, width: int | None = None) -> FlaggedPixels:
        """The flagged pixels of ``change``, indexed in a grid ``width`` wide where ``change`` starts at ``(row_off, col_off)``."""
        flat = np.flatnonzero((change.status - np.uint8(LOW)) <= np.uint8(WEAK - LOW))  # LOW, HIGH or WEAK (uint8 wraps the rest)
        rows, cols = np.divmod(flat, change.status.shape[1])
        w = change.status.shape[1] if width is None else width
        return cls(
            index=(rows.astype(np.int64) + row_off) * w + cols + col_off, status=change.status.ravel()[flat],
            first=change.first.ravel()[flat], last=change.last.ravel()[flat],
            ndvi_drop=change.ndvi_drop.ravel()[flat], nbr_drop=change.nbr_drop.ravel()[flat],
        )

    @classmethod
    def concat(cls, parts: Sequence[FlaggedPixels]) -> FlaggedPixels:
        """All ``parts`` in one, sorted by ``index`` (parts must not share pixels)."""
        if not parts:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros(0, np.int16), np.zeros(0, np.int16),
                       np.zeros(0, np.float32), np.zeros(0, np.float32))
        joined = [np.concatenate([getattr(p, name) for p in parts]) for name in _SPARSE]
        order = np.argsort(joined[0], kind="stable")
        return cls(*(a[order] for a in joined))

    def take(self, mask: NDArray[np.bool_]) -> FlaggedPixels:
        """The entries where ``mask`` (shape ``(n,)``) is true."""
        return FlaggedPixels(*(getattr(self, name)[mask] for name in _SPARSE))


_SPARSE = ("index", "status", "first", "last", "ndvi_drop", "nbr_drop")


def _check_stack(arrays: Sequence[NDArray[np.generic]], n_baseline: int, dates: Sequence[dt.date] | None,
                 forest: NDArray[np.generic] | None) -> tuple[int, int, int]:
    shape = arrays[0].shape
    if arrays[0].ndim != 3 or any(a.shape != shape for a in arrays):
        raise InputShapeError(f"the bands must share a (date, row, col) shape; got {[a.shape for a in arrays]}")
    if not 0 < n_baseline < shape[0]:
        raise InputShapeError(f"need at least one baseline and one monitoring date; got {n_baseline} of {shape[0]} as baseline")
    if dates is not None and len(dates) != shape[0]:
        raise InputShapeError(f"{len(dates)} dates for {shape[0]} acquisitions")
    if forest is not None and forest.shape != shape[1:]:
        raise InputShapeError(f"forest mask shape {forest.shape} differs from the grid {shape[1:]}")
    return shape


def _common(params: ChangeParams, n_baseline: int, n_dates: int, dates: Sequence[dt.date] | None,
            forest: NDArray[np.generic] | None) -> tuple[object, ...]:
    order = season_order(
        None if dates is None else list(dates[:n_baseline]), None if dates is None else list(dates[n_baseline:]),
        n_baseline, n_dates - n_baseline,
    )
    n_season = params.season_observations if dates is not None else n_baseline
    mask = np.zeros((1, 1), np.uint8) if forest is None else np.ascontiguousarray(forest, dtype=np.uint8)
    return mask, forest is not None, order, int(max(n_season, 1)), float(params.forest_ndvi_min), float(params.low_quantile), float(params.low_margin)


def _withdrawal(params: ChangeParams, dates: Sequence[dt.date] | None, n_baseline: int) -> tuple[int, float, NDArray[np.int64], float]:
    """The withdrawal and unconfirmed-NIR arguments of the bands kernel (withdrawal needs dates)."""
    if params.withdraw_observations < 0 or params.transient_days < 0:
        raise InputShapeError("withdraw_observations and transient_days must be >= 0; "
                              f"got {params.withdraw_observations} and {params.transient_days}")
    if dates is None:
        return 0, 0.0, np.zeros(1, np.int64), float(params.unconfirmed_nir_rise_max)
    days = np.array([d.toordinal() for d in dates[n_baseline:]], np.int64)
    return int(params.withdraw_observations), float(params.transient_days), days, float(params.unconfirmed_nir_rise_max)


def _weak_drops(params: ChangeParams) -> tuple[float, float]:
    """The NDVI and SWIR-index drops of a weak candidate (hysteresis growth)."""
    if not 0.0 < params.grow_share <= 1.0:
        raise InputShapeError(f"grow_share must be in (0, 1]; got {params.grow_share}")
    return float(params.ndvi_drop * params.grow_share), float(params.nbr_drop * params.grow_share)


def _result_into(out: ChangeResult | None, rows: int, cols: int) -> ChangeResult:
    if out is None:
        return ChangeResult.empty(rows, cols)
    template = ChangeResult.empty(0, 0)
    for name in RESULT_FIELDS:
        a, want = getattr(out, name), getattr(template, name)
        if a.shape != (rows, cols) or a.dtype != want.dtype or not a.flags.c_contiguous:
            raise InputShapeError(f"out.{name} must be C-contiguous {want.dtype} of shape {(rows, cols)}; got {a.dtype} {a.shape}")
    return out


def detect_change(
    red: NDArray[np.generic],
    nir: NDArray[np.generic],
    swir: NDArray[np.generic],
    scl: NDArray[np.integer],
    n_baseline: int,
    params: ChangeParams = ChangeParams(),
    *,
    dates: Sequence[dt.date] | None = None,
    forest: NDArray[np.generic] | None = None,
    parallel: bool = True,
    out: ChangeResult | None = None,
) -> ChangeResult:
    """Detect forest loss per pixel from reflectance bands.

    Parameters
    ----------
    red, nir, swir
        B04, B08 and the SWIR band of the index (B12 for NBR, B11 for NDMI), shape
        ``(date, row, col)``; reflectance x 10 000 as integers, or floats 0-1 (0 is no data).
        The first ``n_baseline`` dates are the baseline period, the rest the monitoring period.
    scl
        Scene classification codes, same shape, integers 0..255.
    n_baseline
        Number of baseline dates.
    params
        Thresholds.
    dates
        The acquisition dates (``datetime.date``, one per date of the stack): the seasonal
        reference uses the ``season_observations`` baseline dates nearest in day of year.
        Without dates it is the median of all usable baseline observations.
    forest
        Optional forest mask ``(row, col)`` (non-zero: forest), e.g. from a tree-cover raster;
        without it forest is median baseline NDVI >= ``forest_ndvi_min``.
    parallel
        Spread rows over numba's threads (``False`` in jobs that parallelise windows).
    out
        Arrays to write the result into (C-contiguous, ``(row, col)``), e.g. reused from window
        to window; a new result by default.

    Returns
    -------
    ChangeResult
        ``out`` when given.

    Raises
    ------
    InputShapeError
        When shapes differ, there is no baseline or no monitoring date, the dates do not match
        the stack, or an SCL class is outside 0..11.
    """
    n_dates, rows, cols = _check_stack([red, nir, swir, scl], n_baseline, dates, forest)
    codes = dilate_clouds(scl, params.cloud_dilation_px, parallel=parallel) if params.cloud_dilation_px else np.ascontiguousarray(scl, np.uint8)
    out = _result_into(out, rows, cols)
    mask, use_forest, order, n_season, forest_min, low_q, low_margin = _common(params, n_baseline, n_dates, dates, forest)
    n_low = season_window(None if dates is None else list(dates[:n_baseline]), None if dates is None else list(dates[n_baseline:]),
                          n_baseline, n_dates - n_baseline, params.low_window_days)
    run = kernel.bands_parallel if parallel else kernel.bands_serial
    run(
        np.ascontiguousarray(red), np.ascontiguousarray(nir), np.ascontiguousarray(swir), codes, n_baseline,
        *range_bounds(params.invalid_scl_classes), SCL_WATER, mask, use_forest, order, n_low, n_season, forest_min, low_q, low_margin,
        float(params.ndvi_drop), float(params.nbr_drop), float(params.nir_rise_max), int(params.min_baseline_observations),
        int(params.confirm_observations), float(params.recovery_share), float(params.bare_ndvi_max),
        *_weak_drops(params), *_withdrawal(params, dates, n_baseline),
        out.status, out.first, out.last, out.ndvi_drop, out.nbr_drop, out.baseline_ndvi,
    )
    return out


def detect_change_ndvi(
    ndvi: NDArray[np.floating],
    scl: NDArray[np.integer],
    n_baseline: int,
    params: ChangeParams = ChangeParams(),
    *,
    dates: Sequence[dt.date] | None = None,
    forest: NDArray[np.generic] | None = None,
    parallel: bool = True,
) -> ChangeResult:
    """Detect forest loss per pixel from an NDVI series alone (no SWIR or NIR test).

    Validity is decided as on the bands path: SCL classes, cloud-mask dilation; NaN NDVI is no
    data; observations of water (SCL 6) or with NDVI <= 0 are neither drops nor recoveries. A
    drop counts only when its seasonal reference is forest-green (>= ``forest_ndvi_min``): in a
    dormant season NDVI alone cannot tell loss from snow or leaf-off.

    Parameters
    ----------
    ndvi
        NDVI, float, shape ``(date, row, col)``.
    scl
        Scene classification codes, same shape (e.g. derived from a cloud mask: cloud 9, no
        data 0, else 4).
    n_baseline, params, dates, forest, parallel
        As for :func:`detect_change` (``nbr_drop`` and ``nir_rise_max`` are not used).

    Returns
    -------
    ChangeResult
        ``nbr_drop`` is NaN everywhere.

    Raises
    ------
    InputShapeError
        As for :func:`detect_change`.
    """
    n_dates, rows, cols = _check_stack([ndvi, scl], n_baseline, dates, forest)
    codes = dilate_clouds(scl, params.cloud_dilation_px, parallel=parallel) if params.cloud_dilation_px else np.ascontiguousarray(scl, np.uint8)
    out = ChangeResult.empty(rows, cols)
    mask, use_forest, order, n_season, forest_min, low_q, low_margin = _common(params, n_baseline, n_dates, dates, forest)
    run = kernel.index_parallel if parallel else kernel.index_serial
    run(
        np.ascontiguousarray(ndvi), codes, n_baseline, *range_bounds(params.invalid_scl_classes), SCL_WATER, mask, use_forest,
        order, n_season, forest_min, low_q, low_margin, float(params.ndvi_drop), int(params.min_baseline_observations),
        int(params.confirm_observations), out.status, out.first, out.last, out.ndvi_drop, out.nbr_drop, out.baseline_ndvi,
    )
    return out
