import pytest

from geo.risk import DEFAULT_WEIGHTS, risk_scores


def test_score_adds_weights_confidence_and_size_with_reasons():
    out = risk_scores([["outside_concessions", "protected_area"]], ["high"], [3.0])
    # 45 + 30 + 10 + round(2 * log2(4)) = 89
    assert out["risk"].iloc[0] == 89
    assert out["risk_reasons"].iloc[0] == ["outside_concessions +30", "protected_area +45", "high confidence +10", "3.0 ha +4"]


def test_score_is_capped_and_says_so():
    flags = [sorted(DEFAULT_WEIGHTS)[:9]]
    out = risk_scores(flags, ["high"], [200.0])
    assert out["risk"].iloc[0] == 100
    assert out["risk_reasons"].iloc[0][-1].startswith("capped at 100")


def test_custom_weights_and_unknown_flags():
    out = risk_scores([["inside_concession", "something_new"]], ["low"], [0.0], {"inside_concession": 7})
    assert out["risk"].iloc[0] == 7
    assert out["risk_reasons"].iloc[0] == ["inside_concession +7"]


@pytest.mark.parametrize("ha", [0.0, 0.5, 5.0, 500.0])
def test_score_in_range(ha):
    assert 0 <= risk_scores([[]], ["low"], [ha])["risk"].iloc[0] <= 100
