"""The quality function's settings: read once from the environment at cold start, validated with one clear error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from functions.contract import names

from .sql import TABLE_NAME

DEFAULT_LOOKBACK_DAYS = 7
DEFAULT_QUERY_TIMEOUT_SECONDS = 300.0
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$")
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
        problems: list[str] = []

        def required(name: str, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is not set")
            elif pattern is not None and not pattern.match(value):
                problems.append(f"{name}={value!r} is not {what}")
            return value

        def number(name: str, default: float, low: float, high: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not a number")
                return default
            if not low <= value <= high:
                problems.append(f"{name}={raw!r} must be between {low:g} and {high:g}")
            return value

        model_dir = required(names.ENV_MODEL_DIR)
        workgroup = required(names.ENV_ATHENA_WORKGROUP, _ATHENA_NAME, "an Athena workgroup name")
        database = required(names.ENV_ATHENA_DATABASE, TABLE_NAME, "a Glue database name (lower case, digits, _)")
        predictions = required(names.ENV_PREDICTIONS_TABLE, TABLE_NAME, "a Glue table name (lower case, digits, _)")
        feedback = required(names.ENV_FEEDBACK_TABLE, TABLE_NAME, "a Glue table name (lower case, digits, _)")
        topic = required(names.ENV_ALERT_TOPIC_ARN, _TOPIC_ARN, "an SNS topic ARN")
        table = required(names.ENV_ALERT_STATE_TABLE)
        days = number(names.ENV_QUALITY_LOOKBACK_DAYS, DEFAULT_LOOKBACK_DAYS, 1, 90)
        if days != int(days):
            problems.append(f"{names.ENV_QUALITY_LOOKBACK_DAYS} must be a whole number of days")
        timeout = number(names.ENV_QUERY_TIMEOUT_SECONDS, DEFAULT_QUERY_TIMEOUT_SECONDS, 1, 840)
        if problems:
            raise SettingsError("quality settings: " + "; ".join(problems))
        return cls(
            model_dir=Path(model_dir),
            athena_workgroup=workgroup,
            athena_database=database,
            predictions_table=predictions,
            feedback_table=feedback,
            lookback_days=int(days),
            query_timeout_seconds=timeout,
            alert_topic_arn=topic,
            alert_state_table=table,
            metrics_namespace=env.get(names.ENV_METRICS_NAMESPACE) or names.METRICS_NAMESPACE,
            service_name=env.get(names.ENV_SERVICE_NAME) or names.QUALITY_SERVICE,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "unknown-region",
        )
