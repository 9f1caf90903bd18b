"""An SQS queue the suite subscribes to the alert topic for the run: every alarm and monitor message lands there.

The queue policy lets only this topic send. SNS delivers its JSON envelope (`Type`, `Subject`, `Message`,
`MessageId`) as the SQS body; the monitor publishes with MessageStructure=json, so SQS gets the `default` text,
and CloudWatch alarms put their state-change JSON in `Message`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class AlertQueue:
    sqs: Any
    sns: Any
    topic_arn: str
    name: str
    clock: Callable[[], float] = time.monotonic
    queue_url: str = ""
    queue_arn: str = ""
    subscription_arn: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)  # every envelope seen, in arrival order
    requests: int = 0  # SQS/SNS calls made, for the cost estimate

    def create(self) -> None:
        self.queue_url = self.sqs.create_queue(QueueName=self.name, Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": self.queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": self.topic_arn}},
                }
            ],
        }
        self.sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={"Policy": json.dumps(policy)})
        reply = self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=self.queue_arn, ReturnSubscriptionArn=True)
        self.subscription_arn = reply["SubscriptionArn"]
        self.requests += 5

    def _poll(self, wait_seconds: int) -> list[dict[str, Any]]:
        reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        self.requests += 1
        batch = []
        for message in reply.get("Messages", []):
            try:
                envelope = json.loads(message["Body"])
            except ValueError:
                envelope = {"Message": message["Body"]}
            batch.append(envelope)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            self.requests += 1
        self.received.extend(batch)
        return batch

    def wait_for(
        self, predicates: dict[str, Predicate], timeout_seconds: float, poll_seconds: int = 10
    ) -> dict[str, dict[str, Any]]:
        """Name -> first envelope (seen before or during this call) that satisfies it; missing names timed out."""
        found: dict[str, dict[str, Any]] = {}

        def match(envelopes: list[dict[str, Any]]) -> None:
            for name, predicate in predicates.items():
                if name not in found:
                    hit = next((e for e in envelopes if predicate(e)), None)
                    if hit is not None:
                        found[name] = hit

        match(self.received)
        deadline = self.clock() + timeout_seconds
        while len(found) < len(predicates):
            remaining = deadline - self.clock()
            if remaining <= 0:
                break
            match(self._poll(max(0, min(poll_seconds, int(remaining)))))
        return found

    def delete(self) -> None:
        """Unsubscribe, then delete the queue (teardown step; safe to call twice)."""
        if self.subscription_arn and self.subscription_arn.startswith("arn:"):
            self.sns.unsubscribe(SubscriptionArn=self.subscription_arn)
            self.subscription_arn = ""
        if self.queue_url:
            self.sqs.delete_queue(QueueUrl=self.queue_url)
            self.queue_url = ""


def alarm_message(envelope: dict[str, Any]) -> dict[str, Any] | None:
    """The CloudWatch alarm state change inside an SNS envelope, or None when it is not one."""
    try:
        message = json.loads(envelope.get("Message", ""))
    except (TypeError, ValueError):
        return None
    return message if isinstance(message, dict) and "AlarmName" in message and "NewStateValue" in message else None


def is_alarm(name: str, state: str) -> Predicate:
    def predicate(envelope: dict[str, Any]) -> bool:
        message = alarm_message(envelope)
        return message is not None and message["AlarmName"] == name and message["NewStateValue"] == state

    return predicate


def is_monitor_alert(state: str, check: str) -> Predicate:
    """Monitor notifications: subject `<STATE>: <model> model <checks> (<where>)` (cut at 100 characters), and the
    body lists each check as `- <check>: observed ...`."""

    def predicate(envelope: dict[str, Any]) -> bool:
        subject = str(envelope.get("Subject") or "")
        body = str(envelope.get("Message") or "")
        return subject.startswith(f"{state}:") and (check in subject or f"- {check}:" in body)

    return predicate
