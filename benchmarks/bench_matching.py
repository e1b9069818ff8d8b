"""Seizure -> nearest clearing within 5 km: the STRtree bulk query against an all-pairs baseline.

Prints, in one run: the sizes, the time to build the index and query every seizure, and the
all-pairs time measured on a subset of seizures and extrapolated to all of them, with the ratio.
The two answers are checked to agree on the subset. Coordinates are metres in one UTM zone.

    python benchmarks/bench_matching.py            # 1 000 000 clearings x 100 000 seizures
    python benchmarks/bench_matching.py --quick    # 100 000 x 10 000 (a smoke test for CI)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import shapely

from geo.matching import nearest_within

MAX_DISTANCE_M = 5_000.0


def make_inputs(n_clearings: int, n_seizures: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Square clearings of 0.5-20 ha and seizure points over an area with ~1 clearing per km2."""
    rng = np.random.default_rng(seed)
    side = np.sqrt(n_clearings) * 1000.0  # metres
    x, y = rng.uniform(0, side, n_clearings), rng.uniform(0, side, n_clearings)
    half = np.sqrt(rng.uniform(0.5, 20.0, n_clearings) * 10_000.0) / 2
    clearings = shapely.box(x - half, y - half, x + half, y + half)
    seizures = shapely.points(rng.uniform(0, side, n_seizures), rng.uniform(0, side, n_seizures))
    return clearings, seizures


def all_pairs(points: np.ndarray, targets: np.ndarray, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """The naive answer: every point against every target."""
    idx = np.full(len(points), -1)
    dist = np.full(len(points), np.nan)
    for i, p in enumerate(points):
        d = shapely.distance(p, targets)
        j = int(np.argmin(d))
        if d[j] <= max_distance:
            idx[i], dist[i] = j, d[j]
    return idx, dist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = parser.parse_args()
    n_c, n_s, n_sub = (100_000, 10_000, 5) if args.quick else (1_000_000, 100_000, 20)
    clearings, seizures = make_inputs(n_c, n_s)
    t0 = time.perf_counter()
    idx, dist = nearest_within(seizures, clearings, MAX_DISTANCE_M)
    fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    sub_idx, sub_dist = all_pairs(seizures[:n_sub], clearings, MAX_DISTANCE_M)
    naive_sub = time.perf_counter() - t0
    np.testing.assert_allclose(dist[:n_sub], sub_dist, rtol=0, atol=1e-6, equal_nan=True)
    naive = naive_sub * n_s / n_sub
    print(f"bench_matching{' (quick)' if args.quick else ''}: {n_c:,} clearings x {n_s:,} seizures, nearest within {MAX_DISTANCE_M / 1000:g} km")
    print(f"  STRtree build + bulk nearest query : {fast:8.2f} s  ({int((idx >= 0).sum()):,} seizures matched)")
    print(f"  all pairs, {n_sub} seizures measured   : {naive_sub:8.2f} s  -> {naive:,.0f} s extrapolated to {n_s:,}")
    print(f"  ratio all-pairs / STRtree          : {naive / fast:,.0f} x")


if __name__ == "__main__":
    main()
