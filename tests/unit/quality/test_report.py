"""Decision rules of the realized-quality check: each test fails when its rule is removed."""

from __future__ import annotations

import copy
import math

import pytest

from functions.contract import names
from functions.contract.model_artifact import Baseline, parse_baseline
from functions.quality.report import (
    CHECK_ACCURACY,
    CHECK_RECALL_PREFIX,
    State,
    VersionQuality,
    confusion_text,
    evaluate,
    metric_points,
    report_text,
    wilson_interval,
)
from tests.unit.quality.logs import baseline_of

LABELS = ("setosa", "versicolor", "virginica")


def quality(version: str, confusion: list[list[int]], unlabelled: int = 0, unmatched: int = 0) -> VersionQuality:
    labelled = sum(map(sum, confusion))
    return VersionQuality(version, LABELS, labelled + unlabelled, labelled, unmatched, tuple(map(tuple, confusion)), 60_000.0)


def diagonal(per_class: int, wrong: int = 0) -> list[list[int]]:
    """per_class rows of each class; `wrong` of each predicted as the next class."""
    return [[per_class - wrong if j == i else (wrong if j == (i + 1) % 3 else 0) for j in range(3)] for i in range(3)]


@pytest.fixture(scope="module")
def iris() -> Baseline:
    return baseline_of("iris")


def test_wilson_interval_matches_known_values() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(30, 30)
    assert low == pytest.approx(0.8865, abs=1e-4) and high == 1.0
    low, high = wilson_interval(50, 100)
    assert (low, high) == (pytest.approx(0.4038, abs=1e-4), pytest.approx(0.5962, abs=1e-4))
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_no_prediction_of_the_judged_version_is_no_traffic(iris: Baseline) -> None:
    assert evaluate(iris, {}, 0, 1).state is State.NO_TRAFFIC
    other = {"someoldversion": quality("someoldversion", diagonal(50, 25))}
    evaluation = evaluate(iris, other, 0, 1)
    assert evaluation.state is State.NO_TRAFFIC  # another version's bad figures are not this version's
    assert evaluation.checks == ()


def test_too_few_labels_is_insufficient_data_never_ok(iris: Baseline) -> None:
    few = {iris.model_version: quality(iris.model_version, diagonal(3), unlabelled=500)}  # 9 labelled rows, all right
    evaluation = evaluate(iris, few, 0, 1)
    assert evaluation.state is State.INSUFFICIENT_DATA
    assert evaluation.checks[0].check == CHECK_ACCURACY and evaluation.checks[0].state is State.INSUFFICIENT_DATA
    assert (names.METRIC_REALIZED_ACCURACY, 1.0, "None") in metric_points(evaluation)  # the figure is still reported


def test_older_baselines_fall_back_to_the_holdout_as_reference(iris: Baseline) -> None:
    document = copy.deepcopy(iris.document)
    document.pop("quality_reference")
    document["holdout"].pop("per_class")
    old = parse_baseline(document)
    evaluation = evaluate(old, {old.model_version: quality(old.model_version, diagonal(200, 40))}, 0, 1)
    assert evaluation.checks[0].baseline == old.holdout.accuracy  # type: ignore[union-attr]
    assert evaluation.checks[0].state is State.ALARM
    assert evaluation.checks[1].baseline == old.holdout.accuracy  # every class held to the hold-out accuracy


def test_a_baseline_without_holdout_figures_is_insufficient_data(iris: Baseline) -> None:
    document = copy.deepcopy(iris.document)
    document.pop("holdout")
    old = parse_baseline(document)
    evaluation = evaluate(old, {old.model_version: quality(old.model_version, diagonal(100, 50))}, 0, 1)
    assert evaluation.state is State.INSUFFICIENT_DATA
    assert "no hold-out figures" in evaluation.checks[0].detail


def test_accuracy_at_the_holdout_level_is_ok(iris: Baseline) -> None:
    evaluation = evaluate(iris, {iris.model_version: quality(iris.model_version, diagonal(100, 2))}, 0, 1)
    assert evaluation.state is State.OK
    assert all(c.state is State.OK for c in evaluation.checks)


def test_the_same_accuracy_drop_alarms_only_with_enough_labelled_rows(iris: Baseline) -> None:
    """Sample-size awareness: 88 % accuracy is noise on 75 rows and an alarm on 750."""
    small = evaluate(iris, {iris.model_version: quality(iris.model_version, diagonal(25, 3))}, 0, 1)
    large = evaluate(iris, {iris.model_version: quality(iris.model_version, diagonal(250, 30))}, 0, 1)
    assert small.checks[0].observed == large.checks[0].observed == pytest.approx(0.88)
    assert small.checks[0].state is State.OK
    assert large.checks[0].state is State.ALARM
    assert large.state is State.ALARM
    assert "is below the reference's lower bound 0.93" in large.checks[0].detail


def test_one_class_losing_recall_alarms_on_that_class(iris: Baseline) -> None:
    """Concept drift on one class: part of 'virginica' is now labelled otherwise; only its recall collapses."""
    confusion = [[200, 0, 0], [0, 200, 0], [0, 60, 140]]
    evaluation = evaluate(iris, {iris.model_version: quality(iris.model_version, confusion)}, 0, 1)
    states = {c.check: c.state for c in evaluation.checks}
    assert states[f"{CHECK_RECALL_PREFIX}virginica"] is State.ALARM
    assert states[f"{CHECK_RECALL_PREFIX}setosa"] is State.OK
    assert states[f"{CHECK_RECALL_PREFIX}versicolor"] is State.OK
    assert evaluation.state is State.ALARM


def test_a_class_with_few_labelled_rows_is_not_judged(iris: Baseline) -> None:
    confusion = [[200, 0, 0], [0, 200, 0], [0, 5, 0]]  # 5 virginica rows, all wrong: too few to call
    evaluation = evaluate(iris, {iris.model_version: quality(iris.model_version, confusion)}, 0, 1)
    recall = next(c for c in evaluation.checks if c.check == f"{CHECK_RECALL_PREFIX}virginica")
    assert recall.state is State.INSUFFICIENT_DATA


def test_metrics_report_only_what_the_data_supports(iris: Baseline) -> None:
    evaluation = evaluate(
        iris, {iris.model_version: quality(iris.model_version, diagonal(100, 10), unlabelled=100, unmatched=4)}, 0, 1
    )
    points = {name: value for name, value, _ in metric_points(evaluation)}
    assert points[names.METRIC_LABELLED_ROWS] == 300
    assert points[names.METRIC_REALIZED_ACCURACY] == pytest.approx(0.9)
    assert points["LabelledFraction"] == pytest.approx(0.75)
    assert points["UnmatchedFeedback"] == 4
    assert points["LabelDelayMedianSeconds"] == 60
    assert points["RealizedRecall_setosa"] == pytest.approx(0.9)
    assert "QualityChecksInAlarm" in points
    none = evaluate(iris, {iris.model_version: quality(iris.model_version, [[0] * 3] * 3, unlabelled=10)}, 0, 1)
    names_only = [name for name, _, _ in metric_points(none)]
    assert names.METRIC_REALIZED_ACCURACY not in names_only and "QualityChecksInAlarm" not in names_only


def test_the_report_prints_the_confusion_matrix_and_per_class_figures(iris: Baseline) -> None:
    q = quality(iris.model_version, [[10, 0, 0], [0, 8, 2], [0, 1, 9]])
    text = confusion_text(q)
    assert text.splitlines()[1].split() == ["actual", "setosa", "versicolor", "virginica"]
    assert text.splitlines()[3].split() == ["versicolor", "0", "8", "2"]
    report = report_text(evaluate(iris, {iris.model_version: q, "older": q}, 0, 86_400_000))
    assert "versicolor: 88.9% / 80.0% (10)" in report
    assert "(other version: reported, not judged)" in report
    assert math.isclose(q.accuracy or 0, 27 / 30)
