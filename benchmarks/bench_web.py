"""The review desk and the map's data endpoint at scale.

With N clearings in a GeoPackage store (1 000 000; ``--quick``: 20 000), prints:

- the median and p95 of the review queue's first page (default filter, and a filtered one) and
  of a clearing's page (random clearings), through the app in this process (target p95 < 150 ms),
  against the naive queue (read every matching clearing, sort in pandas, take the first page);
- requests per second of the map's data endpoint (``/api/layers/clearings/features`` over a
  small box) under 8 concurrent clients, logged in as an analyst, on the production server
  (waitress, threads) and on Werkzeug's development server, each in its own process on a free
  local port.

    python benchmarks/bench_web.py            # 1 000 000 clearings
    python benchmarks/bench_web.py --quick    # 20 000 (a smoke test for CI)
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import importlib.util
import multiprocessing
import re
import socket
import statistics
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from config import load_settings
from layers import open_store
from layers.accounts import HashParams, add_account, get_account
from layers.review_queue import QUEUE_COLUMNS
from web import create_app

WEST, SOUTH, EAST, NORTH = 102.5, 10.5, 108.5, 17.5  # the demo region, roughly
FLAGS = ["protected_area", "outside_concessions", "inside_concession", "no_concession_data", "near_corridor"]
CLIENTS = 8
TARGET_P95_MS = 150.0
USER, PASSWORD = "bench-analyst", "bench-correct-horse-battery"
# cheap password hashing and plain-HTTP cookies: the benchmark logs in over 127.0.0.1
SETTINGS = {"password_hash_time_cost": 1, "password_hash_memory_kib": 1024, "password_hash_parallelism": 1, "secure_cookies": False}


def build_store(path: Path, n: int, seed: int = 0) -> None:
    """``n`` clearings (0.5-20 ha squares) over the region, in batches, with a few reference features."""
    rng = np.random.default_rng(seed)
    store = open_store(path)
    try:
        batch = 200_000
        for start in range(0, n, batch):
            m = min(batch, n - start)
            x, y = rng.uniform(WEST, EAST, m), rng.uniform(SOUTH, NORTH, m)
            half = np.sqrt(rng.uniform(0.5, 20.0, m) * 10_000.0) / 2 / 111_000.0
            ids = [f"CL-{i:07d}" for i in range(start, start + m)]
            days = pd.to_datetime("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, m), unit="D")
            flag_idx = rng.integers(0, len(FLAGS), m)
            frame = gpd.GeoDataFrame({
                "clearing_id": ids, "aoi": np.array(["north", "centre", "south"])[rng.integers(0, 3, m)],
                "area_ha": (2 * half * 111_000.0) ** 2 / 10_000.0, "first_detected": days, "last_observed": days,
                "confidence": np.where(rng.random(m) < 0.4, "high", "low"), "ndvi_drop": rng.uniform(0.2, 0.6, m),
                "nbr_drop": rng.uniform(0.2, 0.6, m), "flags": [[FLAGS[k]] for k in flag_idx],
                "reasons": [[f"Flag {FLAGS[k]}."] for k in flag_idx], "risk": rng.integers(0, 101, m),
                "review_status": np.where(rng.random(m) < 0.8, "new", "confirmed"), "run_id": "bench-run", "synthetic": True,
            }, geometry=shapely.box(x - half, y - half, x + half, y + half), crs="EPSG:4326")
            store.upsert("clearings", frame)
        store.upsert("concessions", gpd.GeoDataFrame([{
            "source": "bench", "source_id": f"EL-{k}", "holder": f"Holder {k}", "purpose": "rubber", "status": "active",
            "valid_from": dt.date(2010, 1, 1), "valid_to": dt.date(2080, 1, 1), "cancelled": False, "country": "Cambodia",
            "area_ha": 5000.0, "geometry": shapely.box(x0, y0, x0 + 0.1, y0 + 0.1),
        } for k, (x0, y0) in enumerate(zip(rng.uniform(WEST, EAST - 0.1, 300), rng.uniform(SOUTH, NORTH - 0.1, 300), strict=True))],
            geometry="geometry", crs="EPSG:4326"))
    finally:
        store.close()


def ensure_account(path: Path) -> None:
    """The analyst account the benchmark logs in as."""
    with open_store(path) as store:
        if get_account(store, USER) is None:
            add_account(store, USER, "analyst", PASSWORD, params=HashParams(1, 1024, 1), min_length=12)


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no CSRF token on the login page"
    return found.group(1)


def logged_in_cookie(base: str) -> str:
    """Log in on the server at ``base`` as the benchmark's analyst; the session's Cookie header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(base + "/login", timeout=60) as response:
        token = _token(response.read().decode())
    form = urllib.parse.urlencode({"username": USER, "password": PASSWORD, "csrf_token": token}).encode()
    with opener.open(base + "/login", data=form, timeout=60) as response:
        response.read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def timings(call: Callable[[], Any], reps: int) -> tuple[float, float]:
    """Median and p95 of ``reps`` calls, milliseconds (one warm-up call first)."""
    call()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(samples), float(np.percentile(samples, 95))


def naive_queue(path: Path) -> float:
    """The naive first page: every new clearing read, sorted in pandas, the first 50 taken (ms)."""
    with open_store(path, create=False) as store:
        t0 = time.perf_counter()
        rows = store.read("clearings", where={"review_status": "new"}, columns=QUEUE_COLUMNS)
        rows.assign(_c=rows["confidence"]).sort_values(["risk", "_c", "clearing_id"], ascending=[False, True, True]).head(50)
        return (time.perf_counter() - t0) * 1000.0


def _serve(kind: str, store: str, data_dir: str, port: int) -> None:
    """Serve the app in this (child) process until terminated."""
    import logging

    logging.getLogger("waitress").setLevel(logging.ERROR)  # no "task queue depth" lines
    app = create_app(load_settings({}, data_dir=Path(data_dir), **SETTINGS), store_url=store)
    if kind == "waitress":
        from waitress import serve

        serve(app, host="127.0.0.1", port=port, threads=CLIENTS)
    else:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:  # no line per request on stderr
                pass

        make_server("127.0.0.1", port, app, threaded=True, request_handler=Quiet).serve_forever()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(kind: str, store: Path, data_dir: Path) -> Iterator[str]:
    """The app in its own process (so that the clients do not share its interpreter lock) on a
    free local port: ``waitress`` (threads) or ``werkzeug`` (the development server)."""
    port = _free_port()
    proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(kind, str(store), str(data_dir), port), daemon=True)
    proc.start()
    try:
        deadline = time.perf_counter() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.perf_counter() > deadline or not proc.is_alive():
                    raise RuntimeError(f"the {kind} server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.join(timeout=10)


def load(url: str, seconds: float, headers: dict[str, str]) -> float:
    """Requests per second of ``CLIENTS`` threads each fetching ``url`` in a loop for ``seconds``."""
    done = [0] * CLIENTS
    stop = time.perf_counter() + seconds

    def client(k: int) -> None:
        while time.perf_counter() < stop:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
                response.read()
            done[k] += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 000 clearings, short runs: a smoke test")
    parser.add_argument("--store", type=Path, help="keep the store here, and reuse it when it exists (building 1 000 000 takes minutes)")
    args = parser.parse_args()
    n, reps, seconds = (20_000, 20, 2.0) if args.quick else (1_000_000, 100, 10.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.store or Path(tmp) / "bench.gpkg"
        if path.exists():
            with open_store(path, create=False) as store:
                n = store.count("clearings")
            print(f"store: {n:,} clearings, reused from {path}")
        else:
            t0 = time.perf_counter()
            build_store(path, n)
            print(f"store: {n:,} clearings written in {time.perf_counter() - t0:.1f} s ({path.stat().st_size / 1e6:.0f} MB)")
        ensure_account(path)
        app = create_app(load_settings({}, data_dir=Path(tmp), **SETTINGS), store_url=str(path))
        client = app.test_client()
        token = _token(client.get("/login").get_data(as_text=True))
        assert client.post("/login", data={"username": USER, "password": PASSWORD, "csrf_token": token}).status_code == 303
        rng = np.random.default_rng(1)
        ids = [f"CL-{i:07d}" for i in rng.integers(0, n, reps + 1)]
        pages = iter(ids * 2)

        def get(url: str) -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        figures = [
            ("queue, first page (status new)", timings(lambda: get("/review/"), reps)),
            ("queue, first page (high, risk >= 60, 2024)", timings(lambda: get("/review/?confidence=high&risk=60&period=2024"), reps)),
            ("queue, first page (AOI, status new)", timings(lambda: get("/review/?aoi=centre"), reps)),
            ("queue, first page (any status)", timings(lambda: get("/review/?status=any"), reps)),
            ("queue, page 100", timings(lambda: get("/review/?page=100"), reps)),
            ("clearing page (random)", timings(lambda: get(f"/review/clearings/{next(pages)}"), reps)),
        ]
        for label, (median, p95) in figures:
            verdict = "ok" if p95 < TARGET_P95_MS else f"over the {TARGET_P95_MS:.0f} ms target"
            print(f"{label:<46} median {median:7.1f} ms   p95 {p95:7.1f} ms   ({verdict})")
        naive = min(naive_queue(path) for _ in range(2))
        print(f"{'naive queue (read all new, sort in pandas)':<46} {naive:7.0f} ms   "
              f"ratio to the indexed first page: {naive / figures[0][1][0]:.0f}x")
        app.extensions["ecowatch"].close()
        # the map's data endpoint, 8 clients, a box that holds about 50 clearings (0.05 degrees at 1 000 000)
        side = (50 * (EAST - WEST) * (NORTH - SOUTH) / n) ** 0.5
        url_path = f"/api/layers/clearings/features?bbox=105.0,12.0,{105.0 + side:.4f},{12.0 + side:.4f}"
        rates = {}
        for kind in ("waitress", "werkzeug"):
            if kind == "waitress" and importlib.util.find_spec("waitress") is None:
                print("waitress: not installed (the production server; pip install waitress)")
                continue
            with served(kind, path, Path(tmp)) as base:
                headers = {"Cookie": logged_in_cookie(base)}
                with urllib.request.urlopen(urllib.request.Request(base + url_path, headers=headers), timeout=60) as response:
                    n_features = len(orjson.loads(response.read())["features"])
                rates[kind] = load(base + url_path, seconds, headers)
            print(f"map data endpoint, {CLIENTS} clients, {kind:<9} {rates[kind]:7.1f} requests/s ({n_features} features a response)")
        if len(rates) == 2:
            print(f"production / development server: {rates['waitress'] / rates['werkzeug']:.2f}x")


if __name__ == "__main__":
    main()
