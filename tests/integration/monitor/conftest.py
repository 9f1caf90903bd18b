"""AWS emulator for the monitor's integration tier: moto's server, or whatever AWS_ENDPOINT_URL already points at.

The tests only speak boto3 to an endpoint, so the same tests run unchanged
against LocalStack (`AWS_ENDPOINT_URL=http://localhost:4566 pytest ...`).
Logs Insights is the one part no emulator evaluates: the tests stub it with
botocore's Stubber on the handler's own logs client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from functions.contract.names import ALERT_STATE_PARTITION_KEY
from functions.monitor.alerts import state_key
from tests.integration.conftest import AlertSubscriber, alert_subscriber, use_endpoint


@pytest.fixture
def aws_env(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    use_endpoint(monkeypatch, aws_endpoint)
    return aws_endpoint


class AlertResources(AlertSubscriber):
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
    with alert_subscriber(AlertResources, "monitor") as resources:
        yield resources
