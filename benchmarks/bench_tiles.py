"""Vector tiles and OGC API items pages at scale.

With N clearings (1 000 000; ``--quick``: 20 000) and 5 000 seizures over the demo region in a
GeoPackage store (and, with ``--demo-store PATH``, the demo's store too), prints for zooms 6, 10
and 14, as a planner and as an ngo:

- tiles per second, median and p95 milliseconds, mean and largest bytes per tile (target: p95 <
  100 ms, every tile under 500 KB), and whether tiles held features or cells;
- against the naive tile (every feature in the tile's box encoded as it is, no simplification,
  no aggregation, no byte cap), timed on the same tiles in this process;
- OGC API items pages per second (``/api/ogc/collections/clearings/items?limit=100``, first pages
  and pages deep into the collection), through the app in this process.

    python benchmarks/bench_tiles.py            # 1 000 000 clearings
    python benchmarks/bench_tiles.py --quick    # 20 000 (a smoke test for CI)
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pandas as pd
import shapely

from config import load_settings
from layers import get_layer, open_store
from layers.api_tokens import add_token
from layers.redaction import Access, count_redacted, read_redacted
from layers.store import Store
from layers.vector_tiles import lonlat_bounds, mercator_bounds, render_tile
from web import create_app

WEST, SOUTH, EAST, NORTH = 102.5, 10.5, 108.5, 17.5
ZOOMS = (6, 10, 14)
TARGET_P95_MS = 100.0
NAIVE_MAX_FEATURES = 50_000  # a naive tile with more would take minutes: skipped, with its feature count
KEY = b"bench-tiles-key-" + b"k" * 16
CACHE = Path(tempfile.gettempdir()) / "ecowatch-bench"


def build_store(path: Path, n: int, seed: int = 0) -> None:
    """``n`` clearings (0.5-20 ha squares) and 5 000 seizures over the region."""
    rng = np.random.default_rng(seed)
    with open_store(path) as store:
        for start in range(0, n, 200_000):
            m = min(200_000, n - start)
            x, y = rng.uniform(WEST, EAST, m), rng.uniform(SOUTH, NORTH, m)
            half = np.sqrt(rng.uniform(0.5, 20.0, m) * 10_000.0) / 2 / 111_000.0
            days = pd.to_datetime("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, m), unit="D")
            store.upsert("clearings", gpd.GeoDataFrame({
                "clearing_id": [f"CL-{i:07d}" for i in range(start, start + m)], "aoi": "bench",
                "area_ha": (2 * half * 111_000.0) ** 2 / 10_000.0, "first_detected": days, "confidence": np.where(rng.random(m) < 0.4, "high", "low"),
                "flags": [["outside_concessions"]] * m, "reasons": [["Outside every concession."]] * m, "risk": rng.integers(0, 101, m),
                "review_status": np.where(rng.random(m) < 0.8, "new", "confirmed"), "synthetic": True,
            }, geometry=shapely.box(x - half, y - half, x + half, y + half), crs="EPSG:4326"))
        k = 5000
        store.upsert("seizures", gpd.GeoDataFrame({
            "seizure_id": [f"SZ-{i:05d}" for i in range(k)], "date": pd.to_datetime("2024-01-01"), "commodity_group": "timber",
            "commodity": "logs", "case_reference": [f"CASE-{i}" for i in range(k)], "location_precision": "exact", "source": "bench", "synthetic": True,
        }, geometry=shapely.points(rng.uniform(WEST, EAST, k), rng.uniform(SOUTH, NORTH, k)), crs="EPSG:4326"))


def tiles_at(z: int, count: int, seed: int) -> list[tuple[int, int, int]]:
    """``count`` tiles at zoom ``z`` whose centres lie in the region (random, fixed seed)."""
    rng = np.random.default_rng(seed + z)
    n = 2**z
    out = []
    for lon, lat in zip(rng.uniform(WEST, EAST, count), rng.uniform(SOUTH, NORTH, count), strict=True):
        out.append((z, int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)))
    return out


def naive_tile(store: Store, layer: str, access: Access, z: int, x: int, y: int) -> bytes:
    """Every feature in the tile's box, encoded as it is (the baseline)."""
    frame = read_redacted(store, get_layer(layer), access, bbox=lonlat_bounds(z, x, y))
    minx, miny, maxx, maxy = mercator_bounds(z, x, y)
    half = 20037508.342789244
    scale = np.array([4096 / (maxx - minx), 4096 / (maxy - miny)])

    def units(xy: np.ndarray) -> np.ndarray:
        mx = xy[:, 0] * half / 180.0
        my = np.log(np.tan((90.0 + np.clip(xy[:, 1], -85.05, 85.05)) * np.pi / 360.0)) * half / np.pi
        return np.round((np.column_stack([mx, my]) - np.array([minx, miny])) * scale)

    geoms = shapely.transform(np.asarray(frame.geometry.values, dtype=object), units)
    feats = [{"geometry": g, "properties": {"id": str(i)}} for i, g in zip(frame.index.tolist(), geoms, strict=True)]
    return bytes(mapbox_vector_tile.encode({"name": layer, "features": feats}))


def time_tiles(label: str, store: Store, layer: str, access: Access, tiles: list[tuple[int, int, int]], naive_reps: int) -> None:
    times, sizes, cells = [], [], 0
    t0 = time.perf_counter()
    render_tile(store, get_layer(layer), access, *tiles[0])  # warm-up: the first tile after a change builds what is kept per store state
    first = (time.perf_counter() - t0) * 1000
    cpu = []
    for t in tiles:
        t0, c0 = time.perf_counter(), time.process_time()
        tile = render_tile(store, get_layer(layer), access, *t)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)  # on a shared machine the wall time grows with the load, this much less
        sizes.append(len(tile.data))
        cells += tile.aggregated
    p95 = float(np.percentile(times, 95))
    naive_ms, naive_bytes = [], []
    for t in tiles[:naive_reps]:
        held = count_redacted(store, get_layer(layer), access, bbox=lonlat_bounds(*t))
        if held > NAIVE_MAX_FEATURES:
            print(f"  (naive tile {t} skipped: {held} features, about {held * 250e-6:.0f} s to encode at 250 us each)")
            continue
        t0 = time.perf_counter()
        naive_bytes.append(len(naive_tile(store, layer, access, *t)))
        naive_ms.append((time.perf_counter() - t0) * 1000)
    mine = statistics.median(times[:naive_reps])
    if not naive_ms:
        naive_ms, naive_bytes = [float("nan")], [0]
    print(f"  {label:<22} z{tiles[0][0]:<2} {len(tiles) / (sum(times) / 1000):7.1f} tiles/s  median {statistics.median(times):7.1f} ms  "
          f"p95 {p95:7.1f} ms {'ok' if p95 < TARGET_P95_MS else 'OVER'}  bytes mean {statistics.mean(sizes):9.0f} max {max(sizes):8d}  "
          f"cells {cells}/{len(tiles)}  | naive median {statistics.median(naive_ms):8.1f} ms, max {max(naive_bytes):9d} B "
          f"(naive/ours {statistics.median(naive_ms) / mine:5.1f}); first tile {first:.0f} ms; "
          f"cpu median {statistics.median(cpu):.1f} p95 {float(np.percentile(cpu, 95)):.1f} ms")


def items_pages(path: Path, settings_dir: Path, n_pages: int, deep: int) -> None:
    with open_store(path) as st:
        token = add_token(st, f"bench-{time.time_ns()}", "planner")
    app = create_app(load_settings({}, data_dir=settings_dir), store_url=str(path))
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    for label, offsets in (("first pages", [0] * n_pages), ("deep pages", [deep + 100 * i for i in range(n_pages)])):
        client.get("/api/ogc/collections/clearings/items?limit=100", headers=auth)
        t0 = time.perf_counter()
        for offset in offsets:
            response = client.get(f"/api/ogc/collections/clearings/items?limit=100&offset={offset}", headers=auth)
            assert response.status_code == 200, response.status_code
        seconds = time.perf_counter() - t0
        print(f"  items, {label:<12} (limit 100, offset {offsets[0]}..): {n_pages / seconds:7.1f} pages/s, {seconds / n_pages * 1000:7.1f} ms a page")
    bbox = f"{(WEST + EAST) / 2},{(SOUTH + NORTH) / 2},{(WEST + EAST) / 2 + 0.2},{(SOUTH + NORTH) / 2 + 0.2}"
    t0 = time.perf_counter()
    for _ in range(n_pages):
        client.get(f"/api/ogc/collections/clearings/items?limit=100&bbox={bbox}", headers=auth)
    seconds = time.perf_counter() - t0
    print(f"  items, 0.2-degree bbox        : {n_pages / seconds:7.1f} pages/s, {seconds / n_pages * 1000:7.1f} ms a page")
    app.extensions["ecowatch"].close()


def run_store(name: str, path: Path, data_dir: Path, per_zoom: int, naive_reps: int, deep: int) -> None:
    print(f"{name}:")
    with open_store(path, readonly=True) as store:
        for z in ZOOMS:
            tiles = tiles_at(z, per_zoom, 1)
            time_tiles("clearings as planner", store, "clearings", Access("planner"), tiles, naive_reps if z > 6 else 1)
            time_tiles("seizures as ngo", store, "seizures", Access("ngo", KEY), tiles, naive_reps)
    items_pages(path, data_dir, 20, deep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 000 clearings, fewer tiles (CI smoke test)")
    parser.add_argument("--clearings", type=int, default=None)
    parser.add_argument("--store", type=Path, default=None,
                        help="the synthetic store (built there when missing); default: tiles-N.gpkg under the temporary folder's ecowatch-bench/")
    parser.add_argument("--demo-store", type=Path, default=None,
                        help="also time tiles of this store; default: the demo store bench_map.py builds, when it is there")
    args = parser.parse_args()
    n = args.clearings or (20_000 if args.quick else 1_000_000)
    per_zoom, naive_reps = (10, 3) if args.quick else (40, 5)
    CACHE.mkdir(parents=True, exist_ok=True)
    path = args.store or CACHE / f"tiles-{n}.gpkg"
    if not path.exists():
        partial = path.with_suffix(".building.gpkg")
        partial.unlink(missing_ok=True)
        t0 = time.perf_counter()
        build_store(partial, n)
        partial.rename(path)
        print(f"store: {n} clearings, 5000 seizures, built in {time.perf_counter() - t0:.1f} s at {path}")
    else:
        print(f"store: reused {path}")
    with open_store(path):  # brings an older store's schema up to date
        pass
    load = os.getloadavg()
    print(f"load average (1, 5, 15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        run_store(f"synthetic store, {n} clearings", path, Path(tmp) / "data", per_zoom, naive_reps, deep=min(n - 2100, 100_000))
        demo = args.demo_store or CACHE / "demo" / "demo.gpkg"
        if demo.exists():
            run_store(f"demo store {demo}", demo, Path(tmp) / "demo-data", per_zoom, naive_reps, deep=0)
        else:
            print(f"demo store: not at {demo} (python benchmarks/bench_map.py builds it)")
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
