"""The change detector's accuracy on the hard synthetic series (synthetic/hard_scenes.py).

The acceptance bar of issue 4, checked on the **test seeds 100-119**, which were never used to
tune anything: thresholds were tuned on seeds 0-9 only (``benchmarks/tune_change.py``; how, in
``config/defaults.toml``). Each seed is a 384 x 384 px, 20 m grid, one baseline year and nine
monitoring months every 10 days, with clearings of 0.2-200 ha (some growing, some along a new
road), labelled and missed clouds, shadows, haze, no-data stripes, deciduous and rubber leaf-off
in both years, cycling crops and a lake whose level changes; seeds 100-104 also run without any
clearing (the no-change scenes).

Pooled over the 20 seeds, every reported clearing (low and high confidence) counts:

* object precision >= 0.95 and recall >= 0.90 for clearings >= 0.5 ha (a match: IoU >= 0.5);
* pixel F1 >= 0.85;
* < 1 % of deciduous forest and rubber, and < 1 % of crop area, flagged;
* median |first_detected - first_visible| <= one revisit (10 days);
* nothing at all flagged in the no-change scenes.

All series are generated and scored once per module (two worker processes), under a minute.

History (issue 14): the detector retuned to find real cuts in the Romania series (drops of 0.15,
a seasonal low range) reported more on these scenes for a while: pooled precision 0.81, wintering
rubber confirmed on 10.5 ha of seed 109, unconfirmed last-date drops under thin cloud the SCL
missed. Withdrawal of confirmed transients (green again in both indices within ``transient_days``)
and withholding unconfirmed drops that brightened NIR (``unconfirmed_nir_rise_max``) brought the
bar back; nothing here is marked as an expected failure.
"""

from __future__ import annotations

import pytest

from synthetic.hard_scenes import REVISIT
from synthetic.scoring import Score, pooled, score_seeds

TEST_SEEDS = list(range(100, 120))
NO_CHANGE_SEEDS = list(range(100, 105))
# 25 whole series generated and detected (a minute): `make test` runs them in its `slow` step
pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def scores() -> dict[tuple[int, bool], Score]:
    jobs = [(s, False) for s in TEST_SEEDS] + [(s, True) for s in NO_CHANGE_SEEDS]
    return dict(zip(jobs, score_seeds(jobs), strict=True))


@pytest.mark.parametrize("seed", TEST_SEEDS)
def test_seed_keeps_seasonal_land_and_crops_unflagged(scores, seed):
    s = scores[(seed, False)]
    assert s.seasonal_flagged < 0.01 * s.seasonal_area, f"seed {seed}: {s.seasonal_flagged} of {s.seasonal_area} px of deciduous/rubber"
    assert s.crop_flagged < 0.01 * s.crop_area, f"seed {seed}: {s.crop_flagged} of {s.crop_area} px of crops"
    assert s.flooded_flagged == 0, f"seed {seed}: forest flooded by the lake flagged"
    assert s.pixel_f1 >= 0.85, f"seed {seed}: pixel F1 {s.pixel_f1:.3f}; missed {s.missed}; false {s.false}"


@pytest.mark.parametrize("seed", NO_CHANGE_SEEDS)
def test_nothing_is_flagged_where_nothing_changed(scores, seed):
    s = scores[(seed, True)]
    assert s.n_detected == 0, f"seed {seed} without clearings: {s.false}"


def test_pooled_accuracy_meets_the_bar(scores):
    p = pooled(list(scores.values()))
    details = {seed: (s.missed, s.false) for (seed, quiet), s in scores.items() if not quiet and (s.missed or s.false)}
    assert p.n_truth >= 200, "enough clearings to measure"
    assert p.precision >= 0.95, f"precision {p.precision:.3f}: {details}"
    assert p.recall >= 0.90, f"recall {p.recall:.3f}: {details}"
    assert p.pixel_f1 >= 0.85
    assert p.seasonal_share < 0.01 and p.crop_share < 0.01
    assert p.median_abs_first_error_days <= REVISIT
    assert p.no_change_objects == 0
