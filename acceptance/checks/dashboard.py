"""7. Dashboard: it exists, and every metric its widgets plot exists (ListMetrics), so no graph is empty by typo.

EMF metrics reach ListMetrics a few minutes after the run that emitted them (the quality run is the check just
before), so missing metrics are asked again, a bounded number of times, before the row fails.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..context import RunContext
from ..results import CheckResult, Status

NAME = "7 dashboard"
METRIC_ATTEMPTS = 10
METRIC_RETRY_SECONDS = 30  # 10 x 30 s: EMF metrics usually list within a few minutes


@dataclass(frozen=True, order=True)
class MetricRef:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]

    def label(self) -> str:
        dims = ",".join(f"{k}={v}" for k, v in self.dimensions)
        return f"{self.namespace}/{self.name}" + (f"[{dims}]" if dims else "")


def dashboard_metrics(body: Mapping[str, Any]) -> tuple[list[MetricRef], list[str]]:
    """Metrics of every widget (the documented array form, "." repeating the previous row) and log groups queried."""
    metrics: list[MetricRef] = []
    log_groups: list[str] = []
    for widget in body.get("widgets", []):
        properties = widget.get("properties", {})
        query = str(properties.get("query", ""))
        if widget.get("type") == "log" and "SOURCE" in query:
            log_groups += [part.split("'")[1] for part in query.split("SOURCE")[1:] if "'" in part]
        previous: list[Any] = []
        for entry in properties.get("metrics", []):
            items = [x for x in entry if not isinstance(x, dict)]
            if not items:  # a math expression: [{"expression": ..., "id": ...}]
                continue
            resolved = [previous[i] if x == "." and i < len(previous) else x for i, x in enumerate(items)]
            previous = resolved
            namespace, name, *pairs = resolved
            dimensions = tuple(sorted((str(pairs[i]), str(pairs[i + 1])) for i in range(0, len(pairs) - 1, 2)))
            metrics.append(MetricRef(str(namespace), str(name), dimensions))
    return sorted(set(metrics)), log_groups


def metric_exists(cloudwatch: Any, ref: MetricRef) -> bool:
    """ListMetrics returns metrics with at least these dimensions: require the exact set."""
    dims = [{"Name": k, "Value": v} for k, v in ref.dimensions]
    reply = cloudwatch.list_metrics(Namespace=ref.namespace, MetricName=ref.name, Dimensions=dims)
    wanted = set(ref.dimensions)
    return any({(d["Name"], d["Value"]) for d in m.get("Dimensions", [])} == wanted for m in reply.get("Metrics", []))


def check_dashboard(ctx: RunContext) -> list[CheckResult]:
    dashboards = ctx.resource_ids("AWS::CloudWatch::Dashboard")
    if not dashboards:
        return [CheckResult(NAME, Status.FAIL, "the stack has no dashboard")]
    cloudwatch = ctx.clients("cloudwatch")
    body = json.loads(cloudwatch.get_dashboard(DashboardName=dashboards[0])["DashboardBody"])
    metrics, log_groups = dashboard_metrics(body)
    absent = list(metrics)
    for attempt in range(METRIC_ATTEMPTS):
        absent = [m for m in absent if not metric_exists(cloudwatch, m)]
        ctx.usage.cloudwatch_requests += len(absent)
        if not absent or attempt == METRIC_ATTEMPTS - 1:
            break
        ctx.sleep(METRIC_RETRY_SECONDS)
    missing = [m.label() for m in absent]
    logs = ctx.clients("logs")
    for group in log_groups:
        if not logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups"):
            missing.append(f"log group {group}")
    ctx.usage.cloudwatch_requests += 1
    summary = f"{len(body.get('widgets', []))} widgets, {len(metrics)} metrics, {len(log_groups)} log queries"
    if missing:
        return [
            CheckResult(
                NAME,
                Status.FAIL,
                f"{len(missing)} of {len(metrics)} plotted metrics do not exist; {summary}",
                observations=missing,
            )
        ]
    return [CheckResult(NAME, Status.PASS, f"every plotted metric exists: {summary}")]
