"""Minute mode's AWS adapters against an endpoint (moto or LocalStack): the minute table and the Predictions count."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest

from functions.contract import names
from functions.contract.model_artifact import ModelArtifact
from functions.monitor.insights import CloudWatchRowCounter, InsightsRunner
from functions.monitor.minute_store import KIND_MINUTE, DynamoMinuteStore, Stored, series_name
from functions.monitor.minutes import MINUTE_MS, Minutes

T0 = 1_764_079_200_000


@pytest.fixture
def minute_table(aws_env: str) -> Iterator[str]:
    client = boto3.client("dynamodb")
    table = f"minutes-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": names.MINUTE_TABLE_PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": names.MINUTE_TABLE_SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": names.MINUTE_TABLE_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": names.MINUTE_TABLE_SORT_KEY, "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    yield table
    client.delete_table(TableName=table)


def test_minutes_round_trip_by_range_with_ttl(minute_table: str) -> None:
    client = boto3.client("dynamodb")
    store = DynamoMinuteStore(client, minute_table)
    series = series_name("iris", "v1:abc", KIND_MINUTE)
    other = series_name("iris", "v2:def", KIND_MINUTE)
    for i in range(70):
        store.save(series, Stored(Minutes(T0 + i * MINUTE_MS, T0 + (i + 1) * MINUTE_MS, (float(i), 0.5, -1.25)), late=i % 3), T0)
    store.save(other, Stored(Minutes(T0, T0 + MINUTE_MS, (9.0,)), 0), T0)
    got = store.load(series, T0 + 10 * MINUTE_MS, T0 + 20 * MINUTE_MS)  # [start, end): minutes 10..19
    assert sorted(got) == [T0 + i * MINUTE_MS for i in range(10, 20)]
    assert got[T0 + 12 * MINUTE_MS] == Stored(Minutes(T0 + 12 * MINUTE_MS, T0 + 13 * MINUTE_MS, (12.0, 0.5, -1.25)), 0)
    assert len(store.load(series, T0, T0 + 70 * MINUTE_MS)) == 70  # another layout's series is never mixed in
    item = client.get_item(
        TableName=minute_table,
        Key={names.MINUTE_TABLE_PARTITION_KEY: {"S": series}, names.MINUTE_TABLE_SORT_KEY: {"N": str(T0)}},
    )["Item"]
    assert int(item[names.MINUTE_TABLE_TTL_ATTRIBUTE]["N"]) == T0 // 1000 + 26 * 3600


def test_predictions_count_per_minute_from_cloudwatch(aws_env: str, iris_artifact: ModelArtifact) -> None:
    cloudwatch = boto3.client("cloudwatch")
    namespace = f"Test{uuid.uuid4().hex[:8]}"
    now = datetime.now(tz=UTC).replace(second=0, microsecond=0)
    start = int(now.timestamp() * 1000) - 10 * MINUTE_MS
    dimensions = [{"Name": names.MODEL_DIMENSION, "Value": "iris"}, {"Name": "service", "Value": names.INFERENCE_SERVICE}]
    for i, n in enumerate((3, 0, 7)):
        when = datetime.fromtimestamp((start + i * MINUTE_MS + 5_000) / 1000, tz=UTC)
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[{"MetricName": names.METRIC_PREDICTIONS, "Dimensions": dimensions, "Timestamp": when, "Value": n}],
        )
    runner = InsightsRunner(client=None, log_group="unused", timeout_seconds=1)
    counter = CloudWatchRowCounter(cloudwatch, runner, iris_artifact.baseline, namespace, names.INFERENCE_SERVICE)
    counts = counter.rows_per_minute(start, start + 5 * MINUTE_MS)
    assert {k: v for k, v in counts.items() if v} == {start: 3, start + 2 * MINUTE_MS: 7}
