"""AWS emulator for the quality function's integration tier: moto's server, or whatever AWS_ENDPOINT_URL points at.

Athena runs no queries in any emulator: the tests stub it with botocore's Stubber on the handler's own client,
answering with what DuckDB computes from a generated log, so the Athena path parses real result shapes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions.contract.names import ALERT_STATE_PARTITION_KEY
from tests.integration.conftest import AlertSubscriber, alert_subscriber, use_endpoint


class Alerts(AlertSubscriber):
    def state(self, check_id: str) -> str | None:
        item = self.dynamodb.get_item(TableName=self.table, Key={ALERT_STATE_PARTITION_KEY: {"S": check_id}}).get("Item")
        return None if item is None else str(item["state"]["S"])


@pytest.fixture
def alerts(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Alerts]:
    use_endpoint(monkeypatch, aws_endpoint)
    with alert_subscriber(Alerts, "quality") as resources:
        yield resources
