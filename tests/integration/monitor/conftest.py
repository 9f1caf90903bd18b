"""AWS emulator for the monitor's integration tier: moto's server, or whatever AWS_ENDPOINT_URL already points at.

The tests only speak boto3 to an endpoint, so the same tests run unchanged
against LocalStack (`AWS_ENDPOINT_URL=http://localhost:4566 pytest ...`).
Logs Insights is the one part no emulator evaluates: the tests stub it with
botocore's Stubber on the handler's own logs client.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from functions.contract.names import ALERT_STATE_PARTITION_KEY
from functions.monitor.alerts import state_key
from tests.integration.conftest import use_endpoint


@pytest.fixture
def aws_env(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    use_endpoint(monkeypatch, aws_endpoint)
    return aws_endpoint


@dataclass
class AlertResources:
    topic_arn: str
    queue_url: str
    table: str
    sqs: Any
    dynamodb: Any

    def messages(self, expected: int, max_polls: int = 5) -> list[dict[str, Any]]:
        """SNS envelopes delivered to the queue: long-polls until `expected` arrived, then checks nothing more did."""
        received: list[dict[str, Any]] = []
        for _ in range(max_polls):
            wait = 1 if len(received) < expected else 0
            reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
            batch = reply.get("Messages", [])
            for message in batch:
                received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            if len(received) >= expected and not batch:
                break
        return received

    def state(self, check_id: str) -> str | None:
        """'<model>#<check>' -> that check's alert state in the model's state item (None: never judged)."""
        model, check = check_id.split("#", 1)
        key = {ALERT_STATE_PARTITION_KEY: {"S": state_key(model)}}
        item = self.dynamodb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        if item is None:
            return None
        entry = json.loads(item["document"]["S"])["checks"].get(check)
        return None if entry is None else str(entry["state"])


@pytest.fixture
def alert_resources(aws_env: str) -> Iterator[AlertResources]:
    """A topic with an SQS subscriber and the alert-state table, unique per test."""
    suffix = uuid.uuid4().hex[:8]
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    dynamodb = boto3.client("dynamodb")
    topic_arn = sns.create_topic(Name=f"monitor-alerts-{suffix}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"alerts-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    table = f"alert-state-{suffix}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": ALERT_STATE_PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": ALERT_STATE_PARTITION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    try:
        yield AlertResources(topic_arn, queue_url, table, sqs, dynamodb)
    finally:
        sns.delete_topic(TopicArn=topic_arn)
        sqs.delete_queue(QueueUrl=queue_url)
        dynamodb.delete_table(TableName=table)
