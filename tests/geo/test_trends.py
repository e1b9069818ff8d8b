"""Each emerging-trend label has a series that yields it."""

import numpy as np
import pytest

from geo.trends import LABELS, mann_kendall, trend_label

H, C, N = "hot", "cold", "none"


def series(states, z=None):
    hot = [s == H for s in states]
    cold = [s == C for s in states]
    if z is None:
        z = [2.5 if s == H else (-2.5 if s == C else 0.0) for s in states]
    return hot, cold, z


CASES = {
    "new": series([N] * 11 + [H]),
    "consecutive": series([N] * 8 + [H] * 4),
    "intensifying": series([H] * 12, list(np.linspace(2.0, 6.0, 12))),
    "persistent": series([H] * 12, [3.0, 3.2, 2.9, 3.1, 3.0, 2.8, 3.1, 3.0, 3.2, 2.9, 3.0, 3.1]),
    "diminishing": series([H] * 12, list(np.linspace(6.0, 2.0, 12))),
    "sporadic": series([H, N, N, H, N, H, N, N, H, N, N, H]),
    "oscillating": series([C, N, H, N, C, N, H, N, N, C, N, H]),
    "historical": series([H] * 11 + [N]),
    "no pattern": series([N] * 12),
}


@pytest.mark.parametrize("label", LABELS)
def test_each_label_has_a_series_that_yields_it(label):
    assert trend_label(*CASES[label]) == label


def test_mann_kendall_directions():
    assert mann_kendall(np.arange(10.0))[0] == "increasing"
    assert mann_kendall(-np.arange(10.0))[0] == "decreasing"
    assert mann_kendall(np.ones(10))[0] == "no trend"
    assert mann_kendall([1.0, 2.0])[0] == "no trend"


def test_consecutive_needs_no_earlier_hot_period():
    assert trend_label(*series([H] + [N] * 7 + [H] * 4)) == "sporadic"
    assert trend_label(*series([C] + [N] * 7 + [H] * 4)) == "consecutive"  # an earlier cold spot does not matter
