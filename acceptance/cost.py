"""What one acceptance run costs, estimated from what it used (requests, bytes, minutes, resources alive).

Unit prices are AWS's public us-east-1 list prices (pages under https://aws.amazon.com/<service>/pricing/), read
for this project in November 2026 and not fetched at run time: check them before relying on the figure. Free
tiers are ignored, so the estimate is an upper bound for an account that still has them. Other regions differ
by a few tens of percent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

HOURS_PER_MONTH = 730.0  # AWS prorates monthly charges over 730 hours
GB = 1024**3

PRICES_USD: dict[str, float] = {
    "api_gateway_rest_per_million_requests": 3.50,
    "api_gateway_http_per_million_requests": 1.00,
    "lambda_per_million_requests": 0.20,
    "lambda_arm64_per_gb_second": 0.0000133334,
    "logs_ingestion_per_gb": 0.50,
    "logs_insights_per_gb_scanned": 0.005,
    "cloudwatch_alarm_per_month": 0.10,
    "cloudwatch_dashboard_per_month": 3.00,
    "cloudwatch_custom_metric_per_month": 0.30,
    "cloudwatch_get_metric_data_per_thousand_metrics": 0.01,
    "cloudwatch_api_per_thousand_requests": 0.01,  # ListMetrics, GetDashboard, SetAlarmState, PutLogEvents calls
    "firehose_per_gb": 0.029,  # each record rounded up to 5 KB
    "s3_put_per_thousand": 0.005,
    "s3_get_per_thousand": 0.0004,
    "athena_per_tb_scanned": 5.00,  # at least 10 MB per query
    "kms_key_per_month": 1.00,
    "kms_per_ten_thousand_requests": 0.03,
    "sns_sqs_per_million_requests": 0.50,
    "dynamodb_per_million_writes": 0.625,
}
FIREHOSE_RECORD_ROUNDING_BYTES = 5 * 1024
ATHENA_MIN_BYTES_PER_QUERY = 10 * 1024**2


@dataclass
class Usage:
    """Counters the checks increment as they go; the plan fills the same fields with what it expects to use."""

    api_requests: int = 0
    inference_invocations: int = 0
    inference_gb_seconds: float = 0.0
    monitor_invocations: int = 0
    monitor_gb_seconds: float = 0.0
    log_bytes_ingested: int = 0
    insights_bytes_scanned: int = 0
    firehose_records: int = 0
    s3_puts: int = 0
    s3_gets: int = 0
    athena_queries: int = 0
    athena_bytes_scanned: int = 0
    get_metric_data_metrics: int = 0
    cloudwatch_requests: int = 0
    sns_sqs_requests: int = 0
    dynamodb_writes: int = 0
    kms_requests: int = 0
    stack_hours: float = 0.0  # deploy start to teardown end
    alarms: int = 0
    dashboards: int = 0
    custom_metrics: int = 0
    kms_keys: int = 0
    notes: list[str] = field(default_factory=list)


def estimate(usage: Usage, *, http_api: bool = False) -> dict[str, Any]:
    """Dollar figure per item and in total, from the counters and the hours the stack was alive."""
    p = PRICES_USD
    hours = usage.stack_hours
    api_price = p["api_gateway_http_per_million_requests"] if http_api else p["api_gateway_rest_per_million_requests"]
    athena_bytes = max(usage.athena_bytes_scanned, usage.athena_queries * ATHENA_MIN_BYTES_PER_QUERY)
    items = {
        "api_gateway": usage.api_requests / 1e6 * api_price,
        "lambda": (usage.inference_invocations + usage.monitor_invocations) / 1e6 * p["lambda_per_million_requests"]
        + (usage.inference_gb_seconds + usage.monitor_gb_seconds) * p["lambda_arm64_per_gb_second"],
        "logs_ingestion": usage.log_bytes_ingested / GB * p["logs_ingestion_per_gb"],
        "logs_insights": usage.insights_bytes_scanned / GB * p["logs_insights_per_gb_scanned"],
        "firehose": usage.firehose_records * FIREHOSE_RECORD_ROUNDING_BYTES / GB * p["firehose_per_gb"],
        "s3": usage.s3_puts / 1000 * p["s3_put_per_thousand"] + usage.s3_gets / 1000 * p["s3_get_per_thousand"],
        "athena": athena_bytes / 1024**4 * p["athena_per_tb_scanned"],
        "cloudwatch_api": usage.get_metric_data_metrics / 1000 * p["cloudwatch_get_metric_data_per_thousand_metrics"]
        + usage.cloudwatch_requests / 1000 * p["cloudwatch_api_per_thousand_requests"],
        "cloudwatch_alarms_dashboard_metrics": hours
        / HOURS_PER_MONTH
        * (
            usage.alarms * p["cloudwatch_alarm_per_month"]
            + usage.dashboards * p["cloudwatch_dashboard_per_month"]
            + usage.custom_metrics * p["cloudwatch_custom_metric_per_month"]
        ),
        "kms": hours / HOURS_PER_MONTH * usage.kms_keys * p["kms_key_per_month"]
        + usage.kms_requests / 10_000 * p["kms_per_ten_thousand_requests"],
        "sns_sqs": usage.sns_sqs_requests / 1e6 * p["sns_sqs_per_million_requests"],
        "dynamodb": usage.dynamodb_writes / 1e6 * p["dynamodb_per_million_writes"],
    }
    total = sum(items.values())
    return {
        "total_usd": round(total, 4),
        "items_usd": {k: round(v, 6) for k, v in items.items()},
        "usage": {k: v for k, v in asdict(usage).items() if k != "notes"},
        "notes": [
            "us-east-1 list prices read November 2026, free tiers ignored; check https://aws.amazon.com/pricing/",
            *usage.notes,
        ],
    }


def describe(cost: dict[str, Any]) -> str:
    parts = ", ".join(f"{k} ${v:.4f}" for k, v in cost["items_usd"].items() if v >= 0.00005)
    return f"estimated cost of this run: ${cost['total_usd']:.4f} ({parts or 'every item below $0.0001'})"
