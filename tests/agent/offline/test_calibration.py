"""The calibration map is fitted, monotone, and honest about what it saw."""

from agent.llm.offline.calibration import Calibrator, fit_isotonic


def test_fit_is_monotone_and_tracks_accuracy() -> None:
    # Scores 0.9 are right 9 times in 10, scores 0.5 right half the time.
    scores = [0.9] * 10 + [0.5] * 10
    correct = [True] * 9 + [False] + [True] * 5 + [False] * 5
    cal = fit_isotonic(scores, correct, prior_weight=0.0)
    assert abs(cal(0.9) - 0.9) < 1e-9
    assert abs(cal(0.5) - 0.5) < 1e-9
    assert cal(0.7) == 0.7  # linear between knots
    assert cal.fitted_on == 20


def test_violations_are_pooled() -> None:
    # Higher scores less often right: PAV pools them into one flat segment.
    cal = fit_isotonic([0.2, 0.4, 0.6, 0.8], [True, True, False, False], prior_weight=0.0)
    values = [cal(x) for x in (0.2, 0.4, 0.6, 0.8)]
    assert values == sorted(values)
    assert values[0] == values[-1] == 0.5


def test_round_trip(tmp_path) -> None:
    cal = fit_isotonic([0.3, 0.9], [False, True])
    path = tmp_path / "cal.json"
    path.write_text(cal.to_json())
    loaded = Calibrator.load(path)
    assert loaded(0.9) == cal(0.9) and loaded.fitted_on == 2
    assert Calibrator.load(tmp_path / "missing.json")(0.42) == 0.42


def test_below_every_fitted_score_the_map_is_never_more_confident_than_the_raw_score() -> None:
    # A map fitted only on supported cases (raw 0.7 and up, right 9 times in 10) has seen no case
    # with nothing supported: such a case must not borrow the 0.9 of the lowest fitted score.
    cal = fit_isotonic([0.7] * 10 + [0.9] * 10, [True] * 9 + [False] + [True] * 10, prior_weight=0.0)
    assert cal(0.7) == 0.9
    assert cal(0.3) == 0.3
    assert cal(0.0) == 0.0
    # ...nor more than the lowest fitted rate when that is below the raw score.
    low = fit_isotonic([0.8] * 4, [True, False, False, False], prior_weight=0.0)
    assert low(0.6) == 0.25
