"""What a month of predictions costs, per API option: the arithmetic behind README's "What it costs".

Pure functions over two inputs: list prices (`PRICES`, us-east-1, with the date they were read) and byte counts
measured by `bench/api_cost.py` (`Measured`). Nothing here calls AWS. `python bench/api_cost.py` measures the
bytes and prints the tables the README shows, so the figures can be re-derived when a price or a log line changes.

Assumptions (stated in the README next to the tables):
- one model, one stack, the only REST API in the account and region (API Gateway's volume tiers are per account);
- Lambda arm64 at 1769 MB; billed duration 2 ms for a 1-row request and 3 ms for 100 rows (the handler measures
  0.1 ms and 1.2 ms in-process; Lambda rounds up to the millisecond and adds runtime overhead);
- cold starts (INIT, billed since 2025-08-01 at the duration rate) on 1 % of invocations, AWS's "under 1 %" figure
  for production workloads, each 0.6 s of init at 1769 MB; SnapStart changes this line (docs/infrastructure.md);
- Logs Insights reads each prediction line once per query (each closed minute once: minute aggregates), through the
  field index;
- Firehose ingests gzip-compressed batches at steady traffic (the 5 KB-per-record rounding matters only when
  traffic is so low that each batch holds one request: + up to $0.15 per million);
- WAF logs only blocked and counted requests: ~0 for legitimate traffic;
- Cognito (api_auth=jwt): the Lite tier's first 10,000 monthly active users are free; a service user is one MAU;
- data transfer out: the response body plus ~250 B of response headers, after the free 100 GB per month.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

GB = 1e9  # AWS prices logs, Firehose and S3 per GB = 10^9 bytes
MEASURED_ON = "iris, 2,000 one-row requests in-process, x86_64 CPython 3.11 (2 cores), 2026-12-06"
PRICES_READ = "2026-11 (us-east-1 list prices; check aws.amazon.com/<service>/pricing before relying on them)"


@dataclass(frozen=True)
class Prices:
    # API Gateway, per million requests: (requests in the tier, price); the last tier is open-ended.
    rest_tiers: tuple[tuple[float, float], ...] = ((333e6, 3.50), (667e6, 2.80), (19e9, 2.38), (float("inf"), 1.51))
    http_tiers: tuple[tuple[float, float], ...] = ((300e6, 1.00), (float("inf"), 0.90))
    lambda_request: float = 0.20 / 1e6
    lambda_gb_second_arm: float = 0.0000133334  # first 7.5 billion GB-s a month
    log_ingestion_gb: float = 0.50  # CloudWatch Logs standard class, first 10 TB a month
    log_storage_gb_month: float = 0.03
    insights_scan_gb: float = 0.005
    firehose_gb: float = 0.029
    s3_gb_month: float = 0.023
    transfer_out_gb: float = 0.09  # after the first 100 GB a month (free across services)
    transfer_out_free_gb: float = 100.0
    waf_web_acl_month: float = 5.00
    waf_rule_month: float = 1.00
    waf_rules: int = 3  # rate-based rule + 2 AWS managed rule groups (infra/waf.py)
    waf_request: float = 0.60 / 1e6
    cognito_mau_free: int = 10_000  # Lite tier: then $0.0055 per MAU
    # Fixed costs. Custom metrics are prorated by the hour and metered only in hours that receive data
    # (CloudWatch pricing page): a metric filter that matches nothing, or a function that publishes nothing, costs $0.
    custom_metric_month: float = 0.30  # first 10,000 metrics
    alarm_metric_month: float = 0.10  # standard resolution, per metric in the alarm (a math alarm pays for each)
    dashboard_month: float = 3.00  # beyond the account's 3 free dashboards
    kms_key_month: float = 1.00
    lambda_request_arm: float = 0.20 / 1e6
    athena_minimum_bytes: float = 10e6  # each query bills at least 10 MB
    athena_tb: float = 5.00
    s3_put_thousand: float = 0.005


PRICES = Prices()


@dataclass(frozen=True)
class Measured:
    """Bytes per unit, measured by bench/api_cost.py (iris, 2,000 one-row requests, 2026-12-06); docs/cost.md shows them."""

    record_bytes: float = 450.6  # one prediction line incl. newline
    caller_bytes: float = 77.0  # added to each line behind a Function URL: `,"caller":"<IAM role session ARN>"`
    metrics_bytes: float = 0.0  # per request beside the lines: 0 with metric filters (an EMF document: ~626 B)
    platform_bytes: float = 0.0  # START/END/REPORT per invocation: 0 at system log level WARN (~255 B at INFO)
    cold_start_bytes: float = 479.0  # per cold start: Powertools' "model loaded" line and the ColdStart EMF document
    rest_access_log_bytes: float = 231.0  # REST access-log line, widest identity (an IAM role ARN)
    rest_waf_access_log_bytes: float = 249.0  # the same with the WAF's verdict (waf=true)
    http_access_log_bytes: float = 230.0  # HTTP API access-log line, widest identity
    emf_bytes: float = 652.0  # for the comparison: the per-request EMF document the metric filters replaced
    small_emf_bytes: float = 450.0  # ... and the smallest EMF alternative (one dimension, the predicted class only)
    gzip_bytes_per_record: float = 52.9  # prediction lines gzip-compressed in batches of 100
    response_bytes_1_row: float = 241.9  # body of a 1-row /predict answer
    response_bytes_per_extra_row: float = 135.8
    response_header_bytes: float = 250.0  # estimate: status line + the front door's headers
    billed_ms_1_row: float = 2.0
    billed_ms_100_rows: float = 3.0
    memory_gb: float = 1769 / 1024
    init_seconds: float = 0.6
    cold_start_share: float = 0.01
    # times the monitor reads each prediction line: every closed minute once, by the 3 aggregate queries of iris
    # and the future-records count (minute aggregates; 4 aggregate queries for wine)
    insights_scans: int = 4
    # bytes per row of the prediction log of 100-row requests under bench/api_cost.py's LAYOUTS (the line as written first)
    layout_bytes: tuple[float, ...] = (452.3, 390.5, 332.5, 247.5, 73.3)

    @property
    def storage_ratio(self) -> float:
        """CloudWatch bills stored logs compressed: estimated with gzip's ratio on the prediction lines."""
        return self.gzip_bytes_per_record / self.record_bytes


class ApiOption(Enum):
    REST = "REST API (API key, IAM or Cognito JWT)"
    REST_WAF = "REST API + WAF"
    HTTP = "HTTP API (JWT or IAM)"
    URL = "Lambda Function URL (IAM)"


def tiered(count: float, tiers: tuple[tuple[float, float], ...]) -> float:
    """Dollars for `count` requests priced per million in consecutive tiers."""
    total, left = 0.0, count
    for size, per_million in tiers:
        used = min(left, size)
        total += used / 1e6 * per_million
        left -= used
        if left <= 0:
            break
    return total


@dataclass(frozen=True)
class Line:
    item: str
    dollars: float
    arithmetic: str


def insights_bytes(predictions: float, m: Measured = Measured()) -> float:
    """Bytes Logs Insights bills the monitor for: with the field index on `message`, only the prediction lines."""
    return m.insights_scans * predictions * m.record_bytes


def metrics_bytes_cost(bytes_per_request: float, requests: float, m: Measured = Measured(), p: Prices = PRICES) -> float:
    """Ingestion and (compressed) storage of a per-request metrics document."""
    ingested = bytes_per_request * requests / GB
    return ingested * p.log_ingestion_gb + ingested * m.storage_ratio * p.log_storage_gb_month


def monthly_lines(
    option: ApiOption, predictions: float, rows_per_request: int, m: Measured = Measured(), p: Prices = PRICES
) -> list[Line]:
    """Every traffic-dependent cost line for `predictions` rows a month sent `rows_per_request` at a time."""
    requests = predictions / rows_per_request
    rest = option in (ApiOption.REST, ApiOption.REST_WAF)
    url = option is ApiOption.URL
    lines = []
    if not url:
        lines.append(
            Line(
                "API Gateway " + ("REST" if rest else "HTTP") + " requests",
                tiered(requests, p.rest_tiers if rest else p.http_tiers),
                f"{requests:,.0f} requests, tiered " + ("$3.50/2.80/2.38 per M" if rest else "$1.00/0.90 per M"),
            )
        )
    if option is ApiOption.REST_WAF:
        lines.append(Line("WAF requests", requests * p.waf_request, f"{requests:,.0f} x $0.60/M (+ $8/month fixed)"))
    billed_ms = m.billed_ms_1_row if rows_per_request == 1 else m.billed_ms_100_rows
    gb_seconds = requests * billed_ms / 1000 * m.memory_gb
    cold = requests * m.cold_start_share
    init_gb_seconds = cold * m.init_seconds * m.memory_gb
    line_bytes = m.record_bytes + (m.caller_bytes if url else 0.0)
    per_request = m.metrics_bytes + m.platform_bytes + m.cold_start_share * m.cold_start_bytes
    ingested = requests * (rows_per_request * line_bytes + per_request)
    access_line = {
        ApiOption.REST: m.rest_access_log_bytes,
        ApiOption.REST_WAF: m.rest_waf_access_log_bytes,
        ApiOption.HTTP: m.http_access_log_bytes,
        ApiOption.URL: 0.0,
    }[option]
    access = requests * access_line
    scanned = insights_bytes(predictions, m)
    response = m.response_bytes_1_row + (rows_per_request - 1) * m.response_bytes_per_extra_row
    transfer_gb = max(0.0, requests * (response + m.response_header_bytes) / GB - p.transfer_out_free_gb)
    lines += [
        Line("Lambda requests", requests * p.lambda_request, f"{requests:,.0f} x $0.20/M"),
        Line(
            "Lambda compute (arm64)",
            gb_seconds * p.lambda_gb_second_arm,
            f"{billed_ms:g} ms x {m.memory_gb:.3f} GB = {gb_seconds:,.0f} GB-s",
        ),
        Line(
            "Lambda INIT (cold starts)",
            init_gb_seconds * p.lambda_gb_second_arm,
            f"{m.cold_start_share:.0%} of invocations x {m.init_seconds} s x {m.memory_gb:.3f} GB",
        ),
        Line(
            "Log ingestion, inference group",
            ingested / GB * p.log_ingestion_gb,
            f"{rows_per_request} x {line_bytes:g} B + {per_request:.1f} B per request = {ingested / GB:,.2f} GB x $0.50",
        ),
    ]
    if not url:
        lines.append(
            Line(
                "Log ingestion, access logs",
                access / GB * p.log_ingestion_gb,
                f"{access_line:g} B = {access / GB:,.2f} GB x $0.50",
            )
        )
    lines += [
        Line(
            "Log storage (30 days)",
            (ingested + access) * m.storage_ratio / GB * p.log_storage_gb_month,
            f"ingested GB x {m.storage_ratio:.2f} (compressed, gzip's ratio) x $0.03",
        ),
        Line(
            "Logs Insights scans",
            scanned / GB * p.insights_scan_gb,
            f"{m.insights_scans} x {predictions * m.record_bytes / GB:,.2f} GB of prediction lines x $0.005",
        ),
        Line(
            "Firehose ingestion",
            predictions * m.gzip_bytes_per_record / GB * p.firehose_gb,
            f"gzip {m.gzip_bytes_per_record:g} B/row x $0.029/GB",
        ),
        Line(
            "S3 archive (first month)",
            predictions * m.gzip_bytes_per_record / GB * p.s3_gb_month,
            f"gzip {m.gzip_bytes_per_record:g} B/row x $0.023/GB-month",
        ),
        Line("Data transfer out", transfer_gb * p.transfer_out_gb, f"{transfer_gb:,.1f} GB beyond 100 GB free x $0.09"),
    ]
    return lines


@dataclass(frozen=True)
class FixedCounts:
    """What the stack runs whatever the traffic (iris, default context); tests/infra checks the alarm metrics against
    the template and the inference metrics against infra/line_metrics.py."""

    alarm_metrics: int = 16  # 14 alarms; the 5xx rate (HTTP API, Function URL) and the monitor self-check use 2 metrics
    inference_metrics: int = 8  # at traffic: Requests, Predictions, Outliers, LatencyMs, 3 classes, ColdStart
    monitor_metrics_idle: int = 1  # WindowRows: published every minute, traffic or not
    monitor_metrics: int = 14  # at traffic: + 4 ratios/accuracy, 4 drift + 4 mean shift, checks in alarm
    quality_metrics_idle: int = 1  # LabelledRows = 0, hourly
    quality_metrics: int = 9  # with labels: + accuracy, fraction, delay, unmatched, checks in alarm, 3 recalls
    dashboards: int = 1
    kms_keys: int = 1
    monitor_runs: int = 43_200  # one a minute
    monitor_gb_seconds: float = 43_200 * 1.5 * 0.5  # ~1.5 s at 512 MB
    quality_queries: int = 720  # hourly Athena query at the 10 MB minimum
    archive_puts: int = 8_640  # Firehose: one object per 5 minutes, only while records arrive


def fixed_monthly_stack(counts: FixedCounts = FixedCounts(), *, traffic: bool, p: Prices = PRICES) -> list[tuple[str, float]]:
    """The stack's monthly cost that does not grow with traffic: before any request, and at steady traffic."""
    metrics = (
        counts.inference_metrics + counts.monitor_metrics + counts.quality_metrics
        if traffic
        else counts.monitor_metrics_idle + counts.quality_metrics_idle
    )
    return [
        (f"custom metrics ({metrics} with data every hour)", metrics * p.custom_metric_month),
        (f"alarms ({counts.alarm_metrics} alarm metrics)", counts.alarm_metrics * p.alarm_metric_month),
        ("dashboard", counts.dashboards * p.dashboard_month),
        ("KMS key", counts.kms_keys * p.kms_key_month),
        (
            "monitor Lambda (one run a minute)",
            counts.monitor_gb_seconds * p.lambda_gb_second_arm + counts.monitor_runs * p.lambda_request_arm,
        ),
        ("quality query (Athena, hourly)", counts.quality_queries * p.athena_minimum_bytes / 1e12 * p.athena_tb),
        ("archive S3 PUTs", counts.archive_puts / 1000 * p.s3_put_thousand if traffic else 0.0),
    ]


def with_row_bytes(m: Measured, row_bytes: float, caller_bytes_per_row: float) -> Measured:
    """`m` with another prediction-log layout: `row_bytes` per row; compressed sizes scale with it (gzip's ratio)."""
    return replace(
        m,
        record_bytes=row_bytes,
        caller_bytes=caller_bytes_per_row,
        gzip_bytes_per_record=row_bytes * m.storage_ratio,
    )


def row_bytes_budget(option: ApiOption, target: float, rows_per_request: int, m: Measured = Measured()) -> float:
    """Bytes of prediction log per row (caller included) at which the front door costs `target` per million rows."""

    def cost(row_bytes: float) -> float:
        return scenario(option, 1e6, rows_per_request, with_row_bytes(m, row_bytes, 0.0)).variable

    low, high = cost(100.0), cost(1000.0)  # every cost line is linear in the bytes per row
    return 100.0 + 900.0 * (target - low) / (high - low)


def fixed_monthly(option: ApiOption, p: Prices = PRICES) -> float:
    """The API option's own fixed monthly cost (the rest of the stack's ~$12/month is the same for every option)."""
    return p.waf_web_acl_month + p.waf_rules * p.waf_rule_month if option is ApiOption.REST_WAF else 0.0


@dataclass(frozen=True)
class Scenario:
    option: ApiOption
    predictions: float
    rows_per_request: int
    variable: float
    fixed: float
    dominant: str

    @property
    def total(self) -> float:
        return self.variable + self.fixed


def scenario(
    option: ApiOption, predictions: float, rows_per_request: int, m: Measured = Measured(), p: Prices = PRICES
) -> Scenario:
    lines = monthly_lines(option, predictions, rows_per_request, m, p)
    fixed = fixed_monthly(option, p)
    dominant = max(lines, key=lambda line: line.dollars)
    if fixed > dominant.dollars:
        dominant = Line("WAF web ACL and rules (fixed)", fixed, "")
    return Scenario(option, predictions, rows_per_request, sum(line.dollars for line in lines), fixed, dominant.item)
