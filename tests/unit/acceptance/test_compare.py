"""The Insights-vs-DuckDB comparison: the monitor's own queries parsed from fake GetQueryResults answers, compared
with the monitor's DuckDB statement over the same records; every tolerance rule has a case that breaks it."""

from __future__ import annotations

from typing import Any

import pytest

from acceptance import monitor_queries as mq
from acceptance.compare import COUNT_DISTINCT_TOLERANCE, compare_pct, compare_window
from functions.contract import prediction_log as log

from .conftest import END_MS, START_MS
from .fakes import fake_insights


def compare(baseline: Any, records: list[dict[str, Any]], overrides: dict[str, str] | None = None) -> list[Any]:
    insights = mq.insights_values(baseline, START_MS, END_MS, fake_insights(baseline, records, START_MS, END_MS, overrides))
    duck = mq.duckdb_values(baseline, records, START_MS, END_MS)
    in_window = [
        r
        for r in records
        if any(mq.in_window(r, baseline, START_MS, END_MS, m) for m in (log.MESSAGE_PREDICTION, log.MESSAGE_REJECTED))
    ]
    return compare_window(mq.window_aggregates(baseline), insights, duck, in_window)


def test_agreeing_engines_pass_every_aggregate(iris_artifact: Any, iris_records: list[dict[str, Any]]) -> None:
    results = compare(iris_artifact.baseline, iris_records)
    assert results and all(c.ok for c in results), [c.line() for c in results if not c.ok]
    aliases = {c.alias for c in results}
    assert {"rows", "outliers", "requests", "rejected"} <= aliases
    assert any(a.startswith("class_counts[") for a in aliases)
    rows = next(c for c in results if c.alias == "rows")
    assert rows.duckdb == 60  # 12 requests x 5 rows; the health probe and the late record are out of the window


@pytest.mark.parametrize(
    ("alias", "text"),
    [("rows", "61"), ("outliers", "0"), ("sepal_length__mean", "99.0"), ("sepal_length__max", "1.0"), ("rejected", "3")],
)
def test_a_different_aggregate_is_reported_by_name(
    iris_artifact: Any, iris_records: list[dict[str, Any]], alias: str, text: str
) -> None:
    results = compare(iris_artifact.baseline, iris_records, {alias: text})
    failing = [c.alias for c in results if not c.ok]
    assert failing == [alias]


def test_pct_is_judged_by_rank_not_by_interpolated_value() -> None:
    values = [float(v) for v in range(1, 101)]  # p50: quantile_cont 50.5, nearest rank 50 or 51
    assert compare_pct("v__p50", 50, 50.0, 50.5, values).ok
    assert compare_pct("v__p50", 50, 51.0, 50.5, values).ok
    assert not compare_pct("v__p50", 50, 60.0, 50.5, values).ok
    assert not compare_pct("v__p50", 50, None, 50.5, values).ok


def test_count_distinct_may_be_approximate_within_tolerance(iris_artifact: Any, iris_records: list[dict[str, Any]]) -> None:
    baseline = iris_artifact.baseline
    close = compare(baseline, iris_records, {"requests": "12"})
    assert next(c for c in close if c.alias == "requests").note == "exact"
    off = 12 * (1 + 2 * COUNT_DISTINCT_TOLERANCE)
    far = compare(baseline, iris_records, {"requests": repr(off)})
    assert not next(c for c in far if c.alias == "requests").ok
