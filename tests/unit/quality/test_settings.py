"""The quality function's settings: every problem named at cold start, defaults where documented."""

from __future__ import annotations

import pytest

from functions.contract import names
from functions.quality.settings import Settings, SettingsError

GOOD = {
    names.ENV_MODEL_DIR: "models/iris",
    names.ENV_ATHENA_WORKGROUP: "inference-quality",
    names.ENV_ATHENA_DATABASE: "inference_logs",
    names.ENV_PREDICTIONS_TABLE: "iris_predictions",
    names.ENV_FEEDBACK_TABLE: "iris_feedback",
    names.ENV_ALERT_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:alerts",
    names.ENV_ALERT_STATE_TABLE: "alert-state",
    "AWS_REGION": "eu-west-1",
}


def test_defaults() -> None:
    settings = Settings.from_env(GOOD)
    assert settings.lookback_days == 7
    assert settings.service_name == names.QUALITY_SERVICE
    assert settings.region == "eu-west-1"


def test_every_problem_is_listed_at_once() -> None:
    env = {**GOOD, names.ENV_PREDICTIONS_TABLE: "Iris-Predictions", names.ENV_QUALITY_LOOKBACK_DAYS: "2.5"}
    env.pop(names.ENV_FEEDBACK_TABLE)
    env[names.ENV_ALERT_TOPIC_ARN] = "not-an-arn"
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert f"{names.ENV_PREDICTIONS_TABLE}='Iris-Predictions' is not a Glue table name" in message
    assert f"{names.ENV_FEEDBACK_TABLE} is not set" in message
    assert f"{names.ENV_ALERT_TOPIC_ARN}='not-an-arn' is not an SNS topic ARN" in message
    assert f"{names.ENV_QUALITY_LOOKBACK_DAYS} must be a whole number of days" in message


def test_lookback_bounds() -> None:
    with pytest.raises(SettingsError, match="must be between 1 and 90"):
        Settings.from_env({**GOOD, names.ENV_QUALITY_LOOKBACK_DAYS: "365"})
