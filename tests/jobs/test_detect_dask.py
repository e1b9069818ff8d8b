"""The ``detect`` job on a 2-worker Dask ``LocalCluster`` gives exactly the single-process result,
also when a worker process dies in the middle of the job."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import shapely

from config import load_settings
from jobs.detect import Period, detect
from layers import open_store
from tests.jobs.dask_faults import ExitAtTask
from tests.jobs.detect_scenes import (
    AOI,
    CLOUD,
    SOIL,
    dates,
    ecowatch,
    forest_stack,
    paint,
    pixel_box,
    prepare_store,
    write_stack,
)

# multi-process clusters started and stopped: `make test` runs them in its `slow` step
pytestmark = pytest.mark.slow

SHAPE = (160, 224)
DAYS = dates(8, 10)


@pytest.fixture
def stores(tmp_path: Path) -> tuple[Path, Path]:
    stack = forest_stack(len(DAYS), SHAPE, seed=5)
    paint(stack, slice(10, None), pixel_box(slice(20, 90), slice(30, 150), SHAPE), SOIL, 5)  # across many 64-px windows
    paint(stack, slice(12, None), pixel_box(slice(100, 140), slice(170, 200), SHAPE), SOIL, 5)
    paint(stack, slice(14, None), pixel_box(slice(120, 160), slice(0, 60), SHAPE), CLOUD, 8)
    write_stack(stack, DAYS, tmp_path / "scenes")
    (tmp_path / "local").mkdir()
    (tmp_path / "cluster").mkdir()
    return (prepare_store(tmp_path / "local", tmp_path / "scenes", SHAPE, DAYS),
            prepare_store(tmp_path / "cluster", tmp_path / "scenes", SHAPE, DAYS))


def test_two_workers_give_exactly_the_single_process_result(stores):
    from distributed import LocalCluster

    local, distributed = stores
    periods = {"baseline": Period(DAYS[0], DAYS[7]), "monitor": Period(DAYS[8], DAYS[-1])}
    with open_store(local) as st:
        detect(st, load_settings({}, data_dir=local.parent, window_px=64, detect_threads=1), aoi=AOI, **periods)
    # no dashboard; the scheduler's small HTTP server on a free loopback port (its default, 8787, may be taken)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    with cluster:
        out = ecowatch("detect", "--aoi", AOI, "--baseline", f"{DAYS[0]}/{DAYS[7]}", "--monitor", f"{DAYS[8]}/{DAYS[-1]}",
                       "--scheduler", cluster.scheduler_address, store=distributed, env={"ECOWATCH_WINDOW_PX": "64"})
    assert "2 new" in out
    assert_same_results(local, distributed, n_clearings=2)


def assert_same_results(local: Path, distributed: Path, n_clearings: int) -> None:
    """Clearings and observation gaps of the two stores are identical (ids, values, geometries)."""
    results = []
    for store in (local, distributed):
        with open_store(store) as st:
            results.append((st.read("clearings").sort_values("clearing_id").reset_index(drop=True),
                            st.read("observation_gaps").sort_values("since").reset_index(drop=True)))
    (c1, g1), (c2, g2) = results
    assert len(c1) == n_clearings and len(g1) >= 1
    same = ["clearing_id", "area_ha", "first_detected", "last_observed", "confidence", "ndvi_drop", "nbr_drop", "review_status"]
    assert c1[same].equals(c2[same])
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(c1.geometry, c2.geometry, strict=True))
    assert g1[["since", "until", "area_ha"]].equals(g2[["since", "until", "area_ha"]])
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(g1.geometry, g2.geometry, strict=True))
    assert np.array_equal(c1["quicklooks"].map(len), c2["quicklooks"].map(len))


TALL = (384, 224)  # six rows of 64-px windows: five tasks on a 2-worker cluster (one band of two rows, four single rows)


def test_a_worker_lost_mid_job_loses_and_duplicates_no_clearing(tmp_path: Path):
    from distributed import Client, LocalCluster

    stack = forest_stack(len(DAYS), TALL, seed=9)
    paint(stack, slice(10, None), pixel_box(slice(40, 300), slice(50, 120), TALL), SOIL, 5)  # a clearing across five rows of windows
    paint(stack, slice(11, None), pixel_box(slice(330, 370), slice(150, 200), TALL), SOIL, 5)
    paint(stack, slice(12, None), pixel_box(slice(0, 30), slice(140, 220), TALL), SOIL, 5)
    paint(stack, slice(14, None), pixel_box(slice(200, 260), slice(150, 224), TALL), CLOUD, 8)
    write_stack(stack, DAYS, tmp_path / "scenes")
    stores = []
    for name in ("local", "cluster"):
        (tmp_path / name).mkdir()
        stores.append(prepare_store(tmp_path / name, tmp_path / "scenes", TALL, DAYS))
    local, distributed = stores
    periods = {"baseline": Period(DAYS[0], DAYS[7]), "monitor": Period(DAYS[8], DAYS[-1])}
    with open_store(local) as st:
        detect(st, load_settings({}, data_dir=local.parent, window_px=64, detect_threads=2), aoi=AOI, **periods)

    marker = tmp_path / "worker-died"
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    with cluster, Client(cluster, set_as_default=False) as client:
        before = set(client.run(os.getpid).values())
        # the first worker to start its second window task dies there (one death in the whole cluster)
        client.register_plugin(ExitAtTask(2, "process_windows", marker))
        out = ecowatch("detect", "--aoi", AOI, "--baseline", f"{DAYS[0]}/{DAYS[7]}", "--monitor", f"{DAYS[8]}/{DAYS[-1]}",
                       "--scheduler", cluster.scheduler_address, store=distributed,
                       env={"ECOWATCH_WINDOW_PX": "64"})
        client.wait_for_workers(2, timeout=60)
        after = set(client.run(os.getpid).values())
    assert marker.exists(), "no worker was killed: the fault was not injected"
    dead_pid = int(marker.read_text().split()[0])
    assert dead_pid in before and dead_pid not in after  # that process really ended; the nanny started another
    assert "3 new" in out
    assert_same_results(local, distributed, n_clearings=3)
