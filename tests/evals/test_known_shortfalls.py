"""A missed target is recorded, not hidden: the gate holds the measured floor and prints the miss."""

from pathlib import Path

from evals.gate import KnownShortfall, SetThresholds, check_thresholds, missed_targets


def thresholds() -> SetThresholds:
    return SetThresholds(cases=Path("x"), min={"must_see_recall": 1.0, "accuracy": 0.85},
                         known_shortfalls={"must_see_recall": KnownShortfall(floor=0.97, why="case c51")})


def test_the_floor_holds_and_the_miss_is_printed() -> None:
    t = thresholds()
    assert check_thresholds({"must_see_recall": 0.97, "accuracy": 0.9}, t) == []
    assert "TARGET MISSED must_see_recall" in missed_targets({"must_see_recall": 0.97}, t)[0]


def test_falling_below_the_floor_fails() -> None:
    failures = check_thresholds({"must_see_recall": 0.9, "accuracy": 0.9}, thresholds())
    assert [f.metric for f in failures] == ["must_see_recall"]


def test_other_targets_are_untouched() -> None:
    failures = check_thresholds({"must_see_recall": 1.0, "accuracy": 0.8}, thresholds())
    assert [f.metric for f in failures] == ["accuracy"]
