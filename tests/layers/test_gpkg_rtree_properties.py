"""Property: whatever mix of inserts, geometry updates, fid updates and deletes, written in bulk or
through the GeoPackage triggers, committed or rolled back, every bbox query through the R-tree
finds exactly the rows a brute-force scan of the table finds."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers import gpkg_blob, gpkg_rtree, open_store

LAYER = "aoi"
RTREE = gpkg_rtree.index_name(LAYER)

# corners on a 1/8 grid: exact in float32, so the R-tree's rounded boxes are the geometries' own
coord = st.integers(-512, 512).map(lambda v: v / 8)
size = st.integers(0, 64).map(lambda v: v / 8)
polygon = st.tuples(coord, coord, size, size).map(lambda b: shapely.box(b[0], b[1], b[0] + b[2] + 0.125, b[1] + b[3] + 0.125))
geom_or_missing = st.one_of(polygon.map(lambda p: shapely.MultiPolygon([p])), st.just(None), st.just(shapely.MultiPolygon()))
pick = st.floats(0, 1, exclude_max=True)
op = st.one_of(
    st.tuples(st.just("insert"), st.lists(geom_or_missing, min_size=1, max_size=30)),
    st.tuples(st.just("move"), st.lists(st.tuples(pick, geom_or_missing), min_size=1, max_size=15)),
    st.tuples(st.just("refid"), st.lists(st.tuples(pick, st.integers(1, 200)), min_size=1, max_size=10)),
    st.tuples(st.just("delete"), st.lists(pick, min_size=1, max_size=15)),
)
batch = st.tuples(st.lists(op, min_size=1, max_size=5), st.sampled_from(["bulk", "triggers"]), st.sampled_from([True, True, False]))
query = st.tuples(coord, coord, size, size).map(lambda b: (b[0], b[1], b[0] + b[2] * 4, b[1] + b[3] * 4))


_TEMPLATE: dict[str, bytes] = {}


def _new_store(path: Path) -> None:
    """An empty store at ``path`` (made once, then copied: the test makes hundreds)."""
    if not _TEMPLATE:
        open_store(path).close()
        _TEMPLATE["bytes"] = path.read_bytes()
    else:
        path.write_bytes(_TEMPLATE["bytes"])


def _blob(geom: Any) -> bytes | None:
    return gpkg_blob.encode(np.array([geom], dtype=object), 4326)[0]


class _RollbackError(Exception):
    pass


@contextmanager
def _batch(conn: sqlite3.Connection, mode: str, commit: bool) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        with gpkg_rtree.bulk_upkeep(conn, LAYER) if mode == "bulk" else nullcontext():
            yield
        if not commit:
            raise _RollbackError
    except _RollbackError:
        conn.execute("ROLLBACK")
        return
    conn.execute("COMMIT")


def _apply(conn: sqlite3.Connection, ops: list[tuple[str, Any]], counter: list[int]) -> None:
    for kind, args in ops:
        fids = [r[0] for r in conn.execute(f"SELECT fid FROM {LAYER} ORDER BY fid")]
        if kind == "insert":
            for g in args:
                counter[0] += 1
                conn.execute(f"INSERT INTO {LAYER} (geom, name) VALUES (?, ?)", (_blob(g), f"n{counter[0]}"))
        elif not fids:
            continue
        elif kind == "move":
            for where, g in args:
                conn.execute(f"UPDATE {LAYER} SET geom = ? WHERE fid = ?", (_blob(g), fids[int(where * len(fids))]))
        elif kind == "refid":
            for where, new in args:
                taken = {r[0] for r in conn.execute(f"SELECT fid FROM {LAYER}")}
                if new not in taken:
                    old = fids[int(where * len(fids))]
                    if old in taken:
                        conn.execute(f"UPDATE {LAYER} SET fid = ? WHERE fid = ?", (new, old))
        else:
            for where in args:
                conn.execute(f"DELETE FROM {LAYER} WHERE fid = ?", (fids[int(where * len(fids))],))


def _brute_force(conn: sqlite3.Connection, box: tuple[float, float, float, float]) -> set[int]:
    w, s, e, n = box
    hits = set()
    for fid, blob in conn.execute(f"SELECT fid, geom FROM {LAYER}"):
        if blob is None or gpkg_blob.is_empty(blob):
            continue
        minx, maxx, miny, maxy = gpkg_blob.envelope(blob)
        if minx <= e and maxx >= w and miny <= n and maxy >= s:
            hits.add(fid)
    return hits


def _by_index(conn: sqlite3.Connection, box: tuple[float, float, float, float]) -> set[int]:
    w, s, e, n = box
    sql = f"SELECT id FROM {RTREE} WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?"
    return {r[0] for r in conn.execute(sql, (e, w, n, s))}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(batch, min_size=1, max_size=5), queries=st.lists(query, min_size=1, max_size=6))
def test_every_bbox_query_equals_a_brute_force_scan(batches: list[tuple[list[tuple[str, Any]], str, bool]], queries: list[tuple[float, float, float, float]]):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.gpkg"
        _new_store(path)
        conn = sqlite3.connect(path, isolation_level=None)
        gpkg_rtree.register_functions(conn)
        triggers = gpkg_rtree.triggers(conn, LAYER)
        counter = [0]
        try:
            for ops, mode, commit in batches:
                with _batch(conn, mode, commit):
                    _apply(conn, ops, counter)
            assert gpkg_rtree.triggers(conn, LAYER) == triggers
            assert conn.execute("SELECT rtreecheck(?)", (RTREE,)).fetchone()[0] == "ok"
            # the index holds exactly the non-empty geometries
            assert _by_index(conn, (-1e9, -1e9, 1e9, 1e9)) == _brute_force(conn, (-1e9, -1e9, 1e9, 1e9))
            for box in queries:
                assert _by_index(conn, box) == _brute_force(conn, box)
        finally:
            conn.close()
        # the store's own bbox read (what the map asks) agrees too
        with open_store(path, readonly=True) as store:
            whole = store.read(LAYER)
            names = dict(zip(whole.index, whole["name"], strict=True))
            check = sqlite3.connect(path)
            try:
                for box in queries:
                    assert set(store.read(LAYER, bbox=box)["name"]) == {names[f] for f in _brute_force(check, box)}
            finally:
                check.close()
