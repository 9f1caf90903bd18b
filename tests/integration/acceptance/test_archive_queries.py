"""The Athena and feedback rows: Athena through botocore's Stubber (moto does not run SQL), the Glue catalogue on
moto's server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from unittest import mock

import boto3
from botocore.stub import ANY, Stubber

from acceptance.checks.archive import EXPECTED_TYPES, check_athena, check_feedback
from acceptance.config import RunConfig
from acceptance.context import RunContext, Sent
from acceptance.cost import Usage
from acceptance.results import Status

REQUEST = "c" * 32


def context(clients: Callable[[str], Any], baseline: Any) -> RunContext:
    ctx = RunContext(
        config=RunConfig.from_env({"ACCEPTANCE_STACK_NAME": "ServerlessInference-acc-0123abcd"}),
        clients=clients,
        outputs=mock.Mock(glue_database="serverless_inference", glue_table="predictions_iris", athena_workgroup="wg"),
        baseline=baseline,
        api=mock.Mock(),
        queue=mock.Mock(),
        logs=mock.Mock(),
        probe_log=mock.Mock(),
        usage=Usage(),
        region="us-east-1",
        account="123456789012",
        log=lambda _: None,
        sleep=lambda _: None,
    )
    ctx.sent = [Sent(REQUEST, 2, 1_795_600_000_000, "/predict")]
    ctx.shared["archived_request"] = REQUEST
    return ctx


def stubbed_athena(types: dict[str, str], rows: list[list[str]]) -> Any:
    athena = boto3.client("athena", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stubber = Stubber(athena)
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q1"}, {"QueryString": ANY, "WorkGroup": "wg"})
    stubber.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "RUNNING"}}}, {"QueryExecutionId": "q1"})
    stubber.add_response(
        "get_query_execution",
        {"QueryExecution": {"Status": {"State": "SUCCEEDED"}, "Statistics": {"DataScannedInBytes": 1234}}},
        {"QueryExecutionId": "q1"},
    )
    header = {"Data": [{"VarCharValue": name} for name in types]}
    stubber.add_response(
        "get_query_results",
        {
            "ResultSet": {
                "Rows": [header, *({"Data": [{"VarCharValue": v} for v in row]} for row in rows)],
                "ResultSetMetadata": {"ColumnInfo": [{"Name": n, "Type": t} for n, t in types.items()]},
            }
        },
        {"QueryExecutionId": "q1"},
    )
    stubber.activate()
    return athena


def row(index: int) -> list[str]:
    values = {"request_id": REQUEST, "row_index": str(index), "is_outlier": "false"}
    return [values.get(name, "1") for name in EXPECTED_TYPES]


def test_athena_row_passes_on_the_glue_types_and_fails_on_a_string_boolean(iris_artifact: Any) -> None:
    good = stubbed_athena(EXPECTED_TYPES, [row(0), row(1)])
    ctx = context(lambda service: good, iris_artifact.baseline)
    [result] = check_athena(ctx)
    assert result.status is Status.PASS, result.observations
    assert ctx.usage.athena_bytes_scanned == 1234 and ctx.usage.athena_queries == 1
    wrong = stubbed_athena({**EXPECTED_TYPES, "is_outlier": "varchar"}, [row(0), row(1)])
    [result] = check_athena(context(lambda service: wrong, iris_artifact.baseline))
    assert result.status is Status.FAIL and "is_outlier: Athena type 'varchar', expected 'boolean'" in result.summary
    short = stubbed_athena(EXPECTED_TYPES, [row(0)])
    [result] = check_athena(context(lambda service: short, iris_artifact.baseline))
    assert result.status is Status.FAIL and "returned 1 rows" in result.summary


def test_feedback_row_is_skipped_without_a_feedback_table(clients: Callable[[str], Any], iris_artifact: Any) -> None:
    glue = clients("glue")
    database = f"acc_{uuid.uuid4().hex[:8]}"
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(DatabaseName=database, TableInput={"Name": "predictions_iris"})
    ctx = context(clients, iris_artifact.baseline)
    ctx.outputs = mock.Mock(glue_database=database)
    [result] = check_feedback(ctx)
    assert result.status is Status.SKIP and "not present" in result.summary
    glue.create_table(DatabaseName=database, TableInput={"Name": "feedback_iris"})
    ctx.api = mock.Mock()
    ctx.api.post_json.return_value = mock.Mock(status=404, body=b'{"error":"not_found"}')
    [result] = check_feedback(ctx)
    assert result.status is Status.FAIL and "POST /feedback answered 404" in result.summary
