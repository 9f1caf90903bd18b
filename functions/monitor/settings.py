"""The monitor's settings: read once from the environment at cold start, validated with one clear error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from functions.contract import names
from functions.contract.env_reader import SNS_TOPIC_ARN, EnvReader

DEFAULT_WINDOW_MINUTES = 2
DEFAULT_QUERY_TIMEOUT_SECONDS = 60.0


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
        read = EnvReader(env)
        model_dir = read.required(names.ENV_MODEL_DIR)
        log_group = read.required(names.ENV_INFERENCE_LOG_GROUP)
        topic = read.required(names.ENV_ALERT_TOPIC_ARN)
        table = read.required(names.ENV_ALERT_STATE_TABLE)
        if topic:
            read.match(names.ENV_ALERT_TOPIC_ARN, topic, SNS_TOPIC_ARN, "an SNS topic ARN")
        minutes = read.whole(names.ENV_WINDOW_MINUTES, DEFAULT_WINDOW_MINUTES, 1, 60, "minutes")
        timeout = read.number(names.ENV_QUERY_TIMEOUT_SECONDS, DEFAULT_QUERY_TIMEOUT_SECONDS, 1, 840)
        if read.problems:
            raise SettingsError("monitor settings: " + "; ".join(read.problems))
        return cls(
            model_dir=Path(model_dir),
            log_group=log_group,
            alert_topic_arn=topic,
            alert_state_table=table,
            window_minutes=minutes,
            query_timeout_seconds=timeout,
            metrics_namespace=env.get(names.ENV_METRICS_NAMESPACE) or names.METRICS_NAMESPACE,
            service_name=env.get(names.ENV_SERVICE_NAME) or names.MONITOR_SERVICE,
            region=read.region(),
        )
