"""Seizure -> clearing matching: spatial indexes against an all-pairs baseline.

1. Nearest clearing within 5 km: the STRtree bulk nearest query against all pairs.
2. Space-time candidate pairs (within 5 km, 0-365 days after the clearing's first detection,
   dates spread over three years): build and query seconds of
   - ``STRtree``, one bulk box query, then the lag window, then the exact distance (production,
     :func:`geo.matching.space_time_pairs`);
   - ``STRtree`` with the ``dwithin`` predicate, then the lag window (the path before it);
   - a 3-D (x, y, t) ``rtree`` index, bulk-loaded from NumPy arrays and from a Python generator
     (``benchmarks/rtree_spacetime.py``), queried with one bulk ``intersection_v``;
   and all pairs measured on a subset of seizures and extrapolated, with the ratios. Every path is
   checked to give the same pairs (all pairs: on the subset).

Coordinates are metres in one UTM zone.

    python benchmarks/bench_matching.py            # 1 000 000 clearings x 100 000 seizures
    python benchmarks/bench_matching.py --quick    # 100 000 x 10 000 (a smoke test for CI)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.rtree_spacetime import build, query
from geo.matching import nearest_within, space_time_pairs

MAX_DISTANCE_M = 5_000.0
MAX_LAG_DAYS = 365
SPAN_DAYS = 3 * 365


def make_inputs(n_clearings: int, n_seizures: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Square clearings of 0.5-20 ha and seizure points over an area with ~1 clearing per km2."""
    rng = np.random.default_rng(seed)
    side = np.sqrt(n_clearings) * 1000.0  # metres
    x, y = rng.uniform(0, side, n_clearings), rng.uniform(0, side, n_clearings)
    half = np.sqrt(rng.uniform(0.5, 20.0, n_clearings) * 10_000.0) / 2
    clearings = shapely.box(x - half, y - half, x + half, y + half)
    seizures = shapely.points(rng.uniform(0, side, n_seizures), rng.uniform(0, side, n_seizures))
    return clearings, seizures


def make_dates(n_clearings: int, n_seizures: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """First detections and seizure dates, whole days spread evenly over three years."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2022-01-01", "ns")
    day = np.timedelta64(1, "D")
    return start + rng.integers(0, SPAN_DAYS, n_clearings) * day, start + rng.integers(0, SPAN_DAYS, n_seizures) * day


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


def all_pairs_space_time(points: np.ndarray, when: np.ndarray, targets: np.ndarray, first: np.ndarray) -> set[tuple[int, int]]:
    """The naive answer: every (seizure, clearing) pair, each point against every clearing."""
    found: set[tuple[int, int]] = set()
    for i, p in enumerate(points):
        lag = (when[i] - first) / np.timedelta64(1, "D")
        ok = (shapely.distance(p, targets) <= MAX_DISTANCE_M) & (lag >= 0) & (lag <= MAX_LAG_DAYS)
        found.update((i, int(j)) for j in np.flatnonzero(ok))
    return found


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def dwithin_then_lag(tree: shapely.STRtree, clearings: np.ndarray, first: np.ndarray, seizures: np.ndarray, when: np.ndarray) -> tuple[np.ndarray, ...]:
    """The path before: STRtree ``dwithin`` predicate query, then the lag window."""
    si, ci = tree.query(seizures, predicate="dwithin", distance=MAX_DISTANCE_M)
    lag = (when[si] - first[ci]) / np.timedelta64(1, "D")
    ok = (lag >= 0) & (lag <= MAX_LAG_DAYS)
    si, ci = si[ok], ci[ok]
    return si, ci, shapely.distance(seizures[si], clearings[ci]), lag[ok]


def space_time(clearings: np.ndarray, seizures: np.ndarray, n_sub: int, repeat: int) -> None:
    """Section 2: candidate pairs in space and time, every index on the same inputs.

    The indexes take turns, ``repeat`` rounds, and each keeps its best build and best query time:
    the machine is shared, and the best of interleaved runs is the least disturbed comparison.
    """
    first, when = make_dates(len(clearings), len(seizures))

    def strtree() -> shapely.STRtree:
        return shapely.STRtree(clearings)

    paths: list[tuple[str, Callable[[], Any], Callable[[Any], tuple[np.ndarray, ...]]]] = [
        ("STRtree box query, lag, distance (production)", strtree,
         lambda tree: space_time_pairs(clearings, first, seizures, when, MAX_DISTANCE_M, MAX_LAG_DAYS, tree=tree)),
        ("STRtree dwithin predicate, lag (before)", strtree, lambda tree: dwithin_then_lag(tree, clearings, first, seizures, when)),
    ] + [
        (f"rtree 3-D (x, y, t), bulk load from {loader}",
         lambda loader=loader: build(clearings, first, MAX_DISTANCE_M, MAX_LAG_DAYS, loader=loader),
         lambda idx: query(idx, clearings, first, seizures, when, MAX_DISTANCE_M, MAX_LAG_DAYS))
        for loader in ("arrays", "stream")
    ]
    best = {label: [np.inf, np.inf] for label, _, _ in paths}
    answers: dict[str, set[tuple[int, int]]] = {}
    for _ in range(repeat):
        for label, make, ask in paths:
            tb, idx = timed(make)
            tq, res = timed(lambda ask=ask, idx=idx: ask(idx))
            best[label] = [min(best[label][0], tb), min(best[label][1], tq)]
            answers[label] = set(zip(res[0].tolist(), res[1].tolist(), strict=True))
            del idx, res
    production = answers[paths[0][0]]
    if any(a != production for a in answers.values()):
        raise AssertionError("the indexes disagree on the candidate pairs")
    naive_sub, sub = timed(lambda: all_pairs_space_time(seizures[:n_sub], when[:n_sub], clearings, first))
    if sub != {(s, c) for s, c in production if s < n_sub}:
        raise AssertionError("STRtree and all pairs disagree on the subset")
    naive = naive_sub * len(seizures) / n_sub
    base = sum(best[paths[0][0]])
    print(f"space-time pairs within {MAX_DISTANCE_M / 1000:g} km and 0-{MAX_LAG_DAYS} days (dates over {SPAN_DAYS} days): "
          f"{len(production):,} pairs, the same from every index; best of {repeat} interleaved rounds")
    print(f"  {'index':<48} {'build s':>8} {'query s':>8} {'total s':>8} {'/ production':>12}")
    for label, (b, q) in best.items():
        print(f"  {label:<48} {b:8.2f} {q:8.2f} {b + q:8.2f} {(b + q) / base:11.2f}x")
    print(f"  {'all pairs, ' + str(n_sub) + ' seizures measured':<48} {'':>8} {naive_sub:8.2f} -> {naive:,.0f} s extrapolated to {len(seizures):,}")
    print(f"  ratio all-pairs / production: {naive / base:,.0f} x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of the space-time comparison (best of; default 2)")
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
    space_time(clearings, seizures, n_sub, max(args.repeat, 1))


if __name__ == "__main__":
    main()
