"""The inference function's metrics, counted by CloudWatch Logs metric filters from the contract lines it already writes.

A per-request EMF document (626 B for iris) was bigger than the prediction line it counted, and log ingestion is
billed per byte; a metric filter reads the lines that are ingested anyway and adds no byte. Each metric here is
one filter on the inference log group: a pattern over the line's keys, the value to count (1, or a field such as
`latency_ms`), and the model as the only dimension (a filter's dimensions are fields of the line; the line has
no `service` key, and the log group is the inference function's own). The names are the EMF names they replace,
so the dashboard and the alarms read the same quantities.

Each filter is written down once, as data (`LineMetric`): `pattern()` renders CloudWatch's filter syntax for the
template, `value_of()` applies the same conditions to a parsed line, so the tests count what the filters would
count over the handler's real output and compare it with what the requests did.

Only the cold start is still EMF (Powertools, once per execution environment). A filter publishes only when a
line matches; custom metrics are billed by the hour they receive data, so `FailedRequests` costs nothing in an
hour without a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_logs as logs
from constructs import Construct

from functions.contract import names
from functions.contract import prediction_log as contract
from functions.contract.json_text import compact_json

ONE_MINUTE = Duration.minutes(1)
MAX_FILTERS_PER_LOG_GROUP = 100  # CloudWatch Logs quota (PutMetricFilter reference)
DIMENSIONS = {names.MODEL_DIMENSION: f"$.{contract.KEY_MODEL}"}


@dataclass(frozen=True)
class Match:
    """`$.key = value` in CloudWatch's JSON filter syntax; a boolean is `$.key IS TRUE/FALSE`; `None` is `= *`."""

    key: str
    value: str | int | bool | None

    def pattern(self) -> str:
        if self.value is None:
            return f"$.{self.key} = *"
        if isinstance(self.value, bool):
            return f"$.{self.key} IS {'TRUE' if self.value else 'FALSE'}"
        if isinstance(self.value, int):
            return f"$.{self.key} = {self.value}"
        return f"$.{self.key} = {compact_json(self.value)}"

    def holds(self, record: Mapping[str, Any]) -> bool:
        if self.key not in record:
            return False
        found = record[self.key]
        if self.value is None:
            return True
        if isinstance(self.value, bool) or isinstance(found, bool):
            return found is self.value
        return bool(found == self.value)


@dataclass(frozen=True)
class LineMetric:
    """One metric filter: any of `clauses` (each an AND of matches) counts `value` (1 or `$.field`)."""

    name: str
    clauses: tuple[tuple[Match, ...], ...]
    value: str = "1"
    unit: cw.Unit = cw.Unit.COUNT

    def pattern(self) -> str:
        def clause(matches: tuple[Match, ...]) -> str:
            text = " && ".join(match.pattern() for match in matches)
            return f"({text})" if len(self.clauses) > 1 and len(matches) > 1 else text

        return "{ " + " || ".join(clause(matches) for matches in self.clauses) + " }"

    def value_of(self, record: Mapping[str, Any]) -> float | None:
        """What the filter publishes for this line, or None when the line does not match."""
        if not any(all(match.holds(record) for match in matches) for matches in self.clauses):
            return None
        if self.value.startswith("$."):
            return float(record[self.value[2:]])
        return float(self.value)


def _is(message: str, *more: Match) -> tuple[Match, ...]:
    return (Match(contract.KEY_MESSAGE, message), *more)


def line_metrics(labels: Sequence[str]) -> list[LineMetric]:
    """Every inference metric, from the contract lines (one per row, rejected, failed or feedback)."""
    first_row = Match(contract.KEY_ROW, 0)  # one line per request: the latency and the request count
    prediction = contract.MESSAGE_PREDICTION
    found = [
        LineMetric(
            names.METRIC_REQUESTS,
            (_is(prediction, first_row), _is(contract.MESSAGE_REJECTED), _is(contract.MESSAGE_FAILED)),
        ),
        LineMetric(names.METRIC_PREDICTIONS, (_is(prediction),)),
        LineMetric(names.METRIC_OUTLIERS, (_is(prediction, Match(contract.KEY_IS_OUTLIER, True)),)),
        LineMetric(
            names.METRIC_LATENCY,
            (_is(prediction, first_row, Match(contract.KEY_LATENCY_MS, None)),),
            value=f"$.{contract.KEY_LATENCY_MS}",
            unit=cw.Unit.MILLISECONDS,
        ),
        LineMetric(names.METRIC_REJECTED, (_is(contract.MESSAGE_REJECTED),)),
        LineMetric(names.METRIC_FAILED, (_is(contract.MESSAGE_FAILED),)),
        LineMetric(names.METRIC_FEEDBACK_LABELS, (_is(contract.MESSAGE_FEEDBACK),)),
        *(LineMetric(names.class_metric(label), (_is(prediction, Match(contract.KEY_PREDICTION, label)),)) for label in labels),
    ]
    if len(found) > MAX_FILTERS_PER_LOG_GROUP:
        raise ValueError(f"{len(labels)} labels need {len(found)} metric filters; a log group takes {MAX_FILTERS_PER_LOG_GROUP}")
    return found


def totals(metrics: Iterable[LineMetric], records: Iterable[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Every value each filter would publish for these lines (what CloudWatch sums, averages or ranks)."""
    chosen = list(metrics)
    published: dict[str, list[float]] = {metric.name: [] for metric in chosen}
    for record in records:
        for metric in chosen:
            value = metric.value_of(record)
            if value is not None:
                published[metric.name].append(value)
    return published


def inference_metric(
    metric_name: str, model: str, *, statistic: str = "Sum", period: Duration = ONE_MINUTE, label: str | None = None
) -> cw.Metric:
    """A metric the filters publish, with their one dimension (the model)."""
    return cw.Metric(
        namespace=names.METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={names.MODEL_DIMENSION: model},
        statistic=statistic,
        period=period,
        label=label,
    )


class LineMetricFilters(Construct):
    """One metric filter per `LineMetric` on the inference log group."""

    def __init__(self, scope: Construct, construct_id: str, *, log_group: logs.ILogGroup, labels: Sequence[str]) -> None:
        super().__init__(scope, construct_id)
        self.metrics = line_metrics(labels)
        self.filters = [
            logs.MetricFilter(
                self,
                metric.name,
                log_group=log_group,
                filter_pattern=logs.FilterPattern.literal(metric.pattern()),
                metric_namespace=names.METRICS_NAMESPACE,
                metric_name=metric.name,
                metric_value=metric.value,
                dimensions=DIMENSIONS,
                unit=metric.unit,
            )
            for metric in self.metrics
        ]
