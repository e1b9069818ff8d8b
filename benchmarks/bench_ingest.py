"""Seizure ingest: 100 000 rows validated and stored, against a naive row-at-a-time baseline.

    python benchmarks/bench_ingest.py            # 100 000 rows (the acceptance figure: < 10 s)
    python benchmarks/bench_ingest.py --quick    # 5 000 rows, a smoke run for CI

The file is generated with a fixed seed: CSV in the seizure schema, most rows with a case id and
some without (content hash), ISO and day-first dates, DMS coordinates, and about 1 % bad rows
(ambiguous dates, NaN quantities, swapped coordinates, days that do not exist) that must be rejected.
``ingest_seizures`` runs into a new GeoPackage store, then again (idempotent: nothing written).
The naive baseline, in the same process, is what one would write first: ``csv.DictReader``, each
row validated on its own (no per-value caching) and stored with one ``upsert`` per row, each its
own transaction; it runs on a sample and its per-row time gives the ratio.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import load_settings
from ingest.dates import parse_date
from ingest.errors import RecordError
from ingest.seizures.fields import parse_group, parse_quantity, parse_unit
from ingest.seizures.species import species_list
from jobs.ingest_seizures import ingest_seizures
from layers import open_store

BUDGET_S = 10.0
COLUMNS = [
    "seizure_id", "date", "commodity_group", "commodity", "species", "quantity", "unit", "transport_mode",
    "origin_country", "destination_country", "agency", "case_reference", "notes", "lon", "lat",
]
KINDS = [
    ("timber", "rosewood logs", "Dalbergia cochinchinensis", "m3"), ("timber", "padauk planks", "Pterocarpus macrocarpus", "m3"),
    ("timber", "agarwood chips", "Aquilaria crassna", "kg"), ("wildlife", "pangolin scales", "Manis javanica", "kg"),
    ("wildlife", "live turtles", "Cuora amboinensis", "pieces"), ("wildlife", "ivory tusks", "elephant ivory", "pieces"),
]
AGENCIES = ["Customs", "Forestry Administration", "Border police", "Environmental police"]
MODES = ["road", "truck", "river", "boat", "sea", "air"]


def make_csv(path: Path, n: int, seed: int) -> int:
    """Write ``n`` rows; returns how many are bad on purpose."""
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, len(KINDS), n)
    days = rng.integers(0, 2500, n)
    lon = rng.uniform(100.0, 108.5, n)
    lat = rng.uniform(10.0, 22.0, n)
    qty = rng.gamma(2.0, 20.0, n).round(1)
    bad = rng.random(n) < 0.01
    bad_kind = rng.integers(0, 4, n)
    n_bad = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for i in range(n):
            group, commodity, species, unit = KINDS[kinds[i]]
            day = dt.date(2018, 1, 1) + dt.timedelta(days=int(days[i]))
            date = day.isoformat() if i % 5 else day.strftime("%d/%m/%Y") if day.day > 12 else day.isoformat()
            x, y = f"{lon[i]:.5f}", f"{lat[i]:.5f}"
            if i % 17 == 0:
                d, rest = divmod(round(lat[i] * 36_000), 36_000)
                m, tenths = divmod(rest, 600)
                y = f"{d}°{m}'{tenths / 10:.1f}\"N"
            q = f"{qty[i]}"
            notes = f"seized at checkpoint {i % 311}"
            if bad[i]:
                n_bad += 1
                k = bad_kind[i]
                if k == 0:
                    date = "03/05/2021"
                elif k == 1:
                    q = "NaN"
                elif k == 2:
                    x, y = y if "°" not in y else f"{lat[i]:.5f}", x
                else:  # a formula in a note is data now (stored made safe), so: a day that does not exist
                    date = "2021-02-30"
            sid = f"CASE-{seed}-{i:06d}" if i % 10 else ""
            w.writerow([sid, date, group, commodity, species, q, unit, MODES[i % len(MODES)], "Cambodia", "Viet Nam",
                        AGENCIES[i % len(AGENCIES)], f"REF-{i}", notes, x, y])
    return n_bad


def naive_ingest(store, path: Path, limit: int) -> tuple[int, int]:
    """The baseline: one row at a time, validated without caching, one upsert (transaction) per row."""
    import geopandas as gpd
    import shapely

    species = species_list()
    written = rejected = 0
    with path.open(newline="", encoding="utf-8") as fh:
        for k, row in enumerate(csv.DictReader(fh)):
            if k >= limit:
                break
            try:
                day = parse_date(row["date"], latest=dt.date.today())
                group = parse_group(row["commodity_group"])
                name = species.resolve(row["species"]).name
                qty, _ = parse_quantity(row["quantity"])
                unit = parse_unit(row["unit"])
                x, y = float(row["lon"]), float(row["lat"])
                if not (np.isfinite(x) and np.isfinite(y)):
                    raise ValueError("not finite")
            except (ValueError, KeyError) as err:
                rejected += 1
                logging.getLogger("bench").debug("%s", RecordError(path.name, k + 2, "", None, str(err)))
                continue
            frame = gpd.GeoDataFrame(
                {"seizure_id": [row["seizure_id"] or f"NAIVE-{k}"], "date": [day], "commodity_group": [group], "species": [name],
                 "quantity": [qty], "unit": [unit], "notes": [row["notes"]], "source": [path.name]},
                geometry=[shapely.Point(x, y)], crs="EPSG:4326",
            )
            written += store.upsert("seizures", frame).written
    return written, rejected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 000 rows and a small naive sample (CI smoke run).")
    parser.add_argument("--rows", type=int, help="Rows to generate (default 100 000, or 5 000 with --quick).")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = args.rows or (5_000 if args.quick else 100_000)
    sample = 300 if args.quick else 2_000
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "seizures.csv"
        t0 = time.perf_counter()
        n_bad = make_csv(csv_path, n, args.seed)
        print(f"generated {n:,} rows ({csv_path.stat().st_size / 1e6:.1f} MB, {n_bad} bad on purpose) in {time.perf_counter() - t0:.1f} s")
        settings = load_settings({}, data_dir=folder)
        with open_store(folder / "store.gpkg") as store:
            upsert, in_store = store.upsert, [0.0]

            def timed_upsert(layer: str, frame: Any) -> Any:
                t = time.perf_counter()
                try:
                    return upsert(layer, frame)
                finally:
                    in_store[0] += time.perf_counter() - t

            store.upsert = timed_upsert  # type: ignore[method-assign]
            t0, c0 = time.perf_counter(), time.process_time()
            run = ingest_seizures(store, settings, csv_path)
            first, cpu = time.perf_counter() - t0, time.process_time() - c0
            store.upsert = upsert  # type: ignore[method-assign]
            t0 = time.perf_counter()
            again = ingest_seizures(store, settings, csv_path)
            second = time.perf_counter() - t0
            stored = store.count("seizures")
        ok = run.read == n and run.rejected == n_bad and run.written == n - n_bad and again.written == 0 and stored == n - n_bad
        print(f"ecowatch ingest: {n:,} rows read, {run.written:,} stored, {run.rejected} rejected in {first:.2f} s "
              f"({n / first:,.0f} rows/s); budget {BUDGET_S:.0f} s for 100 000 rows: {'within' if first * 100_000 / n < BUDGET_S else 'OVER'}")
        print(f"  of which reading and validating {first - in_store[0]:.2f} s, the store's upsert {in_store[0]:.2f} s; "
              f"CPU {cpu:.2f} s; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        print(f"re-ingest of the same file: {again.written} written, {again.rejected} rejected in {second:.2f} s; rows in the store: {stored:,}")
        with open_store(folder / "naive.gpkg") as store:
            t0 = time.perf_counter()
            written, rejected = naive_ingest(store, csv_path, sample)
            naive = time.perf_counter() - t0
        per_row_naive, per_row_ours = naive / sample, first / n
        print(f"naive baseline: {sample:,} rows ({written} stored, {rejected} rejected) in {naive:.2f} s ({sample / naive:,.0f} rows/s), "
              f"{per_row_naive * n:,.0f} s for {n:,} rows by extrapolation")
        print(f"ratio: ecowatch is {per_row_naive / per_row_ours:,.1f}x faster per row than the naive baseline")
    if not ok:
        print("FAILED: counts are not what the generated file holds", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
