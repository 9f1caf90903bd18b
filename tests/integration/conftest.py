"""The AWS endpoint every integration tier shares, and the alert topic the alerting functions publish to.

`AWS_ENDPOINT_URL` when it is set (LocalStack, or unset it and give credentials for a real account), else one
moto server on 127.0.0.1 for the whole session: the tests run unchanged against any of them.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import pytest

from functions.contract.names import ALERT_STATE_PARTITION_KEY

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """The endpoint URL: an existing AWS_ENDPOINT_URL, else a moto server on a free loopback port."""
    existing = os.environ.get("AWS_ENDPOINT_URL")
    if existing:
        yield existing
        return
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def use_endpoint(monkeypatch: pytest.MonkeyPatch, endpoint: str, region: str = REGION) -> None:
    """Point boto3 at `endpoint`; test credentials only for a local server (a real account keeps its own)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    if "127.0.0.1" in endpoint or "localhost" in endpoint:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_REGION", region)


@dataclass
class AlertSubscriber:
    """An SNS topic with an SQS subscriber, and an alert-state table: where an alerting function's output lands."""

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


Subscriber = TypeVar("Subscriber", bound=AlertSubscriber)


@contextmanager
def alert_subscriber(cls: type[Subscriber], prefix: str) -> Iterator[Subscriber]:
    """Topic, subscribed queue and alert-state table named `<prefix>-...-<random>` (unique per test), deleted after."""
    suffix = uuid.uuid4().hex[:8]
    sns, sqs, dynamodb = boto3.client("sns"), boto3.client("sqs"), boto3.client("dynamodb")
    topic_arn = sns.create_topic(Name=f"{prefix}-alerts-{suffix}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{prefix}-alerts-{suffix}")["QueueUrl"]
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
    table = f"{prefix}-state-{suffix}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": ALERT_STATE_PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": ALERT_STATE_PARTITION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    try:
        yield cls(topic_arn, queue_url, table, sqs, dynamodb)
    finally:
        sns.delete_topic(TopicArn=topic_arn)
        sqs.delete_queue(QueueUrl=queue_url)
        dynamodb.delete_table(TableName=table)
