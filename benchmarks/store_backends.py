"""GeoPackage and PostGIS side by side (run by ``benchmarks/bench_store.py``): bulk load, bbox reads, review decisions.

For each backend, in one process:

1. Bulk load: ``store.upsert`` of N clearings in batches of 50 000, rows/s; the naive baseline
   is one upsert per row (2 000 rows), as a loop over records would write them.
2. bbox reads on the loaded store (read-only, popup fields): a 50 km view (0.45 deg) and a region
   view (2.5 deg, about 275 km), median and p95 and rows returned; the naive baseline reads the
   whole layer and filters it in memory (once).
3. Review decisions: 8 analysts at once (8 threads, each with its own store object, as 8 server
   processes would be), each deciding on clearings of its own; latency of one decision (median,
   p95) and decisions/s, against 1 analyst alone.

PostGIS needs a server: ``POSTGIS_TEST_URL`` (what ``scripts/postgis.sh`` exports) or
``--postgis URL``; each run works in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import shapely

from layers import get_layer, open_store
from layers.reviews import Decision, decide

EXTENT = (100.0, 10.0, 108.0, 20.0)
VIEW_50KM_DEG = 0.45
REGION_DEG = 2.5
BATCH = 50_000


def clearings(start: int, stop: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    n = stop - start
    x, y = rng.uniform(EXTENT[0], EXTENT[2], n), rng.uniform(EXTENT[1], EXTENT[3], n)
    size = rng.uniform(0.001, 0.01, n)
    return gpd.GeoDataFrame(
        {"clearing_id": [f"c{i:07d}" for i in range(start, stop)], "aoi": "bench", "area_ha": size * 1e4, "confidence": "high",
         "review_status": "new", "risk": rng.integers(0, 100, n), "flags": [["outside_concessions"]] * n,
         "first_detected": np.datetime64("2024-01-01") + rng.integers(0, 365, n).astype("timedelta64[D]")},
        geometry=shapely.box(x, y, x + size, y + size), crs="EPSG:4326",
    )


@contextmanager
def postgis_schema(url: str) -> Iterator[str]:
    """A URL of a fresh schema in the server at ``url``, dropped afterwards."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema},public', safe='')}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _stats(ms: list[float]) -> str:
    return f"median {np.median(ms):8.2f} ms   p95 {np.percentile(ms, 95):8.2f} ms"


def bulk_load(url: str, n: int) -> float:
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    with open_store(url) as store:
        for start in range(0, n, BATCH):
            store.upsert("clearings", clearings(start, min(n, start + BATCH), rng))
    return n / (time.perf_counter() - t0)


def naive_load(url: str, n: int) -> float:
    rng = np.random.default_rng(1)
    frame = clearings(10_000_000, 10_000_000 + n, rng)
    t0 = time.perf_counter()
    with open_store(url) as store:
        for i in range(n):
            store.upsert("clearings", frame.iloc[i : i + 1])
    return n / (time.perf_counter() - t0)


def bbox_reads(url: str, deg: float, n_queries: int) -> tuple[list[float], float]:
    rng = np.random.default_rng(2)
    columns = list(get_layer("clearings").popup)
    ms, rows = [], []
    with open_store(url, readonly=True) as store:
        store.read("clearings", bbox=(104, 15, 104 + deg, 15 + deg), columns=columns)  # warm
        for _ in range(n_queries):
            w, s = rng.uniform(EXTENT[0], EXTENT[2] - deg), rng.uniform(EXTENT[1], EXTENT[3] - deg)
            t0 = time.perf_counter()
            rows.append(len(store.read("clearings", bbox=(w, s, w + deg, s + deg), columns=columns)))
            ms.append((time.perf_counter() - t0) * 1e3)
    return ms, float(np.mean(rows))


def naive_read(url: str, deg: float) -> float:
    columns = list(get_layer("clearings").popup)
    with open_store(url, readonly=True) as store:
        t0 = time.perf_counter()
        whole = store.read("clearings", columns=columns)
        whole.cx[104 : 104 + deg, 15 : 15 + deg]
        return (time.perf_counter() - t0) * 1e3


def decisions(url: str, ids: range, analysts: int, per_analyst: int) -> tuple[list[float], float]:
    """Latencies (ms) of ``analysts`` threads each making ``per_analyst`` decisions on clearings of their own."""
    stores = [open_store(url) for _ in range(analysts)]
    barrier = threading.Barrier(analysts)
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def analyst(k: int) -> None:
        rng = np.random.default_rng(100 + k)
        own = rng.choice(np.arange(ids.start + k, ids.stop, analysts), per_analyst, replace=False)  # clearings no other analyst decides
        mine = []
        try:
            barrier.wait(60)
            for i in own:
                t0 = time.perf_counter()
                decide(stores[k], Decision(f"c{int(i):07d}", "confirm", 0), f"analyst{k}")
                mine.append((time.perf_counter() - t0) * 1e3)
        except BaseException as err:  # reported below
            errors.append(err)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=analyst, args=(k,)) for k in range(analysts)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    for s in stores:
        s.close()
    if errors:
        raise errors[0]
    return latencies, len(latencies) / seconds


def run(backends: dict[str, Callable[[], object]], n: int, quick: bool) -> None:
    """Print every figure for each backend (``backends`` maps a name to a context manager giving a store URL)."""
    n_small, n_big, per = (30, 10, 15) if quick else (200, 30, 40)
    print(f"\nGeoPackage and PostGIS side by side, {n:,} clearings:")
    for name, make in backends.items():
        with make() as url:  # type: ignore[attr-defined]
            rate = bulk_load(url, n)
            naive_rate = naive_load(url, 500 if quick else 2_000)
            print(f"[{name}] bulk load:            {rate:10,.0f} rows/s   (one upsert per row: {naive_rate:8,.0f} rows/s = {rate / naive_rate:,.0f} x slower)")
            for label, deg, k in (("50 km view", VIEW_50KM_DEG, n_small), ("region view", REGION_DEG, n_big)):
                ms, rows = bbox_reads(url, deg, k)
                print(f"[{name}] bbox {label:<12} {_stats(ms)}   ({k} queries, {rows:,.0f} rows each on average)")
            naive_ms = naive_read(url, VIEW_50KM_DEG)
            print(f"[{name}] naive 50 km view (read the layer, filter): {naive_ms:,.0f} ms")
            alone, alone_rate = decisions(url, range(0, n // 2), 1, per)
            busy, busy_rate = decisions(url, range(n // 2, n), 8, per)
            print(f"[{name}] review decision, 1 analyst:   {_stats(alone)}   {alone_rate:6.1f} decisions/s")
            print(f"[{name}] review decision, 8 at once:   {_stats(busy)}   {busy_rate:6.1f} decisions/s")


def gpkg_url(folder: Path) -> Callable[[], object]:
    @contextmanager
    def make() -> Iterator[str]:
        yield str(folder / "backends.gpkg")

    return make


def postgis_url(url: str) -> Callable[[], object]:
    return lambda: postgis_schema(url)
