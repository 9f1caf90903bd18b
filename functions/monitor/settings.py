"""The monitor's settings: read once from the environment at cold start, validated with one clear error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from functions.contract import names

DEFAULT_WINDOW_MINUTES = 2
DEFAULT_QUERY_TIMEOUT_SECONDS = 60.0
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$")


class SettingsError(ValueError):
    """The function is misconfigured; the message lists every problem and the variable to fix."""


@dataclass(frozen=True)
class Settings:
    model_dir: Path
    log_group: str
    alert_topic_arn: str
    alert_state_table: str
    window_minutes: int
    query_timeout_seconds: float
    metrics_namespace: str
    service_name: str
    region: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        problems: list[str] = []

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is not set")
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
        log_group = required(names.ENV_INFERENCE_LOG_GROUP)
        topic = required(names.ENV_ALERT_TOPIC_ARN)
        table = required(names.ENV_ALERT_STATE_TABLE)
        if topic and not _TOPIC_ARN.match(topic):
            problems.append(f"{names.ENV_ALERT_TOPIC_ARN}={topic!r} is not an SNS topic ARN")
        minutes = number(names.ENV_WINDOW_MINUTES, DEFAULT_WINDOW_MINUTES, 1, 60)
        if minutes != int(minutes):
            problems.append(f"{names.ENV_WINDOW_MINUTES} must be a whole number of minutes")
        timeout = number(names.ENV_QUERY_TIMEOUT_SECONDS, DEFAULT_QUERY_TIMEOUT_SECONDS, 1, 840)
        if problems:
            raise SettingsError("monitor settings: " + "; ".join(problems))
        return cls(
            model_dir=Path(model_dir),
            log_group=log_group,
            alert_topic_arn=topic,
            alert_state_table=table,
            window_minutes=int(minutes),
            query_timeout_seconds=timeout,
            metrics_namespace=env.get(names.ENV_METRICS_NAMESPACE) or names.METRICS_NAMESPACE,
            service_name=env.get(names.ENV_SERVICE_NAME) or names.MONITOR_SERVICE,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "unknown-region",
        )
