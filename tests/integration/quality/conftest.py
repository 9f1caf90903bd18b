"""AWS emulator for the quality function's integration tier: moto's server, or whatever AWS_ENDPOINT_URL points at.

Athena runs no queries in any emulator: the tests stub it with botocore's Stubber on the handler's own client,
answering with what DuckDB computes from a generated log, so the Athena path parses real result shapes.
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
from tests.integration.conftest import use_endpoint


@dataclass
class Alerts:
    topic_arn: str
    queue_url: str
    table: str
    sqs: Any
    dynamodb: Any

    def messages(self, expected: int, max_polls: int = 5) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        for _ in range(max_polls):
            reply = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1 if len(received) < expected else 0
            )
            batch = reply.get("Messages", [])
            for message in batch:
                received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            if len(received) >= expected and not batch:
                break
        return received

    def state(self, check_id: str) -> str | None:
        item = self.dynamodb.get_item(TableName=self.table, Key={ALERT_STATE_PARTITION_KEY: {"S": check_id}}).get("Item")
        return None if item is None else str(item["state"]["S"])


@pytest.fixture
def alerts(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Alerts]:
    use_endpoint(monkeypatch, aws_endpoint)
    suffix = uuid.uuid4().hex[:8]
    sns, sqs, dynamodb = boto3.client("sns"), boto3.client("sqs"), boto3.client("dynamodb")
    topic_arn = sns.create_topic(Name=f"quality-alerts-{suffix}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"quality-alerts-{suffix}")["QueueUrl"]
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
    table = f"quality-state-{suffix}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": ALERT_STATE_PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": ALERT_STATE_PARTITION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    try:
        yield Alerts(topic_arn, queue_url, table, sqs, dynamodb)
    finally:
        sns.delete_topic(TopicArn=topic_arn)
        sqs.delete_queue(QueueUrl=queue_url)
        dynamodb.delete_table(TableName=table)
