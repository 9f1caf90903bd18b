"""The composition root: settings, baseline and boto3 clients, built once per cold start.

Only this module knows boto3 and the environment. An unusable configuration or baseline fails here, at init,
with a message naming the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from functions.contract.model_artifact import Baseline, load_baseline
from functions.contract.names import BASELINE_FILE

from .alerting import DynamoCheckStore, SnsPublisher
from .athena import AthenaRunner
from .service import AthenaSource, QualityJob
from .settings import Settings

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=15)


@dataclass
class App:
    settings: Settings
    baseline: Baseline
    job: QualityJob
    runner: AthenaRunner
    athena_client: Any
    sns_client: Any
    dynamodb_client: Any


def build_app(settings: Settings, session: Any = None) -> App:
    """boto3 honours AWS_ENDPOINT_URL, so the same wiring talks to AWS, moto or LocalStack."""
    baseline = load_baseline(settings.model_dir / BASELINE_FILE)
    session = session or boto3.session.Session()
    athena = session.client("athena", config=CLIENT_CONFIG)
    sns = session.client("sns", config=CLIENT_CONFIG)
    dynamodb = session.client("dynamodb", config=CLIENT_CONFIG)
    runner = AthenaRunner(
        client=athena,
        workgroup=settings.athena_workgroup,
        database=settings.athena_database,
        timeout_seconds=settings.query_timeout_seconds,
    )
    job = QualityJob(
        baseline=baseline,
        source=AthenaSource(runner, settings.predictions_table, settings.feedback_table, baseline.is_regression),
        state_store=DynamoCheckStore(dynamodb, settings.alert_state_table),
        publisher=SnsPublisher(sns, settings.alert_topic_arn),
        lookback_days=settings.lookback_days,
        where=f"{settings.region} athena:{settings.athena_workgroup}/{settings.athena_database}",
    )
    return App(settings, baseline, job, runner, athena, sns, dynamodb)


def build_app_from_env(env: Mapping[str, str]) -> App:
    return build_app(Settings.from_env(env))
