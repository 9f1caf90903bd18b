"""The composition root: settings, baseline and boto3 clients, built once per cold start.

Only this module knows boto3 and the environment; everything it wires is
passed down as arguments. An unusable configuration or baseline fails here,
at init, with a message naming the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from functions.contract.model_artifact import Baseline, load_baseline
from functions.contract.names import BASELINE_FILE

from .adapters import DynamoStateStore, SnsPublisher
from .insights import CloudWatchRowCounter, InsightsEngine, InsightsRunner
from .minute_store import DynamoMinuteStore
from .service import Monitor
from .settings import Settings
from .timeline import MinuteMonitor, TimeSettings

# botocore's standard retry mode retries throttling and 5xx with backoff, a bounded number of times.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=15)


@dataclass
class App:
    settings: Settings
    baseline: Baseline
    monitor: Monitor
    logs_client: Any
    sns_client: Any
    dynamodb_client: Any
    minute_monitor: MinuteMonitor | None = None  # set when MINUTE_TABLE is: every horizon from minute aggregates


def build_app(settings: Settings, session: Any = None) -> App:
    """boto3 honours AWS_ENDPOINT_URL, so the same wiring talks to AWS, moto or LocalStack."""
    baseline = load_baseline(settings.model_dir / BASELINE_FILE)
    session = session or boto3.session.Session()
    logs = session.client("logs", config=CLIENT_CONFIG)
    sns = session.client("sns", config=CLIENT_CONFIG)
    dynamodb = session.client("dynamodb", config=CLIENT_CONFIG)
    runner = InsightsRunner(client=logs, log_group=settings.log_group, timeout_seconds=settings.query_timeout_seconds)
    monitor = Monitor(
        baseline=baseline,
        source=InsightsEngine(baseline, runner),
        state_store=DynamoStateStore(dynamodb, settings.alert_state_table),
        publisher=SnsPublisher(sns, settings.alert_topic_arn),
        window_minutes=settings.window_minutes,
        where=f"{settings.region} {settings.log_group}",
    )
    minute_monitor = None
    if settings.minute_table:
        cloudwatch = session.client("cloudwatch", config=CLIENT_CONFIG)
        minute_monitor = MinuteMonitor(
            baseline=baseline,
            source=monitor.source,
            counter=CloudWatchRowCounter(cloudwatch, runner, baseline, settings.metrics_namespace, settings.inference_service),
            minute_store=DynamoMinuteStore(dynamodb, settings.minute_table),
            state_store=monitor.state_store,
            publisher=monitor.publisher,
            where=monitor.where,
            settings=TimeSettings(
                horizons=settings.horizons,
                settle_minutes=settings.settle_minutes,
                no_traffic_minutes=settings.no_traffic_minutes,
            ),
        )
    return App(settings, baseline, monitor, logs, sns, dynamodb, minute_monitor)


def build_app_from_env(env: Mapping[str, str]) -> App:
    return build_app(Settings.from_env(env))
