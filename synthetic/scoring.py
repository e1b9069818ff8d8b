"""Scoring the change detector against a :mod:`synthetic.hard_scenes` truth.

* **objects**: detected polygons and truth objects are compared on the grid (both are pixel
  polygons); pairs are matched one to one, best IoU first, when IoU >= 0.5. Recall counts truth
  objects of at least the minimum mapping unit; precision counts every detection, except those
  matching a truth clearing below the mapping unit (real clearings, neither right nor wrong).
* **pixels**: F1 of the pixels inside detected polygons against every pixel cleared in the
  monitoring period.
* **false positives in seasonal land**: the share of deciduous forest and rubber (leaf-off), and
  of crop parcels (cycling), flagged although not cleared.
* **dates**: ``first_detected`` minus the truth's ``first_visible``, days, for matched objects.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import geopandas as gpd
import numba
import numpy as np
from rasterio.features import rasterize

from geo.change.detection import ChangeParams, detect_change
from geo.change.objects import clearing_objects
from synthetic.hard_scenes import CROP, DECIDUOUS, MMU_HA, RUBBER, HardSeries, generate

IOU_MIN = 0.5


@dataclass
class Score:
    """What one series scored (counts; the pooled figures come from :func:`pooled`)."""

    seed: int
    no_change: bool
    n_truth: int = 0
    n_detected: int = 0
    tp: int = 0
    fp: int = 0
    neutral: int = 0
    pix_tp: int = 0
    pix_fp: int = 0
    pix_fn: int = 0
    seasonal_area: int = 0
    seasonal_flagged: int = 0
    crop_area: int = 0
    crop_flagged: int = 0
    flooded_flagged: int = 0
    first_errors: list[int] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)

    @property
    def pixel_f1(self) -> float:
        denom = 2 * self.pix_tp + self.pix_fp + self.pix_fn
        return 1.0 if denom == 0 else 2 * self.pix_tp / denom


def detect(series: HardSeries, params: ChangeParams, mmu_ha: float = MMU_HA) -> gpd.GeoDataFrame:
    """The detector on a series: the kernel, then objects (in the series' CRS)."""
    b = series.bands
    change = detect_change(b["B04"], b["B08"], b["B12"], series.scl, series.n_baseline, params, dates=series.dates)
    return clearing_objects(change, series.transform, series.crs, series.monitor_dates, mmu_ha)


def _labels(geoms: list[object], series: HardSeries) -> np.ndarray:
    shape = series.cleared_at.shape
    if not geoms:
        return np.zeros(shape, np.int32)
    return rasterize([(g, i) for i, g in enumerate(geoms, start=1)], out_shape=shape, transform=series.transform, dtype="int32")


def score(series: HardSeries, detected: gpd.GeoDataFrame, *, no_change: bool = False) -> Score:
    """Compare ``detected`` (clearing polygons in the series' CRS) with the series' truth."""
    s = Score(series.seed, no_change)
    truth = series.objects
    det = _labels(list(detected.geometry), series)
    tru = _labels(list(truth.geometry), series)
    n_det, n_tru = len(detected), len(truth)
    det_px = np.bincount(det.ravel(), minlength=n_det + 1)
    tru_px = np.bincount(tru.ravel(), minlength=n_tru + 1)
    both = (det > 0) & (tru > 0)
    pairs = np.bincount(det[both].astype(np.int64) * (n_tru + 1) + tru[both], minlength=(n_det + 1) * (n_tru + 1))
    inter = pairs.reshape(n_det + 1, n_tru + 1)
    iou = inter / np.maximum(det_px[:, None] + tru_px[None, :] - inter, 1)
    matched_d: dict[int, int] = {}
    matched_t: set[int] = set()
    for flat in np.argsort(-iou[1:, 1:], axis=None, kind="stable"):
        d, t = np.unravel_index(flat, (n_det, n_tru))
        if iou[d + 1, t + 1] < IOU_MIN:
            break
        if d in matched_d or t in matched_t:
            continue
        matched_d[int(d)] = int(t)
        matched_t.add(int(t))
    big = ~truth["below_mmu"].to_numpy(bool) if n_tru else np.zeros(0, bool)
    s.n_truth = int(big.sum())
    s.n_detected = n_det
    for d in range(n_det):
        t = matched_d.get(d)
        row = detected.iloc[d]
        if t is None:
            s.fp += 1
            s.false.append(f"{row.area_ha:.2f} ha first {row.first_detected.date()} {row.confidence}")
        elif not big[t]:
            s.neutral += 1
        else:
            s.tp += 1
            fv = truth["first_visible"].iloc[t]
            if fv is not None:
                s.first_errors.append((row.first_detected.date() - fv).days)
    for t in np.flatnonzero(big):
        if int(t) not in matched_t:
            r = truth.iloc[int(t)]
            s.missed.append(f"truth {r.truth_id}: {r.area_ha:.2f} ha appears {r.appears} best IoU {iou[1:, t + 1].max(initial=0):.2f}")
    flagged = det > 0
    cleared = series.cleared_at >= 0
    new = cleared & ~series.old_clearing
    s.pix_tp = int((flagged & new).sum())
    s.pix_fp = int((flagged & ~new).sum())
    s.pix_fn = int((~flagged & new).sum())
    seasonal = np.isin(series.landcover, (DECIDUOUS, RUBBER)) & ~cleared
    crop = (series.landcover == CROP) & ~cleared
    s.seasonal_area, s.seasonal_flagged = int(seasonal.sum()), int((seasonal & flagged).sum())
    s.crop_area, s.crop_flagged = int(crop.sum()), int((crop & flagged).sum())
    s.flooded_flagged = int((series.flooded_forest & flagged).sum())
    return s


@dataclass
class Pooled:
    """Figures over many series."""

    precision: float
    recall: float
    pixel_f1: float
    seasonal_share: float
    crop_share: float
    median_abs_first_error_days: float
    no_change_objects: int
    n_truth: int
    n_detected: int


def pooled(scores: list[Score]) -> Pooled:
    """Pool the counts of ``scores`` (no-change series count only for ``no_change_objects``)."""
    main = [s for s in scores if not s.no_change]
    tp = sum(s.tp for s in main)
    counted = sum(s.n_detected - s.neutral for s in main)
    tpx, fpx, fnx = (sum(getattr(s, f) for s in main) for f in ("pix_tp", "pix_fp", "pix_fn"))
    errors = [e for s in main for e in s.first_errors]
    return Pooled(
        precision=tp / counted if counted else 1.0,
        recall=tp / max(sum(s.n_truth for s in main), 1),
        pixel_f1=2 * tpx / max(2 * tpx + fpx + fnx, 1),
        seasonal_share=sum(s.seasonal_flagged for s in scores) / max(sum(s.seasonal_area for s in scores), 1),
        crop_share=sum(s.crop_flagged for s in scores) / max(sum(s.crop_area for s in scores), 1),
        median_abs_first_error_days=float(np.median(np.abs(errors))) if errors else float("nan"),
        no_change_objects=sum(s.n_detected for s in scores if s.no_change),
        n_truth=sum(s.n_truth for s in main),
        n_detected=sum(s.n_detected for s in main),
    )


def run_seed(job: tuple[int, bool, ChangeParams]) -> Score:
    """Generate, detect and score one series: ``(seed, no_change, params)``."""
    seed, no_change, params = job
    series = generate(seed, no_change=no_change)
    return score(series, detect(series, params), no_change=no_change)


def _one_thread() -> None:
    numba.set_num_threads(1)  # the processes are the parallelism


def score_seeds(jobs: Sequence[tuple[int, bool]], params: ChangeParams | None = None, workers: int = 2) -> list[Score]:
    """:func:`run_seed` for each ``(seed, no_change)``, in ``workers`` processes (in order).

    Processes, not threads: ``rasterio.features`` silences warnings of its own with
    ``warnings.catch_warnings``, which is not thread-safe (and warnings are errors in the tests).
    """
    params = params or ChangeParams()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_one_thread) as pool:
        return list(pool.map(run_seed, [(seed, quiet, params) for seed, quiet in jobs]))
