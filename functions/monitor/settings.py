"""The monitor's settings: read once from the environment at cold start, validated with one clear error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from functions.contract import names
from functions.contract.env_reader import SNS_TOPIC_ARN, EnvReader

from .timeline import parse_horizons

DEFAULT_WINDOW_MINUTES = 2
DEFAULT_QUERY_TIMEOUT_SECONDS = 60.0
DEFAULT_HORIZONS = "2,15,60,1440"
DEFAULT_SETTLE_MINUTES = 2
DEFAULT_NO_TRAFFIC_MINUTES = 15


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
    minute_table: str = ""  # set: minute mode (minute aggregates, every horizon); empty: one window per run
    horizons: tuple[int, ...] = (2, 15, 60, 1440)
    settle_minutes: int = DEFAULT_SETTLE_MINUTES
    no_traffic_minutes: int = DEFAULT_NO_TRAFFIC_MINUTES
    inference_service: str = names.INFERENCE_SERVICE

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
        horizons: tuple[int, ...] = ()
        try:
            horizons = parse_horizons(env.get(names.ENV_MONITOR_HORIZONS) or DEFAULT_HORIZONS)
        except ValueError as error:
            read.problems.append(f"{names.ENV_MONITOR_HORIZONS}: {error}")
        settle = read.whole(names.ENV_SETTLE_MINUTES, DEFAULT_SETTLE_MINUTES, 0, 30, "minutes")
        quiet = read.whole(names.ENV_NO_TRAFFIC_MINUTES, DEFAULT_NO_TRAFFIC_MINUTES, 2, 45, "minutes")
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
            minute_table=env.get(names.ENV_MINUTE_TABLE, "").strip(),
            horizons=horizons,
            settle_minutes=settle,
            no_traffic_minutes=quiet,
        )
