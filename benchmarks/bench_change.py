"""Benchmark of the change detector: kernel speed against memory bandwidth and NumPy, and the
``detect`` job end to end on a full Sentinel-2 tile against the time to decode its bands.

Run from the repository root::

    python benchmarks/bench_change.py          # full: 4096^2 x 12 dates in memory, 2048^2 NumPy, 10 980^2 tile
    python benchmarks/bench_change.py --quick  # small sizes, well under a minute (CI smoke run)

Each part runs in its own child process, so that the peak RSS printed is that part's:

* **bandwidth**: a large NumPy copy (1 and 2 threads), GB/s counting bytes read + written;
* **kernel**: :func:`geo.change.detection.detect_change` (numba, both cores) on an in-memory stack, in
  Mpixel-dates/s, and the bytes it must move (inputs once, outputs once) as a share of the
  2-thread bandwidth;
* **numpy (b)**: the same algorithm as whole-array float64 NumPy (``synthetic/kernel_reference.py``)
  on a 2048^2 subset, its output asserted identical to the kernel's, and the speed-up;
* **generate** (not timed): two acquisitions of a 10 980^2 tile written as tiled, DEFLATE-
  compressed GeoTIFFs (512 px tiles, band-interleaved, 8 bands: the local provider's layout),
  a store with the tile as AOI and the scenes registered;
* **decode**: reading the bands the detector uses (B04 B08 B12 SCL, both dates) window by
  window on two threads, doing nothing with them;
* **detector** and **e2e**: ``jobs.detect.detect`` on that pair of dates (windows through
  Dask threads, objects, ids, observation gaps, store writes), without and then with the
  quicklook chips (two more runs over the same store), each with its peak RSS;
* **cluster 1x1** and **cluster 2x1**: the same detection (no quicklooks) through a Dask
  ``distributed`` ``LocalCluster`` of one worker process with one thread, then of two worker
  processes with one thread each (workers open and read the GeoTIFFs themselves and send back
  only flagged pixels and gap blocks); the ratio is the scaling over processes.

Targets on the reference machine (2 cores): kernel >= 20x faster than (b); end to end <= 1.5x
the decode time with < 1 GB peak RSS; 2 worker processes >= 1.6x one. The figures are printed,
not asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FOREST = (300, 3200, 600)  # B04, B08, B12 x 10 000
SOIL = (1500, 2400, 2400)


def emit(text: str) -> None:
    print(text, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def best_of(n: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# -- parts ---------------------------------------------------------------------------------
def part_bandwidth(quick: bool) -> dict[str, float]:
    n = (256 if quick else 1024) * 2**20 // 8
    src = np.random.default_rng(0).random(n)
    dst = np.empty_like(src)
    one = best_of(3, lambda: np.copyto(dst, src))

    def halves() -> None:
        h = n // 2
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: np.copyto(dst[s], src[s]), (slice(0, h), slice(h, n))))

    two = best_of(3, halves)
    return {"gb_s_1": 2 * src.nbytes / one / 1e9, "gb_s_2": 2 * src.nbytes / two / 1e9, "mb": src.nbytes / 2**20, "rss_mb": peak_rss_mb()}


def synthetic_stack(rows: int, cols: int, n_base: int, n_mon: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dt.date]]:
    """A forest stack with noise, clouds on some dates and rectangular clearings in the monitoring period."""
    rng = np.random.default_rng(seed)
    n = n_base + n_mon
    red, nir, swir = (np.empty((n, rows, cols), np.uint16) for _ in range(3))
    scl = np.full((n, rows, cols), 4, np.uint8)
    cleared = np.zeros((rows, cols), np.int16) - 1
    for _ in range(max(4, rows * cols // 400_000)):
        r, c = rng.integers(0, rows - 64), rng.integers(0, cols - 64)
        h, w = rng.integers(8, 64, 2)
        cleared[r:r + h, c:c + w] = rng.integers(n_base, n)
    for t in range(n):
        noise = (1 + 0.03 * rng.standard_normal((rows, cols), dtype=np.float32))
        bare = (cleared >= 0) & (cleared <= t)
        for band, k in ((red, 0), (nir, 1), (swir, 2)):
            band[t] = np.where(bare, SOIL[k], FOREST[k]) * noise
        if t % 3 == 1:  # a cloud band across the grid
            r0 = int(rng.integers(0, rows))
            sl = slice(r0, min(rows, r0 + rows // 6))
            scl[t, sl] = 9
            red[t, sl], nir[t, sl], swir[t, sl] = 6000, 6100, 5800
    dates = [dt.date(2024, 1, 1) + dt.timedelta(days=10 * i) for i in range(n)]
    return red, nir, swir, scl, dates


def part_kernel(quick: bool) -> dict[str, float]:
    from geo.change.detection import ChangeParams, detect_change

    side, n_base, n_mon = (1024, 6, 6) if quick else (4096, 6, 6)
    red, nir, swir, scl, dates = synthetic_stack(side, side, n_base, n_mon)
    params = ChangeParams(cloud_dilation_px=0)
    detect_change(red[:, :64, :64], nir[:, :64, :64], swir[:, :64, :64], scl[:, :64, :64], n_base, params, dates=dates)  # compile/load
    seconds = best_of(3, lambda: detect_change(red, nir, swir, scl, n_base, params, dates=dates))
    n = n_base + n_mon
    px_dates = side * side * n
    moved = side * side * (7 * n + 17)  # 3 uint16 bands + SCL per date in; 17 bytes of results per pixel out
    return {"side": side, "dates": n, "seconds": seconds, "mpx_dates_s": px_dates / seconds / 1e6, "gb_s": moved / seconds / 1e9, "rss_mb": peak_rss_mb()}


def part_numpy(quick: bool) -> dict[str, float]:
    from geo.change.detection import ChangeParams, detect_change
    from synthetic.kernel_reference import detect_change_numpy

    side, n_base, n_mon = (512, 6, 6) if quick else (2048, 6, 6)
    red, nir, swir, scl, dates = synthetic_stack(side, side, n_base, n_mon)
    params = ChangeParams(cloud_dilation_px=0)
    detect_change(red[:, :64, :64], nir[:, :64, :64], swir[:, :64, :64], scl[:, :64, :64], n_base, params, dates=dates)
    fast = detect_change(red, nir, swir, scl, n_base, params, dates=dates)
    kernel_s = best_of(3, lambda: detect_change(red, nir, swir, scl, n_base, params, dates=dates))
    t0 = time.perf_counter()
    slow = detect_change_numpy(red, nir, swir, scl, n_base, params, dates=dates)
    numpy_s = time.perf_counter() - t0
    for name in ("status", "first", "last", "ndvi_drop", "nbr_drop", "baseline_ndvi"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name), equal_nan=True), f"(b) differs from the kernel in {name}"
    flagged = int(np.isin(fast.status, (1, 2)).sum())
    return {"side": side, "dates": n_base + n_mon, "kernel_s": kernel_s, "numpy_s": numpy_s, "speedup": numpy_s / kernel_s,
            "flagged_px": flagged, "rss_mb": peak_rss_mb()}


def tile_size(quick: bool) -> int:
    return 2048 if quick else 10_980


def part_generate(quick: bool, work: Path) -> dict[str, float]:
    """Two acquisitions of a tile, a store with the tile as AOI, scenes registered (not timed)."""
    import geopandas as gpd
    import rasterio
    import shapely
    from affine import Affine
    from rasterio.windows import Window

    from config import load_settings
    from jobs.ingest_boundaries import ingest_boundaries
    from jobs.ingest_imagery import ingest_imagery
    from layers.store import open_store

    size = tile_size(quick)
    west, north, res = 600_000.0, 1_600_000.0, 10.0
    transform = Affine(res, 0.0, west, 0.0, -res, north)
    names = ("B02", "B03", "B04", "B08", "B8A", "B11", "B12", "SCL")
    forest = np.array([250, 500, 300, 3200, 3300, 1450, 600], np.float32)
    soil = np.array([900, 1200, 1500, 2400, 2500, 3000, 2400], np.float32)
    rng = np.random.default_rng(7)
    n_clear = 40 if not quick else 10  # 1-100 ha at 10 m: 10-100 px a side
    clear = [(int(r), int(c), int(h), int(w)) for r, c, h, w in zip(rng.integers(0, size - 100, n_clear), rng.integers(0, size - 100, n_clear),
                                                                  rng.integers(10, 100, n_clear), rng.integers(10, 100, n_clear), strict=True)]
    scenes = work / "scenes"
    scenes.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "dtype": "uint16", "count": len(names), "width": size, "height": size, "crs": "EPSG:32648",
               "transform": transform, "nodata": 0, "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
               "predictor": 2, "interleave": "band", "BIGTIFF": "IF_SAFER"}
    for t, day in enumerate((dt.date(2024, 1, 5), dt.date(2024, 1, 15))):
        with rasterio.open(scenes / f"S2_{day:%Y%m%d}.tif", "w", **profile) as dst:
            for r0 in range(0, size, 512):
                h = min(512, size - r0)
                noise = 1 + 0.03 * rng.standard_normal((h, size), dtype=np.float32)
                bare = np.zeros((h, size), bool)
                if t == 1:
                    for r, c, hh, ww in clear:
                        if r < r0 + h and r + hh > r0:
                            bare[max(r, r0) - r0:min(r + hh, r0 + h) - r0, c:c + ww] = True
                scl = np.where(bare, 5, 4).astype(np.uint16)
                if t == 1 and 4000 <= r0 < 5500:  # a cloud band on the second date
                    scl[:, : size // 3] = 9
                for k in range(7):
                    value = np.where(bare, soil[k], forest[k]) * noise
                    if t == 1 and 4000 <= r0 < 5500:
                        value[:, : size // 3] = 6000
                    dst.write(np.clip(value, 1, 65535).astype(np.uint16), k + 1, window=Window(0, r0, size, h))
                dst.write(scl, 8, window=Window(0, r0, size, h))
            for k, name in enumerate(names, start=1):
                dst.set_band_description(k, name)
            dst.update_tags(TIFFTAG_DATETIME=f"{day:%Y:%m:%d} 00:00:00")
    box = shapely.box(west, north - size * res, west + size * res, north)
    aoi = work / "aoi.geojson"
    gpd.GeoDataFrame({"name": ["tile"]}, geometry=[box.buffer(-0.01)], crs="EPSG:32648").to_file(aoi)
    store = str(work / "store.gpkg")
    os.environ["ECOWATCH_DATA_DIR"] = str(work)  # the later parts' detect runs read settings from the environment
    settings = load_settings({}, data_dir=work)
    with open_store(store) as st:
        ingest_boundaries(st, settings, "aoi", aoi)
        ingest_imagery(st, settings, provider="local", path=scenes, aoi="tile", date_from=dt.date(2024, 1, 1), date_to=dt.date(2024, 1, 31))
    mb = sum(p.stat().st_size for p in scenes.iterdir()) / 2**20
    return {"size": size, "file_mb": mb, "rss_mb": peak_rss_mb()}


def part_decode(quick: bool, work: Path) -> dict[str, float]:
    from rasterio.windows import Window

    from ingest.imagery.local import open_scene
    from ingest.imagery.scene_windows import read_bands

    scenes = [open_scene(p) for p in sorted((work / "scenes").glob("*.tif"))]
    size, side = tile_size(quick), 1024
    windows = [Window(c, r, min(side, size - c), min(side, size - r)) for r in range(0, size, side) for c in range(0, size, side)]

    def one(win: Window) -> int:
        return sum(int(read_bands(s, scenes[0], win, ("B04", "B08", "B12", "SCL")).shape[0]) for s in scenes)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(one, windows))
    return {"seconds": time.perf_counter() - t0, "bands": 4 * len(scenes), "rss_mb": peak_rss_mb()}


def part_e2e(quick: bool, work: Path, quicklooks: bool = True) -> dict[str, float]:
    from config import load_settings
    from jobs.detect import Period, detect
    from layers import open_store

    settings = load_settings({}, data_dir=work, min_baseline_observations=1, quicklooks=quicklooks)
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:  # RSS over time, to show it stays flat
        while not stop.wait(0.2):
            with open(f"/proc/{os.getpid()}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        peak[0] = max(peak[0], int(line.split()[1]) / 1024.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with open_store(work / "store.gpkg") as store:
        t0 = time.perf_counter()
        run = detect(store, settings, aoi="tile", baseline=Period(dt.date(2024, 1, 1), dt.date(2024, 1, 10)),
                     monitor=Period(dt.date(2024, 1, 11), dt.date(2024, 1, 31)))
        seconds = time.perf_counter() - t0
    stop.set()
    return {"seconds": seconds, "rss_mb": peak_rss_mb(), "message": run.message}  # type: ignore[dict-item]


def warm_worker() -> int:
    """Load what a detection task runs (modules, the compiled kernel) into a worker process, as a
    long-running cluster has: the timed runs then measure detection, not process start-up."""
    from geo.change.detection import ChangeParams, detect_change
    from jobs import detect_windows  # noqa: F401 - imported for its import time

    red, nir, swir, scl, dates = synthetic_stack(256, 256, 6, 6)
    detect_change(red, nir, swir, scl, 6, ChangeParams(cloud_dilation_px=0), dates=dates, parallel=False)
    return os.getpid()


def part_cluster(quick: bool, work: Path, workers: int) -> dict[str, float]:
    """Detection end to end through a ``LocalCluster`` of ``workers`` processes x 1 thread (warmed up)."""
    from distributed import Client, LocalCluster

    from config import load_settings
    from jobs.detect import Period, detect
    from layers import open_store

    settings = load_settings({}, data_dir=work, min_baseline_observations=1, quicklooks=False, detect_threads=workers)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as cluster, open_store(work / "store.gpkg") as store:
        with Client(cluster, set_as_default=False) as client:
            client.run(warm_worker)
        t0 = time.perf_counter()
        run = detect(store, settings, aoi="tile", baseline=Period(dt.date(2024, 1, 1), dt.date(2024, 1, 10)),
                     monitor=Period(dt.date(2024, 1, 11), dt.date(2024, 1, 31)), scheduler=cluster.scheduler_address)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "workers": workers, "message": run.message}  # type: ignore[dict-item]


def part_cluster1(quick: bool, work: Path) -> dict[str, float]:
    return part_cluster(quick, work, 1)


def part_cluster2(quick: bool, work: Path) -> dict[str, float]:
    return part_cluster(quick, work, 2)


PARTS = {"bandwidth": part_bandwidth, "kernel": part_kernel, "numpy": part_numpy}


def part_detector(quick: bool, work: Path) -> dict[str, float]:
    return part_e2e(quick, work, quicklooks=False)


FILE_PARTS = {"generate": part_generate, "decode": part_decode, "detector": part_detector, "e2e": part_e2e,
              "cluster1": part_cluster1, "cluster2": part_cluster2}


def times(results: list[dict[str, float]]) -> str:
    return ", ".join(f"{r['seconds']:.2f}" for r in results)


def child(part: str, quick: bool, work: Path) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--part", part, "--work", str(work)] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ | {"PYTHONWARNINGS": "ignore"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--part", choices=[*PARTS, *FILE_PARTS], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        result = PARTS[args.part](args.quick) if args.part in PARTS else FILE_PARTS[args.part](args.quick, args.work)
        print(json.dumps(result), flush=True)
        return
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_change_") as tmp:
        work = Path(tmp)
        r = {p: child(p, args.quick, work) for p in ("bandwidth", "kernel", "numpy", "generate")}
        # decode and detector alternate, twice each (the faster of two is printed: a shared VM is noisy)
        runs: dict[str, list[dict[str, float]]] = {"decode": [], "detector": []}
        for _ in range(2):
            for p in runs:
                runs[p].append(child(p, args.quick, work))
        runs["e2e"] = [child("e2e", args.quick, work) for _ in range(2)]  # later runs over the same store, with quicklooks
        runs |= {"cluster1": [], "cluster2": []}
        for _ in range(2):  # alternating, best of two each
            for p in ("cluster1", "cluster2"):
                runs[p].append(child(p, args.quick, work))
        r |= {p: min(v, key=lambda x: x["seconds"]) for p, v in runs.items()}
    bw, k, b, g, d, x, e = (r[p] for p in ("bandwidth", "kernel", "numpy", "generate", "decode", "detector", "e2e"))
    emit(f"bench_change{' --quick' if args.quick else ''}: {os.cpu_count()} cores; each part in its own process (peak RSS per part)")
    emit(f"  memory bandwidth (NumPy copy of {bw['mb']:.0f} MB, read + write): {bw['gb_s_1']:.1f} GB/s on 1 thread, {bw['gb_s_2']:.1f} GB/s on 2")
    emit(f"  kernel, in memory, {k['side']}^2 px x {k['dates']} dates: {k['seconds']:.3f} s = {k['mpx_dates_s']:.0f} Mpixel-dates/s; "
         f"moves {k['gb_s']:.1f} GB/s = {100 * k['gb_s'] / bw['gb_s_2']:.0f} % of the 2-thread bandwidth; peak RSS {k['rss_mb']:.0f} MB")
    emit(f"  (b) whole-array float64 NumPy, {b['side']}^2 px x {b['dates']} dates: {b['numpy_s']:.2f} s vs kernel {b['kernel_s']:.3f} s: "
         f"kernel {b['speedup']:.0f}x faster (target >= 20x); outputs identical ({b['flagged_px']} px flagged); peak RSS {b['rss_mb']:.0f} MB")
    emit(f"  tile: {g['size']}^2 px x 2 dates, 8 bands, tiled DEFLATE GeoTIFFs, {g['file_mb']:.0f} MB on disk")
    emit(f"  decode alone, {d['bands']} bands (B04 B08 B12 SCL x 2 dates), 1024-px windows on {os.cpu_count()} threads: {d['seconds']:.2f} s "
         f"(best of {times(runs['decode'])}); peak RSS {d['rss_mb']:.0f} MB")
    emit(f"  detect end to end, without quicklooks: {x['seconds']:.2f} s (best of {times(runs['detector'])}) "
         f"= {x['seconds'] / d['seconds']:.2f}x the decode time (target <= 1.5x); "
         f"peak RSS {x['rss_mb']:.0f} MB (target < 1024)")
    emit(f"  detect end to end, with quicklooks (later runs over the same store): {e['seconds']:.2f} s (best of {times(runs['e2e'])}) "
         f"= {e['seconds'] / d['seconds']:.2f}x; peak RSS {e['rss_mb']:.0f} MB")
    emit(f"    first run: {runs['detector'][0]['message']}")
    c1, c2 = r["cluster1"], r["cluster2"]
    emit(f"  detect on a Dask LocalCluster (no quicklooks): 1 worker x 1 thread {c1['seconds']:.2f} s (best of {times(runs['cluster1'])}), "
         f"2 worker processes x 1 thread {c2['seconds']:.2f} s (best of {times(runs['cluster2'])}): "
         f"{c1['seconds'] / c2['seconds']:.2f}x (target >= 1.6x)")
    emit(f"  total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
