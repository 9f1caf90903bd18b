"""The ONE place the acceptance suite touches the monitor's internals: its aggregate specs (`aggregates.py`), its
Logs Insights rendering, runner and parsers (`insights.py`), and its DuckDB statement (`local_sql.py`).

Everything returned here is plain data (`Aggregate`, `NamedQuery`, `WindowValues`), so the comparator, the probes
and the checks do not import functions.monitor at all. Both engines' answers are read by the monitor's own code
and typed by the monitor's own `WindowAggregates.from_values`, so a difference found here is a difference the
monitor would judge.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline
from functions.monitor import aggregates as monitor_aggregates
from functions.monitor import insights as monitor_insights
from functions.monitor import local_sql as monitor_sql

ALIAS_ROWS = monitor_aggregates.ALIAS_ROWS
ALIAS_REQUESTS = monitor_aggregates.ALIAS_REQUESTS
ALIAS_CLASS_COUNTS = monitor_aggregates.ALIAS_CLASS_COUNTS
ALIAS_OUTLIER_GROUPS = monitor_aggregates.ALIAS_OUTLIER_GROUPS
ALIAS_MESSAGE_COUNTS = monitor_aggregates.ALIAS_MESSAGE_COUNTS
OTHER_CLASS = monitor_aggregates.OTHER_CLASS
# How the monitor reads a group value of `by is_outlier` (Logs Insights does not document a boolean's spelling).
TRUE_SPELLINGS = monitor_aggregates.TRUE_SPELLINGS
FALSE_SPELLINGS = monitor_aggregates.FALSE_SPELLINGS
# The messages the monitor reads from `count(*) by message`: its Logs Insights query is filtered to these two (the
# DuckDB statement also counts prediction lines in that group; the monitor reads them as `rows` instead).
MESSAGES_READ = (log.MESSAGE_REJECTED, log.MESSAGE_FAILED)
WINDOW_MESSAGES = (log.MESSAGE_PREDICTION, *MESSAGES_READ)
# The numbers the monitor's checks judge, as its own `WindowAggregates.from_values` types them from either engine.
SUMMARY_FIELDS = ("rows", "outliers", "outlier_unreadable", "requests", "rejected", "failed")

Rows = list[list[dict[str, str]]]  # GetQueryResults' `results`


@dataclass(frozen=True)
class Aggregate:
    """One number (or one group of counts) the monitor reads from a window, engine-neutral."""

    alias: str
    kind: str  # count, avg, stddev, count_distinct, below, count_by
    field: str | None  # dotted path in the log line; None for count(*)
    message: str  # a message, or "*" for prediction, rejected and failed lines
    cut: float | None = None  # for `below`: rows whose field is strictly below it


@dataclass(frozen=True)
class NamedQuery:
    name: str
    text: str
    grouped: bool = False
    aliases: tuple[str, ...] = ()  # scalar query: its `stats` aliases; grouped query: its `by` fields


@dataclass(frozen=True)
class WindowValues:
    """One engine's answer for a window: scalar values by alias, counts per group value by grouped alias, and the
    numbers the monitor's checks judge (None, with `error` saying why, when the monitor could not read them)."""

    values: dict[str, float | None]
    groups: dict[str, dict[str, int]]
    summary: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def window_aggregates(baseline: Baseline) -> list[Aggregate]:
    return [
        Aggregate(alias=s.alias, kind=s.func.value, field=s.field, message=s.message, cut=s.cut)
        for s in monitor_aggregates.build_specs(baseline)
    ]


def _monitor_queries(baseline: Baseline, start_ms: int, end_ms: int) -> tuple[monitor_insights.InsightsQuery, ...]:
    return monitor_insights.render_queries(baseline, start_ms, end_ms)


def insights_queries(baseline: Baseline, start_ms: int, end_ms: int) -> list[NamedQuery]:
    """The monitor's own Logs Insights queries for the window, verbatim."""
    out = []
    for q in _monitor_queries(baseline, start_ms, end_ms):
        aliases = tuple(s.field or "" for s in q.specs) if q.grouped else tuple(s.alias for s in q.specs)
        out.append(NamedQuery(q.name, q.text, q.grouped, aliases))
    return out


def run_insights(
    client: Any,
    log_group: str,
    queries: Sequence[NamedQuery],
    start_ms: int,
    end_ms: int,
    *,
    timeout_seconds: float = 120.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Rows]:
    """The monitor's own runner (concurrent queries, bounded polling, StopQuery on timeout): query name -> rows."""
    runner = monitor_insights.InsightsRunner(
        client=client, log_group=log_group, timeout_seconds=timeout_seconds, poll_interval_seconds=2.0, clock=clock, sleep=sleep
    )
    return runner.run(list(queries), start_ms, end_ms)  # type: ignore[arg-type]  # duck-typed: name and text


def normalise_groups(groups: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """Group keys as the monitor reads them: an outlier flag's spelling ("1", "true") as "true"/"false", and only
    the messages its Logs Insights query counts."""
    out: dict[str, dict[str, int]] = {}
    for alias, counts in groups.items():
        target: dict[str, int] = {}
        for raw, n in counts.items():
            key, spelling = raw, raw.strip().lower()
            if alias == ALIAS_OUTLIER_GROUPS and spelling in TRUE_SPELLINGS:
                key = "true"
            elif alias == ALIAS_OUTLIER_GROUPS and spelling in FALSE_SPELLINGS:
                key = "false"
            if alias == ALIAS_MESSAGE_COUNTS and key not in MESSAGES_READ:
                continue
            target[key] = target.get(key, 0) + n
        out[alias] = target
    return out


def _typed(
    baseline: Baseline, values: dict[str, float | None], groups: dict[str, dict[str, int]], start_ms: int, end_ms: int
) -> WindowValues:
    """Type the raw answer with the monitor's own reader; its refusal (AggregateError) is recorded, not raised."""
    try:
        window = monitor_aggregates.WindowAggregates.from_values(baseline, values, groups, start_ms=start_ms, end_ms=end_ms)
    except monitor_aggregates.AggregateError as error:
        return WindowValues(values, normalise_groups(groups), error=f"the monitor refuses this answer: {error}")
    summary = {name: float(getattr(window, name)) for name in SUMMARY_FIELDS}
    return WindowValues(values, normalise_groups(groups), summary)


def insights_values(baseline: Baseline, start_ms: int, end_ms: int, results: Mapping[str, Rows]) -> WindowValues:
    """Parse the monitor's queries' results exactly as the monitor does (its parsers, then its typing)."""
    values: dict[str, float | None] = {}
    groups: dict[str, dict[str, int]] = {}
    errors: list[str] = []
    for query in _monitor_queries(baseline, start_ms, end_ms):
        rows = results.get(query.name, [])
        try:
            if query.grouped:
                groups.update(monitor_insights.parse_grouped_results(query, rows))
            else:
                values.update(monitor_insights.parse_scalar_results(query, rows))
        except monitor_aggregates.AggregateError as error:
            errors.append(f"{query.name}: {error}")
            if not query.grouped:  # keep the query's other values comparable; the unreadable one counts as absent
                cells = {cell["field"]: cell.get("value") for row in rows[:1] for cell in row}
                values.update({s.alias: _float_or_none(cells.get(s.alias)) for s in query.specs})
    if errors:
        return WindowValues(values, normalise_groups(groups), error="the monitor cannot parse the answer: " + "; ".join(errors))
    return _typed(baseline, values, groups, start_ms, end_ms)


def _float_or_none(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def duckdb_values(baseline: Baseline, records: Iterable[Mapping[str, Any]], start_ms: int, end_ms: int) -> WindowValues:
    """The monitor's own DuckDB statement (`local_sql.render_sql`) over the given records, written to a temporary
    JSON-lines file as the local server writes its log."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="acceptance-") as folder:
        path = Path(folder) / "records.jsonl"
        lines = [json.dumps(record, separators=(",", ":")) for record in records]
        path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
        query = monitor_sql.render_sql(baseline, str(path), start_ms, end_ms)
        # read_json cannot type an empty file: an empty window is all NULLs and zero counts
        row = duckdb.connect().execute(query.sql).fetchone() if lines else tuple(None for _ in query.output)
    values, groups, _, _ = monitor_sql.read_row(query, row or ())
    return _typed(baseline, values, groups, start_ms, end_ms)


def in_window(record: Mapping[str, Any], baseline: Baseline, start_ms: int, end_ms: int, message: str) -> bool:
    """The monitor's window filter, for picking raw records: message, model, time, not a health probe."""
    timestamp = record.get(log.KEY_TIMESTAMP)
    return (
        record.get(log.KEY_MESSAGE) == message
        and record.get(log.KEY_MODEL) == baseline.model_name
        and isinstance(timestamp, int)
        and start_ms <= timestamp < end_ms
        and record.get(log.KEY_ENDPOINT) not in log.SAMPLE_ENDPOINTS
    )
