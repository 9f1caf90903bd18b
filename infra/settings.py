"""Read the stack's properties from CDK context (`-c key=value` or cdk.json) and validate them.

Kept apart from the stack so tests can build the stack with plain keyword
arguments and `app.py` stays a few lines long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import aws_logs as logs
from constructs import Node

from functions.contract import names
from infra import constants as c
from infra.api_options import ApiOptions
from infra.inference_api import ApiAuth

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(value: Any, key: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"context '{key}': expected true/false, got {value!r}")


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


# CloudWatch Logs accepts only these retention periods (jsii enums carry names, not day counts).
RETENTION_BY_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def _days(value: Any, key: str, default: int, *, minimum: int = 0) -> int:
    if value is None or value == "":
        return default
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"context '{key}': {value!r} is not a number of days") from None
    if days < minimum:
        raise ValueError(f"context '{key}': {days} is below {minimum}")
    return days


_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$")


def _schedule(value: Any, key: str, default: str) -> str:
    text = _text(value) or default
    if not _SCHEDULE.match(text):
        raise ValueError(f"context '{key}': {text!r} is not an EventBridge rate(...) or cron(...) expression")
    return text


def retention(days: int) -> logs.RetentionDays:
    """Map a day count onto CloudWatch's allowed retention values."""
    if days not in RETENTION_BY_DAYS:
        allowed = sorted(RETENTION_BY_DAYS)
        raise ValueError(f"context '{c.CTX_LOG_RETENTION_DAYS}': {days} is not a CloudWatch retention; use one of {allowed}")
    return RETENTION_BY_DAYS[days]


@dataclass(frozen=True)
class StackSettings:
    stack_name: str
    model: str
    layer_dir: Path
    alert_email: str | None
    slack_workspace_id: str | None
    slack_channel_id: str | None
    log_retention: logs.RetentionDays
    tracing: bool
    api_auth: ApiAuth
    retain_data: bool
    snap_start: bool
    api: ApiOptions
    archive_expiry_days: int = c.ARCHIVE_EXPIRY_DAYS
    data_kms_key: bool = False
    bucket_versioning: bool = False
    s3_access_logs: bool = False
    api_gateway_account_role: bool = c.DEFAULT_API_GATEWAY_ACCOUNT_ROLE
    reserved_concurrency: bool = c.DEFAULT_RESERVED_CONCURRENCY
    quality_schedule: str = c.QUALITY_SCHEDULE
    quality_lookback_days: int = c.QUALITY_LOOKBACK_DAYS

    @classmethod
    def from_context(cls, node: Node, repo_root: Path) -> StackSettings:
        model = _text(node.try_get_context(c.CTX_MODEL)) or names.DEFAULT_MODEL
        layer = Path(_text(node.try_get_context(c.CTX_LAYER_DIR)) or c.LAYER_BUILD_DIR)
        email = _text(node.try_get_context(c.CTX_ALERT_EMAIL))
        if email is not None and "@" not in email:
            raise ValueError(f"context '{c.CTX_ALERT_EMAIL}': {email!r} is not an e-mail address")
        raw_days = node.try_get_context(c.CTX_LOG_RETENTION_DAYS) or 30
        try:
            days = int(raw_days)
        except ValueError:
            raise ValueError(f"context '{c.CTX_LOG_RETENTION_DAYS}': {raw_days!r} is not a number of days") from None
        api = ApiOptions.from_context(node)  # api, api_auth (default per API type), JWT, CORS, WAF, throttling, quotas
        api_auth: ApiAuth = api.auth
        return cls(
            stack_name=_text(node.try_get_context(c.CTX_STACK_NAME)) or c.stack_name_for(model),
            model=model,
            layer_dir=layer if layer.is_absolute() else repo_root / layer,
            alert_email=email,
            slack_workspace_id=_text(node.try_get_context(c.CTX_SLACK_WORKSPACE_ID)),
            slack_channel_id=_text(node.try_get_context(c.CTX_SLACK_CHANNEL_ID)),
            log_retention=retention(days),
            tracing=_flag(node.try_get_context(c.CTX_TRACING), c.CTX_TRACING, False),
            api_auth=api_auth,
            retain_data=_flag(node.try_get_context(c.CTX_RETAIN_DATA), c.CTX_RETAIN_DATA, True),
            snap_start=_flag(node.try_get_context(c.CTX_SNAP_START), c.CTX_SNAP_START, False),
            api=api,
            archive_expiry_days=_days(
                node.try_get_context(c.CTX_ARCHIVE_EXPIRY_DAYS), c.CTX_ARCHIVE_EXPIRY_DAYS, c.ARCHIVE_EXPIRY_DAYS
            ),
            data_kms_key=_flag(node.try_get_context(c.CTX_DATA_KMS_KEY), c.CTX_DATA_KMS_KEY, False),
            bucket_versioning=_flag(node.try_get_context(c.CTX_BUCKET_VERSIONING), c.CTX_BUCKET_VERSIONING, False),
            s3_access_logs=_flag(node.try_get_context(c.CTX_S3_ACCESS_LOGS), c.CTX_S3_ACCESS_LOGS, False),
            api_gateway_account_role=_flag(
                node.try_get_context(c.CTX_API_GATEWAY_ACCOUNT_ROLE),
                c.CTX_API_GATEWAY_ACCOUNT_ROLE,
                c.DEFAULT_API_GATEWAY_ACCOUNT_ROLE,
            ),
            reserved_concurrency=_flag(
                node.try_get_context(c.CTX_RESERVED_CONCURRENCY), c.CTX_RESERVED_CONCURRENCY, c.DEFAULT_RESERVED_CONCURRENCY
            ),
            quality_schedule=_schedule(node.try_get_context(c.CTX_QUALITY_SCHEDULE), c.CTX_QUALITY_SCHEDULE, c.QUALITY_SCHEDULE),
            quality_lookback_days=_days(
                node.try_get_context(c.CTX_QUALITY_LOOKBACK_DAYS), c.CTX_QUALITY_LOOKBACK_DAYS, c.QUALITY_LOOKBACK_DAYS, minimum=1
            ),
        )
