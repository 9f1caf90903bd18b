"""The quality function's settings: read once from the environment at cold start, validated with one clear error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from functions.contract import names
from functions.contract.env_reader import SNS_TOPIC_ARN, EnvReader

from .sql import TABLE_NAME

DEFAULT_LOOKBACK_DAYS = 7
DEFAULT_QUERY_TIMEOUT_SECONDS = 300.0
_ATHENA_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class SettingsError(ValueError):
    """The function is misconfigured; the message lists every problem and the variable to fix."""


@dataclass(frozen=True)
class Settings:
    model_dir: Path
    athena_workgroup: str
    athena_database: str
    predictions_table: str
    feedback_table: str
    lookback_days: int
    query_timeout_seconds: float
    alert_topic_arn: str
    alert_state_table: str
    metrics_namespace: str
    service_name: str
    region: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        read = EnvReader(env)
        model_dir = read.required(names.ENV_MODEL_DIR)
        workgroup = read.required(names.ENV_ATHENA_WORKGROUP, _ATHENA_NAME, "an Athena workgroup name")
        database = read.required(names.ENV_ATHENA_DATABASE, TABLE_NAME, "a Glue database name (lower case, digits, _)")
        predictions = read.required(names.ENV_PREDICTIONS_TABLE, TABLE_NAME, "a Glue table name (lower case, digits, _)")
        feedback = read.required(names.ENV_FEEDBACK_TABLE, TABLE_NAME, "a Glue table name (lower case, digits, _)")
        topic = read.required(names.ENV_ALERT_TOPIC_ARN, SNS_TOPIC_ARN, "an SNS topic ARN")
        table = read.required(names.ENV_ALERT_STATE_TABLE)
        days = read.whole(names.ENV_QUALITY_LOOKBACK_DAYS, DEFAULT_LOOKBACK_DAYS, 1, 90, "days")
        timeout = read.number(names.ENV_QUERY_TIMEOUT_SECONDS, DEFAULT_QUERY_TIMEOUT_SECONDS, 1, 840)
        if read.problems:
            raise SettingsError("quality settings: " + "; ".join(read.problems))
        return cls(
            model_dir=Path(model_dir),
            athena_workgroup=workgroup,
            athena_database=database,
            predictions_table=predictions,
            feedback_table=feedback,
            lookback_days=days,
            query_timeout_seconds=timeout,
            alert_topic_arn=topic,
            alert_state_table=table,
            metrics_namespace=env.get(names.ENV_METRICS_NAMESPACE) or names.METRICS_NAMESPACE,
            service_name=env.get(names.ENV_SERVICE_NAME) or names.QUALITY_SERVICE,
            region=read.region(),
        )
