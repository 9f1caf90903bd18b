"""The inference function's configuration: read once at cold start, refused early with a clear message."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from functions.contract import names
from functions.inference.request_parsing import MAX_ROWS_PER_REQUEST

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / names.DEFAULT_MODEL
# 1,000 rows of 13 wide floats is ~300 KB of JSON; API Gateway itself stops at 10 MB.
DEFAULT_MAX_BODY_BYTES = 1_048_576


class SettingsError(ValueError):
    pass


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name}={value!r}: expected true or false")


def _positive_int(value: str, name: str, *, maximum: int | None = None) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r}: expected a whole number") from None
    if number < 1 or (maximum is not None and number > maximum):
        raise SettingsError(f"{name}={value!r}: expected 1..{maximum if maximum is not None else 'any'}")
    return number


UNSEEN_ACCEPT = names.UNSEEN_ACCEPT
UNSEEN_REFUSE = names.UNSEEN_REFUSE
UNSEEN_POLICIES = names.UNSEEN_POLICIES


def _unseen_policy(value: str, name: str) -> str:
    lowered = value.strip().lower() or UNSEEN_ACCEPT
    if lowered not in UNSEEN_POLICIES:
        raise SettingsError(f"{name}={value!r}: expected {' or '.join(UNSEEN_POLICIES)}")
    return lowered


class InferenceSettings(NamedTuple):
    model_dir: Path
    tracing_enabled: bool
    prediction_log_file: str | None
    max_rows: int
    max_body_bytes: int
    service_name: str
    metrics_namespace: str
    log_caller: bool = False  # behind a Function URL: the caller's IAM ARN on each prediction line (no access log)
    unseen_categories: str = UNSEEN_ACCEPT  # a model with categorical features: what an unlisted category gets

    @property
    def refuse_unseen(self) -> bool:
        return self.unseen_categories == UNSEEN_REFUSE

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> InferenceSettings:
        return cls(
            model_dir=Path(env.get(names.ENV_MODEL_DIR) or DEFAULT_MODEL_DIR),
            tracing_enabled=_flag(env.get(names.ENV_TRACING_ENABLED, "false"), names.ENV_TRACING_ENABLED),
            prediction_log_file=env.get(names.ENV_PREDICTION_LOG_FILE) or None,
            max_rows=_positive_int(
                env.get(names.ENV_MAX_ROWS, str(MAX_ROWS_PER_REQUEST)), names.ENV_MAX_ROWS, maximum=MAX_ROWS_PER_REQUEST
            ),
            max_body_bytes=_positive_int(
                env.get(names.ENV_MAX_BODY_BYTES, str(DEFAULT_MAX_BODY_BYTES)), names.ENV_MAX_BODY_BYTES
            ),
            service_name=env.get(names.ENV_SERVICE_NAME) or names.INFERENCE_SERVICE,
            metrics_namespace=env.get(names.ENV_METRICS_NAMESPACE) or names.METRICS_NAMESPACE,
            log_caller=_flag(env.get(names.ENV_LOG_CALLER, "false"), names.ENV_LOG_CALLER),
            unseen_categories=_unseen_policy(env.get(names.ENV_UNSEEN_CATEGORIES, UNSEEN_ACCEPT), names.ENV_UNSEEN_CATEGORIES),
        )
