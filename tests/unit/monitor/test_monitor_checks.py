"""The checks on generated windows with known answers: no drift stays quiet, each drift names its check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.contract.model_artifact import Baseline, ModelArtifact
from functions.monitor.checks import (
    Overall,
    PiecewiseCdf,
    Status,
    evaluate,
    ks_distance,
    robust_margin,
)
from tests.unit.monitor.fakes import numpy_aggregates, sample_traffic

WINDOW_SIZES = (30, 60, 120, 300, 1000, 5000)
FALSE_ALARM_BUDGET = 0.02


@pytest.fixture(scope="module")
def iris(iris_artifact: ModelArtifact) -> Baseline:
    return iris_artifact.baseline


@pytest.fixture(scope="module")
def wine(wine_artifact: ModelArtifact) -> Baseline:
    return wine_artifact.baseline


def alarms(baseline: Baseline, seed: int, n: int, **drift: object) -> set[str]:
    traffic = sample_traffic(baseline, n, np.random.default_rng(seed), **drift)  # type: ignore[arg-type]
    return {c.check for c in evaluate(baseline, numpy_aggregates(baseline, traffic)).alarms}


@pytest.mark.parametrize("model", ["iris", "wine"])
def test_no_drift_false_alarm_rate_is_within_budget(model: str, request: pytest.FixtureRequest) -> None:
    baseline: Baseline = request.getfixturevalue(model)
    rng = np.random.default_rng(20261125)
    windows = 200
    alarmed = 0
    for i in range(windows):
        traffic = sample_traffic(baseline, WINDOW_SIZES[i % len(WINDOW_SIZES)], rng, rows_per_request=3)
        evaluation = evaluate(baseline, numpy_aggregates(baseline, traffic))
        assert evaluation.overall in (Overall.OK, Overall.ALARM)
        alarmed += bool(evaluation.alarms)
    assert alarmed / windows <= FALSE_ALARM_BUDGET


@pytest.mark.parametrize("n", [100, 300, 1000])
def test_location_shift_fires_mean_shift_and_distribution_of_that_feature_only(iris: Baseline, n: int) -> None:
    fired = alarms(iris, n, n, shift={"petal_length": 1.4})
    assert fired == {"mean_shift:petal_length", "distribution:petal_length"}


def test_small_mean_shift_fires_mean_shift_first(iris: Baseline) -> None:
    # 7 %: over the 5 % rule, but too small for the robust KS margin (m = 120 training rows).
    assert alarms(iris, 3, 300, shift={"sepal_length": 1.07}) == {"mean_shift:sepal_length"}
    assert alarms(iris, 3, 300, shift={"sepal_length": 1.03}) == set()


def test_shape_change_without_mean_change_fires_distribution_only(iris: Baseline) -> None:
    assert alarms(iris, 4, 300, spread={"petal_width": 0.2}) == {"distribution:petal_width"}


def test_outlier_surge_fires_outlier_ratio(iris: Baseline) -> None:
    assert alarms(iris, 5, 200, outlier_rate=0.5) == {"outlier_ratio"}


def test_class_mix_change_fires_prediction_drift(iris: Baseline) -> None:
    assert alarms(iris, 6, 300, class_shares=[0.7, 0.2, 0.1]) == {"prediction_drift"}


def test_rejected_requests_fire_rejected_ratio(iris: Baseline) -> None:
    assert alarms(iris, 7, 300, rejected=60) == {"rejected_ratio"}
    assert alarms(iris, 7, 1000, rejected=30) == set()  # 2.9 % of requests: under the 5 % threshold


def test_wine_drift_in_one_feature_is_named(wine: Baseline) -> None:
    for feature in ("color_intensity", "proline", "hue"):
        assert alarms(wine, 8, 300, shift={feature: 1.6}) == {f"mean_shift:{feature}", f"distribution:{feature}"}


def test_small_window_is_not_judged_even_with_heavy_drift(iris: Baseline) -> None:
    n = iris.thresholds.min_rows - 1
    traffic = sample_traffic(
        iris, n, np.random.default_rng(9), shift={"petal_length": 3.0}, outlier_rate=1.0, class_shares=[1, 0, 0]
    )
    evaluation = evaluate(iris, numpy_aggregates(iris, traffic))
    assert evaluation.overall is Overall.OK
    assert all(c.status is Status.NOT_JUDGED for c in evaluation.checks)
    assert evaluation.metrics["checks_in_alarm"] == 0


def test_just_above_min_rows_heavy_drift_fires(iris: Baseline) -> None:
    fired = alarms(iris, 10, iris.thresholds.min_rows, shift={"petal_length": 1.6}, outlier_rate=1.0)
    assert {"outlier_ratio", "mean_shift:petal_length"} <= fired


def test_empty_window_is_no_traffic_not_healthy(iris: Baseline) -> None:
    evaluation = evaluate(iris, numpy_aggregates(iris, sample_traffic(iris, 0, np.random.default_rng(0))))
    assert evaluation.overall is Overall.NO_TRAFFIC
    assert evaluation.checks == ()
    assert evaluation.metrics == {"window_rows": 0.0}


def test_only_rejected_traffic_is_judged_on_rejections(iris: Baseline) -> None:
    evaluation = evaluate(iris, numpy_aggregates(iris, sample_traffic(iris, 0, np.random.default_rng(0), rejected=40)))
    assert evaluation.overall is Overall.ALARM
    assert [c.check for c in evaluation.alarms] == ["rejected_ratio"]


def test_robust_margin_matches_deequ_formula() -> None:
    assert robust_margin(1.8, 100, 120) == pytest.approx(1.8 * math.sqrt(220 / 12000))
    assert robust_margin(1.8, 10**9, 120) == pytest.approx(1.8 / math.sqrt(120), rel=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.0, max_value=8.0, allow_nan=False))
def test_piecewise_cdf_agrees_with_the_contract_cdf(iris_artifact: ModelArtifact, x: float) -> None:
    baseline = iris_artifact.baseline
    for feature in baseline.features:
        cdf = PiecewiseCdf(feature.quantiles, baseline.quantile_levels)
        assert cdf.right(x) == pytest.approx(feature.cdf(x, baseline.quantile_levels))
        assert cdf.left(x) <= cdf.right(x) + 1e-12


def test_ks_distance_of_identical_and_disjoint_cdfs() -> None:
    levels = (0.0, 0.5, 1.0)
    a = PiecewiseCdf((0.0, 1.0, 2.0), levels)
    assert ks_distance(a, a) == 0.0
    assert ks_distance(a, PiecewiseCdf((10.0, 11.0, 12.0), levels)) == 1.0
    # A point mass against a uniform: the jump at 1.0 is seen from both sides.
    assert ks_distance(PiecewiseCdf((1.0, 1.0, 1.0), levels), a) == pytest.approx(0.5)


def test_check_results_keep_observed_and_baseline_numbers(iris: Baseline) -> None:
    traffic = sample_traffic(iris, 300, np.random.default_rng(11), shift={"sepal_length": 1.07})
    evaluation = evaluate(iris, numpy_aggregates(iris, traffic))
    (result,) = evaluation.alarms
    assert result.baseline == pytest.approx(iris.feature("sepal_length").mean)
    assert result.observed == pytest.approx(traffic.features[:, 0].mean())
    assert result.margin is not None and result.margin > 0
    assert "sepal_length" in result.hint
