"""Tune the change detector's thresholds on the hard synthetic series of the *tuning* seeds (0-9).

The accuracy suite (``tests/geo/test_change_accuracy.py``) checks seeds 100-119, which are
never used here. Run from the repository root::

    python benchmarks/tune_change.py            # the defaults and the variants below, seeds 0-9
    python benchmarks/tune_change.py --seeds 0-3
    python benchmarks/tune_change.py --report   # the defaults only, on the test seeds 100-119

Each line prints the pooled figures of one parameter set: object precision and recall (IoU >=
0.5, clearings >= 0.5 ha), pixel F1, the share of deciduous/rubber and of crop area flagged,
the median |first_detected error| in days, and the objects found in the no-change variants.
The variants switch off one mechanism at a time (seasonal reference, low range, cloud
dilation, confirmation), to show what each one buys; the grid around the defaults shows how
sensitive they are. How the defaults were chosen is written in ``config/defaults.toml``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.change.detection import ChangeParams
from synthetic.hard_scenes import generate
from synthetic.scoring import detect, pooled, score

VARIANTS: dict[str, dict[str, object]] = {
    "defaults": {},
    "no seasonal reference (annual median)": {"season_observations": 1000},
    "no low range": {"low_margin": -5.0},
    "neither (annual median only)": {"season_observations": 1000, "low_margin": -5.0},
    "no cloud dilation": {"cloud_dilation_px": 0},
    "no NIR brightening guard": {"nir_rise_max": 100.0},
    "no confirmation needed (LOW counts)": {"confirm_observations": 0},
    "NDVI only (no SWIR test)": {"nbr_drop": -5.0},
}


def grid() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for k in (3, 5, 7, 9):
        out[f"season_observations={k}"] = {"season_observations": k}
    for q in (0.05, 0.1, 0.2):
        for m in (0.0, 0.05, 0.1):
            out[f"low_quantile={q} low_margin={m}"] = {"low_quantile": q, "low_margin": m}
    for g in (0.05, 0.1, 0.15, 0.2, 0.3):
        out[f"nir_rise_max={g}"] = {"nir_rise_max": g}
    for d in (0, 1, 2, 3):
        out[f"cloud_dilation_px={d}"] = {"cloud_dilation_px": d}
    for n, b in ((0.2, 0.15), (0.25, 0.2), (0.3, 0.25), (0.35, 0.3)):
        out[f"ndvi_drop={n} nbr_drop={b}"] = {"ndvi_drop": n, "nbr_drop": b}
    return out


def emit(text: str) -> None:
    print(text, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0-9", help="tuning seeds, e.g. 0-9 (never 100-119: those are the test seeds)")
    parser.add_argument("--grid", action="store_true", help="also run the grid around the defaults")
    parser.add_argument("--report", action="store_true", help="only report the defaults on the test seeds 100-119 (no tuning)")
    args = parser.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    if args.report:
        report()
        return
    if any(s >= 100 for s in seeds):
        parser.error("seeds 100 and above are the test seeds; tune on others")
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        series = list(pool.map(generate, seeds))
        quiet = list(pool.map(lambda s: generate(s, no_change=True), seeds[:5]))
    emit(f"generated {len(series)} series and {len(quiet)} no-change series in {time.perf_counter() - t0:.1f} s")
    variants = VARIANTS | (grid() if args.grid else {})
    emit(f"{'variant':44s} {'prec':>6s} {'recall':>6s} {'pixF1':>6s} {'decid%':>7s} {'crop%':>7s} {'|dt|d':>6s} {'quiet':>5s}  FP/FN")
    for name, change in variants.items():
        params = dataclasses.replace(ChangeParams(), **change)  # type: ignore[arg-type]
        scores = [score(s, detect(s, params)) for s in series] + [score(s, detect(s, params), no_change=True) for s in quiet]
        p = pooled(scores)
        fp = sum(s.fp for s in scores if not s.no_change)
        fn = sum(len(s.missed) for s in scores if not s.no_change)
        emit(f"{name:44s} {p.precision:6.3f} {p.recall:6.3f} {p.pixel_f1:6.3f} {100 * p.seasonal_share:7.3f} "
             f"{100 * p.crop_share:7.3f} {p.median_abs_first_error_days:6.1f} {p.no_change_objects:5d}  {fp}/{fn}")


def report() -> None:
    """The defaults' figures on the test seeds, every object and confirmed (high) ones only."""
    import numpy as np

    params = ChangeParams()
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda s: (s, detect(s, params)), [generate(seed) for seed in range(100, 120)]))
        quiet = list(pool.map(lambda s: (s, detect(s, params)), [generate(seed, no_change=True) for seed in range(100, 105)]))
    for label, keep in (("every clearing (low and high)", None), ("confirmed (high) only", "high")):
        def pick(d: gpd.GeoDataFrame, keep: str | None = keep) -> gpd.GeoDataFrame:
            return d if keep is None else d[d["confidence"] == keep]

        scores = [score(s, pick(d)) for s, d in runs] + [score(s, pick(d), no_change=True) for s, d in quiet]
        p = pooled(scores)
        errors = np.array([e for sc in scores for e in sc.first_errors])
        emit(f"seeds 100-119, {label}: precision {p.precision:.3f}, recall {p.recall:.3f} ({p.n_truth} clearings >= 0.5 ha, "
             f"{p.n_detected} reported), pixel F1 {p.pixel_f1:.3f}, deciduous+rubber flagged {100 * p.seasonal_share:.3f} %, "
             f"crops flagged {100 * p.crop_share:.3f} %, first_detected error median |d| {p.median_abs_first_error_days:.0f} days "
             f"(mean {errors.mean():+.1f}, {np.mean(np.abs(errors) <= 10) * 100:.0f} % within 10 days, max {np.abs(errors).max()}), "
             f"no-change scenes: {p.no_change_objects} objects")
        for sc in scores:
            for line in sc.missed + sc.false:
                emit(f"    seed {sc.seed}{' (no change)' if sc.no_change else ''}: {line}")


if __name__ == "__main__":
    main()
