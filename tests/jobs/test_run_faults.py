"""Faults during a run: a full disk, and a run killed with SIGKILL.

A full disk ends the command with one clear error (no traceback), the store as it was and the
cause in ``ingest_runs``. A killed run leaves its row ``running``; the next run finds its process
gone and marks it ``interrupted``.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely

from config import load_settings
from jobs.runs import INTERRUPTED, RUNNING, recorded_run
from layers import CATALOG, open_store

ECOWATCH = Path(sys.executable).parent / "ecowatch"
WAIT_S = 120  # a safety net against a hang only


def _aoi_file(path: Path, n: int, vertices: int, seed: int) -> Path:
    """A GeoJSON of ``n`` AOI polygons of ``vertices`` vertices each, inside the region."""
    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    features = []
    for i in range(n):
        cx, cy = rng.uniform(100, 108), rng.uniform(10, 20)
        radius = rng.uniform(0.01, 0.05, vertices)
        ring = np.column_stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)])
        geom = shapely.Polygon(ring)
        features.append({"type": "Feature", "properties": {"name": f"aoi-{seed}-{i}"}, "geometry": shapely.geometry.mapping(geom)})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _snapshot(store_path: Path) -> dict[str, Any]:
    with open_store(store_path, readonly=True) as store:
        counts = {name: store.count(name) for name in CATALOG if name != "ingest_runs"}
        names = sorted(store.read("aoi")["name"])
        runs = store.read("ingest_runs")
    return {"counts": counts, "aoi": names, "runs": runs}


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 3 MB tmpfs (root only; without root the test is skipped, or fails on CI)."""
    if os.geteuid() != 0:
        message = "mounting a small tmpfs needs root"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="ecowatch-full-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)], check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)
        folder.rmdir()


def test_a_full_disk_ends_in_one_clear_error_and_leaves_the_store_as_it_was(small_disk: Path, tmp_path: Path):
    store = small_disk / "s.gpkg"
    env = {**os.environ, "ECOWATCH_DATA_DIR": str(tmp_path / "data")}
    first = subprocess.run([str(ECOWATCH), "ingest", "boundaries", "aoi", str(_aoi_file(tmp_path / "small.geojson", 5, 20, 1)), "--store", str(store)],
                           capture_output=True, text=True, env=env, check=False, timeout=WAIT_S)
    assert first.returncode == 0, first.stderr
    before = _snapshot(store)
    assert before["counts"]["aoi"] == 5

    big = _aoi_file(tmp_path / "big.geojson", 3000, 150, 2)  # ≈ 7 MB of geometry: more than the disk holds
    result = subprocess.run([str(ECOWATCH), "ingest", "boundaries", "aoi", str(big), "--store", str(store)],
                            capture_output=True, text=True, env=env, check=False, timeout=WAIT_S)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1 and "disk is full" in errors[0], result.stderr

    after = _snapshot(store)
    assert after["counts"] == before["counts"] and after["aoi"] == before["aoi"]
    failed = after["runs"][after["runs"]["command"].str.contains("big.geojson")]
    assert list(failed["status"]) == ["failed"]
    assert "disk is full" in failed["message"].iloc[0] and "rollback" not in failed["message"].iloc[0]


def _killed_run(store_path: str, data_dir: str, ready: Any) -> None:
    """A run that writes inside its transaction, says so, and waits to be killed."""
    with (
        open_store(store_path) as store,
        recorded_run(store, "ingest boundaries aoi killed.geojson", data_dir=Path(data_dir)),
        store.transaction(),
    ):
        store.upsert("aoi", _frame(["half-written"]))
        ready.send(os.getpid())
        ready.recv()  # never answered: the parent kills this process


def _frame(names: list[str]) -> Any:
    import geopandas as gpd

    return gpd.GeoDataFrame({"name": names, "source": "test"}, geometry=[shapely.box(100, 10, 101, 11)] * len(names), crs="EPSG:4326")


def test_a_killed_run_is_marked_interrupted_by_the_next(store_path: Path, tmp_path: Path):
    open_store(store_path).close()
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_killed_run, args=(str(store_path), str(tmp_path), child))
    proc.start()
    try:
        assert parent.poll(WAIT_S), "the run did not start"
        pid = parent.recv()
        with open_store(store_path, readonly=True) as store:
            row = store.read("ingest_runs", where={"status": RUNNING})
        assert list(row["pid"]) == [pid]
        os.kill(pid, signal.SIGKILL)
    finally:
        proc.join(WAIT_S)
    assert proc.exitcode == -signal.SIGKILL

    settings = load_settings({}, data_dir=tmp_path)
    with open_store(store_path) as store, recorded_run(store, "next", data_dir=settings.data_dir):
        pass
    with open_store(store_path, readonly=True) as store:
        runs = store.read("ingest_runs").set_index("command")
        assert store.count("aoi") == 0  # the killed run's writes were never committed
    killed = runs.loc["ingest boundaries aoi killed.geojson"]
    assert killed["status"] == INTERRUPTED and f"process {pid}" in killed["message"] and not pd.isna(killed["finished"])
    assert runs.loc["next", "status"] == "completed"
