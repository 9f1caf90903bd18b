"""Logs Insights: golden query texts, limits, parsing of result shapes, and the runner against botocore's Stubber."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.stub import ANY, Stubber

from functions.contract.model_artifact import Baseline, ModelArtifact, parse_baseline
from functions.monitor.aggregates import AggregateError, WindowAggregates
from functions.monitor.insights import (
    MAX_AGGREGATIONS_PER_QUERY,
    MAX_QUERY_CHARS,
    FeatureLimitError,
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
    assert [q.name for q in iris_queries] == ["aggregates-1", "counts"]
    assert [q.name for q in wine_queries] == ["aggregates-1", "aggregates-2", "counts"]
    for query in (*iris_queries, *wine_queries):
        assert len(query.text) <= MAX_QUERY_CHARS
        assert query.text.count(" as ") <= MAX_AGGREGATIONS_PER_QUERY
        assert query.text.startswith("filter message")
    # every feature's aggregates stay in one query
    for query in wine_queries[:-1]:
        features = {s.feature for s in query.specs if s.feature}
        for feature in features:
            assert sum(1 for s in query.specs if s.feature == feature) == 14


def many_features_baseline(base: Baseline, n_features: int) -> Baseline:
    document: dict[str, Any] = copy.deepcopy(base.document)
    template = document["features"][0]
    document["features"] = [dict(template, name=f"feature_{i:03d}") for i in range(n_features)]
    return parse_baseline(document)


def test_too_many_features_is_refused_at_start_up(iris_artifact: ModelArtifact) -> None:
    assert len(render_queries(many_features_baseline(iris_artifact.baseline, 34), 0, 1)) == 6
    wide = many_features_baseline(iris_artifact.baseline, 35)
    with pytest.raises(FeatureLimitError, match="35 features"):
        render_queries(wide, 0, 1)
    with pytest.raises(FeatureLimitError):
        InsightsEngine(wide, InsightsRunner(client=None, log_group="g", timeout_seconds=1))


def test_parse_scalar_strings_missing_fields_and_empty_results(iris_artifact: ModelArtifact) -> None:
    query = render_queries(iris_artifact.baseline, START_MS, END_MS)[0]
    values = parse_scalar_results(query, [[{"field": "rows", "value": "12"}, {"field": "sepal_length__mean", "value": "5.1"}]])
    assert values["rows"] == 12.0 and values["sepal_length__mean"] == 5.1
    assert values["sepal_length__p50"] is None  # absent field: no value
    assert all(v is None for v in parse_scalar_results(query, []).values())  # no matching events: no row at all
    with pytest.raises(AggregateError, match="not a number"):
        parse_scalar_results(query, [[{"field": "rows", "value": "twelve"}]])
    with pytest.raises(AggregateError, match="one row"):
        parse_scalar_results(query, [[], []])


def test_parse_grouped_counts() -> None:
    rows = [
        [{"field": "message", "value": "prediction"}, {"field": "prediction", "value": "setosa"}, {"field": "n", "value": "7"}],
        [{"field": "message", "value": "prediction"}, {"field": "prediction", "value": "martian"}, {"field": "n", "value": "2"}],
        [{"field": "message", "value": "rejected"}, {"field": "n", "value": "3"}],
    ]
    assert parse_grouped_results(rows) == ({"setosa": 7, "martian": 2}, 3)
    with pytest.raises(AggregateError):
        parse_grouped_results([[{"field": "message", "value": "prediction"}]])


def test_unknown_labels_are_counted_as_other(iris_artifact: ModelArtifact) -> None:
    counts = {"setosa": 7, "martian": 2}
    window = WindowAggregates.from_values(iris_artifact.baseline, {"rows": 9.0}, counts, start_ms=0, end_ms=1)
    assert window.class_counts == {"setosa": 7, "versicolor": 0, "virginica": 0, "(other)": 2}


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
    values, counts = numpy_values(baseline, traffic)
    queries = render_queries(baseline, START_MS, END_MS)
    results = insights_results(queries, values, counts, rejected=4)
    clock = FakeClock()
    with Stubber(logs) as stub:
        for q in queries:
            expect_start(stub, f"id-{q.name}")
        # First poll: still running with partial results, which must be ignored.
        partial = results["aggregates-1"][0][:3]
        stub.add_response("get_query_results", {"status": "Running", "results": [partial]}, {"queryId": "id-aggregates-1"})
        stub.add_response("get_query_results", {"status": "Scheduled", "results": []}, {"queryId": "id-counts"})
        complete = {"status": "Complete", "results": results["aggregates-1"]}
        stub.add_response("get_query_results", complete, {"queryId": "id-aggregates-1"})
        stub.add_response("get_query_results", {"status": "Complete", "results": results["counts"]}, {"queryId": "id-counts"})
        window = InsightsEngine(baseline, runner(logs, clock)).read(START_MS, END_MS)
        stub.assert_no_pending_responses()
    expected = numpy_aggregates(baseline, traffic, START_MS, END_MS)
    assert window.rows == expected.rows == 200
    assert window.rejected == 4 and window.requests == 100
    assert window.class_counts == expected.class_counts
    for got, want in zip(window.features, expected.features, strict=True):
        assert got.mean == pytest.approx(want.mean)
        assert got.quantiles == pytest.approx(want.quantiles)
    assert clock.sleeps == [1.0]  # one poll interval, bounded


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "Timeout", "Unknown"])
def test_failed_query_status_raises(iris_artifact: ModelArtifact, logs: Any, status: str) -> None:
    queries = render_queries(iris_artifact.baseline, START_MS, END_MS)
    clock = FakeClock()
    with Stubber(logs) as stub:
        for q in queries:
            expect_start(stub, f"id-{q.name}")
        stub.add_response("get_query_results", {"status": status, "results": []}, {"queryId": "id-aggregates-1"})
        stub.add_response("stop_query", {"success": True}, {"queryId": "id-counts"})
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
