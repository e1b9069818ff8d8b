"""Readers and a writer at once, without clocks: a barrier puts the reads inside the writer's transaction.

The reader is another process holding a read-only store. It reads while the writer holds an open
write transaction (inserts, a moved clearing, deletes): it must finish without waiting, and see
the clearings as they were. After the commit it sees them as they are. Reads racing the commit
see one state or the other, never a mix.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from layers import open_store

BBOX = (99.0, 9.0, 111.0, 21.0)
WAIT_S = 120  # only a safety net against a hang: the test never sleeps or times anything


def _clearings(ids: list[str], seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(100, 110, len(ids)), rng.uniform(10, 20, len(ids))
    return gpd.GeoDataFrame(
        {"clearing_id": ids, "aoi": "a", "review_status": "new", "area_ha": rng.uniform(1, 5, len(ids))},
        geometry=[shapely.box(a, b, a + 0.01, b + 0.01) for a, b in zip(x, y, strict=True)], crs="EPSG:4326",
    )


def _reader(path: str, barrier: Barrier, results: Any, n_reads: int) -> None:
    """Open read-only inside the writer's transaction and read there, then read racing its commit, then after it."""
    try:
        barrier.wait(WAIT_S)  # 1: the writer holds its write transaction; the reader opens the store only now
        with open_store(path, readonly=True) as store:
            def ids() -> frozenset[str]:
                return frozenset(store.read("clearings", bbox=BBOX, columns=["clearing_id"])["clearing_id"])

            results.put(("during", [ids() for _ in range(n_reads)]))
            barrier.wait(WAIT_S)  # 2: the reads are done; the writer commits
            results.put(("racing", [ids() for _ in range(n_reads)]))
            barrier.wait(WAIT_S)  # 3: the commit is done
            results.put(("after", [ids()]))
    except BaseException as err:  # reported to the test, which fails with it
        results.put(("error", repr(err)))
        barrier.abort()


def test_a_reader_never_waits_for_a_writer_and_sees_one_state_or_the_other(store_path: Path):
    before_ids = [f"c{i}" for i in range(400)]
    with open_store(store_path) as store:
        store.upsert("clearings", _clearings(before_ids, 1))

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    reader = ctx.Process(target=_reader, args=(str(store_path), barrier, results, 25))
    reader.start()
    try:
        with open_store(store_path) as store:
            with store.transaction():
                store.upsert("clearings", _clearings([f"new{i}" for i in range(600)], 2))  # bulk path
                store.upsert("clearings", _clearings(["c0"], 3).assign(area_ha=99.0))
                store.delete("clearings", where={"clearing_id": before_ids[100:150]})
                barrier.wait(WAIT_S)  # 1
                during = results.get(timeout=WAIT_S)  # the reader finished while we hold the lock
                barrier.wait(WAIT_S)  # 2
            barrier.wait(WAIT_S)  # 3
            after_ids = set(store.read("clearings", columns=["clearing_id"])["clearing_id"])
        racing = results.get(timeout=WAIT_S)
        after = results.get(timeout=WAIT_S)
    finally:
        reader.join(WAIT_S)
        if reader.is_alive():
            reader.kill()
    assert during[0] == "during", during
    before = frozenset(before_ids)
    assert after_ids == (before - set(before_ids[100:150])) | {f"new{i}" for i in range(600)}
    assert all(seen == before for seen in during[1])
    assert racing[0] == "racing" and all(seen in (before, frozenset(after_ids)) for seen in racing[1])
    assert after == ("after", [frozenset(after_ids)])
    assert reader.exitcode == 0
