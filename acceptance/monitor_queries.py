"""The ONE place the acceptance suite touches the monitor's internals (aggregate specs, Insights rendering and
running, the DuckDB statement). The monitor is being reworked on another branch: after merging, re-point the
functions below at its new public API and nothing else in acceptance/ changes.

Everything returned here is plain data (`Aggregate`, `NamedQuery`, dicts of floats), so the comparator, the
probes and the checks do not import functions.monitor at all.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.contract import prediction_log as log
from functions.contract.model_artifact import Baseline
from functions.monitor import aggregates as monitor_aggregates
from functions.monitor import insights as monitor_insights
from functions.monitor import local_sql as monitor_sql

ALIAS_ROWS = monitor_aggregates.ALIAS_ROWS
ALIAS_REJECTED = monitor_aggregates.ALIAS_REJECTED
ALIAS_CLASS_COUNTS = monitor_aggregates.ALIAS_CLASS_COUNTS
OTHER_CLASS = monitor_aggregates.OTHER_CLASS

Rows = list[list[dict[str, str]]]  # GetQueryResults' `results`


@dataclass(frozen=True)
class Aggregate:
    """One number the monitor reads from a window, engine-neutral."""

    alias: str
    kind: str  # count, sum, avg, stddev, min, max, pct, count_distinct, count_by
    field: str | None  # dotted path in the log line; None for count(*)
    message: str
    percent: int | None = None


@dataclass(frozen=True)
class NamedQuery:
    name: str
    text: str
    grouped: bool = False


def window_aggregates(baseline: Baseline) -> list[Aggregate]:
    return [
        Aggregate(alias=s.alias, kind=s.func.value, field=s.field, message=s.message, percent=s.percent)
        for s in monitor_aggregates.build_specs(baseline)
    ]


def _monitor_queries(baseline: Baseline, start_ms: int, end_ms: int) -> tuple[Any, ...]:
    return monitor_insights.render_queries(baseline, start_ms, end_ms)


def insights_queries(baseline: Baseline, start_ms: int, end_ms: int) -> list[NamedQuery]:
    """The monitor's own Logs Insights queries for the window, verbatim."""
    return [NamedQuery(q.name, q.text, q.grouped) for q in _monitor_queries(baseline, start_ms, end_ms)]


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
    """The monitor's own runner (bounded polling, StopQuery on timeout): query name -> result rows."""
    runner = monitor_insights.InsightsRunner(
        client=client, log_group=log_group, timeout_seconds=timeout_seconds, poll_interval_seconds=2.0, clock=clock, sleep=sleep
    )
    return runner.run(list(queries), start_ms, end_ms)  # type: ignore[arg-type]  # duck-typed: name and text


def insights_values(
    baseline: Baseline, start_ms: int, end_ms: int, results: Mapping[str, Rows]
) -> tuple[dict[str, float | None], dict[str, int]]:
    """Parse the monitor's queries' results exactly as the monitor does: alias -> value, and class counts."""
    values: dict[str, float | None] = {}
    class_counts: dict[str, int] = {}
    for query in _monitor_queries(baseline, start_ms, end_ms):
        rows = results.get(query.name, [])
        if query.grouped:
            class_counts, rejected = monitor_insights.parse_grouped_results(rows)
            values[ALIAS_REJECTED] = float(rejected)
        else:
            values.update(monitor_insights.parse_scalar_results(query, rows))
    return values, class_counts


def duckdb_values(
    baseline: Baseline, records: Iterable[Mapping[str, Any]], start_ms: int, end_ms: int
) -> tuple[dict[str, float | None], dict[str, int]]:
    """The monitor's DuckDB statement over the given records (written to a temporary JSON-lines file)."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="acceptance-") as folder:
        path = Path(folder) / "records.jsonl"
        lines = [json.dumps(record, separators=(",", ":")) for record in records]
        path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
        if not lines:
            return {}, {}
        query = monitor_sql.render_sql(baseline, str(path), start_ms, end_ms)
        row = duckdb.connect().execute(query.sql).fetchone()
    values, class_counts = monitor_sql.read_row(query, row or ())
    return values, class_counts


def in_window(record: Mapping[str, Any], baseline: Baseline, start_ms: int, end_ms: int, message: str) -> bool:
    """The monitor's window filter, for reading raw values (pct ranks): message, model, time, not a health probe."""
    timestamp = record.get(log.KEY_TIMESTAMP)
    return (
        record.get(log.KEY_MESSAGE) == message
        and record.get(log.KEY_MODEL) == baseline.model_name
        and isinstance(timestamp, int)
        and start_ms <= timestamp < end_ms
        and record.get(log.KEY_ENDPOINT) not in log.SAMPLE_ENDPOINTS
    )
