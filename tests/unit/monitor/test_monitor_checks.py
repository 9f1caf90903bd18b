"""The checks: window states, unbiased distance, and one test per decision rule that fails when the rule is removed."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pytest

from functions.contract.model_artifact import Baseline, ModelArtifact, parse_baseline
from functions.monitor import checks
from functions.monitor.aggregates import FeatureWindow
from functions.monitor.checks import Overall, Status, estimated_accuracy, evaluate
from functions.monitor.stats import ks_critical, normal_critical, reference_buckets, t_critical
from tests.unit.monitor.fakes import numpy_aggregates, sample_traffic


def with_holdout(baseline: Baseline, **figures: float) -> Baseline:
    document = copy.deepcopy(baseline.document)
    document["holdout"] = {"rows": 30, "accuracy": 0.95, "mean_confidence": 0.9, "expected_calibration_error": 0.02,
                           "outlier_rate": baseline.training_outlier_rate, **figures}  # fmt: skip
    return parse_baseline(document)


def judge(baseline: Baseline, n: int, seed: int = 0, **kwargs: Any) -> checks.Evaluation:
    return evaluate(baseline, numpy_aggregates(baseline, sample_traffic(baseline, n, np.random.default_rng(seed), **kwargs)))


def status(evaluation: checks.Evaluation, name: str) -> Status:
    return next(c.status for c in evaluation.checks if c.check == name)


# --- states ------------------------------------------------------------------------------------------------------


def test_empty_window_is_no_traffic(iris: Baseline) -> None:
    assert judge(iris, 0).overall is Overall.NO_TRAFFIC


@pytest.mark.parametrize("n", [1, 29])
def test_small_window_is_insufficient_data_never_ok(iris: Baseline, n: int) -> None:
    evaluation = judge(iris, n)
    assert evaluation.overall is Overall.INSUFFICIENT_DATA
    assert all(c.status is not Status.OK for c in evaluation.checks if c.check != "data_quality")


def test_rejected_only_window_is_insufficient_data(iris: Baseline) -> None:
    assert judge(iris, 0, rejected=5).overall is Overall.INSUFFICIENT_DATA
    assert judge(iris, 0, rejected=40).overall is Overall.ALARM  # 40 of 40 requests rejected: judged


def test_feature_absent_from_every_row_is_a_data_quality_alarm(iris: Baseline) -> None:
    window = numpy_aggregates(iris, sample_traffic(iris, 200, np.random.default_rng(1)))
    blind = FeatureWindow("petal_width", 0, None, None, None)
    window = dataclasses.replace(window, features=(*window.features[:3], blind))
    evaluation = evaluate(iris, window)
    assert status(evaluation, "data_quality") is Status.ALARM and evaluation.overall is Overall.ALARM
    assert status(evaluation, "mean_shift:petal_width") is Status.INSUFFICIENT_DATA


def test_unreadable_lines_above_the_share_alarm_and_below_do_not(iris: Baseline) -> None:
    window = numpy_aggregates(iris, sample_traffic(iris, 200, np.random.default_rng(1)))
    assert status(evaluate(iris, dataclasses.replace(window, unreadable_lines=1, total_lines=201)), "data_quality") is Status.OK
    assert (
        status(evaluate(iris, dataclasses.replace(window, unreadable_lines=20, total_lines=220)), "data_quality") is Status.ALARM
    )


def test_normal_window_is_ok(iris: Baseline, wine: Baseline) -> None:
    assert judge(iris, 400).overall is Overall.OK
    assert judge(wine, 400).overall is Overall.OK


# --- the distance --------------------------------------------------------------------------------------------------


def distance_for(values: np.ndarray, window: np.ndarray) -> float:
    cuts, shares = reference_buckets(values.tolist())
    below = [int((window < c).sum()) for c in cuts]
    return max(abs(b / len(window) - s) for b, s in zip(below, shares, strict=True))


@pytest.mark.parametrize("kind", ["continuous", "ten_values"])
def test_distance_is_about_zero_without_drift(kind: str) -> None:
    rng = np.random.default_rng(3)

    def draw(n: int) -> np.ndarray:
        return rng.normal(0.0, 1.0, n) if kind == "continuous" else rng.integers(0, 10, n).astype(float)

    training = draw(200_000)
    assert distance_for(training, training) == 0.0  # training judged against itself: exactly 0, ties included
    assert distance_for(training, draw(50_000)) < 0.01  # sampling noise only: ~1/sqrt(n)


def test_distance_sees_a_shift_in_a_ten_valued_feature() -> None:
    rng = np.random.default_rng(4)
    training = rng.integers(0, 10, 50_000).astype(float)
    assert distance_for(training, training + 1) > 0.09


# --- decision rules: each test fails when its rule is removed ------------------------------------------------------


def feature_window(baseline: Baseline, index: int, n: int, mean_sd: float, std_ratio: float = 1.0) -> FeatureWindow:
    f = baseline.features[index]
    return FeatureWindow(f.name, n, f.mean + mean_sd * f.std, f.std * std_ratio, None)


def test_mean_shift_effect_size_floor(iris: Baseline) -> None:
    """With a large reference, a 0.2 sd shift is significant at n=100,000 but below the 0.25 sd floor: OK."""
    document = copy.deepcopy(iris.document)
    document["training_rows"] = 1_000_000
    iris = parse_baseline(document)
    result = checks.check_mean_shift(iris.features[0], feature_window(iris, 0, 100_000, 0.2), iris, 1e-4)
    assert result.score is not None and result.critical is not None and result.score > result.critical
    assert result.status is Status.OK
    assert checks.check_mean_shift(iris.features[0], feature_window(iris, 0, 100_000, 0.4), iris, 1e-4).status is Status.ALARM


def test_mean_shift_critical_value_includes_the_training_size(iris: Baseline) -> None:
    """0.45 sd at n=2000 is z~20 ignoring the 120 training rows, ~4.3 with them: not enough at alpha 1e-6."""
    result = checks.check_mean_shift(iris.features[0], feature_window(iris, 0, 2000, 0.45), iris, 1e-6)
    assert result.status is Status.OK and result.score is not None and result.score < 5


def test_small_sample_margin_of_the_ratio_checks(iris: Baseline) -> None:
    """25 % outliers in 40 rows is above the 20 % line but within chance: OK; in 4,000 rows: ALARM."""
    small = checks.check_share_above_line("outlier_ratio", 10, 40, line=0.2, baseline_share=0.1, min_rows=30, alpha=1e-4, hint="")
    large = checks.check_share_above_line(
        "outlier_ratio", 1000, 4000, line=0.2, baseline_share=0.1, min_rows=30, alpha=1e-4, hint=""
    )
    assert small.status is Status.OK and large.status is Status.ALARM


def test_bonferroni_raises_the_critical_value_with_the_number_of_features(iris: Baseline, wine: Baseline) -> None:
    n = 400
    iris_result = judge(iris, n)
    wine_result = judge(wine, n)
    iris_critical = next(c.critical for c in iris_result.checks if c.check.startswith("mean_shift:"))
    wine_critical = next(c.critical for c in wine_result.checks if c.check.startswith("mean_shift:"))
    assert iris_critical is not None and wine_critical is not None and wine_critical > iris_critical


def test_distribution_critical_value_includes_the_training_size(iris: Baseline) -> None:
    assert ks_critical(1e-4, 10_000, iris.training_rows) > 3 * ks_critical(1e-4, 10_000, 10_000)
    shifted = judge(iris, 2000, shift={"sepal_width": 1.04})  # a small shape change: ~0.15 distance
    distribution = next(c for c in shifted.checks if c.check == "distribution:sepal_width")
    assert distribution.critical is not None and distribution.critical > ks_critical(1e-4, 2000, 10**9)


def test_distribution_floor(iris: Baseline) -> None:
    window = numpy_aggregates(iris, sample_traffic(iris, 400, np.random.default_rng(1)))
    result = checks.check_distribution(0, window.features[0], iris, 0.4)  # alpha 0.4: a small critical value
    assert result.status is Status.OK


def test_distribution_psi_floor_is_the_one_that_holds(iris: Baseline) -> None:
    """A 3-point gap at one cut over a million rows each side: significant, PSI ~0.01: OK; floor 0.001: ALARM."""
    document = copy.deepcopy(iris.document)
    document["training_rows"] = 1_000_000
    big = parse_baseline(document)
    _, shares = checks.feature_cuts(big, 0)
    n = 1_000_000
    below = [round(share * n) for share in shares]
    middle = len(below) // 2
    below[middle] += 30_000
    below[middle + 1] = max(below[middle + 1], below[middle])
    observed = FeatureWindow(big.features[0].name, n, big.features[0].mean, big.features[0].std, tuple(below))
    result = checks.check_distribution(0, observed, big, 1e-4)
    assert result.score is not None and result.critical is not None and result.score > result.critical
    assert result.status is Status.OK
    document["thresholds"]["distribution_psi"] = 0.001
    assert checks.check_distribution(0, observed, parse_baseline(document), 1e-4).status is Status.ALARM


# --- spread ------------------------------------------------------------------------------------------------------


def large_reference(baseline: Baseline, rows: int = 1_000_000, kurtosis: float | None = None) -> Baseline:
    document = copy.deepcopy(baseline.document)
    document["training_rows"] = rows
    if kurtosis is not None:
        for feature in document["features"]:
            feature["kurtosis"] = kurtosis
    return parse_baseline(document)


def test_spread_alarms_on_a_narrower_spread_with_the_mean_unchanged(iris: Baseline) -> None:
    big = large_reference(iris)
    result = checks.check_spread(0, feature_window(big, 0, 6000, 0.0, 0.85), big, 1e-4)
    assert result.status is Status.ALARM and result.observed == pytest.approx(0.85)
    assert checks.check_mean_shift(big.features[0], feature_window(big, 0, 6000, 0.0, 0.85), big, 1e-4).status is Status.OK
    assert checks.check_spread(0, feature_window(big, 0, 6000, 0.0, 1.15), big, 1e-4).status is Status.ALARM


def test_spread_floor(iris: Baseline) -> None:
    """sd x0.97 over a million rows each side is significant but under the 5 % floor: OK."""
    big = large_reference(iris)
    result = checks.check_spread(0, feature_window(big, 0, 1_000_000, 0.0, 0.97), big, 1e-4)
    assert result.score is not None and result.critical is not None and result.score > result.critical
    assert result.status is Status.OK


def test_spread_standard_error_includes_the_training_size(iris: Baseline) -> None:
    """sd x0.85 in 100,000 rows against the 120 training rows: the reference's own variance is too uncertain."""
    result = checks.check_spread(0, feature_window(iris, 0, 100_000, 0.0, 0.85), iris, 1e-4)
    assert result.status is Status.OK
    assert checks.check_spread(0, feature_window(iris, 0, 100_000, 0.0, 0.85), large_reference(iris), 1e-4).in_alarm


def test_spread_heavy_tails_widen_the_test(iris: Baseline) -> None:
    window = feature_window(iris, 0, 2000, 0.0, 0.9)
    normal = checks.check_spread(0, window, large_reference(iris, 2000, kurtosis=3.0), 1e-4)
    heavy = checks.check_spread(0, window, large_reference(iris, 2000, kurtosis=9.0), 1e-4)
    assert normal.score is not None and heavy.score is not None and heavy.score < normal.score / 1.5


def test_spread_needs_spread_min_rows(iris: Baseline) -> None:
    big = large_reference(iris)
    assert checks.check_spread(0, feature_window(big, 0, 99, 0.0, 0.5), big, 1e-4).status is Status.INSUFFICIENT_DATA
    assert checks.check_spread(0, feature_window(big, 0, 100, 0.0, 0.5), big, 1e-4).status is Status.ALARM


# --- two-sided outlier shift and joint drift ---------------------------------------------------------------------


def test_outlier_shift_fall_is_change_too(iris: Baseline) -> None:
    reference = with_holdout(iris, outlier_rate=0.10, rows=10_000)
    fallen = numpy_aggregates(reference, sample_traffic(reference, 2000, np.random.default_rng(2), outlier_rate=0.02))
    assert checks.check_outlier_shift(fallen, reference, 1e-4).status is Status.ALARM
    slight = numpy_aggregates(reference, sample_traffic(reference, 200_000, np.random.default_rng(2), outlier_rate=0.08))
    result = checks.check_outlier_shift(slight, reference, 1e-4)
    assert result.score is not None and result.critical is not None and result.score > result.critical
    assert result.status is Status.OK  # significant, but not down to half the hold-out rate


def with_joint_drift(baseline: Baseline, rows: int = 10_000, mean: float = 1.0, std: float = 0.5) -> Baseline:
    document = copy.deepcopy(baseline.document)
    document["joint_drift"] = {"reference": {"rows": rows, "mean": mean, "std": std}}
    return parse_baseline(document)


def joint_window(baseline: Baseline, n: int, mean: float, std: float = 0.5) -> checks.WindowAggregates:
    window = numpy_aggregates(baseline, sample_traffic(baseline, 200, np.random.default_rng(3)))
    return dataclasses.replace(window, reconstruction_count=n, reconstruction_mean=mean, reconstruction_std=std)


def test_joint_drift_is_two_sided_with_a_floor(iris: Baseline) -> None:
    reference = with_joint_drift(iris)
    assert checks.check_joint_drift(joint_window(reference, 400, 1.2), reference, 1e-4).status is Status.ALARM  # type: ignore[union-attr]
    assert checks.check_joint_drift(joint_window(reference, 400, 0.8), reference, 1e-4).status is Status.ALARM  # type: ignore[union-attr]
    assert checks.check_joint_drift(joint_window(reference, 400, 1.02), reference, 1e-4).status is Status.OK  # type: ignore[union-attr]
    large = with_joint_drift(iris, rows=10**8)
    result = checks.check_joint_drift(joint_window(large, 10**7, 1.02), large, 1e-4)
    assert result is not None and result.score is not None and result.critical is not None
    assert result.score > result.critical and result.status is Status.OK  # 0.04 sd: under the 0.1 sd floor


def test_joint_drift_reference_size_is_in_the_test(iris: Baseline) -> None:
    small = with_joint_drift(iris, rows=30)
    result = checks.check_joint_drift(joint_window(small, 100_000, 1.25), small, 1e-4)
    assert result is not None and result.status is Status.OK  # 0.5 sd, but the 30-row reference mean is uncertain


def test_joint_drift_absent_for_models_without_it_and_not_judged_without_the_field(iris: Baseline) -> None:
    document = copy.deepcopy(iris.document)
    document.pop("joint_drift", None)
    plain = parse_baseline(document)
    assert checks.check_joint_drift(joint_window(plain, 400, 3.0), plain, 1e-4) is None
    assert all(c.check != "joint_drift" for c in evaluate(plain, joint_window(plain, 400, 3.0)).checks)
    reference = with_joint_drift(iris)
    window = dataclasses.replace(joint_window(reference, 0, 0.0), reconstruction_mean=None, reconstruction_std=None)
    assert status(evaluate(reference, window), "joint_drift") is Status.NOT_JUDGED


def test_seed_rule_needs_both_the_relative_change_and_significance(iris: Baseline) -> None:
    f = iris.features[0]  # mean ~5.8: 5 % is ~0.35 sd
    tiny = FeatureWindow(f.name, 40, f.mean * 1.06, f.std, None)  # 6 %, but t ~2.2 at n=40
    big = FeatureWindow(f.name, 4000, f.mean * 1.06, f.std, None)
    assert checks.check_relative_mean_shift(f, tiny, iris, 1e-4).status is Status.OK
    assert checks.check_relative_mean_shift(f, big, iris, 1e-4).status is Status.ALARM


def test_outlier_shift_floor_and_reference(iris: Baseline) -> None:
    reference = with_holdout(iris, outlier_rate=0.10, rows=10_000)
    window = numpy_aggregates(reference, sample_traffic(reference, 100_000, np.random.default_rng(2), outlier_rate=0.13))
    result = checks.check_outlier_shift(window, reference, 1e-4)
    assert result.score is not None and result.critical is not None and result.score > result.critical
    assert result.status is Status.OK  # +3 points: significant but under the 5-point floor
    window = numpy_aggregates(reference, sample_traffic(reference, 400, np.random.default_rng(2), outlier_rate=0.45))
    assert checks.check_outlier_shift(window, reference, 1e-4).status is Status.ALARM


def test_prediction_drift_floor_and_single_class(iris: Baseline) -> None:
    assert status(judge(iris, 400, class_shares=[1.0, 0.0, 0.0]), "prediction_drift") is Status.ALARM
    assert status(judge(iris, 50_000, class_shares=[0.36, 0.32, 0.32]), "prediction_drift") is Status.OK  # PSI ~0.003
    document = copy.deepcopy(iris.document)
    document["thresholds"]["prediction_psi"] = 0.0001
    document["training_rows"] = 1_000_000  # a reference precise enough for the 4-point gap to be significant
    lowered = parse_baseline(document)
    assert status(judge(lowered, 50_000, class_shares=[0.36, 0.32, 0.32]), "prediction_drift") is Status.ALARM


# --- estimated accuracy (issue 10) -------------------------------------------------------------------------------


def test_estimated_accuracy_not_judged_without_holdout_figures(iris: Baseline) -> None:
    document = copy.deepcopy(iris.document)
    document.pop("holdout", None)  # a model trained before this wave: no hold-out figures to compare with
    assert status(judge(parse_baseline(document), 400, confidence=0.6), "estimated_accuracy") is Status.NOT_JUDGED


def test_estimated_accuracy_quiet_on_holdout_like_confidence_and_fires_on_a_drop(iris: Baseline) -> None:
    reference = with_holdout(iris, mean_confidence=0.9)
    for seed in range(20):
        assert status(judge(reference, 400, seed, confidence=0.9), "estimated_accuracy") is Status.OK
    assert status(judge(reference, 400, confidence=0.75), "estimated_accuracy") is Status.ALARM
    assert status(judge(reference, 400, confidence=0.98), "estimated_accuracy") is Status.OK  # one-sided: a rise is fine
    assert status(judge(reference, 400, confidence=0.87), "estimated_accuracy") is Status.OK  # 0.03 < accuracy_drop floor


def test_the_reported_estimate_takes_off_the_holdouts_over_confidence(iris: Baseline) -> None:
    """credit_card's hold-out: accuracy 0.7611 at mean confidence 0.7711; a window at 0.62 is estimated at 0.61."""
    document = copy.deepcopy(iris.document)
    document["holdout"].update(accuracy=0.7611, mean_confidence=0.7711)
    baseline = parse_baseline(document)
    assert estimated_accuracy(0.62, baseline) == pytest.approx(0.61)
    assert estimated_accuracy(0.005, baseline) == 0.0  # never below 0
    evaluation = judge(baseline, 400, confidence=0.62)
    assert evaluation.metrics["estimated_accuracy"] == pytest.approx(estimated_accuracy(0.62, baseline), abs=0.01)
    document.pop("holdout")
    assert estimated_accuracy(0.62, parse_baseline(document)) == 0.62  # no hold-out: the mean confidence itself


def test_estimated_accuracy_without_confidence_in_the_log_is_not_judged(iris: Baseline) -> None:
    assert status(judge(with_holdout(iris), 400), "estimated_accuracy") is Status.NOT_JUDGED


# --- critical values --------------------------------------------------------------------------------------------------


def test_critical_values_match_scipy() -> None:
    from scipy import stats

    assert normal_critical(1e-4) == pytest.approx(stats.norm.isf(1e-4), rel=1e-9)
    assert t_critical(1e-5, 10) == pytest.approx(stats.t.isf(1e-5, 10), rel=0.03)
    for df in (30, 100, 1000):
        assert t_critical(1e-5, df) == pytest.approx(stats.t.isf(1e-5, df), rel=0.01)
    assert ks_critical(0.05, 100, 100) == pytest.approx(1.358 * (2 / 100) ** 0.5, rel=0.01)


def test_multivariate_check_catches_a_joint_drift_the_marginals_miss(iris_artifact: ModelArtifact) -> None:
    """Petal width's relation to petal length flipped (each marginal unchanged): the outlier detector sees it."""
    import onnxruntime

    from models.train import load_sklearn_dataset

    baseline = iris_artifact.baseline
    x = load_sklearn_dataset("iris").x
    rng = np.random.default_rng(5)
    rows = x[rng.integers(0, len(x), 400)]
    order = np.argsort(np.argsort(rows[:, 3]))
    rows[:, 3] = np.sort(rows[:, 3])[::-1][order]  # rank mirror: same values, reversed order
    session = onnxruntime.InferenceSession(str(iris_artifact.outlier_detector_path), providers=["CPUExecutionProvider"])
    scores = np.asarray(session.run(None, {session.get_inputs()[0].name: rows.astype(np.float32)})[1]).reshape(-1)
    traffic = sample_traffic(baseline, 400, rng)
    traffic.features, traffic.is_outlier = rows, scores < 0
    evaluation = evaluate(baseline, numpy_aggregates(baseline, traffic))
    assert status(evaluation, "outlier_shift") is Status.ALARM
    assert (
        status(evaluation, "mean_shift:petal_width") is Status.OK and status(evaluation, "mean_shift:petal_length") is Status.OK
    )


def test_optional_monitor_thresholds_are_validated(iris: Baseline) -> None:
    from functions.contract.model_artifact import ModelArtifactError

    assert iris.thresholds.family_alpha == 3e-4 and iris.thresholds.buckets("sepal_length") is not None
    for patch, message in (
        ({"family_alpha": 0.9}, "family_alpha"),
        ({"alarm_windows": 4, "of_windows": 3}, "alarm_windows"),
        ({"recovery_windows": 1.5}, "recovery_windows"),
    ):
        document = copy.deepcopy(iris.document)
        document["thresholds"].update(patch)
        with pytest.raises(ModelArtifactError, match=message):
            parse_baseline(document)
    document = copy.deepcopy(iris.document)
    document["features"][0]["drift_cuts"] = [5.0, 4.0]
    document["features"][0]["drift_shares_below"] = [0.1, 0.2]
    with pytest.raises(ModelArtifactError, match="drift_cuts"):
        parse_baseline(document)
    document = copy.deepcopy(iris.document)
    for feature in document["features"]:
        del feature["drift_cuts"], feature["drift_shares_below"]
    older = parse_baseline(document)  # a baseline written before the cuts: quantile-derived cuts, still judged
    assert older.thresholds.drift_buckets == () and judge(older, 400).overall is Overall.OK


def test_outlier_shift_rise_must_clear_its_floor_beyond_the_windows_own_error(iris: Baseline) -> None:
    """A short window's spike of a sub-floor effect must not alarm: the rise, less its margin of error, clears 5 points."""
    reference = with_holdout(iris, outlier_rate=0.04, rows=10_000)
    base = numpy_aggregates(reference, sample_traffic(reference, 200, np.random.default_rng(5)))
    spike = dataclasses.replace(base, rows=80, outliers=9)  # 11.3 %: +7.3 points, significant at this alpha
    result = checks.check_outlier_shift(spike, reference, 1e-2)
    assert result.score is not None and result.critical is not None and result.score > result.critical
    assert result.status is Status.OK  # 7.3 points less ~5.7 of margin: not clearly over the floor
    sustained = dataclasses.replace(base, rows=5000, outliers=600)  # 12 %: the same kind of rise, measured well
    assert checks.check_outlier_shift(sustained, reference, 1e-2).status is Status.ALARM
