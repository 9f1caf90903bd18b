"""A regression model's output drift: the predictions' distribution (KS against stored cuts) and mean, read by
Logs Insights and by DuckDB from the same aggregate definition."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from functions.contract.model_artifact import ModelArtifact
from functions.monitor.aggregates import ALIAS_CLASS_COUNTS, PREDICTION_UNIT, WindowAggregates, build_specs
from functions.monitor.checks import (
    CHECK_ESTIMATED_ACCURACY,
    CHECK_PREDICTION_DRIFT,
    CHECK_PREDICTION_MEAN_SHIFT,
    Overall,
    Status,
    evaluate,
)
from functions.monitor.insights import parse_grouped_results, parse_scalar_results, render_queries
from functions.monitor.local_sql import columns
from functions.monitor.service import metric_points
from local.monitor import DuckDbEngine
from tests.unit.monitor.fakes import insights_results, numpy_aggregates, numpy_values, sample_traffic, write_log
from tests.unit.monitor.test_monitor_insights import GOLDEN, golden_text
from tests.unit.monitor.test_monitor_local import START_MS, WINDOW_MS, assert_same, rounded


def test_query_text_matches_golden(diabetes_artifact: ModelArtifact) -> None:
    assert golden_text(diabetes_artifact.baseline) == (GOLDEN / "diabetes_insights.txt").read_text(encoding="utf-8")


def test_predictions_are_read_like_a_feature_and_never_grouped(diabetes_artifact: ModelArtifact) -> None:
    baseline = diabetes_artifact.baseline
    specs = build_specs(baseline)
    assert ALIAS_CLASS_COUNTS not in {s.alias for s in specs}  # a group per distinct number would be unbounded
    mine = [s for s in specs if s.feature == PREDICTION_UNIT]
    assert baseline.prediction_buckets is not None
    assert len(mine) == 3 + len(baseline.prediction_buckets[0]) and {s.field for s in mine} == {"prediction"}
    queries = render_queries(baseline, START_MS, START_MS + WINDOW_MS)
    grouped = [q for q in queries if q.grouped and q.name != "messages"]
    assert [q.name for q in grouped] == ["outliers"] and grouped[0].text.endswith("by is_outlier")
    holding = [q for q in queries if any(s.feature == PREDICTION_UNIT for s in q.specs)]
    assert len(holding) == 1  # the predictions' terms stay together in one query
    assert columns(baseline)["prediction"] == "DOUBLE"


@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_duckdb_and_insights_read_the_same_window(diabetes_artifact: ModelArtifact, tmp_path: Path, shift: float) -> None:
    baseline = diabetes_artifact.baseline
    rng = np.random.default_rng(7)
    traffic = rounded(sample_traffic(baseline, 300, rng, rows_per_request=2, rejected=2, prediction_shift=shift))
    path = tmp_path / "predictions.jsonl"
    write_log(path, baseline, traffic, start_ms=START_MS, span_ms=WINDOW_MS, rng=rng)
    want = numpy_aggregates(baseline, traffic, START_MS, START_MS + WINDOW_MS)
    got = DuckDbEngine(baseline, path).read(START_MS, START_MS + WINDOW_MS)
    assert_same(got, want)
    assert got.prediction is not None and want.prediction is not None
    assert got.prediction.below == want.prediction.below and got.prediction.count == 300
    assert got.prediction.mean == pytest.approx(want.prediction.mean, rel=1e-9)

    queries = render_queries(baseline, START_MS, START_MS + WINDOW_MS)
    values, groups = numpy_values(baseline, traffic)
    results = insights_results(queries, values, groups)
    read_values: dict[str, float | None] = {}
    read_groups: dict[str, dict[str, int]] = {}
    for query in queries:
        if query.grouped:
            read_groups.update(parse_grouped_results(query, results[query.name]))
        else:
            read_values.update(parse_scalar_results(query, results[query.name]))
    insights = WindowAggregates.from_values(baseline, read_values, read_groups, start_ms=START_MS, end_ms=START_MS + WINDOW_MS)
    assert insights.prediction == want.prediction and insights.outliers == want.outliers


def test_unshifted_predictions_are_ok_and_shifted_ones_alarm(diabetes_artifact: ModelArtifact) -> None:
    baseline = diabetes_artifact.baseline
    healthy = evaluate(baseline, numpy_aggregates(baseline, sample_traffic(baseline, 200, np.random.default_rng(1))))
    by_name = {c.check: c for c in healthy.checks}
    assert healthy.overall is Overall.OK
    assert by_name[CHECK_PREDICTION_DRIFT].status is Status.OK and by_name[CHECK_PREDICTION_MEAN_SHIFT].status is Status.OK
    assert by_name[CHECK_ESTIMATED_ACCURACY].status is Status.NOT_JUDGED  # no confidence; never reported healthy

    drifted = evaluate(
        baseline, numpy_aggregates(baseline, sample_traffic(baseline, 200, np.random.default_rng(1), prediction_shift=1.0))
    )
    by_name = {c.check: c for c in drifted.checks}
    assert by_name[CHECK_PREDICTION_DRIFT].status is Status.ALARM
    assert by_name[CHECK_PREDICTION_MEAN_SHIFT].status is Status.ALARM
    assert not any(c.check.startswith("mean_shift:") and c.in_alarm for c in drifted.checks)  # only the output moved
    names = {name: value for name, value, _ in metric_points(drifted)}
    assert names["PredictionDrift"] == pytest.approx(by_name[CHECK_PREDICTION_DRIFT].observed)
    assert names["PredictionMeanShift"] == pytest.approx(1.0, abs=0.25)


def test_small_window_is_not_judged(diabetes_artifact: ModelArtifact) -> None:
    baseline = diabetes_artifact.baseline
    window = numpy_aggregates(baseline, sample_traffic(baseline, 5, np.random.default_rng(2), prediction_shift=3.0))
    checks = {c.check: c for c in evaluate(baseline, window).checks}
    assert checks[CHECK_PREDICTION_DRIFT].status is Status.INSUFFICIENT_DATA
    assert checks[CHECK_PREDICTION_MEAN_SHIFT].status is Status.INSUFFICIENT_DATA


def test_predictions_missing_from_rows_are_a_data_quality_alarm(diabetes_artifact: ModelArtifact) -> None:
    baseline = diabetes_artifact.baseline
    window = numpy_aggregates(baseline, sample_traffic(baseline, 200, np.random.default_rng(3)))
    assert window.prediction is not None
    broken = dataclasses.replace(window, prediction=dataclasses.replace(window.prediction, count=150))
    checks = {c.check: c for c in evaluate(baseline, broken).checks}
    assert checks["data_quality"].status is Status.ALARM and "'prediction' missing in 50 of 200" in checks["data_quality"].detail
    assert {c.check: c for c in evaluate(baseline, window).checks}["data_quality"].status is Status.OK
