"""The quality Lambda in-process with real EventBridge events, against SNS, SQS and DynamoDB on an emulator.

Athena is stubbed on the handler's own client; its answers are what DuckDB computes with the same SQL from a
generated log, rendered as Athena's all-strings result pages, so everything after the query is the AWS code path.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from functions.contract import names
from functions.quality import sql
from functions.quality.athena import AthenaQueryError
from functions.quality.local_engine import DuckDbRunner
from functions.quality.service import lookback_bounds, scheduled_end
from tests.integration.quality.conftest import Alerts
from tests.unit.quality.logs import MODELS, START_MS, baseline_of, scenario
from tests.unit.quality.mixed import MIXED_MODEL, mixed_baseline, mixed_scenario, write_mixed_model_folder

RUN_AT = datetime.fromtimestamp(START_MS / 1000 + 5 * 86_400, tz=UTC).replace(minute=0, second=0, microsecond=0)


def scheduled_event(moment: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/model-quality"],
        "detail": {},
    }


class FakeContext:
    function_name = "model-quality"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:model-quality"
    memory_limit_in_mb = 256
    aws_request_id = "9b1f6a52-36a4-4c1e-8d5e-2f8f9f7d0c11"
    log_group_name = "/aws/lambda/model-quality"
    log_stream_name = "2026/11/25/[$LATEST]0123456789"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 120_000


@dataclass
class QualityLambda:
    module: ModuleType
    stub: Stubber
    queries: int = 0
    model: str = "iris"

    def feed(self, log: Path, state: str = "SUCCEEDED", scanned: int = 4096) -> None:
        """Queue Athena's answers for one run: DuckDB's rows of the same SQL over `log`, as string pages."""
        start_ms, end_ms = lookback_bounds(scheduled_end(scheduled_event(RUN_AT)["time"]), 7)
        self.queries += 1
        qid = f"quality-query-{self.queries}"
        params = sql.athena_parameters(sql.parameters(self.model, start_ms, end_ms))
        self.stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": qid},
            {"QueryString": ANY, "WorkGroup": "quality", "QueryExecutionContext": {"Database": "inference_logs"},
             "ExecutionParameters": params},
        )  # fmt: skip
        status: dict[str, Any] = {"State": state}
        if state != "SUCCEEDED":
            status["StateChangeReason"] = "HIVE_BAD_DATA: malformed"
        self.stub.add_response(
            "get_query_execution",
            {"QueryExecution": {"QueryExecutionId": qid, "Status": status, "Statistics": {"DataScannedInBytes": scanned}}},
            {"QueryExecutionId": qid},
        )
        if state != "SUCCEEDED":
            return
        rows = DuckDbRunner(log).run(sql.QUALITY_SQL, sql.parameters(self.model, start_ms, end_ms))
        header = [{"VarCharValue": c} for c in sql.RESULT_COLUMNS]
        data = [{"Data": [{} if row[c] is None else {"VarCharValue": str(row[c])} for c in sql.RESULT_COLUMNS]} for row in rows]
        self.stub.add_response(
            "get_query_results",
            {"ResultSet": {"Rows": [{"Data": header}, *data],
                           "ResultSetMetadata": {"ColumnInfo": [{"Name": c, "Type": "varchar"} for c in sql.RESULT_COLUMNS]}}},
            {"QueryExecutionId": qid, "MaxResults": 1000},
        )  # fmt: skip
        self.feed_unreadable(DuckDbRunner(log).unreadable_lines() if log.is_file() else 0, start_ms, end_ms)

    def feed_unreadable(self, count: int, start_ms: int, end_ms: int) -> None:
        """The second query of a run: lines the table could not read in the lookback's partitions."""
        self.queries += 1
        qid = f"quality-query-{self.queries}"
        self.stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": qid},
            {"QueryString": ANY, "WorkGroup": "quality", "QueryExecutionContext": {"Database": "inference_logs"},
             "ExecutionParameters": sql.athena_parameters(sql.unreadable_parameters(start_ms, end_ms))},
        )  # fmt: skip
        self.stub.add_response(
            "get_query_execution",
            {
                "QueryExecution": {
                    "QueryExecutionId": qid,
                    "Status": {"State": "SUCCEEDED"},
                    "Statistics": {"DataScannedInBytes": 1},
                }
            },
            {"QueryExecutionId": qid},
        )
        column = sql.UNREADABLE_COLUMN
        self.stub.add_response(
            "get_query_results",
            {"ResultSet": {"Rows": [{"Data": [{"VarCharValue": column}]}, {"Data": [{"VarCharValue": str(count)}]}],
                           "ResultSetMetadata": {"ColumnInfo": [{"Name": column, "Type": "bigint"}]}}},
            {"QueryExecutionId": qid, "MaxResults": 1000},
        )  # fmt: skip

    def run(self) -> dict[str, Any]:
        result: dict[str, Any] = self.module.lambda_handler(scheduled_event(RUN_AT), FakeContext())
        return result


def cold_started_quality(
    model: str,
    alerts: Alerts,
    monkeypatch: pytest.MonkeyPatch,
    kind: type[QualityLambda] = QualityLambda,
    model_dir: Path | None = None,
) -> Iterator[QualityLambda]:
    """The quality Lambda for `model` (models/<model>, or `model_dir`) after a fresh cold start, its Athena calls stubbed."""
    env = {
        names.ENV_MODEL_DIR: str(model_dir or MODELS / model),
        names.ENV_ATHENA_WORKGROUP: "quality",
        names.ENV_ATHENA_DATABASE: "inference_logs",
        names.ENV_PREDICTIONS_TABLE: f"{model}_predictions",
        names.ENV_FEEDBACK_TABLE: f"{model}_feedback",
        names.ENV_ALERT_TOPIC_ARN: alerts.topic_arn,
        names.ENV_ALERT_STATE_TABLE: alerts.table,
        names.ENV_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
        names.ENV_SERVICE_NAME: names.QUALITY_SERVICE,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    module = importlib.reload(importlib.import_module("functions.quality.handler"))  # a fresh cold start
    module.APP.runner.sleep = lambda _seconds: None
    with Stubber(module.APP.athena_client) as stub:
        yield kind(module, stub, model=model)


@pytest.fixture
def quality_lambda(alerts: Alerts, monkeypatch: pytest.MonkeyPatch) -> Iterator[QualityLambda]:
    yield from cold_started_quality("iris", alerts, monkeypatch)


def emf(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.split("\n") if line.startswith("{") and '"_aws"' in line]


def test_concept_drift_alarms_once_and_recovers_once(
    quality_lambda: QualityLambda, alerts: Alerts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = baseline_of("iris")
    healthy = scenario(baseline, seed=11, rows=600, wrong_share=0.02).write(tmp_path / "healthy.jsonl")
    drifted = scenario(baseline, seed=12, rows=600, wrong_share=0.02, relabel=("virginica", "versicolor", 0.6))
    drifted_log = drifted.write(tmp_path / "drifted.jsonl")
    summaries = []
    for log in (healthy, drifted_log, drifted_log, healthy):
        quality_lambda.feed(log)
        summaries.append(quality_lambda.run())
    quality_lambda.stub.assert_no_pending_responses()
    assert [s["status"] for s in summaries] == ["OK", "ALARM", "ALARM", "OK"]
    assert summaries[1]["notified"] == ["realized_accuracy:ALARM", "realized_recall:versicolor:ALARM"]
    assert summaries[2]["notified"] == []

    envelopes = alerts.messages(expected=2)
    assert [e["Subject"].split(":")[0] for e in envelopes] == ["ALARM", "OK"]
    assert envelopes[0]["Subject"].startswith("ALARM: iris model realized_accuracy, realized_recall:versicolor (us-east-1")
    assert f"version {baseline.model_version}" in envelopes[0]["Message"]
    assert alerts.state("iris#realized_accuracy") == "OK"

    blobs = emf(capsys.readouterr().out)
    assert len(blobs) == 4
    first = {k: v[0] if isinstance(v, list) else v for k, v in blobs[0].items()}  # Powertools writes value lists
    assert first["model"] == "iris" and first["service"] == names.QUALITY_SERVICE
    assert first[names.METRIC_LABELLED_ROWS] > 300
    assert 0.9 < first[names.METRIC_REALIZED_ACCURACY] <= 1.0


def test_a_failed_athena_query_fails_the_invocation_and_sends_nothing(
    quality_lambda: QualityLambda, alerts: Alerts, tmp_path: Path
) -> None:
    quality_lambda.feed(tmp_path / "unused.jsonl", state="FAILED")
    with pytest.raises(AthenaQueryError, match="FAILED: HIVE_BAD_DATA"):
        quality_lambda.run()
    assert alerts.messages(expected=0, max_polls=1) == []
    assert alerts.state("iris#realized_accuracy") is None


def test_the_athena_path_reports_the_lines_the_table_could_not_read(quality_lambda: QualityLambda, tmp_path: Path) -> None:
    baseline = baseline_of("iris")
    log = scenario(baseline, seed=13, rows=100, wrong_share=0.02).write(tmp_path / "log.jsonl")
    with log.open("a", encoding="utf-8") as handle:  # cut, garbage, and timestamps no clock writes
        handle.write(
            '{"message":"prediction","timestamp":9223372036854775807}\n{"message":"feedback","timestamp":"soon"}\n{"trunc'
        )
    quality_lambda.feed(log)
    summary = quality_lambda.run()
    quality_lambda.stub.assert_no_pending_responses()
    assert summary["unreadable_lines"] == 2 + 3  # the scenario writes a garbage and a truncated line


@pytest.fixture
def mixed_lambda(alerts: Alerts, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[QualityLambda]:
    model_dir = write_mixed_model_folder(tmp_path / MIXED_MODEL)
    yield from cold_started_quality(MIXED_MODEL, alerts, monkeypatch, model_dir=model_dir)


def test_a_mixed_models_log_is_judged_and_its_drift_named(mixed_lambda: QualityLambda, alerts: Alerts, tmp_path: Path) -> None:
    """Category strings and `unseen_categories` in the lines: the Lambda of a mixed model judges them as any other."""
    quality = mixed_lambda
    mixed = mixed_baseline()
    iris = baseline_of("iris")
    healthy = mixed_scenario(scenario(iris, seed=11, rows=600, wrong_share=0.02), mixed)
    drifted = mixed_scenario(scenario(iris, seed=12, rows=600, wrong_share=0.02, relabel=("virginica", "versicolor", 0.6)), mixed)
    summaries = []
    for truth, name in ((healthy, "healthy"), (drifted, "drifted")):
        quality.feed(truth.write(tmp_path / f"{name}.jsonl"))
        summaries.append(quality.run())
    quality.stub.assert_no_pending_responses()
    assert [s["status"] for s in summaries] == ["OK", "ALARM"]
    assert summaries[1]["notified"] == ["realized_accuracy:ALARM", "realized_recall:versicolor:ALARM"]
    (envelope,) = alerts.messages(expected=1)
    assert envelope["Subject"].startswith(f"ALARM: {MIXED_MODEL} model realized_accuracy")
