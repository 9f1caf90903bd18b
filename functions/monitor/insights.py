"""CloudWatch Logs Insights: the AWS engine for the window aggregates.

Rendering and parsing are pure (golden-tested); `InsightsRunner` drives
StartQuery/GetQueryResults with bounded polling, StopQuery on timeout and
bounded retries on throttling. Its clock and sleep are injected so tests never
wait. A query that did not complete raises: the monitor never judges a window
it did not read.

Only documented behaviour is relied on (docs/monitor.md lists each with its
AWS source):
- `count`, `count_distinct`, `avg`, `stddev`, `sum` of numeric fields and `stats ... by` fields that every
  matched event has (docs: CWL_QuerySyntax-Stats);
- `fields` with arithmetic, `ceil`, `greatest`, `least` (docs: CWL_QuerySyntax-operations-functions): the
  number of rows below a training cut is `sum(least(1, greatest(0, ceil(cut - x))))`, which is 1 exactly when
  x < cut, 0 when x >= cut, and null (skipped by sum) when x is missing;
- no sum of booleans: outliers come from `count(*) by is_outlier, prediction` over prediction lines (both
  fields are on every prediction line) and the group value is parsed as "true"/"1" or "false"/"0";
- rejected and failed lines are counted in their own query grouped `by message` only, a field every line has;
- a categorical feature's rows per listed category: one query per feature, `filter ... and features.<f> in
  [listed]` (set membership of complete strings, CWL_QuerySyntax-Filter) then `stats count(*) by features.<f>`
  `| sort n desc | limit <listed>`: the groups never outnumber the listed categories, whatever values callers
  send, and the cap states that bound. Its rows with a value come from `count(features.<f>)` in the scalar
  queries; every row with a value that is not listed is `unseen` (rows with a value minus the listed counts).
  One grouped query over several features was left out on purpose: its groups are the combinations of values,
  unlisted ones included, so a cap on them can drop listed rows of one feature because another feature's values
  are many, and blame the wrong feature; one query per feature is exact for one more scan of the window each.
  A numbers-only model runs none of these.

Limits that shape the rendering:
- `queryString` is at most 10,000 characters (StartQuery API reference).
- AWS documents no maximum number of aggregations in one `stats`: we cap it at `MAX_AGGREGATIONS_PER_QUERY`
  (100, our choice) and split the per-feature aggregates over several queries (`plan_query_groups`).
  Queries per window: 2 grouped + ceil(features x (3 + cuts) / 100) or more when the text binds first
  (iris 3, wine 4, 200 features ~31). Each query scans the window's log bytes once, so bytes scanned per
  window = queries x the window's log volume. At most `MAX_CONCURRENT_QUERIES` run at once (the account's
  quota, 30 per the StartQuery reference, is shared with dashboards and people); the rest wait their turn.
- Logs Insights extracts at most 200 JSON fields per event, counted in the order they appear in the line
  (model_artifact.LOGS_INSIGHTS_MAX_JSON_FIELDS). A prediction line's fixed keys come first, then the
  features: a feature whose field lies past the cap is read with `parse @message` and a regular expression
  bounded to the `features` object (CWL_QuerySyntax-Parse), under its own field name. Should AWS extract
  nothing for it either, the feature's count is 0 and the data-quality check alarms naming it: never judged
  healthy on values not read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from functions.contract import prediction_log as log
from functions.contract.model_artifact import (
    FEATURE_CATEGORICAL,
    LOGS_INSIGHTS_MAX_JSON_FIELDS,
    Baseline,
    ModelArtifactError,
    check_feature_limit,
    feature_field_position,
)

from .aggregates import (
    ALIAS_CLASS_COUNTS,
    ALIAS_MESSAGE_COUNTS,
    ALIAS_OUTLIER_GROUPS,
    AggregateError,
    AggregateSpec,
    Func,
    WindowAggregates,
    build_specs,
    feature_field,
)

MAX_QUERY_CHARS = 10_000
MAX_AGGREGATIONS_PER_QUERY = 100
MAX_CONCURRENT_QUERIES = 8  # the account's concurrent-query quota (30) is shared with dashboards and people
GROUP_COUNT_ALIAS = "n"
# StartQuery takes epoch seconds and both ends are inclusive; records are then cut exactly by their own ms timestamp.
INGEST_SLACK_SECONDS = 5


class QueryError(RuntimeError):
    """A Logs Insights query failed, timed out, was cancelled or was throttled past the retries."""


class FeatureLimitError(ValueError):
    """The model has more features than the monitor's Logs Insights queries can aggregate."""


@dataclass(frozen=True)
class InsightsQuery:
    name: str  # "aggregates-1", "outliers-and-classes", "messages"
    text: str
    specs: tuple[AggregateSpec, ...]
    grouped: bool  # True: one result row per group


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _filter(baseline: Baseline, messages: Sequence[str], start_ms: int, end_ms: int) -> str:
    if len(messages) == 1:
        which = f"{log.KEY_MESSAGE} = {_quote(messages[0])}"
    else:
        which = f"{log.KEY_MESSAGE} in [{', '.join(_quote(m) for m in messages)}]"
    probes = ", ".join(_quote(endpoint) for endpoint in log.SAMPLE_ENDPOINTS)
    return (
        f"filter {which} and {log.KEY_MODEL} = {_quote(baseline.model_name)}"
        f" and {log.KEY_TIMESTAMP} >= {start_ms} and {log.KEY_TIMESTAMP} < {end_ms}"
        f" and {log.KEY_ENDPOINT} not in [{probes}]"
    )


def indicator_field(spec: AggregateSpec) -> str:
    return "i" + spec.alias


def render_indicator(spec: AggregateSpec) -> str:
    """1 when the field is below the cut, else 0: documented numeric functions only (no comparison results summed)."""
    return f"least(1, greatest(0, ceil({float(spec.cut or 0.0)!r} - {spec.field}))) as {indicator_field(spec)}"


def render_aggregate(spec: AggregateSpec) -> str:
    """One `stats` term."""
    if spec.func is Func.COUNT:
        inner = "*" if spec.field is None else spec.field
        return f"count({inner}) as {spec.alias}"
    if spec.func is Func.BELOW:
        return f"sum({indicator_field(spec)}) as {spec.alias}"
    if spec.func in (Func.AVG, Func.STDDEV, Func.COUNT_DISTINCT):
        return f"{spec.func.value}({spec.field}) as {spec.alias}"
    raise ValueError(f"{spec.alias}: {spec.func} is not a scalar aggregate")


def parsed_feature_fields(baseline: Baseline, max_fields: int = LOGS_INSIGHTS_MAX_JSON_FIELDS) -> dict[str, str]:
    """`features.<name>` -> the field a query reads instead, for each feature whose field lies past the cap
    (`v<i>` for a number, `s<i>` for a category's string)."""
    types = baseline.feature_types
    return {
        feature_field(name): f"{'s' if types[index] == FEATURE_CATEGORICAL else 'v'}{index}"
        for index, name in enumerate(baseline.feature_names)
        if feature_field_position(index) > max_fields
    }


def render_parse(field: str, parsed: str) -> str:
    """The value of `features.<name>` from the raw line, within the flat `features` object: a number, or for a
    category (`s<i>`) the characters between its quotes."""
    name = field.split(".", 1)[1]
    value = f'"(?<{parsed}>[^"]*)"' if parsed.startswith("s") else f"(?<{parsed}>[^,}}]+)"
    return f'parse @message /"{log.KEY_FEATURES}":\\{{[^}}]*"{name}":{value}/'


def _scalar_text(head: str, specs: Sequence[AggregateSpec], parsed: Mapping[str, str] | None = None) -> str:
    parsed = parsed or {}
    read = [field for field in parsed if any(s.field == field for s in specs)]  # in feature order
    parses = "".join(f"\n| {render_parse(field, parsed[field])}" for field in read)
    shown = [dataclasses.replace(s, field=parsed[s.field]) if s.field is not None and s.field in parsed else s for s in specs]
    below = [s for s in shown if s.func is Func.BELOW]
    fields = ("\n| fields " + ",\n  ".join(render_indicator(s) for s in below)) if below else ""
    return head + parses + fields + "\n| stats " + ",\n  ".join(render_aggregate(s) for s in shown)


def plan_query_groups(
    head: str,
    scalar: Sequence[AggregateSpec],
    parsed: Mapping[str, str],
    *,
    max_aggregations: int = MAX_AGGREGATIONS_PER_QUERY,
    max_chars: int = MAX_QUERY_CHARS,
) -> list[list[AggregateSpec]]:
    """Scalar specs in query-sized groups, in order; a feature's specs are never split across two queries."""
    units: list[list[AggregateSpec]] = []
    for spec in scalar:
        if spec.feature is not None and units and units[-1][0].feature == spec.feature:
            units[-1].append(spec)
        else:
            units.append([spec])
    chunks: list[list[AggregateSpec]] = []
    for unit in units:
        candidate = [*chunks[-1], *unit] if chunks else unit
        if chunks and len(candidate) <= max_aggregations and len(_scalar_text(head, candidate, parsed)) <= max_chars:
            chunks[-1] = candidate
            continue
        if len(unit) > max_aggregations or len(_scalar_text(head, unit, parsed)) > max_chars:
            raise FeatureLimitError(f"feature {unit[0].feature!r} alone does not fit one Logs Insights query")
        chunks.append(list(unit))
    return chunks


def render_queries(
    baseline: Baseline,
    start_ms: int,
    end_ms: int,
    *,
    max_aggregations: int = MAX_AGGREGATIONS_PER_QUERY,
    max_chars: int = MAX_QUERY_CHARS,
) -> tuple[InsightsQuery, ...]:
    """All queries for one window: scalar prediction aggregates split into chunks, plus two grouped count queries."""
    try:
        check_feature_limit(baseline.n_features)
    except ModelArtifactError as error:
        raise FeatureLimitError(f"model '{baseline.model_name}': {error}") from None
    specs = build_specs(baseline)
    scalar = [s for s in specs if s.func not in (Func.COUNT_BY, Func.COUNT_LISTED)]
    grouped = {s.alias: s for s in specs if s.func is Func.COUNT_BY}
    # A regressor's `prediction` is a number: grouping by it would give a group per value, so its outliers are
    # grouped by is_outlier alone (its output distribution is in the scalar queries).
    expected = {ALIAS_OUTLIER_GROUPS, ALIAS_MESSAGE_COUNTS} | (set() if baseline.is_regression else {ALIAS_CLASS_COUNTS})
    if set(grouped) != expected:
        raise ValueError(f"unexpected grouped aggregates: {sorted(grouped)}")

    head = _filter(baseline, [log.MESSAGE_PREDICTION], start_ms, end_ms)
    parsed = parsed_feature_fields(baseline)
    chunks = plan_query_groups(head, scalar, parsed, max_aggregations=max_aggregations, max_chars=max_chars)
    queries = [
        InsightsQuery(name=f"aggregates-{index}", text=_scalar_text(head, chunk, parsed), specs=tuple(chunk), grouped=False)
        for index, chunk in enumerate(chunks, start=1)
    ]
    if baseline.is_regression:
        queries.append(
            InsightsQuery(
                name="outliers",
                text=head + f"\n| stats count(*) as {GROUP_COUNT_ALIAS} by {log.KEY_IS_OUTLIER}",
                specs=(grouped[ALIAS_OUTLIER_GROUPS],),
                grouped=True,
            )
        )
    else:
        queries.append(
            InsightsQuery(
                name="outliers-and-classes",
                text=head + f"\n| stats count(*) as {GROUP_COUNT_ALIAS} by {log.KEY_IS_OUTLIER}, {log.KEY_PREDICTION}",
                specs=(grouped[ALIAS_OUTLIER_GROUPS], grouped[ALIAS_CLASS_COUNTS]),
                grouped=True,
            )
        )
    queries += [category_query(head, spec, parsed) for spec in specs if spec.func is Func.COUNT_LISTED]
    queries.append(
        InsightsQuery(
            name="messages",
            text=_filter(baseline, [log.MESSAGE_REJECTED, log.MESSAGE_FAILED], start_ms, end_ms)
            + f"\n| stats count(*) as {GROUP_COUNT_ALIAS} by {log.KEY_MESSAGE}",
            specs=(grouped[ALIAS_MESSAGE_COUNTS],),
            grouped=True,
        )
    )
    return tuple(queries)


def category_query(head: str, spec: AggregateSpec, parsed: Mapping[str, str]) -> InsightsQuery:
    """Rows per listed category of one feature: filtered to the listed values, so at most that many groups."""
    assert spec.field is not None and spec.feature is not None
    listed = ", ".join(_quote(category) for category in spec.categories)
    if spec.field in parsed:  # past the JSON field cap: the value is parsed from the line first
        field = parsed[spec.field]
        text = f"{head}\n| {render_parse(spec.field, field)}\n| filter {field} in [{listed}]"
    else:
        field = spec.field
        text = f"{head} and {field} in [{listed}]"
    text += (
        f"\n| stats count(*) as {GROUP_COUNT_ALIAS} by {field}\n| sort {GROUP_COUNT_ALIAS} desc\n| limit {len(spec.categories)}"
    )
    return InsightsQuery(
        name=f"categories-{spec.feature}", text=text, specs=(dataclasses.replace(spec, field=field),), grouped=True
    )


def _number(field: str, raw: str, *, finite: bool = True) -> float:
    try:
        value = float(raw)
    except ValueError as error:
        raise AggregateError(f"field '{field}': {raw!r} is not a number") from error
    if finite and not math.isfinite(value):
        raise AggregateError(f"field '{field}': {raw!r} is not finite")
    return value


def parse_scalar_results(query: InsightsQuery, results: Sequence[Sequence[Mapping[str, str]]]) -> dict[str, float | None]:
    """One row of strings; no row (no matching events) or a missing field means 'no value'."""
    if len(results) > 1:
        raise AggregateError(f"query {query.name}: expected one row, got {len(results)}")
    row = {cell["field"]: cell.get("value") for cell in results[0]} if results else {}
    values: dict[str, float | None] = {}
    for spec in query.specs:
        raw = row.get(spec.alias)
        # a statistic over a NaN or 1e308 in a line: `WindowAggregates` counts it unreadable, data_quality judges it
        values[spec.alias] = None if raw is None or raw == "" else _number(spec.alias, raw, finite=False)
    return values


def _count(raw: str | None) -> int:
    if raw is None:
        raise AggregateError(f"grouped counts: a row has no '{GROUP_COUNT_ALIAS}'")
    n = _number(GROUP_COUNT_ALIAS, raw)
    if n < 0 or n != int(n):
        raise AggregateError(f"grouped counts: {raw!r} is not a count")
    return int(n)


def parse_grouped_results(query: InsightsQuery, results: Sequence[Sequence[Mapping[str, str]]]) -> dict[str, dict[str, int]]:
    """Rows of (group fields..., n) -> per grouped spec, count per group value ('' when a group field is absent)."""
    groups: dict[str, dict[str, int]] = {spec.alias: {} for spec in query.specs}
    for result_row in results:
        row = {cell["field"]: cell.get("value") for cell in result_row}
        n = _count(row.get(GROUP_COUNT_ALIAS))
        for spec in query.specs:
            key = row.get(spec.field or "") or ""
            groups[spec.alias][key] = groups[spec.alias].get(key, 0) + n
    return groups


# --- running the queries ---------------------------------------------------------------------------------------

THROTTLING_CODES = frozenset(
    {"LimitExceededException", "ThrottlingException", "TooManyRequestsException", "ServiceUnavailableException"}
)
FAILED_STATUSES = frozenset({"Failed", "Cancelled", "Timeout", "Unknown"})
PENDING_STATUSES = frozenset({"Scheduled", "Running"})


def _error_code(error: Exception) -> str | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


@dataclass
class InsightsRunner:
    """Runs a window's queries, at most `max_concurrent` at a time; every wait and retry is bounded."""

    client: Any  # boto3 "logs" client
    log_group: str
    timeout_seconds: float
    max_concurrent: int = MAX_CONCURRENT_QUERIES
    poll_interval_seconds: float = 1.0
    max_start_attempts: int = 4
    backoff_seconds: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def _start(self, query: InsightsQuery, start_ms: int, end_ms: int) -> str:
        for attempt in range(1, self.max_start_attempts + 1):
            try:
                response = self.client.start_query(
                    logGroupName=self.log_group,
                    startTime=start_ms // 1000 - INGEST_SLACK_SECONDS,
                    endTime=math.ceil(end_ms / 1000) + INGEST_SLACK_SECONDS,
                    queryString=query.text,
                    limit=10_000,
                )
                return str(response["queryId"])
            except Exception as error:
                code = _error_code(error)
                if code not in THROTTLING_CODES:
                    raise QueryError(f"StartQuery for {query.name} failed: {error}") from error
                if attempt == self.max_start_attempts:
                    raise QueryError(f"StartQuery for {query.name} still throttled after {attempt} attempts ({code})") from error
                self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _stop_all(self, query_ids: Mapping[str, str]) -> None:
        for query_id in query_ids.values():
            # Best effort: the query may have just finished; the caller raises anyway.
            with contextlib.suppress(Exception):
                self.client.stop_query(queryId=query_id)

    def run(self, queries: Sequence[InsightsQuery], start_ms: int, end_ms: int) -> dict[str, list[list[dict[str, str]]]]:
        """Query name -> complete result rows. Raises QueryError on any failure, status or timeout."""
        deadline = self.clock() + self.timeout_seconds
        pending: dict[str, str] = {}
        waiting = list(queries)

        def start_more() -> None:
            try:
                while waiting and len(pending) < self.max_concurrent:
                    query = waiting.pop(0)
                    pending[query.name] = self._start(query, start_ms, end_ms)
            except QueryError:
                self._stop_all(pending)
                raise

        start_more()
        results: dict[str, list[list[dict[str, str]]]] = {}
        throttled = 0
        while pending:
            for name, query_id in list(pending.items()):
                try:
                    response = self.client.get_query_results(queryId=query_id)
                except Exception as error:
                    code = _error_code(error)
                    throttled += 1
                    if code not in THROTTLING_CODES or throttled >= self.max_start_attempts:
                        self._stop_all(pending)
                        raise QueryError(f"GetQueryResults for {name} failed: {error}") from error
                    continue
                status = response.get("status")
                if status == "Complete":
                    results[name] = response.get("results", [])
                    del pending[name]
                elif status in FAILED_STATUSES:
                    del pending[name]
                    self._stop_all(pending)
                    raise QueryError(f"Logs Insights query {name} ended with status {status}")
                elif status not in PENDING_STATUSES:
                    self._stop_all(pending)
                    raise QueryError(f"Logs Insights query {name}: unknown status {status!r}")
            start_more()
            if not pending:
                break
            if self.clock() >= deadline:
                self._stop_all(pending)
                raise QueryError(f"Logs Insights queries {sorted(pending)} incomplete after {self.timeout_seconds:g} s; stopped")
            self.sleep(self.poll_interval_seconds)
        return results


@dataclass
class InsightsEngine:
    """Reads one window's aggregates from Logs Insights."""

    baseline: Baseline
    runner: InsightsRunner

    def __post_init__(self) -> None:
        render_queries(self.baseline, 0, 1)  # refuse an unmonitorable model at cold start, not at the first window

    def read(self, start_ms: int, end_ms: int) -> WindowAggregates:
        queries = render_queries(self.baseline, start_ms, end_ms)
        results = self.runner.run(queries, start_ms, end_ms)
        values: dict[str, float | None] = {}
        groups: dict[str, dict[str, int]] = {}
        for query in queries:
            rows = results[query.name]
            if query.grouped:
                groups.update(parse_grouped_results(query, rows))
            else:
                values.update(parse_scalar_results(query, rows))
        return WindowAggregates.from_values(self.baseline, values, groups, start_ms=start_ms, end_ms=end_ms)


def render_future_query(baseline: Baseline, after_ms: int) -> InsightsQuery:
    """Prediction records stamped at or after `after_ms` (clock skew, forged time), counted over recent events."""
    probes = ", ".join(_quote(endpoint) for endpoint in log.SAMPLE_ENDPOINTS)
    text = (
        f"filter {log.KEY_MESSAGE} = {_quote(log.MESSAGE_PREDICTION)} and {log.KEY_MODEL} = {_quote(baseline.model_name)}"
        f" and {log.KEY_TIMESTAMP} >= {int(after_ms)} and {log.KEY_ENDPOINT} not in [{probes}]"
        f"\n| stats count(*) as {GROUP_COUNT_ALIAS}"
    )
    return InsightsQuery(name="future-records", text=text, specs=(), grouped=False)


def parse_count(results: Sequence[Sequence[Mapping[str, str]]]) -> int:
    """The single `n` of a count query; no row means no matching record."""
    if not results:
        return 0
    row = {cell["field"]: cell.get("value") for cell in results[0]}
    return _count(row.get(GROUP_COUNT_ALIAS))


FUTURE_LOOKBACK_MS = 60_000  # one minute of events per run, runs a minute apart: each event examined once


@dataclass
class CloudWatchRowCounter:
    """The inference function's `Predictions` count per minute (GetMetricData) and future-stamped records (Insights)."""

    cloudwatch: Any  # boto3 "cloudwatch" client
    runner: InsightsRunner
    baseline: Baseline
    namespace: str
    inference_service: str

    def rows_per_minute(self, start_ms: int, end_ms: int) -> dict[int, int]:
        from datetime import UTC, datetime

        from functions.contract import names

        query = {
            "Id": "predictions",
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": names.METRIC_PREDICTIONS,
                    "Dimensions": [
                        {"Name": names.MODEL_DIMENSION, "Value": self.baseline.model_name},
                        {"Name": "service", "Value": self.inference_service},
                    ],
                },
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        request: dict[str, Any] = {
            "MetricDataQueries": [query],
            "StartTime": datetime.fromtimestamp(start_ms / 1000, tz=UTC),
            "EndTime": datetime.fromtimestamp(end_ms / 1000, tz=UTC),
            "ScanBy": "TimestampAscending",
        }
        out: dict[int, int] = {}
        while True:
            response = self.cloudwatch.get_metric_data(**request)
            for result in response.get("MetricDataResults", []):
                for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                    out[int(stamp.timestamp() * 1000)] = int(value)
            token = response.get("NextToken")
            if not token:
                return out
            request["NextToken"] = token

    def future_rows(self, after_ms: int) -> int:
        """Among the events of the minute before `after_ms` - 1 min (the run's own minute), those stamped >= after_ms."""
        query = render_future_query(self.baseline, after_ms)
        end = after_ms - 60_000
        return parse_count(self.runner.run([query], end - FUTURE_LOOKBACK_MS, end)[query.name])
