"""Our detector beside the JRC's ``nrt`` (MoSum and CuSum, their defaults) on the real Romania series.

Inputs for both: ``tests/data/s2_romania_nrt/`` as shipped (B04 B08 B11 SCL), baseline
2015-08-01 → 2018-12-31, monitoring 2019-01-01 → 2020-12-31, scored against the proxy reference
(``tests/data/s2_romania_nrt_reference/``) by :mod:`synthetic.evaluation.proxy_reference`: patches
≥ 0.5 ha found (≥ 30 % of their pixels in alerts), alerts on cut pixels (≥ 20 % on cut pixels or
their 8 neighbours), pixel F1, seconds.

* **ours**: :func:`geo.change.detection.detect_change` with the default settings' thresholds (the
  SWIR band the ``auto`` setting picks: B11, NDMI), clearing objects of >= the default minimum
  mapping unit; every alert, and confirmed (high) alerts only.
* **nrt** (``pip install -e '.[bench]'``; EUPL-1.2, used here only, never imported by our
  packages): as the issue describes its out-of-the-box run — NDVI from B04/B08, SCL 4-6 valid,
  forest = baseline median NDVI > 0.6, ``MoSum(harmonic_order=2)`` / ``CuSum(harmonic_order=2)``
  with their other defaults, ``fit`` with its default method, one ``monitor`` call per date,
  confirmed breaks sieved to 0.5 ha (8-connected).

Run from the repository root::

    python benchmarks/bench_nrt.py            # ours, nrt MoSum and CuSum
    python benchmarks/bench_nrt.py --quick    # the same (the series is small); nrt skipped if not installed
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
import rasterio.features

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config import load_settings  # noqa: E402
from geo.change.detection import detect_change  # noqa: E402
from geo.change.objects import clearing_objects  # noqa: E402
from jobs.detect import params_from  # noqa: E402
from synthetic.evaluation.proxy_reference import ProxyScore, components8, score_proxy  # noqa: E402

DATA = ROOT / "tests" / "data" / "s2_romania_nrt"
REFERENCE = ROOT / "tests" / "data" / "s2_romania_nrt_reference" / "proxy_reference_10m.tif"
BASELINE = (dt.date(2015, 8, 1), dt.date(2018, 12, 31))
MONITOR = (dt.date(2019, 1, 1), dt.date(2020, 12, 31))


def load() -> tuple[list[dt.date], dict[str, np.ndarray], rasterio.Affine, object]:
    files = sorted(DATA.glob("S2_*.tif"))
    dates = [dt.datetime.strptime(f.stem[3:], "%Y%m%d").date() for f in files]
    keep = [i for i, d in enumerate(dates) if BASELINE[0] <= d <= MONITOR[1]]
    stacks: dict[str, list[np.ndarray]] = {b: [] for b in ("B04", "B08", "B11", "SCL")}
    for i in keep:
        with rasterio.open(files[i]) as ds:
            names = list(ds.descriptions)
            for b in stacks:
                stacks[b].append(ds.read(names.index(b) + 1))
            transform, crs = ds.transform, ds.crs
    return [dates[i] for i in keep], {b: np.stack(v) for b, v in stacks.items()}, transform, crs


def labels_of(geoms: list[object], shape: tuple[int, int], transform: rasterio.Affine) -> np.ndarray:
    if not geoms:
        return np.zeros(shape, np.int32)
    return rasterio.features.rasterize([(g, i) for i, g in enumerate(geoms, start=1)], out_shape=shape, transform=transform, dtype="int32")


def ours(dates: list[dt.date], bands: dict[str, np.ndarray], transform: rasterio.Affine, crs: object,
         ref: np.ndarray) -> tuple[ProxyScore, ProxyScore, float]:
    settings = load_settings({})
    n_base = sum(d <= BASELINE[1] for d in dates)
    t0 = time.perf_counter()
    change = detect_change(bands["B04"], bands["B08"], bands["B11"], bands["SCL"].astype(np.uint8), n_base, params_from(settings), dates=dates)
    found = clearing_objects(change, transform, crs, dates[n_base:], settings.mmu_ha)
    seconds = time.perf_counter() - t0
    every = score_proxy(ref, labels_of(list(found.geometry), ref.shape, transform))
    high = score_proxy(ref, labels_of(list(found[found["confidence"] == "high"].geometry), ref.shape, transform))
    return every, high, seconds


def peer(kind: str, dates: list[dt.date], bands: dict[str, np.ndarray], ref: np.ndarray) -> tuple[ProxyScore, float]:
    import pandas as pd
    import xarray as xr
    from nrt.monitor.cusum import CuSum
    from nrt.monitor.mosum import MoSum

    red, nir = bands["B04"].astype(np.float64), bands["B08"].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (nir - red) / (nir + red)
    ndvi[~np.isin(bands["SCL"], (4, 5, 6)) | (red <= 0) | (nir <= 0)] = np.nan
    n_base = sum(d <= BASELINE[1] for d in dates)
    t0 = time.perf_counter()
    history = xr.DataArray(ndvi[:n_base], dims=("time", "y", "x"), coords={"time": pd.to_datetime(dates[:n_base]),
                           "y": np.arange(ndvi.shape[1]), "x": np.arange(ndvi.shape[2])})
    forest = (np.nanmedian(ndvi[:n_base], axis=0) > 0.6).astype(np.uint8)
    model = (MoSum if kind == "MoSum" else CuSum)(mask=forest, harmonic_order=2)
    model.fit(dataarray=history)
    for t in range(n_base, len(dates)):
        model.monitor(array=ndvi[t], date=dt.datetime.combine(dates[t], dt.time()))
    breaks = (model.mask == 3).astype(np.uint8)
    sieved = rasterio.features.sieve(breaks, size=50, connectivity=8)
    seconds = time.perf_counter() - t0
    return score_proxy(ref, components8(sieved > 0)), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the same run (the series is small); skips nrt when it is not installed")
    args = parser.parse_args()
    dates, bands, transform, crs = load()
    with rasterio.open(REFERENCE) as ds:
        ref = ds.read(1)
    print(f"Romania: {len(dates)} dates ({sum(d <= BASELINE[1] for d in dates)} baseline), {ref.shape[0]} x {ref.shape[1]} px")
    every, high, seconds = ours(dates, bands, transform, crs, ref)
    print(f"{'ours, all alerts':26s} {every.line()}; {seconds:.2f} s")
    print(f"{'ours, confirmed (high)':26s} {high.line()}")
    if importlib.util.find_spec("nrt") is None:
        if not args.quick:
            raise SystemExit("nrt is not installed: pip install -e '.[bench]'")
        print("nrt not installed (pip install -e '.[bench]'): peer skipped")
        return
    for kind in ("MoSum", "CuSum"):
        score, secs = peer(kind, dates, bands, ref)
        print(f"{'nrt ' + kind + ' (defaults)':26s} {score.line()}; {secs:.2f} s")


if __name__ == "__main__":
    main()
