"""relation_shift: a feature against what the features it travels with predict; each rule fails a test when removed."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from functions.contract.model_artifact import Baseline, parse_baseline
from functions.monitor import checks
from functions.monitor.aggregates import WindowAggregates
from functions.monitor.checks import Status, evaluate
from tests.unit.monitor.fakes import numpy_aggregates, sample_traffic, training_pool


def statuses(evaluation: checks.Evaluation, prefix: str) -> dict[str, Status]:
    return {c.check: c.status for c in evaluation.checks if c.check.startswith(prefix)}


def test_the_shipped_iris_model_ties_three_features_to_the_others(iris: Baseline) -> None:
    assert {relation.feature for relation in iris.relations} == {"sepal_length", "petal_length", "petal_width"}
    assert all(relation.r2 >= 0.5 for relation in iris.relations)


def test_a_linear_relations_mean_is_the_relation_at_the_means(iris: Baseline) -> None:
    """The check rests on this: the window's mean residual needs no per-row field."""
    pool = training_pool(iris)
    assert pool is not None
    relation = iris.relations[0]
    column = {f.name: i for i, f in enumerate(iris.features)}
    rows = pool[:57]
    per_row = rows[:, column[relation.feature]] - np.array(
        [relation.predicted_mean({name: row[column[name]] for name, _ in relation.coefficients}) for row in rows]
    )
    means = {name: float(rows[:, i].mean()) for name, i in column.items()}
    assert per_row.mean() == pytest.approx(means[relation.feature] - relation.predicted_mean(means), abs=1e-9)


def test_a_five_percent_scale_change_is_named_by_its_relation_where_the_mean_test_cannot_see_it(iris: Baseline) -> None:
    """x1.05 on sepal_length moves its mean 0.35 sd: within what 120 training rows know of the mean, but 0.9 of its
    residual sd from what petal_length, sepal_width and petal_width predict."""
    named, by_mean = 0, 0
    for seed in range(10):
        traffic = sample_traffic(iris, 400, np.random.default_rng(seed), shift={"sepal_length": 1.05})
        evaluation = evaluate(iris, numpy_aggregates(iris, traffic))
        by_mean += statuses(evaluation, "mean_shift:")["mean_shift:sepal_length"] is Status.ALARM
        named += statuses(evaluation, "relation_shift:")["relation_shift:sepal_length"] is Status.ALARM
    assert named == 10 and by_mean <= 3, (named, by_mean)


def test_traffic_drawn_from_the_models_own_data_never_alarms_a_relation(iris: Baseline, wine: Baseline) -> None:
    for baseline in (iris, wine):
        for seed in range(20):
            for n in (30, 400):
                evaluation = evaluate(
                    baseline, numpy_aggregates(baseline, sample_traffic(baseline, n, np.random.default_rng(seed)))
                )
                assert Status.ALARM not in statuses(evaluation, "relation_shift:").values(), (baseline.model_name, seed, n)


def test_a_feature_that_only_follows_a_moved_predictor_is_not_named(wine: Baseline) -> None:
    """flavanoids x1.6 is a predictor of alcohol: alcohol's residual moves too, but alcohol did not move."""
    traffic = sample_traffic(wine, 2000, np.random.default_rng(3), shift={"flavanoids": 1.6})
    window = numpy_aggregates(wine, traffic)
    alcohol = next(r for r in wine.relations if r.feature == "alcohol")
    assert "flavanoids" in dict(alcohol.coefficients)
    alpha = checks.bonferroni(wine.thresholds.family_alpha, wine.n_features)
    assert checks.check_relation_shift(alcohol, window, wine, alpha).status is Status.ALARM  # without the rule
    judged = statuses(evaluate(wine, window), "relation_shift:")
    assert judged["relation_shift:alcohol"] is Status.OK
    assert (
        judged["relation_shift:flavanoids"] is Status.ALARM
        or statuses(evaluate(wine, window), "mean_shift:")["mean_shift:flavanoids"] is Status.ALARM
    )


def test_a_collinear_predictor_held_at_its_training_mean_brings_its_own_sampling_error(diabetes: Baseline) -> None:
    """s1 +0.5 sd in 100 rows: s5's relation (2.25 s1 - 1.85 s2 ...) is judged with s1 at its training mean,
    which leaves s1's window sampling error, x2.25, in s5's residual. Counted in the error, s5 is not named."""
    wrong = 0
    for seed in range(40):
        traffic = sample_traffic(diabetes, 100, np.random.default_rng(seed), offset_sd={"s1": 0.5})
        named = {
            k
            for k, v in statuses(evaluate(diabetes, numpy_aggregates(diabetes, traffic)), "relation_shift:").items()
            if v is Status.ALARM
        }
        assert "relation_shift:s1" in named, (seed, named)
        wrong += len(named - {"relation_shift:s1"})
    assert wrong == 0


def replaced(window: WindowAggregates, **changes: dict[str, object]) -> WindowAggregates:
    """The window with some features' aggregates changed: name -> field -> value."""
    features = tuple(dataclasses.replace(f, **changes[f.name]) if f.name in changes else f for f in window.features)  # type: ignore[arg-type]
    return dataclasses.replace(window, features=features)


def test_the_floor_keeps_a_tiny_residual_shift_quiet_however_many_rows(iris: Baseline) -> None:
    relation = iris.relations[0]
    window = numpy_aggregates(iris, sample_traffic(iris, 400, np.random.default_rng(0)))
    means = {f.name: f.mean for f in window.features if f.mean is not None}
    residual = means[relation.feature] - relation.predicted_mean(means)
    nudge = 0.2 * iris.feature(relation.feature).std - residual  # the residual 0.2 sd: under the 0.25 sd floor
    huge = {f.name: {"count": 10**9} for f in window.features}  # so many rows that any shift is significant
    huge[relation.feature] = {"count": 10**9, "mean": means[relation.feature] + nudge}
    result = checks.check_relation_shift(relation, replaced(window, **huge), iris, 1e-4)
    assert result.score is not None and result.critical is not None and result.score > result.critical
    assert result.status is Status.OK and result.observed == pytest.approx(0.2)


def test_a_window_whose_features_all_spread_out_widens_the_residuals_error(iris: Baseline) -> None:
    relation = iris.relations[0]
    window = numpy_aggregates(iris, sample_traffic(iris, 400, np.random.default_rng(0), shift={"sepal_length": 1.05}))
    base = checks.check_relation_shift(relation, window, iris, 1e-4)
    wide = {f.name: {"std": 3.0 * f.std} for f in window.features if f.std is not None}
    widened = checks.check_relation_shift(relation, replaced(window, **wide), iris, 1e-4)
    assert base.status is Status.ALARM and base.score is not None and widened.score is not None
    assert widened.score < 0.5 * base.score


def test_fewer_rows_than_spread_min_rows_are_not_judged(iris: Baseline) -> None:
    traffic = sample_traffic(iris, 99, np.random.default_rng(0), shift={"sepal_length": 1.3})
    result = checks.check_relation_shift(iris.relations[0], numpy_aggregates(iris, traffic), iris, 1e-4)
    assert result.status is Status.INSUFFICIENT_DATA and "< spread_min_rows 100" in result.detail


def test_unequal_counts_are_not_judged(iris: Baseline) -> None:
    relation = iris.relations[0]
    window = numpy_aggregates(iris, sample_traffic(iris, 400, np.random.default_rng(0)))
    short = replaced(window, **{relation.coefficients[0][0]: {"count": 399}})
    assert checks.check_relation_shift(relation, short, iris, 1e-4).status is Status.INSUFFICIENT_DATA


def test_a_baseline_without_relations_has_no_relation_checks(iris: Baseline) -> None:
    document = copy.deepcopy(iris.document)
    document.pop("relations")
    plain = parse_baseline(document)
    evaluation = evaluate(plain, numpy_aggregates(plain, sample_traffic(plain, 400, np.random.default_rng(0))))
    assert plain.relations == () and statuses(evaluation, "relation_shift:") == {}
