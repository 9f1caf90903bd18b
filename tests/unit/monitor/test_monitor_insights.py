"""Logs Insights: golden query texts, limits, parsing of result shapes, and the runner against botocore's Stubber."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.stub import ANY, Stubber

from functions.contract.model_artifact import Baseline, ModelArtifact
from functions.monitor.aggregates import AggregateError, WindowAggregates, build_specs
from functions.monitor.insights import (
    MAX_AGGREGATIONS_PER_QUERY,
    MAX_QUERY_CHARS,
    InsightsEngine,
    InsightsRunner,
    QueryError,
    parse_grouped_results,
    parse_scalar_results,
    render_queries,
)
from tests.unit.monitor.fakes import insights_results, numpy_aggregates, numpy_values, sample_traffic

GOLDEN = Path(__file__).parent / "golden"
START_MS, END_MS = 1764082800000, 1764082920000


def golden_text(baseline: Baseline) -> str:
    queries = render_queries(baseline, START_MS, END_MS)
    return "\n\n".join(f"# query {q.name} ({len(q.text)} chars, {len(q.specs)} aggregates)\n{q.text}" for q in queries) + "\n"


@pytest.mark.parametrize("model", ["iris", "wine"])
def test_query_text_matches_golden(model: str, request: pytest.FixtureRequest) -> None:
    artifact: ModelArtifact = request.getfixturevalue(f"{model}_artifact")
    assert golden_text(artifact.baseline) == (GOLDEN / f"{model}_insights.txt").read_text(encoding="utf-8")


def test_query_limits_and_split(iris_artifact: ModelArtifact, wine_artifact: ModelArtifact) -> None:
    iris_queries = render_queries(iris_artifact.baseline, START_MS, END_MS)
    wine_queries = render_queries(wine_artifact.baseline, START_MS, END_MS)
    assert [q.name for q in iris_queries] == ["aggregates-1", "outliers-and-classes", "messages"]
    assert wine_queries[-2].name == "outliers-and-classes"
    for query in (*iris_queries, *wine_queries):
        assert len(query.text) <= MAX_QUERY_CHARS
        assert query.text.split("| stats", 1)[1].count(" as ") <= MAX_AGGREGATIONS_PER_QUERY
        assert query.text.startswith("filter message")
    for query in wine_queries[:-2]:  # every feature's aggregates stay in one query
        for feature in {s.feature for s in query.specs if s.feature}:
            assert sum(1 for s in query.specs if s.feature == feature) == sum(1 for s in build_specs(wine_artifact.baseline)
                                                                               if s.feature == feature)  # fmt: skip


def test_queries_use_documented_functions_only(iris_artifact: ModelArtifact, wine_artifact: ModelArtifact) -> None:
    """No sum of booleans, no comparison results summed, no grouping by a field some matched lines lack."""
    for baseline in (iris_artifact.baseline, wine_artifact.baseline):
        for query in render_queries(baseline, START_MS, END_MS):
            assert "sum(is_outlier)" not in query.text and "pct(" not in query.text
            fields = re.findall(r"\| fields (.*?)\n\| stats", query.text, flags=re.S)
            for expression in fields:
                assert not re.search(r"[<>=!]", expression), "a comparison's boolean would be summed"
                assert set(re.findall(r"([a-z_]+)\(", expression)) <= {"least", "greatest", "ceil"}
            if "by " in query.text:
                by = query.text.rsplit("by ", 1)[1].split(", ")
                if "message" in by:
                    assert by == ["message"]  # rejected and failed lines have no prediction or is_outlier
                else:
                    assert 'filter message = "prediction"' in query.text  # both fields are on every prediction line


def test_indicator_is_one_below_the_cut_and_zero_at_or_above() -> None:
    """Evaluate the rendered arithmetic the way Logs Insights documents ceil/greatest/least."""
    for cut, x, expected in ((5.0, 4.9, 1), (5.0, 5.0, 0), (5.0, 5.1, 0), (-1.5, -1.6, 1), (0.3, 0.2999999, 1)):
        assert min(1, max(0, math.ceil(cut - x))) == expected


def test_parse_scalar_strings_missing_fields_and_empty_results(iris_artifact: ModelArtifact) -> None:
    query = render_queries(iris_artifact.baseline, START_MS, END_MS)[0]
    values = parse_scalar_results(query, [[{"field": "rows", "value": "12"}, {"field": "f0_mean", "value": "5.1"}]])
    assert values["rows"] == 12.0 and values["f0_mean"] == 5.1
    assert values["f0_b3"] is None  # absent field: no value
    assert all(v is None for v in parse_scalar_results(query, []).values())  # no matching events: no row at all
    with pytest.raises(AggregateError, match="not a number"):
        parse_scalar_results(query, [[{"field": "rows", "value": "twelve"}]])
    with pytest.raises(AggregateError, match="one row"):
        parse_scalar_results(query, [[], []])


@pytest.mark.parametrize(("true", "false"), [("true", "false"), ("1", "0")])
def test_grouped_counts_read_both_boolean_spellings(iris_artifact: ModelArtifact, true: str, false: str) -> None:
    baseline = iris_artifact.baseline
    query = render_queries(baseline, START_MS, END_MS)[-2]
    rows = [
        [{"field": "is_outlier", "value": true}, {"field": "prediction", "value": "setosa"}, {"field": "n", "value": "7"}],
        [{"field": "is_outlier", "value": false}, {"field": "prediction", "value": "setosa"}, {"field": "n", "value": "20"}],
        [{"field": "is_outlier", "value": false}, {"field": "prediction", "value": "martian"}, {"field": "n", "value": "3"}],
    ]
    groups = parse_grouped_results(query, rows)
    window = WindowAggregates.from_values(baseline, {"rows": 30.0}, groups, start_ms=0, end_ms=1)
    assert (window.outliers, window.outlier_unreadable) == (7, 0)
    assert window.class_counts == {"setosa": 27, "versicolor": 0, "virginica": 0, "(other)": 3}


def test_missing_or_odd_outlier_groups_are_counted_unreadable_not_inliers(iris_artifact: ModelArtifact) -> None:
    baseline = iris_artifact.baseline
    query = render_queries(baseline, START_MS, END_MS)[-2]
    rows = [
        [{"field": "is_outlier", "value": "true"}, {"field": "prediction", "value": "setosa"}, {"field": "n", "value": "5"}],
        [{"field": "prediction", "value": "setosa"}, {"field": "n", "value": "4"}],  # the group field absent
        [{"field": "is_outlier", "value": "maybe"}, {"field": "prediction", "value": "setosa"}, {"field": "n", "value": "1"}],
    ]
    window = WindowAggregates.from_values(baseline, {"rows": 40.0}, parse_grouped_results(query, rows), start_ms=0, end_ms=1)
    assert window.outliers == 5 and window.outlier_unreadable == 35  # 30 rows formed no group at all
    with pytest.raises(AggregateError):
        parse_grouped_results(query, [[{"field": "is_outlier", "value": "true"}]])


def test_rejected_and_failed_counts(iris_artifact: ModelArtifact) -> None:
    query = render_queries(iris_artifact.baseline, START_MS, END_MS)[-1]
    rows = [[{"field": "message", "value": "rejected"}, {"field": "n", "value": "3"}],
            [{"field": "message", "value": "failed"}, {"field": "n", "value": "2"}]]  # fmt: skip
    window = WindowAggregates.from_values(iris_artifact.baseline, {}, parse_grouped_results(query, rows), start_ms=0, end_ms=1)
    assert (window.rejected, window.failed, window.rows) == (3, 2, 0)


# --- the runner, with botocore's Stubber --------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def logs() -> Any:
    return boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def runner(client: Any, clock: FakeClock, timeout: float = 10.0) -> InsightsRunner:
    return InsightsRunner(
        client=client, log_group="/aws/lambda/inference", timeout_seconds=timeout, clock=clock, sleep=clock.sleep
    )


def expect_start(stub: Stubber, query_id: str) -> None:
    stub.add_response(
        "start_query",
        {"queryId": query_id},
        {"logGroupName": "/aws/lambda/inference", "startTime": ANY, "endTime": ANY, "queryString": ANY, "limit": 10_000},
    )


def test_engine_reads_window_through_running_then_complete(iris_artifact: ModelArtifact, logs: Any) -> None:
    baseline = iris_artifact.baseline
    traffic = sample_traffic(baseline, 200, np.random.default_rng(1), rows_per_request=2, rejected=4)
    values, groups = numpy_values(baseline, traffic)
    queries = render_queries(baseline, START_MS, END_MS)
    results = insights_results(queries, values, groups, true_spelling="1")
    clock = FakeClock()
    with Stubber(logs) as stub:
        for q in queries:
            expect_start(stub, f"id-{q.name}")
        # First poll: still running with partial results, which must be ignored.
        partial = results["aggregates-1"][0][:3]
        stub.add_response("get_query_results", {"status": "Running", "results": [partial]}, {"queryId": "id-aggregates-1"})
        stub.add_response("get_query_results", {"status": "Scheduled", "results": []}, {"queryId": "id-outliers-and-classes"})
        stub.add_response("get_query_results", {"status": "Complete", "results": results["messages"]}, {"queryId": "id-messages"})
        complete = {"status": "Complete", "results": results["aggregates-1"]}
        stub.add_response("get_query_results", complete, {"queryId": "id-aggregates-1"})
        grouped = {"status": "Complete", "results": results["outliers-and-classes"]}
        stub.add_response("get_query_results", grouped, {"queryId": "id-outliers-and-classes"})
        window = InsightsEngine(baseline, runner(logs, clock)).read(START_MS, END_MS)
        stub.assert_no_pending_responses()
    expected = numpy_aggregates(baseline, traffic, START_MS, END_MS)
    assert window.rows == expected.rows == 200
    assert window.rejected == 4 and window.requests == 100
    assert window.class_counts == expected.class_counts
    assert window.outliers == expected.outliers and window.outlier_unreadable == 0
    for got, want in zip(window.features, expected.features, strict=True):
        assert got.mean == pytest.approx(want.mean)
        assert got.below == want.below
    assert clock.sleeps == [1.0]  # one poll interval, bounded


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "Timeout", "Unknown"])
def test_failed_query_status_raises(iris_artifact: ModelArtifact, logs: Any, status: str) -> None:
    queries = render_queries(iris_artifact.baseline, START_MS, END_MS)
    clock = FakeClock()
    with Stubber(logs) as stub:
        for q in queries:
            expect_start(stub, f"id-{q.name}")
        stub.add_response("get_query_results", {"status": status, "results": []}, {"queryId": "id-aggregates-1"})
        stub.add_response("stop_query", {"success": True}, {"queryId": "id-outliers-and-classes"})
        stub.add_response("stop_query", {"success": True}, {"queryId": "id-messages"})
        with pytest.raises(QueryError, match=status):
            runner(logs, clock).run(queries, START_MS, END_MS)


def test_timeout_stops_the_queries_and_raises(iris_artifact: ModelArtifact, logs: Any) -> None:
    queries = render_queries(iris_artifact.baseline, START_MS, END_MS)
    clock = FakeClock()
    with Stubber(logs) as stub:
        for q in queries:
            expect_start(stub, f"id-{q.name}")
        for _ in range(4):  # polls at t = 0, 1, 2, 3; the deadline (2.5 s) is seen after the poll at t = 3
            for q in queries:
                stub.add_response("get_query_results", {"status": "Running", "results": []}, {"queryId": f"id-{q.name}"})
        for q in queries:
            stub.add_response("stop_query", {"success": True}, {"queryId": f"id-{q.name}"})
        with pytest.raises(QueryError, match=r"incomplete after 2\.5 s"):
            runner(logs, clock, timeout=2.5).run(queries, START_MS, END_MS)
        stub.assert_no_pending_responses()


def test_throttled_start_is_retried_with_backoff(iris_artifact: ModelArtifact, logs: Any) -> None:
    queries = render_queries(iris_artifact.baseline, START_MS, END_MS)[:1]
    clock = FakeClock()
    with Stubber(logs) as stub:
        stub.add_client_error("start_query", "LimitExceededException", "too many concurrent queries")
        stub.add_client_error("start_query", "ThrottlingException", "slow down")
        expect_start(stub, "id-1")
        stub.add_response("get_query_results", {"status": "Complete", "results": []}, {"queryId": "id-1"})
        assert runner(logs, clock).run(queries, START_MS, END_MS) == {"aggregates-1": []}
    assert clock.sleeps == [1.0, 2.0]


def test_persistent_throttling_gives_up_after_bounded_attempts(iris_artifact: ModelArtifact, logs: Any) -> None:
    queries = render_queries(iris_artifact.baseline, START_MS, END_MS)[:1]
    clock = FakeClock()
    with Stubber(logs) as stub:
        for _ in range(4):
            stub.add_client_error("start_query", "LimitExceededException", "too many concurrent queries")
        with pytest.raises(QueryError, match="throttled after 4 attempts"):
            runner(logs, clock).run(queries, START_MS, END_MS)
        stub.assert_no_pending_responses()


def test_malformed_query_is_not_retried(iris_artifact: ModelArtifact, logs: Any) -> None:
    queries = render_queries(iris_artifact.baseline, START_MS, END_MS)
    clock = FakeClock()
    with Stubber(logs) as stub:
        expect_start(stub, "id-1")
        stub.add_client_error("start_query", "MalformedQueryException", "bad query")
        stub.add_response("stop_query", {"success": True}, {"queryId": "id-1"})
        with pytest.raises(QueryError, match="bad query"):
            runner(logs, clock).run(queries, START_MS, END_MS)
        stub.assert_no_pending_responses()
    assert clock.sleeps == []
