"""Running the change detector on the evaluation generator's scenes and scoring it.

This glue imports the detector; :mod:`synthetic.evaluation` (the generator and its scorer) does
not, and must not. Used by ``tests/geo/test_change_evaluation.py`` (the test cases, 256 px) and
``benchmarks/bench_accuracy.py`` (tuning cases, or full-size 1024 px scenes).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numba

from geo.change.detection import ChangeParams, detect_change
from geo.change.objects import clearing_objects
from synthetic.evaluation import generate
from synthetic.evaluation.scenes import EvalScene
from synthetic.evaluation.scoring import SceneScore, alert_labels, score_alerts

logger = logging.getLogger(__name__)

MMU_HA = 0.5  # the default settings' minimum mapping unit


def detect(scene: EvalScene, params: ChangeParams, mmu_ha: float = MMU_HA) -> gpd.GeoDataFrame:
    """The detector on a scene as a user's files would feed it: B04, B08, B12 (NBR) or B11, SCL."""
    b = scene.bands
    change = detect_change(b["B04"], b["B08"], b["B12"], scene.scl, scene.n_baseline, params, dates=scene.dates)
    return clearing_objects(change, scene.transform, scene.crs, scene.monitor_dates, mmu_ha)


@dataclass
class CaseScore:
    """One case's scores for every alert and for confirmed (high) alerts only."""

    case: tuple[str, int, int]
    every: SceneScore
    high: SceneScore


def run_case(job: tuple[tuple[str, int, int], ChangeParams, int]) -> CaseScore:
    """Generate, detect and score one ``(scene, seed, baseline_years)`` case at ``n`` px."""
    case, params, n = job
    scene = generate(*case, n=n)
    found = detect(scene, params)
    every = score_alerts(scene, alert_labels(scene, list(found.geometry)))
    high = found[found["confidence"] == "high"]
    return CaseScore(case, every, score_alerts(scene, alert_labels(scene, list(high.geometry))))


def _one_thread() -> None:
    numba.set_num_threads(1)  # the processes are the parallelism


def run_cases(cases: Sequence[tuple[str, int, int]], params: ChangeParams | None = None, n: int = 256, workers: int = 2) -> list[CaseScore]:
    """:func:`run_case` for each case in ``workers`` processes (spawned: rasterio's warning
    handling is not thread-safe and warnings are errors in the tests)."""
    params = params or ChangeParams()
    jobs = [(c, params, n) for c in cases]
    if workers <= 1:
        return [run_case(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_one_thread) as pool:
        return list(pool.map(run_case, jobs))
