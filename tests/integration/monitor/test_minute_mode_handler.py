"""The monitor Lambda in minute mode, in-process: minute table, alert state and SNS on the emulator.

Logs Insights and GetMetricData are the two parts no emulator answers for a log: the handler's minute source
and row counter are replaced by numpy over generated minutes (the engines' per-minute answers are covered by
tests/unit/monitor), so everything after them (minute store, horizons, state, SNS) runs as in AWS.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from functions.contract import names
from functions.monitor.aggregates import WindowAggregates
from functions.monitor.minutes import MINUTE_MS
from tests.integration.monitor.conftest import AlertResources
from tests.integration.monitor.test_monitor_handler import FakeContext, scheduled_event
from tests.unit.monitor.fakes import numpy_aggregates, sample_traffic

MODELS = Path(__file__).resolve().parents[3] / "models"
START = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


class MinuteTraffic:
    """Per-minute answers, as the engine and the Predictions metric would give them."""

    def __init__(self, baseline: Any) -> None:
        self.baseline = baseline
        self.minutes: dict[int, WindowAggregates] = {}

    def add(self, start_ms: int, rows: int, seed: int, outlier_rate: float | None = None) -> None:
        traffic = sample_traffic(self.baseline, rows, np.random.default_rng(seed), outlier_rate=outlier_rate, confidence=0.9)
        self.minutes[start_ms] = numpy_aggregates(self.baseline, traffic, start_ms, start_ms + MINUTE_MS)

    def read(self, start_ms: int, end_ms: int) -> WindowAggregates:
        empty = numpy_aggregates(self.baseline, sample_traffic(self.baseline, 0, np.random.default_rng(0)), start_ms, end_ms)
        return self.minutes.get(start_ms, empty)

    def rows_per_minute(self, start_ms: int, end_ms: int) -> dict[int, int]:
        return {k: w.rows for k, w in self.minutes.items() if start_ms <= k < end_ms}

    def future_rows(self, after_ms: int) -> int:
        return 0


@pytest.fixture
def minute_lambda(alert_resources: AlertResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, MinuteTraffic]]:
    dynamodb = boto3.client("dynamodb")
    table = f"minutes-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
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
    for key, value in {
        names.ENV_MODEL_DIR: str(MODELS / "iris"),
        names.ENV_INFERENCE_LOG_GROUP: "/aws/lambda/inference-under-test",
        names.ENV_ALERT_TOPIC_ARN: alert_resources.topic_arn,
        names.ENV_ALERT_STATE_TABLE: alert_resources.table,
        names.ENV_MINUTE_TABLE: table,
        names.ENV_MONITOR_HORIZONS: "2,15,60",
    }.items():
        monkeypatch.setenv(key, value)
    module = importlib.reload(importlib.import_module("functions.monitor.handler"))
    fake = MinuteTraffic(module.APP.baseline)
    module.APP.minute_monitor.source = fake
    module.APP.minute_monitor.counter = fake
    yield module, fake
    dynamodb.delete_table(TableName=table)


def test_minute_mode_alarms_on_an_outlier_episode_and_reports_late_records(
    minute_lambda: tuple[Any, MinuteTraffic], alert_resources: AlertResources
) -> None:
    module, fake = minute_lambda
    t0 = int(START.timestamp() * 1000)
    for i in range(-30, 0):
        fake.add(t0 + i * MINUTE_MS, 40, 50 + i)
    first = module.lambda_handler(scheduled_event(START + timedelta(minutes=2)), FakeContext())
    assert first["mode"] == "minutes" and first["status"] == "OK" and [h["minutes"] for h in first["horizons"]] == [2, 15, 60]
    assert first["horizons"][0]["rows"] == 80
    # A cold store catches up newest first, a few minutes a run; the self-check says what is still unread.
    assert first["minutes_read"] == 6 and first["rows_seen"] == 6 * 40 and first["rows_counted"] == 30 * 40
    summaries = []
    for i in range(0, 4):
        fake.add(t0 + i * MINUTE_MS, 40, 100 + i, outlier_rate=0.6)
        summaries.append(module.lambda_handler(scheduled_event(START + timedelta(minutes=i + 3)), FakeContext()))
    assert any("outlier_ratio" in s["alarms"] for s in summaries)
    fake.add(t0 - 5 * MINUTE_MS, 45, 7)  # 5 records of an old minute land late
    late = module.lambda_handler(scheduled_event(START + timedelta(minutes=7)), FakeContext())
    assert late["minutes_reread"] == 1 and late["late_records"] == 5
    envelopes = alert_resources.messages(expected=1)
    assert envelopes and envelopes[0]["Subject"].startswith("ALARM: iris model")
    assert "Window 2 min:" in envelopes[0]["Message"]
