"""The store under load: the map's bbox read with and without a writer, and the memory of a big GeoJSON ingest.

    python benchmarks/bench_store.py            # 200 000 clearings; a 500 MB GeoJSON (target: < 1.5 GB peak RSS)
    python benchmarks/bench_store.py --quick    # 20 000 clearings; a 10 MB GeoJSON, a smoke run for CI

1. Read latency: the map's query (``store.read`` of a layer's popup fields in a bbox of about
   0.25 x 0.25 degrees, through the R-tree) on a read-only store, median and 95th percentile, with
   no writer and with one writer process committing bulk updates of 2 000 clearings in a loop.
   The naive baseline in the same process reads the whole layer and filters by bbox.
2. Memory: ``ecowatch ingest boundaries aoi FILE`` of a generated GeoJSON (polygons of 400
   vertices, fixed seed) in a child process, its peak resident memory (``ru_maxrss``), against the
   naive baseline in another child: ``geopandas.read_file`` of the same file (whole, at once).
3. GeoPackage and PostGIS side by side with 1 000 000 clearings (20 000 with ``--quick``): bulk
   load rows/s, bbox read median/p95 for a 50 km view and a region view, and a review decision's
   latency with 8 analysts writing at once (:mod:`store_backends`). PostGIS runs when a server is
   given (``POSTGIS_TEST_URL``, as under ``bash scripts/postgis.sh``, or ``--postgis URL``).

    bash scripts/postgis.sh .venv/bin/python benchmarks/bench_store.py --backends-only
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd
import shapely
import store_backends

from layers import get_layer, open_store

RSS_TARGET_GB = 1.5
QUERY_DEG = 0.25
EXTENT = (100.0, 10.0, 108.0, 20.0)


def _clearings(ids: np.ndarray, rng: np.random.Generator) -> gpd.GeoDataFrame:
    x = rng.uniform(EXTENT[0], EXTENT[2], len(ids))
    y = rng.uniform(EXTENT[1], EXTENT[3], len(ids))
    size = rng.uniform(0.001, 0.01, len(ids))
    return gpd.GeoDataFrame(
        {
            "clearing_id": [f"c{i}" for i in ids], "aoi": "bench", "area_ha": size * 1e4, "confidence": "high",
            "review_status": "new", "risk": rng.integers(0, 100, len(ids)), "flags": [["outside_concessions"]] * len(ids),
        },
        geometry=shapely.box(x, y, x + size, y + size), crs="EPSG:4326",
    )


def _writer(path: str, n: int, stop: mp.synchronize.Event, commits: mp.sharedctypes.Synchronized) -> None:  # type: ignore[name-defined]
    rng = np.random.default_rng(1)
    with open_store(path) as store:
        while not stop.is_set():
            with store.transaction():
                store.upsert("clearings", _clearings(rng.choice(n, 2000, replace=False), rng))
            commits.value += 1


def _latencies(store: object, boxes: np.ndarray, columns: list[str]) -> np.ndarray:
    out = []
    for w, s in boxes:
        t0 = time.perf_counter()
        store.read("clearings", bbox=(w, s, w + QUERY_DEG, s + QUERY_DEG), columns=columns)  # type: ignore[attr-defined]
        out.append(time.perf_counter() - t0)
    return np.array(out) * 1e3


def bench_reads(folder: Path, n: int, n_queries: int) -> None:
    path = folder / "reads.gpkg"
    rng = np.random.default_rng(0)
    with open_store(path) as store:
        for start in range(0, n, 50_000):
            store.upsert("clearings", _clearings(np.arange(start, min(n, start + 50_000)), rng))
    columns = list(get_layer("clearings").popup)
    boxes = np.column_stack([rng.uniform(EXTENT[0], EXTENT[2] - QUERY_DEG, n_queries), rng.uniform(EXTENT[1], EXTENT[3] - QUERY_DEG, n_queries)])
    with open_store(path, readonly=True) as store:
        _latencies(store, boxes[:5], columns)  # warm the page cache
        idle = _latencies(store, boxes, columns)
        ctx = mp.get_context("spawn")
        stop, commits = ctx.Event(), ctx.Value("i", 0)
        writer = ctx.Process(target=_writer, args=(str(path), n, stop, commits))
        writer.start()
        while commits.value < 1:  # the writer is up and committing
            time.sleep(0.05)
        busy = _latencies(store, boxes, columns)
        stop.set()
        writer.join()
        t0 = time.perf_counter()
        whole = store.read("clearings", columns=columns)
        w, s = boxes[0]
        whole.cx[w : w + QUERY_DEG, s : s + QUERY_DEG]
        naive_ms = (time.perf_counter() - t0) * 1e3
    print(f"bbox read of {n:,} clearings ({QUERY_DEG} deg box, {n_queries} queries, popup fields):")
    print(f"  no writer:  median {np.median(idle):7.2f} ms   p95 {np.percentile(idle, 95):7.2f} ms")
    print(f"  one writer: median {np.median(busy):7.2f} ms   p95 {np.percentile(busy, 95):7.2f} ms   ({commits.value} writer commits of 2,000 rows meanwhile)")
    print(f"  naive (read the layer, filter): {naive_ms:9.1f} ms per query = {naive_ms / np.median(idle):,.0f} x the indexed median")


def make_geojson(path: Path, target_bytes: int, vertices: int = 400) -> int:
    """Write AOI polygons until the file reaches ``target_bytes``; returns the feature count."""
    rng = np.random.default_rng(7)
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    n = 0
    with path.open("w") as fh:
        fh.write('{"type": "FeatureCollection", "features": [\n')
        while fh.tell() < target_bytes:
            cx, cy = rng.uniform(EXTENT[0] + 1, EXTENT[2] - 1), rng.uniform(EXTENT[1] + 1, EXTENT[3] - 1)
            radius = rng.uniform(0.01, 0.05) * (1 + 0.1 * np.sin(5 * angles))
            ring = np.column_stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)])
            coords = ", ".join(f"[{x:.9f}, {y:.9f}]" for x, y in np.vstack([ring, ring[:1]]))
            fh.write(("" if n == 0 else ",\n") + f'{{"type": "Feature", "properties": {{"name": "aoi-{n}", "note": "generated"}}, '
                     f'"geometry": {{"type": "Polygon", "coordinates": [[{coords}]]}}}}')
            n += 1
        fh.write("\n]}\n")
    return n


_MEASURE = """
import resource, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_module(sys.argv[0], run_name="__main__")
except SystemExit as exit:
    code = exit.code
else:
    code = 0
print(f"maxrss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
sys.exit(code)
"""
_NAIVE = (
    "import resource, sys, geopandas as gpd; frame = gpd.read_file(sys.argv[1]); "
    "print(f'maxrss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)"
)


def _peak_rss_gb(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Peak RSS (GB), seconds and exit status of ``python -m ARGS`` in a child process."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - t0
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("maxrss_kb=")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return int(lines[-1].split("=")[1]) / 1e6, seconds, done.returncode


def bench_memory(folder: Path, mb: int) -> bool:
    geojson = folder / "big.geojson"
    n = make_geojson(geojson, mb * 1_000_000)
    size_mb = geojson.stat().st_size / 1e6
    env = {**os.environ, "ECOWATCH_DATA_DIR": str(folder / "data"), "ECOWATCH_INGEST_MAX_FILE_MB": str(max(500, mb + 10))}
    ours, ours_s, _ = _peak_rss_gb(["cli.main", "--quiet", "ingest", "boundaries", "aoi", str(geojson), "--store", str(folder / "mem.gpkg")], env)
    naive, naive_s = _naive_rss(geojson, env)
    with open_store(folder / "mem.gpkg", readonly=True) as store:
        stored = store.count("aoi")
    print(f"ingest of a {size_mb:,.0f} MB GeoJSON ({n:,} polygons of 400 vertices; {stored:,} stored):")
    print(f"  ecowatch ingest boundaries: peak RSS {ours:5.2f} GB in {ours_s:6.1f} s (target < {RSS_TARGET_GB} GB at 500 MB)")
    print(f"  naive geopandas.read_file:  peak RSS {naive:5.2f} GB in {naive_s:6.1f} s (reading only) = {naive / ours:.1f} x ours")
    return stored == n and (mb < 500 or ours < RSS_TARGET_GB)


def _naive_rss(geojson: Path, env: dict[str, str]) -> tuple[float, float]:
    """Peak RSS (GB) and seconds of reading the whole file with geopandas, in a child process."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _NAIVE, str(geojson)], capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - t0
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("maxrss_kb=")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"naive read failed ({done.returncode}): {done.stderr[-2000:]}")
    return int(lines[-1].split("=")[1]) / 1e6, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--backends-only", action="store_true", help="only the GeoPackage/PostGIS comparison")
    parser.add_argument("--postgis", metavar="URL", default=os.environ.get("POSTGIS_TEST_URL", ""), help="PostGIS server to compare with")
    args = parser.parse_args()
    n, queries, mb = (20_000, 100, 10) if args.quick else (200_000, 400, 500)
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        folder = Path(tmp)
        if not args.backends_only:
            bench_reads(folder, n, queries)
            ok = bench_memory(folder, mb)
        backends = {"GeoPackage": store_backends.gpkg_url(folder)}
        if args.postgis:
            backends["PostGIS"] = store_backends.postgis_url(args.postgis)
        store_backends.run(backends, 20_000 if args.quick else 1_000_000, args.quick)
        if not args.postgis:
            print("[PostGIS] skipped: no server (run under `bash scripts/postgis.sh` or pass --postgis URL)")
    if not ok:
        print("FAILED: see the figures above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
