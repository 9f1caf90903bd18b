"""The suite's AWS plumbing against moto's server: the alert queue subscribed to a topic, teardown of a stack and
its retained data (and nothing else), reading contract records back from CloudWatch Logs, the probe log group,
and dashboard metrics through ListMetrics."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from acceptance.alert_queue import AlertQueue, is_alarm, is_monitor_alert
from acceptance.checks.dashboard import MetricRef, metric_exists
from acceptance.cloudwatch import LogReader, ProbeLog, request_id_pattern
from acceptance.teardown import Teardown

Clients = Callable[[str], Any]


class StepClock:
    """Each reading advances 1 s: bounded waits end after a known number of polls, with no real sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def stack_name() -> str:
    return f"ServerlessInference-acc-{uuid.uuid4().hex[:8]}"


def test_alert_queue_receives_topic_messages_and_cleans_up(clients: Clients) -> None:
    sns, sqs = clients("sns"), clients("sqs")
    topic = sns.create_topic(Name=f"alerts-{uuid.uuid4().hex[:6]}")["TopicArn"]
    queue = AlertQueue(sqs=sqs, sns=sns, topic_arn=topic, name=f"{stack_name()}-alerts", clock=StepClock())
    queue.create()
    alarm = {"AlarmName": "InferenceErrors", "NewStateValue": "ALARM", "OldStateValue": "OK"}
    sns.publish(TopicArn=topic, Message=json.dumps(alarm), Subject="ALARM: InferenceErrors")
    sns.publish(
        TopicArn=topic, Message="Entered ALARM:\n- outlier_ratio: observed 0.8", Subject="ALARM: iris model outlier_ratio (x)"
    )
    found = queue.wait_for(
        {"alarm": is_alarm("InferenceErrors", "ALARM"), "monitor": is_monitor_alert("ALARM", "outlier_ratio")},
        timeout_seconds=20,
        poll_seconds=1,
    )
    assert set(found) == {"alarm", "monitor"}
    # A message that never comes: the wait ends at its bound and names nothing.
    assert queue.wait_for({"never": is_alarm("Nope", "ALARM")}, timeout_seconds=3, poll_seconds=1) == {}
    # Envelopes seen earlier still satisfy a later wait (the monitor's ALARM may arrive during the alarm check).
    assert "monitor" in queue.wait_for({"monitor": is_monitor_alert("ALARM", "outlier_ratio")}, timeout_seconds=0)
    url, subscription = queue.queue_url, queue.subscription_arn
    queue.delete()
    assert subscription not in [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]]
    assert url not in sqs.list_queues().get("QueueUrls", [])
    queue.delete()  # a second call (teardown after a failed setup) does nothing


def _versioned_bucket(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=name, Key="predictions/model=iris/dt=2026-11-25/a.json.gz", Body=gzip.compress(body))
    s3.delete_object(Bucket=name, Key="predictions/model=iris/dt=2026-11-25/a.json.gz")  # leaves a delete marker


def test_teardown_deletes_the_stack_and_its_retained_data_only(clients: Clients) -> None:
    name = stack_name()
    s3, logs, cfn = clients("s3"), clients("logs"), clients("cloudformation")
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": f"{name}-iris"}},
        }
    }
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    [api_id] = [
        r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::ApiGateway::RestApi"
    ]
    logs.create_log_group(logGroupName=f"API-Gateway-Execution-Logs_{api_id}/v1")  # created by API Gateway, not the stack
    logs.create_log_group(logGroupName="API-Gateway-Execution-Logs_otherapi/v1")
    ours = f"{name.lower()}-logarchivebucket1a2b3c"
    _versioned_bucket(s3, ours)
    other = f"someone-else-{uuid.uuid4().hex[:8]}"
    _versioned_bucket(s3, other)
    kept_queue = clients("sqs").create_queue(QueueName=f"{name}-alerts")["QueueUrl"]  # left by KEEP=1
    other_queue = clients("sqs").create_queue(QueueName=f"other-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    for group in (f"{name}-probes", f"/aws/lambda/{name}-CustomResource", "/aws/lambda/ServerlessInference-Function"):
        logs.create_log_group(logGroupName=group)
    queue_deleted: list[bool] = []
    report = Teardown(clients, name, log=lambda _: None, extra_steps=[("queue", lambda: queue_deleted.append(True))]).run()
    assert report.ok, report.errors
    assert queue_deleted == [True]
    assert f"stack {name}" in report.deleted
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert ours not in buckets and other in buckets
    groups = {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]}
    assert f"{name}-probes" not in groups and f"/aws/lambda/{name}-CustomResource" not in groups
    assert "/aws/lambda/ServerlessInference-Function" in groups and "API-Gateway-Execution-Logs_otherapi/v1" in groups
    assert f"API-Gateway-Execution-Logs_{api_id}/v1" not in groups
    queues = clients("sqs").list_queues().get("QueueUrls", [])
    assert kept_queue not in queues and other_queue in queues
    live = [s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    assert name not in live
    # Running it again (a KEEP=1 leftover removed twice) finds nothing and fails nothing.
    again = Teardown(clients, name, log=lambda _: None).run()
    assert again.ok and again.deleted == []


def test_teardown_keeps_going_when_a_step_fails(clients: Clients) -> None:
    name = stack_name()
    clients("logs").create_log_group(logGroupName=f"{name}-probes")

    def broken() -> None:
        raise RuntimeError("queue already gone")

    report = Teardown(clients, name, log=lambda _: None, extra_steps=[("queue", broken)]).run()
    assert not report.ok and "queue already gone" in report.errors[0]
    assert f"log group {name}-probes" in report.deleted


def test_log_reader_returns_contract_records_only(clients: Clients, iris_artifact: Any) -> None:
    logs = clients("logs")
    group, stream = f"/aws/lambda/{stack_name()}-inference", "2026/11/25/[$LATEST]abc"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    mine = {"message": "prediction", "request_id": "r1", "row": 0}
    other = {"message": "prediction", "request_id": "r2", "row": 0}
    emf = {"_aws": {"Timestamp": 1}, "message": "x"}
    import time

    now = int(time.time() * 1000)
    events = [json.dumps(mine) + "\n", json.dumps(other), json.dumps(emf), "START RequestId: abc Version: $LATEST", "not json {"]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": now, "message": m} for m in events])
    reader = LogReader(logs, clock=StepClock(), sleep=lambda _: None)
    found = reader.records(
        group, now - 1000, now + 1000, pattern=request_id_pattern("r1"), where=lambda r: r.get("request_id") == "r1"
    )
    assert found == [mine]  # moto ignores the pattern; the client-side check still holds
    assert len(reader.records(group, now - 1000, now + 1000)) == 2  # EMF, platform and plain lines are not records
    records, waited = reader.wait_for(group, now - 1000, now + 1000, expected=5, timeout_seconds=3, where=None, poll_seconds=0)
    assert len(records) == 2 and waited >= 3  # bounded: it gave up after the bound instead of waiting forever


def test_probe_log_writes_batches_and_deletes(clients: Clients) -> None:
    logs = clients("logs")
    probe_log = ProbeLog(logs, f"{stack_name()}-probes")
    probe_log.create()
    import time

    records = [{"probe": "p", "run": "r", "i": i, "pad": "x" * 300} for i in range(4000)]  # > 1 MB: several batches
    probe_log.write(records, int(time.time() * 1000))
    assert probe_log.events_written == 4000 and len(probe_log.batches) >= 2
    stored = logs.get_log_events(logGroupName=probe_log.group, logStreamName=probe_log.stream, limit=10_000)["events"]
    assert len(stored) == 4000
    probe_log.delete()
    assert not logs.describe_log_groups(logGroupNamePrefix=probe_log.group)["logGroups"]


def test_metric_exists_requires_the_exact_dimension_set(clients: Clients) -> None:
    cloudwatch = clients("cloudwatch")
    namespace = f"Acceptance{uuid.uuid4().hex[:6]}"
    dims = [{"Name": "service", "Value": "inference"}, {"Name": "model", "Value": "iris"}]
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Predictions", "Dimensions": dims, "Value": 1.0}])
    exact = MetricRef(namespace, "Predictions", (("model", "iris"), ("service", "inference")))
    assert metric_exists(cloudwatch, exact)
    assert not metric_exists(cloudwatch, MetricRef(namespace, "Predictions", (("service", "inference"),)))
    assert not metric_exists(cloudwatch, MetricRef(namespace, "Outliers", exact.dimensions))


@pytest.mark.parametrize("state", ["ALARM"])
def test_alarm_predicate_reads_cloudwatch_alarm_notifications(state: str) -> None:
    """The JSON CloudWatch puts in the SNS Message of an alarm notification (documented shape, trimmed)."""
    name = "ServerlessInference-acc-0123abcd-ObservabilityInferenceErrors-XYZ"
    message: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": "Inference function invocations failed",
        "NewStateValue": state,
        "NewStateReason": "acceptance run",
        "OldStateValue": "OK",
        "Trigger": {"MetricName": "Errors", "Namespace": "AWS/Lambda"},
    }
    envelope = {"Type": "Notification", "Subject": f'{state}: "x" in US East', "Message": json.dumps(message)}
    assert is_alarm(name, state)(envelope)
    assert not is_alarm(name, "OK")(envelope)
