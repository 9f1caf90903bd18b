from __future__ import annotations

from pathlib import Path

import pytest

from functions.inference.settings import InferenceSettings, SettingsError


def test_defaults_serve_iris_from_the_repository() -> None:
    settings = InferenceSettings.from_env({})
    assert settings.model_dir.parts[-2:] == ("models", "iris")
    assert settings.tracing_enabled is False
    assert settings.max_rows == 1000
    assert settings.prediction_log_file is None


def test_values_are_read_from_the_environment() -> None:
    settings = InferenceSettings.from_env(
        {
            "MODEL_DIR": "/opt/model",
            "TRACING_ENABLED": "true",
            "MAX_ROWS_PER_REQUEST": "10",
            "PREDICTION_LOG_FILE": "/tmp/p.jsonl",
        }
    )
    assert (settings.model_dir, settings.tracing_enabled, settings.max_rows, settings.prediction_log_file) == (
        Path("/opt/model"),
        True,
        10,
        "/tmp/p.jsonl",
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"TRACING_ENABLED": "maybe"}, "expected true or false"),
        ({"MAX_ROWS_PER_REQUEST": "many"}, "whole number"),
        ({"MAX_ROWS_PER_REQUEST": "0"}, "expected 1..1000"),
        ({"MAX_ROWS_PER_REQUEST": "5000"}, "expected 1..1000"),
        ({"MAX_BODY_BYTES": "-1"}, "MAX_BODY_BYTES"),
    ],
)
def test_bad_values_are_refused_at_cold_start(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=says.replace(".", "\\.")):
        InferenceSettings.from_env(env)


@pytest.mark.parametrize(
    ("value", "refuse"), [(None, False), ("accept", False), ("", False), ("refuse", True), (" REFUSE ", True)]
)
def test_unseen_categories_are_accepted_unless_set_to_refuse(value: str | None, refuse: bool) -> None:
    settings = InferenceSettings.from_env({} if value is None else {"UNSEEN_CATEGORIES": value})
    assert settings.refuse_unseen is refuse


def test_an_unknown_unseen_policy_is_refused_at_cold_start() -> None:
    with pytest.raises(SettingsError, match=r"UNSEEN_CATEGORIES='drop': expected accept or refuse"):
        InferenceSettings.from_env({"UNSEEN_CATEGORIES": "drop"})
