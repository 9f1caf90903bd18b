"""The monitor Lambda in-process against SNS, SQS and DynamoDB on an emulator; Logs Insights stubbed.

Each evaluation gets a real EventBridge scheduled event; the handler's own logs
client answers StartQuery/GetQueryResults from a Stubber fed with numpy's
aggregates of generated traffic, so everything after the query (checks, EMF,
state, SNS) is the code that runs in AWS.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber

from functions.contract import names
from functions.monitor.adapters import DynamoStateStore, SnsPublisher, StateConflictError
from functions.monitor.alerts import AlertState, CheckState
from functions.monitor.insights import QueryError, render_queries
from functions.monitor.service import Monitor, PublishError, scheduled_window_end, window_bounds
from tests.integration.monitor.conftest import AlertResources
from tests.unit.monitor.fakes import Traffic, insights_results, numpy_aggregates, numpy_values, sample_traffic

MODELS = Path(__file__).resolve().parents[3] / "models"
LOG_GROUP = "/aws/lambda/inference-under-test"
FIRST_RUN = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def scheduled_event(moment: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/prediction-monitor"],
        "detail": {},
    }


class FakeContext:
    function_name = "prediction-monitor"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:prediction-monitor"
    memory_limit_in_mb = 512
    aws_request_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    log_group_name = "/aws/lambda/prediction-monitor"
    log_stream_name = "2026/11/25/[$LATEST]abcdef"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 50_000


@dataclass
class MonitorLambda:
    module: ModuleType
    stub: Stubber

    @property
    def baseline(self) -> Any:
        return self.module.APP.baseline

    def feed(self, moment: datetime, traffic: Traffic, status: str = "Complete") -> None:
        """Queue the Logs Insights answers for the window this scheduled time judges."""
        start_ms, end_ms = window_bounds(scheduled_window_end(scheduled_event(moment)["time"]), 2)
        queries = render_queries(self.baseline, start_ms, end_ms)
        values, groups = numpy_values(self.baseline, traffic)
        results = insights_results(queries, values, groups)
        for query in queries:
            self.stub.add_response(
                "start_query",
                {"queryId": f"{moment:%H%M}-{query.name}"},
                {
                    "logGroupName": LOG_GROUP,
                    "startTime": start_ms // 1000 - 5,
                    "endTime": end_ms // 1000 + 5,
                    "queryString": query.text,
                    "limit": 10_000,
                },
            )
        for query in queries:
            self.stub.add_response(
                "get_query_results",
                {"status": status, "results": results[query.name]},
                {"queryId": f"{moment:%H%M}-{query.name}"},
            )
            if status != "Complete":
                for other in queries[1:]:
                    self.stub.add_response("stop_query", {"success": True}, {"queryId": f"{moment:%H%M}-{other.name}"})
                break

    def run(self, moment: datetime) -> dict[str, Any]:
        result: dict[str, Any] = self.module.lambda_handler(scheduled_event(moment), FakeContext())
        return result


def cold_started_monitor(model: str, alert_resources: AlertResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[MonitorLambda]:
    """The monitor Lambda for `model` after a fresh cold start, its Logs Insights calls stubbed."""
    monkeypatch.setenv(names.ENV_MODEL_DIR, str(MODELS / model))
    monkeypatch.setenv(names.ENV_INFERENCE_LOG_GROUP, LOG_GROUP)
    monkeypatch.setenv(names.ENV_ALERT_TOPIC_ARN, alert_resources.topic_arn)
    monkeypatch.setenv(names.ENV_ALERT_STATE_TABLE, alert_resources.table)
    monkeypatch.setenv(names.ENV_METRICS_NAMESPACE, names.METRICS_NAMESPACE)
    monkeypatch.setenv(names.ENV_SERVICE_NAME, names.MONITOR_SERVICE)
    module = importlib.reload(importlib.import_module("functions.monitor.handler"))  # a fresh cold start
    module.APP.monitor.source.runner.sleep = lambda _seconds: None
    with Stubber(module.APP.logs_client) as stub:
        yield MonitorLambda(module, stub)


@pytest.fixture
def monitor_lambda(alert_resources: AlertResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[MonitorLambda]:
    yield from cold_started_monitor("iris", alert_resources, monkeypatch)


def emf_blobs(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.split("\n") if line.startswith("{") and '"_aws"' in line]


def test_persisting_drift_alerts_once_and_recovers_once(
    monitor_lambda: MonitorLambda, alert_resources: AlertResources, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = monitor_lambda.baseline
    rng = np.random.default_rng(42)
    plan = ["healthy", "drift", "drift", "drift", "empty", "healthy", "healthy"]
    summaries = []
    for k, kind in enumerate(plan):
        moment = FIRST_RUN + timedelta(minutes=2 * k, seconds=17)
        if kind == "drift":
            traffic = sample_traffic(baseline, 400, rng, outlier_rate=0.5, rows_per_request=4)
        else:
            # healthy iris traffic: the detector flags ~1 % of undrifted rows (bench/monitor_outlier_drift.py); one such
            # window puts the rise under outlier_shift's floor by its own error and so recovers at once
            traffic = sample_traffic(baseline, 0 if kind == "empty" else 400, rng, outlier_rate=0.01, rows_per_request=4)
        monitor_lambda.feed(moment, traffic)
        summaries.append(monitor_lambda.run(moment))
    monitor_lambda.stub.assert_no_pending_responses()

    assert [s["status"] for s in summaries] == ["OK", "ALARM", "ALARM", "ALARM", "NO_TRAFFIC", "OK", "OK"]
    entered = ["outlier_ratio:ALARM", "outlier_shift:ALARM"]  # the fixed 20 % line and the shift from the reference rate
    assert [s["notified"] for s in summaries] == [[], entered, [], [], [], ["outlier_ratio:OK", "outlier_shift:OK"], []]

    envelopes = alert_resources.messages(expected=2)
    assert [e["Subject"].split(":")[0] for e in envelopes] == ["ALARM", "OK"]
    assert envelopes[0]["Subject"].startswith(f"ALARM: iris model outlier_ratio, outlier_shift (us-east-1 {LOG_GROUP}")
    body = envelopes[0]["Message"]  # SQS gets the `default` body of the MessageStructure=json message
    assert "observed 0.5" in body or "observed 0.4" in body
    assert "Window: 2026-11-25T15:00:00Z to 2026-11-25T15:02:00Z" in body and "Rows: 400 predicted rows, 100 requests" in body
    assert "Check first" in body and baseline.model_version in body
    assert alert_resources.state("iris#outlier_ratio") == "OK"

    blobs = emf_blobs(capsys.readouterr().out)
    assert len(blobs) == len(plan)
    metadata = blobs[1]["_aws"]["CloudWatchMetrics"][0]
    assert metadata["Namespace"] == names.METRICS_NAMESPACE
    assert metadata["Dimensions"] == [["service", "model"]] or sorted(metadata["Dimensions"][0]) == ["model", "service"]
    assert blobs[1]["service"] == names.MONITOR_SERVICE and blobs[1]["model"] == "iris"
    metric_names = {m["Name"] for m in metadata["Metrics"]}
    assert {
        names.METRIC_WINDOW_ROWS,
        names.METRIC_OUTLIER_RATIO,
        names.METRIC_CHECKS_IN_ALARM,
        names.drift_metric("petal_length"),
        names.mean_shift_metric("petal_length"),
    } <= metric_names
    assert blobs[1][names.METRIC_CHECKS_IN_ALARM] == [2.0]  # Powertools writes EMF values as lists
    assert blobs[4][names.METRIC_WINDOW_ROWS] == [0.0] and names.METRIC_OUTLIER_RATIO not in blobs[4]


def test_failed_query_raises_and_reports_nothing(monitor_lambda: MonitorLambda, alert_resources: AlertResources) -> None:
    baseline = monitor_lambda.baseline
    traffic = sample_traffic(baseline, 400, np.random.default_rng(1), outlier_rate=0.9)
    monitor_lambda.feed(FIRST_RUN, traffic, status="Failed")
    with pytest.raises(QueryError, match="Failed"):
        monitor_lambda.run(FIRST_RUN)
    assert alert_resources.messages(expected=0) == []
    assert alert_resources.state("iris#outlier_ratio") is None


def test_throttled_queries_end_the_invocation_with_an_error(
    monitor_lambda: MonitorLambda, alert_resources: AlertResources
) -> None:
    for _ in range(4):
        monitor_lambda.stub.add_client_error("start_query", "LimitExceededException", "concurrent queries")
    with pytest.raises(QueryError, match="throttled"):
        monitor_lambda.run(FIRST_RUN)
    assert alert_resources.messages(expected=0) == []


def test_failed_publish_raises_and_is_retried_by_the_next_run(
    monitor_lambda: MonitorLambda, alert_resources: AlertResources
) -> None:
    baseline = monitor_lambda.baseline
    rng = np.random.default_rng(2)
    publisher = monitor_lambda.module.APP.monitor.publisher
    good_topic = publisher.topic_arn
    publisher.topic_arn = good_topic + "-deleted"
    monitor_lambda.feed(FIRST_RUN, sample_traffic(baseline, 400, rng, outlier_rate=0.6))
    with pytest.raises(PublishError, match=r"NotFound|does not exist"):
        monitor_lambda.run(FIRST_RUN)
    assert alert_resources.state("iris#outlier_ratio") is None  # restored: the alert was not sent

    publisher.topic_arn = good_topic
    later = FIRST_RUN + timedelta(minutes=2)
    monitor_lambda.feed(later, sample_traffic(baseline, 400, rng, outlier_rate=0.6))
    assert "outlier_ratio:ALARM" in monitor_lambda.run(later)["notified"]
    assert [e["Subject"][:5] for e in alert_resources.messages(expected=1)] == ["ALARM"]
    assert alert_resources.state("iris#outlier_ratio") == "ALARM"


def test_retried_or_overlapping_run_of_the_same_window_sends_nothing(
    monitor_lambda: MonitorLambda, alert_resources: AlertResources
) -> None:
    """EventBridge retries deliver the same `time`: the second run finds the window already judged (stale)."""
    baseline = monitor_lambda.baseline
    rng = np.random.default_rng(4)
    for _ in range(2):
        monitor_lambda.feed(FIRST_RUN, sample_traffic(baseline, 400, rng, outlier_rate=0.6))
    first, second = monitor_lambda.run(FIRST_RUN), monitor_lambda.run(FIRST_RUN)
    assert "outlier_ratio:ALARM" in first["notified"]
    assert second["stale"] and second["notified"] == []
    assert len(alert_resources.messages(expected=1)) == 1


def test_conditional_write_refuses_a_run_that_read_an_older_version(alert_resources: AlertResources) -> None:
    """Against the emulator's DynamoDB: a late run that read version N cannot overwrite N+1, and never publishes."""
    store = DynamoStateStore(boto3.client("dynamodb"), alert_resources.table)
    assert store.load("iris") == AlertState()
    first = AlertState(version=1, last_window_end_ms=60_000, checks={"outlier_ratio": CheckState("ALARM", "A", 0, 60_000)})
    store.save("iris", first, 0, 1)
    with pytest.raises(StateConflictError):
        store.save("iris", dataclasses.replace(first, last_window_end_ms=0), 0, 2)  # read before the item existed
    second = dataclasses.replace(first, version=2, last_window_end_ms=120_000)
    store.save("iris", second, 1, 3)
    with pytest.raises(StateConflictError):
        store.save("iris", dataclasses.replace(second, version=2), 1, 4)  # read version 1, but 2 is stored
    loaded = store.load("iris")
    assert loaded.version == 2 and loaded.last_window_end_ms == 120_000
    assert alert_resources.state("iris#outlier_ratio") == "ALARM"


def test_overlapping_monitor_loses_the_race_and_does_not_notify(iris_artifact_dir: Path, alert_resources: AlertResources) -> None:
    """Two monitors judge the same minute; the one that saves second gets a conflict and publishes nothing."""
    from functions.contract.model_artifact import load_baseline

    baseline = load_baseline(iris_artifact_dir / "baseline.json")
    rng = np.random.default_rng(6)
    window = numpy_aggregates(baseline, sample_traffic(baseline, 400, rng, outlier_rate=0.6))

    class Source:
        def read(self, start_ms: int, end_ms: int) -> Any:
            return dataclasses.replace(window, start_ms=start_ms, end_ms=end_ms)

    class RacingStore(DynamoStateStore):
        """Loads, then lets the other monitor finish before this one saves."""

        def load(self, model: str) -> AlertState:
            state = super().load(model)
            other.run(FIRST_RUN, lambda *_: None, now_ms=1)
            return state

    client = boto3.client("dynamodb")
    publisher = SnsPublisher(boto3.client("sns"), alert_resources.topic_arn)
    other = Monitor(baseline, Source(), DynamoStateStore(client, alert_resources.table), publisher, 2, "other")
    late = Monitor(baseline, Source(), RacingStore(client, alert_resources.table), publisher, 2, "late")
    with pytest.raises(StateConflictError):
        late.run(FIRST_RUN, lambda *_: None, now_ms=2)
    (envelope,) = alert_resources.messages(expected=1)
    assert envelope["Subject"].endswith("(other)")


@pytest.fixture
def iris_artifact_dir() -> Path:
    return MODELS / "iris"


def test_per_check_store_round_trip_in_dynamodb(alert_resources: AlertResources) -> None:
    """The quality function's per-check items share the table with the monitor's per-model item."""
    from functions.monitor.adapters import DynamoCheckStore

    store = DynamoCheckStore(boto3.client("dynamodb"), alert_resources.table)
    store.save({"iris#realized_accuracy": ("ALARM", "0.81 < 0.90")}, 1)
    assert store.load(["iris#realized_accuracy", "iris#recall:setosa"]) == {"iris#realized_accuracy": "ALARM"}
