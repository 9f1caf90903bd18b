"""Minute aggregates: a window summed from minutes equals the engine's answer for the whole window."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from functions.contract.model_artifact import Baseline, ModelArtifact
from functions.monitor import minutes as m
from functions.monitor.aggregates import AggregateError, WindowAggregates, feature_alias
from tests.unit.monitor.fakes import Traffic, numpy_aggregates, numpy_values, sample_traffic

START = 1_764_082_800_000


def part(traffic: Traffic, lo: int, hi: int) -> Traffic:
    conf = None if traffic.confidence is None else traffic.confidence[lo:hi]
    predictions = None if traffic.predictions is None else traffic.predictions[lo:hi]
    errors = None if traffic.reconstruction is None else traffic.reconstruction[lo:hi]
    return Traffic(
        traffic.features[lo:hi], traffic.labels[lo:hi], traffic.is_outlier[lo:hi], traffic.request_ids[lo:hi], 0, 0, conf,
        predictions, errors,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("model", "n", "splits"),
    [("iris", 300, (0, 1, 2, 150, 300)), ("wine", 400, (0, 100, 101, 400)), ("diabetes", 300, (0, 1, 120, 300))],
)
def test_summed_minutes_equal_the_whole_window(
    model: str, n: int, splits: tuple[int, ...], request: pytest.FixtureRequest
) -> None:
    baseline: Baseline = request.getfixturevalue(f"{model}_artifact").baseline
    rng = np.random.default_rng(n)
    traffic = sample_traffic(baseline, n, rng, shift={baseline.feature_names[0]: 1.3}, confidence=0.9)
    if m.has_joint_drift(baseline):  # the joint-drift score sums like the confidence
        traffic = dataclasses.replace(traffic, reconstruction=np.round(rng.gamma(2.0, 0.3, n), 4))
    whole = numpy_aggregates(baseline, traffic, START, START + (len(splits) - 1) * m.MINUTE_MS)
    parts = [
        m.from_window(
            baseline, numpy_aggregates(baseline, part(traffic, lo, hi), START + i * m.MINUTE_MS, START + (i + 1) * m.MINUTE_MS)
        )
        for i, (lo, hi) in enumerate(itertools.pairwise(splits))
    ]
    got = m.to_window(baseline, m.total(baseline, parts, whole.start_ms, whole.end_ms))
    assert (got.rows, got.outliers, dict(got.class_counts)) == (whole.rows, whole.outliers, dict(whole.class_counts))
    assert got.confidence_mean == pytest.approx(whole.confidence_mean) and got.confidence_std == pytest.approx(
        whole.confidence_std
    )
    for g, w in zip(got.features, whole.features, strict=True):
        assert g.count == w.count and g.below == w.below
        assert g.mean == pytest.approx(w.mean, rel=1e-12) and g.std == pytest.approx(w.std, rel=1e-9)
    if baseline.prediction_buckets is not None:  # a regressor's output distribution sums like a feature
        assert got.prediction is not None and whole.prediction is not None
        assert (got.prediction.count, got.prediction.below) == (whole.prediction.count, whole.prediction.below)
        assert got.prediction.mean == pytest.approx(whole.prediction.mean, rel=1e-12)
        assert got.prediction.std == pytest.approx(whole.prediction.std, rel=1e-9)
    else:
        assert got.prediction is None
    assert m.has_joint_drift(baseline) == (model != "diabetes") == (got.reconstruction_count == whole.reconstruction_count == n)
    if got.reconstruction_count:
        assert got.reconstruction_mean == pytest.approx(whole.reconstruction_mean, rel=1e-12)
        assert got.reconstruction_std == pytest.approx(whole.reconstruction_std, rel=1e-9)


def test_empty_minutes_are_no_rows_and_one_row_has_no_std(iris_artifact: ModelArtifact) -> None:
    b = iris_artifact.baseline
    nothing = m.to_window(b, m.empty(b, START, START + m.MINUTE_MS))
    assert nothing.rows == 0 and all(f.mean is None and f.below is None for f in nothing.features)
    one = numpy_aggregates(b, sample_traffic(b, 1, np.random.default_rng(1)), START, START + m.MINUTE_MS)
    back = m.to_window(b, m.from_window(b, one))
    assert back.rows == 1 and back.features[0].mean == pytest.approx(one.features[0].mean) and back.features[0].std is None


def test_json_round_trip_and_layout_mismatch(iris_artifact: ModelArtifact, wine_artifact: ModelArtifact) -> None:
    b = iris_artifact.baseline
    minute = m.from_window(b, numpy_aggregates(b, sample_traffic(b, 40, np.random.default_rng(2)), START, START + m.MINUTE_MS))
    raw = m.to_json(minute)
    assert m.from_json(START, START + m.MINUTE_MS, raw, len(m.minute_layout(b))) == minute
    with pytest.raises(AggregateError):
        m.from_json(START, START + m.MINUTE_MS, raw, len(m.minute_layout(wine_artifact.baseline)))
    assert m.layout_key(b) != m.layout_key(wine_artifact.baseline)


def test_minute_starts_cover_whole_minutes_only() -> None:
    assert list(m.minute_starts(START, START + 3 * m.MINUTE_MS)) == [START, START + 60_000, START + 120_000]
    assert list(m.minute_starts(START + 1, START + 3 * m.MINUTE_MS)) == [START + 60_000, START + 120_000]


def test_a_statistic_an_engine_could_not_read_stays_unreadable_in_every_window_holding_its_minute(
    iris_artifact: ModelArtifact,
) -> None:
    b = iris_artifact.baseline
    traffic = sample_traffic(b, 40, np.random.default_rng(3))
    values, groups = numpy_values(b, traffic)
    hostile = dict(values, **{feature_alias(0, "mean"): float("nan")})  # a line held NaN: the engine's mean is NaN
    bad = WindowAggregates.from_values(b, hostile, groups, start_ms=START, end_ms=START + m.MINUTE_MS)
    good = numpy_aggregates(b, traffic, START + m.MINUTE_MS, START + 2 * m.MINUTE_MS)
    window = m.to_window(b, m.total(b, [m.from_window(b, bad), m.from_window(b, good)], START, START + 2 * m.MINUTE_MS))
    assert window.unreadable_statistics  # data_quality judges it
    assert window.features[0].count == 40 and window.features[0].mean == pytest.approx(good.features[0].mean)
    assert all(math.isfinite(x) for x in m.from_window(b, bad).values)  # storable
