"""What redaction costs: an ngo's map request against a planner's, and generalising against a naive loop.

An ngo's request for the seizures in a box redacts the whole layer first (a cell is judged on
all its points, so a box cannot single one out) and then cuts the box; a planner's request reads
the box through the spatial index. Prints, in one run: the sizes; the median time of the two
requests for a ~50 km box; the time of generalising every seizure (snap to 0.1-degree cells,
suppress cells under 3, opaque ids) with :func:`layers.redaction.redact`, against a plain Python
loop doing the same per row (checked to agree), and the ratios.

    python benchmarks/bench_redaction.py            # 100 000 seizures
    python benchmarks/bench_redaction.py --quick    # 10 000 (a smoke test for CI)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import statistics
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import get_layer, open_store
from layers.redaction import MIN_CELL_COUNT, Access, read_redacted, redact

KEY = b"bench-redaction-key-" + b"k" * 20
BOX = (107.2, 13.4, 107.7, 13.85)  # about 50 km


def make_seizures(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """Seizures over the Mekong region, a third of them in clusters along a few lines."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(100, 110, n), rng.uniform(10, 20, n)
    k = n // 3
    lon[:k] = 107 + rng.normal(0, 0.5, k)
    lat[:k] = 13.6 + rng.normal(0, 0.3, k)
    return gpd.GeoDataFrame(
        {"seizure_id": [f"S-{i:07d}" for i in range(n)], "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
         "commodity_group": rng.choice(["timber", "wildlife"], n), "case_reference": [f"CR-{i}" for i in range(n)], "agency": "FA",
         "notes": "", "location_precision": "exact", "synthetic": True, "source": "bench"},
        geometry=shapely.points(lon, lat), crs=4326,
    )


def naive_generalise(frame: gpd.GeoDataFrame, cell: float) -> set[tuple[str, float, float]]:
    """The same answer row by row: (opaque id, cell centre) of every published seizure."""
    centres = []
    counts: dict[tuple[float, float], int] = {}
    for sid, p in zip(frame["seizure_id"], frame.geometry, strict=True):
        c = (round((np.floor(p.x / cell) + 0.5) * cell, 9), round((np.floor(p.y / cell) + 0.5) * cell, 9))
        centres.append((sid, c))
        counts[c] = counts.get(c, 0) + 1
    k = hmac.new(KEY, b"ecowatch id key\x1fopaque:seizures", hashlib.sha256).digest()
    return {
        (hmac.new(k, sid.encode(), hashlib.sha256).hexdigest()[:20], c[0], c[1]) for sid, c in centres if counts[c] >= MIN_CELL_COUNT
    }


def _median(f, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = parser.parse_args()
    n, repeat = (10_000, 3) if args.quick else (100_000, 5)
    seizures = make_seizures(n)
    layer = get_layer("seizures")
    ngo = Access("ngo", KEY)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "bench.gpkg")
        store.upsert("seizures", seizures)
        planner_s = _median(lambda: store.read("seizures", bbox=BOX), repeat)
        ngo_s = _median(lambda: read_redacted(store, layer, ngo, bbox=BOX), repeat)
        n_planner, n_ngo = len(store.read("seizures", bbox=BOX)), len(read_redacted(store, layer, ngo, bbox=BOX))
        store.close()
    t0 = time.perf_counter()
    out = redact(layer, seizures, ngo)
    fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = naive_generalise(seizures, 0.1)
    slow = time.perf_counter() - t0
    got = {(i, round(p.x, 9), round(p.y, 9)) for i, p in zip(out["seizure_id"], out.geometry, strict=True)}
    assert got == naive, "redact and the naive loop disagree"
    print(f"bench_redaction{' (quick)' if args.quick else ''}: {n:,} seizures, a {BOX[2] - BOX[0]:.1f} x {BOX[3] - BOX[1]:.2f} degree box")
    print(f"  planner's box request (spatial index)   : {planner_s * 1000:8.1f} ms  ({n_planner:,} points)")
    print(f"  ngo's box request (whole layer redacted): {ngo_s * 1000:8.1f} ms  ({n_ngo:,} generalised points)  -> {ngo_s / planner_s:.1f} x the planner's")
    print(f"  redact all (snap, suppress, opaque ids) : {fast * 1000:8.1f} ms  ({len(out):,} published)")
    print(f"  naive per-row loop, same answer          : {slow * 1000:8.1f} ms  -> ratio naive / redact {slow / fast:.1f} x")


if __name__ == "__main__":
    main()
