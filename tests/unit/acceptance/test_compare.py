"""The Insights-vs-DuckDB comparison: the monitor's own queries parsed from fake GetQueryResults answers, compared
with the monitor's DuckDB statement over the same records; every tolerance rule has a case that breaks it."""

from __future__ import annotations

from typing import Any

import pytest

from acceptance import monitor_queries as mq
from acceptance.compare import COUNT_DISTINCT_TOLERANCE, compare_value, compare_window

from .conftest import END_MS, START_MS
from .fakes import fake_insights


def compare(baseline: Any, records: list[dict[str, Any]], overrides: dict[str, str] | None = None) -> list[Any]:
    insights = mq.insights_values(baseline, START_MS, END_MS, fake_insights(baseline, records, START_MS, END_MS, overrides))
    duck = mq.duckdb_values(baseline, records, START_MS, END_MS)
    return compare_window(mq.window_aggregates(baseline), insights, duck)


def test_agreeing_engines_pass_every_aggregate(iris_artifact: Any, iris_records: list[dict[str, Any]]) -> None:
    results = compare(iris_artifact.baseline, iris_records)
    assert results and all(c.ok for c in results), [c.line() for c in results if not c.ok]
    by_alias = {c.alias: c for c in results}
    kinds = {c.kind for c in results}
    assert {"count", "avg", "stddev", "count_distinct", "below", "count_by"} <= kinds
    assert any(a.startswith("class_counts[") for a in by_alias)
    assert {"outlier_groups[true]", "outlier_groups[false]", "message_counts[rejected]"} <= set(by_alias)
    assert "message_counts[prediction]" not in by_alias  # the monitor's Insights query counts rejected and failed only
    assert by_alias["rows"].duckdb == 60  # 12 requests x 5 rows; the health probe and the late record are out of the window
    assert by_alias["window.rejected"].duckdb == 2
    assert by_alias["window.outliers"].duckdb == by_alias["outlier_groups[true]"].duckdb > 0
    # every below-cut count of every feature is compared
    cuts = [a for a in mq.window_aggregates(iris_artifact.baseline) if a.kind == "below"]
    assert cuts and all(a.alias in by_alias for a in cuts)
    assert any(0 < (by_alias[a.alias].duckdb or 0) < 60 for a in cuts)


@pytest.mark.parametrize(
    ("overrides", "failing"),
    [
        ({"rows": "61"}, ["rows", "window.rows", "window.outlier_unreadable"]),  # the extra row is in no outlier group
        ({"f0_mean": "99.0"}, ["f0_mean"]),
        ({"f0_std": "0.0"}, ["f0_std"]),
        ({"f2_b3": "0"}, ["f2_b3"]),
        ({"conf_n": "59"}, ["conf_n"]),
        ({"message_counts[rejected]": "3"}, ["message_counts[rejected]", "window.rejected"]),
        ({"is_outlier:true": "false"}, ["outlier_groups[false]", "outlier_groups[true]", "window.outliers"]),
    ],
)
def test_a_different_aggregate_is_reported_by_name(
    iris_artifact: Any, iris_records: list[dict[str, Any]], overrides: dict[str, str], failing: list[str]
) -> None:
    results = compare(iris_artifact.baseline, iris_records, overrides)
    assert [c.alias for c in results if not c.ok] == failing


def test_outlier_flags_spelled_as_numbers_are_read_as_the_monitor_reads_them(
    iris_artifact: Any, iris_records: list[dict[str, Any]]
) -> None:
    results = compare(iris_artifact.baseline, iris_records, {"is_outlier:true": "1", "is_outlier:false": "0"})
    assert all(c.ok for c in results), [c.line() for c in results if not c.ok]


def test_flags_insights_drops_are_unreadable_not_inliers(iris_artifact: Any, iris_records: list[dict[str, Any]]) -> None:
    results = compare(iris_artifact.baseline, iris_records, {"is_outlier:false": ""})
    failing = {c.alias for c in results if not c.ok}
    assert {"outlier_groups[false]", "window.outlier_unreadable"} <= failing and "window.outliers" not in failing


def test_an_answer_the_monitor_refuses_is_a_failing_row(iris_artifact: Any, iris_records: list[dict[str, Any]]) -> None:
    results = compare(iris_artifact.baseline, iris_records, {"f0_b2": "1000"})  # more rows below a cut than values
    refused = [c for c in results if c.alias == "window (insights)"]
    assert refused and not refused[0].ok and "refuses" in refused[0].note
    assert not any(c.alias.startswith("window.") for c in results)


def test_not_a_number_is_a_failing_row(iris_artifact: Any, iris_records: list[dict[str, Any]]) -> None:
    results = compare(iris_artifact.baseline, iris_records, {"f1_mean": "abc"})
    assert [c.alias for c in results if not c.ok] == ["f1_mean", "window (insights)"]
    assert "is not a number" in results[-1].note


def test_count_distinct_may_be_approximate_within_tolerance(iris_artifact: Any, iris_records: list[dict[str, Any]]) -> None:
    baseline = iris_artifact.baseline
    close = compare(baseline, iris_records, {"requests": "12"})
    assert next(c for c in close if c.alias == "requests").note == "exact"
    far = compare(baseline, iris_records, {"requests": "13"})  # 1 of 12: above the tolerance
    assert [c.alias for c in far if not c.ok] == ["requests", "window.requests"]
    assert compare_value("requests", "count_distinct", 10_100.0, 10_000.0).ok  # 1 %: within
    assert not compare_value("requests", "count_distinct", 10_000 * (1 + 2 * COUNT_DISTINCT_TOLERANCE), 10_000.0).ok


def test_empty_window_agrees_and_an_unknown_kind_is_refused(iris_artifact: Any) -> None:
    results = compare(iris_artifact.baseline, [])
    assert results and all(c.ok for c in results), [c.line() for c in results if not c.ok]
    with pytest.raises(ValueError, match="no comparison rule"):
        compare_value("x", "pct", 1.0, 1.0)
