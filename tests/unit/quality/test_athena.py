"""The Athena text is the one SQL's transpilation (golden), and the runner never reports an unfinished query as data."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from functions.quality import sql
from functions.quality.athena import AthenaQueryError, AthenaRunner
from functions.quality.service import AthenaSource

QUERY_ID = "8a2f4b8e-1111-2222-3333-444455556666"


def test_the_shipped_athena_text_is_the_transpiled_one_sql() -> None:
    """Regenerate with `python -m functions.quality.sql` after changing QUALITY_SQL."""
    assert sql.athena_template() == sql.transpile(sql.QUALITY_SQL, "athena")


def test_athena_text_reads_the_archive_columns_and_prunes_partitions() -> None:
    text = sql.with_tables(sql.athena_template(), "iris_predictions", "iris_feedback")
    assert 'FROM "iris_predictions"' in text and 'FROM "iris_feedback"' in text
    assert sql.PREDICTIONS_TOKEN not in text and sql.FEEDBACK_TOKEN not in text
    assert text.count("dt BETWEEN ? AND ?") == 2  # day partitions pruned on both tables
    assert "APPROX_PERCENTILE(delay_ms, 0.5)" in text
    assert text.count("?") == len(sql.parameters("iris", 0, 1))


@pytest.mark.parametrize("name", ["Iris", "iris;drop", 'a"b', "", "x" * 256])
def test_table_names_are_validated_before_substitution(name: str) -> None:
    with pytest.raises(ValueError, match="must match"):
        sql.with_tables(sql.athena_template(), name, "feedback")


def test_parameters_are_sql_literals_in_placeholder_order() -> None:
    values = sql.parameters("o'brien", 1_764_000_000_000, 1_764_604_800_000)
    assert values[:5] == ["o'brien", "2025-11-24", "2025-12-01", 1_764_000_000_000, 1_764_604_800_000]
    assert values[5:] == values[:5]
    assert sql.athena_parameters(values)[:4] == ["'o''brien'", "'2025-11-24'", "'2025-12-01'", "1764000000000"]


def client() -> Any:
    return boto3.client("athena", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def runner(athena: Any, clock: Clock, timeout: float = 30.0) -> AthenaRunner:
    return AthenaRunner(
        athena, "quality-wg", "inference_logs", timeout_seconds=timeout, clock=clock, sleep=clock.sleep, page_size=2
    )


def start(stub: Stubber, parameters: list[str] | None = None) -> None:
    expected: dict[str, Any] = {
        "QueryString": ANY,
        "WorkGroup": "quality-wg",
        "QueryExecutionContext": {"Database": "inference_logs"},
    }
    if parameters is not None:
        expected["ExecutionParameters"] = parameters
    stub.add_response("start_query_execution", {"QueryExecutionId": QUERY_ID}, expected)


def execution(stub: Stubber, state: str, reason: str | None = None, scanned: int = 0) -> None:
    status: dict[str, Any] = {"State": state}
    if reason:
        status["StateChangeReason"] = reason
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"QueryExecutionId": QUERY_ID, "Status": status, "Statistics": {"DataScannedInBytes": scanned}}},
        {"QueryExecutionId": QUERY_ID},
    )


def page(
    stub: Stubber, rows: list[list[str | None]], *, header: bool, token: str | None = None, after: str | None = None
) -> None:
    columns = ["model_version", "row_count"]
    data = [{"Data": [{"VarCharValue": c} for c in columns]}] if header else []
    data += [{"Data": [{"VarCharValue": v} if v is not None else {} for v in row]} for row in rows]
    response: dict[str, Any] = {
        "ResultSet": {"Rows": data, "ResultSetMetadata": {"ColumnInfo": [{"Name": c, "Type": "varchar"} for c in columns]}}
    }
    if token:
        response["NextToken"] = token
    expected: dict[str, Any] = {"QueryExecutionId": QUERY_ID, "MaxResults": 2}
    if after:
        expected["NextToken"] = after
    stub.add_response("get_query_results", response, expected)


def test_success_after_polling_reads_every_page_and_the_bytes_scanned() -> None:
    athena, clock = client(), Clock()
    with Stubber(athena) as stub:
        start(stub, ["'iris'", "5"])
        execution(stub, "QUEUED")
        execution(stub, "RUNNING")
        execution(stub, "SUCCEEDED", scanned=123_456)
        page(stub, [["v1", "3"], ["v2", None]], header=True, token="t1")
        page(stub, [["v3", "7"]], header=False, after="t1")
        athena_runner = runner(athena, clock)
        rows = athena_runner.run("SELECT 1", ["'iris'", "5"])
        stub.assert_no_pending_responses()
    assert rows == [
        {"model_version": "v1", "row_count": "3"},
        {"model_version": "v2", "row_count": None},
        {"model_version": "v3", "row_count": "7"},
    ]
    assert athena_runner.last is not None and athena_runner.last.bytes_scanned == 123_456
    assert clock.sleeps == [1.0, 2.0]  # backoff between polls


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED"])
def test_a_failed_or_cancelled_query_raises_with_its_reason(state: str) -> None:
    athena, clock = client(), Clock()
    with Stubber(athena) as stub:
        start(stub)
        execution(stub, "RUNNING")
        execution(stub, state, reason="TABLE_NOT_FOUND: line 1:1: Table 'x' does not exist")
        with pytest.raises(AthenaQueryError, match=f"{state}: TABLE_NOT_FOUND"):
            runner(athena, clock).run("SELECT 1", [])
        stub.assert_no_pending_responses()


def test_a_query_past_the_timeout_is_stopped_and_raises() -> None:
    athena, clock = client(), Clock()
    with Stubber(athena) as stub:
        start(stub)
        for _ in range(4):  # 0, 1, 3, 7 s elapsed; the timeout is 5 s
            execution(stub, "RUNNING")
        stub.add_response("stop_query_execution", {}, {"QueryExecutionId": QUERY_ID})
        with pytest.raises(AthenaQueryError, match="still RUNNING after 5 s; stopped it"):
            runner(athena, clock, timeout=5).run("SELECT 1", [])
        stub.assert_no_pending_responses()


def test_an_api_error_propagates() -> None:
    athena, clock = client(), Clock()
    with Stubber(athena) as stub:
        stub.add_client_error("start_query_execution", "InvalidRequestException", "workgroup is disabled")
        with pytest.raises(Exception, match="workgroup is disabled"):
            runner(athena, clock).run("SELECT 1", [])


def test_the_athena_source_sends_the_shipped_text_and_literal_parameters() -> None:
    athena, clock = client(), Clock()
    expected_sql = sql.with_tables(sql.athena_template(), "iris_predictions", "iris_feedback")
    with Stubber(athena) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": QUERY_ID},
            {
                "QueryString": expected_sql,
                "WorkGroup": "quality-wg",
                "QueryExecutionContext": {"Database": "inference_logs"},
                "ExecutionParameters": sql.athena_parameters(sql.parameters("iris", 0, 86_400_000)),
            },
        )
        execution(stub, "SUCCEEDED")
        page(stub, [], header=True)
        source = AthenaSource(runner(athena, clock), "iris_predictions", "iris_feedback")
        assert source.read("iris", 0, 86_400_000) == []
        stub.assert_no_pending_responses()
