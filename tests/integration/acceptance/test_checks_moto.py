"""Whole checks against moto's server where moto implements the calls: the archive check reading Firehose's
objects from S3, the dashboard check reading a dashboard and ListMetrics, the alarm check's queue matching."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from unittest import mock

from acceptance.alert_queue import AlertQueue
from acceptance.checks.alarms import check_alarms
from acceptance.checks.archive import archive_prefix, check_s3
from acceptance.checks.dashboard import check_dashboard
from acceptance.config import RunConfig
from acceptance.context import RunContext, Sent
from acceptance.cost import Usage
from acceptance.results import Status


def context(clients: Callable[[str], Any], baseline: Any, **outputs: str) -> RunContext:
    stack = f"ServerlessInference-acc-{uuid.uuid4().hex[:8]}"
    return RunContext(
        config=RunConfig.from_env({"ACCEPTANCE_STACK_NAME": stack}),
        clients=clients,
        outputs=mock.Mock(**outputs),
        baseline=baseline,
        api=mock.Mock(requests=0),
        queue=mock.Mock(),
        logs=mock.Mock(),
        probe_log=mock.Mock(),
        usage=Usage(),
        region="us-east-1",
        account="123456789012",
        log=lambda _: None,
        sleep=lambda _: None,
    )


def lines(request_id: str, rows: int) -> list[str]:
    return [json.dumps({"message": "prediction", "request_id": request_id, "row": i}) for i in range(rows)]


def test_archive_check_finds_every_row_or_names_what_is_wrong(clients: Callable[[str], Any], iris_artifact: Any) -> None:
    s3 = clients("s3")
    bucket = f"acc-archive-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    ctx = context(clients, iris_artifact.baseline, archive_bucket=bucket)
    now = int(time.time() * 1000)
    ctx.sent = [Sent("a" * 32, 3, now - 400_000, "/predict"), Sent("b" * 32, 2, now - 300_000, "/predict")]
    ctx.wall_ms = lambda: now + 10_000_000  # past the bound: one listing, then judge
    prefix = archive_prefix("iris") + "dt=2026-11-25/"
    s3.put_object(Bucket=bucket, Key=prefix + "1.json.gz", Body=gzip.compress("\n".join(lines("a" * 32, 3)).encode()))
    incomplete = check_s3(ctx)[0]
    assert incomplete.status is Status.FAIL and "1 requests incomplete" in incomplete.summary
    s3.put_object(Bucket=bucket, Key=prefix + "2.json.gz", Body=gzip.compress("\n".join(lines("b" * 32, 2)).encode()))
    complete = check_s3(ctx)[0]
    assert complete.status is Status.PASS, complete
    assert ctx.shared["archived_request"] == "a" * 32
    envelope = json.dumps({"messageType": "DATA_MESSAGE", "logEvents": []})
    s3.put_object(Bucket=bucket, Key=prefix + "3.json.gz", Body=gzip.compress(envelope.encode()))
    strays = check_s3(ctx)[0]
    assert strays.status is Status.FAIL and "not contract records" in strays.summary


def test_dashboard_check_lists_missing_metrics(clients: Callable[[str], Any], iris_artifact: Any) -> None:
    cloudwatch = clients("cloudwatch")
    name = f"acc-{uuid.uuid4().hex[:8]}"
    namespace = f"Acc{uuid.uuid4().hex[:6]}"
    body = {
        "widgets": [
            {
                "type": "metric",
                "properties": {"metrics": [[namespace, "Predictions", "model", "iris"], [".", "Outliers", ".", "."]]},
            },
        ]
    }
    cloudwatch.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": "Predictions", "Dimensions": [{"Name": "model", "Value": "iris"}], "Value": 1.0}],
    )
    ctx = context(clients, iris_artifact.baseline)
    ctx.resources = [{"ResourceType": "AWS::CloudWatch::Dashboard", "LogicalResourceId": "Dash", "PhysicalResourceId": name}]
    result = check_dashboard(ctx)[0]
    assert result.status is Status.FAIL and result.observations == [f"{namespace}/Outliers[model=iris]"]
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": "Outliers", "Dimensions": [{"Name": "model", "Value": "iris"}], "Value": 1.0}],
    )
    assert check_dashboard(ctx)[0].status is Status.PASS


def test_alarm_check_sets_every_alarm_and_waits_for_each_message(clients: Callable[[str], Any], iris_artifact: Any) -> None:
    """moto changes alarm state but does not publish: the test plays CloudWatch for one alarm of two."""
    cloudwatch, sns, sqs = clients("cloudwatch"), clients("sns"), clients("sqs")
    topic = sns.create_topic(Name=f"alerts-{uuid.uuid4().hex[:6]}")["TopicArn"]
    names = [f"acc-{uuid.uuid4().hex[:6]}-{i}" for i in range(2)]
    for alarm in names:
        cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            MetricName="Errors",
            Namespace="AWS/Lambda",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[topic],
        )
    ticks = iter(range(10_000))
    queue = AlertQueue(sqs=sqs, sns=sns, topic_arn=topic, name=f"acc-{uuid.uuid4().hex[:6]}", clock=lambda: float(next(ticks)))
    queue.create()
    sns.publish(TopicArn=topic, Message=json.dumps({"AlarmName": names[0], "NewStateValue": "ALARM"}))
    ctx = context(clients, iris_artifact.baseline)
    ctx.queue = queue
    ctx.resources = [
        {"ResourceType": "AWS::CloudWatch::Alarm", "LogicalResourceId": f"A{i}", "PhysicalResourceId": n}
        for i, n in enumerate(names)
    ]
    with mock.patch("acceptance.checks.alarms.MESSAGE_BOUND_SECONDS", 3):
        result = check_alarms(ctx)[0]
    states = {a["AlarmName"]: a["StateValue"] for a in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]}
    assert states == dict.fromkeys(names, "ALARM")
    assert result.status is Status.FAIL and f"{names[1]}: MISSING" in result.observations
    assert f"{names[0]}: arrived" in result.observations
    queue.delete()
