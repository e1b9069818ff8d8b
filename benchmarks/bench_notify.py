"""What making watch-area digests costs: ``ecowatch notify``'s enqueue step against a naive scan.

Region-wide synthetic clearings and many small watch areas (a few km across, like a border
liaison office's stretch of corridor). The digest of one subscription reads the clearings in the
area's box through the store's spatial index and attribute conditions (:func:`layers.digests.new_clearings`);
the naive way reads every clearing and tests each against the area and the filters in Python.
Prints, in one run: the sizes; the median time per subscription of both (checked to give the
same clearings) and their ratio; and the time of the whole enqueue step
(:func:`jobs.notify.enqueue_due`) for every subscription, per subscription.

    python benchmarks/bench_notify.py            # 200 000 clearings, 300 subscriptions
    python benchmarks/bench_notify.py --quick    # 20 000 clearings, 40 subscriptions (a smoke test for CI)
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from config import load_settings
from jobs.notify import enqueue_due
from layers import open_store
from layers.accounts import HashParams, add_account
from layers.digests import new_clearings
from layers.redaction import Access
from layers.store import Store
from layers.watch_areas import WatchFilters, add_subscription, add_watch_area

FLAGS = ["protected_area", "outside_concessions", "inside_concession", "near_border"]
FILTERS = WatchFilters(min_risk=40, flags=("protected_area", "outside_concessions"))


def make_clearings(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(100, 110, n), rng.uniform(10, 20, n)
    size = rng.uniform(0.001, 0.004, n)
    flags = [[FLAGS[i % 4]] if i % 3 else [FLAGS[(i + 1) % 4], FLAGS[(i + 2) % 4]] for i in range(n)]
    return gpd.GeoDataFrame(
        {"clearing_id": [f"C-{i:07d}" for i in range(n)], "aoi": "bench", "area_ha": size * 1e4, "confidence": rng.choice(["low", "high"], n),
         "risk": rng.integers(0, 101, n), "flags": flags, "reasons": [["bench"]] * n, "review_status": rng.choice(["new", "confirmed", "dismissed"], n),
         "first_detected": dt.date(2024, 5, 1), "synthetic": True},
        geometry=shapely.box(lon, lat, lon + size, lat + size), crs=4326,
    )


def naive(clearings: gpd.GeoDataFrame, area: shapely.Geometry) -> list[str]:
    """Every clearing tested in Python: inside, filters, not dismissed or merged."""
    out = []
    for cid, geom, risk, flags, status in zip(clearings["clearing_id"], clearings.geometry, clearings["risk"], clearings["flags"],
                                              clearings["review_status"], strict=True):
        if status == "dismissed" or risk < 40 or not set(flags) & set(FILTERS.flags):
            continue
        if geom.intersects(area):
            out.append(cid)
    return sorted(out)


def areas(k: int, seed: int = 1) -> list[shapely.Geometry]:
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(100.5, 109.5, k), rng.uniform(10.5, 19.5, k)
    return [shapely.box(a, b, a + 0.15, b + 0.08) for a, b in zip(x, y, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    args = parser.parse_args()
    n, k = (20_000, 40) if args.quick else (200_000, 300)
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings({}, data_dir=Path(folder), id_secret="bench-notify-secret-0123456789")
        store: Store = open_store(Path(folder) / "bench.gpkg")
        clearings = make_clearings(n)
        store.upsert("clearings", clearings)
        shapes = areas(k)
        per_owner = 100  # an account keeps at most 100 watch areas
        for j in range((k + per_owner - 1) // per_owner):
            add_account(store, f"bench{j}", "planner", "bench-password-long", params=HashParams(1, 1024, 1), min_length=12, email=f"b{j}@example.org")
        for i, geom in enumerate(shapes):
            owner = f"bench{i // per_owner}"
            wid = add_watch_area(store, owner, f"area {i}", geom, origin="drawn")
            add_subscription(store, owner, wid, FILTERS, frequency="daily", email=True)
        print(f"{n:,} clearings, {k} subscriptions (areas about 16 x 9 km)")
        access = Access("planner")
        fast, slow = [], []
        for geom in shapes[: min(k, 30)]:
            t = time.perf_counter()
            got = sorted(new_clearings(store, access, geom, FILTERS, ())["clearing_id"])
            fast.append(time.perf_counter() - t)
            t = time.perf_counter()
            whole = store.read("clearings", columns=["clearing_id", "risk", "flags", "review_status"])
            want = naive(whole, geom)
            slow.append(time.perf_counter() - t)
            assert got == want, (len(got), len(want))
        f, s = statistics.median(fast), statistics.median(slow)
        print(f"one digest: indexed {f * 1000:.1f} ms, naive scan {s * 1000:.1f} ms (median of {len(fast)}): {s / f:.1f}x faster")
        t = time.perf_counter()
        result = enqueue_due(store, settings, now=dt.datetime(2024, 6, 1))
        took = time.perf_counter() - t
        print(f"enqueue step: {result.digests} digests for {result.due} due subscriptions in {took:.2f} s ({took / max(result.due, 1) * 1000:.1f} ms each)")
        store.close()


if __name__ == "__main__":
    main()
