"""One quality run: read the joined figures, judge them, emit metrics, notify state changes, remember them.

Dependencies come in as arguments (source, state store, publisher, metric sink), so the same use case runs in
the Lambda (Athena, DynamoDB, SNS) and in `local/quality.py` (DuckDB, JSON file, alert file). A source that
fails raises: nothing is judged, nothing is emitted as healthy. State is saved only after the publish succeeded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from functions.contract.model_artifact import Baseline
from functions.contract.schedule import scheduled_minute

from . import sql
from .alerting import CheckStateStore, Notification, Publisher, Transition, build_notification, check_ids, decide, state_updates
from .regression import evaluate_regression, parse_regression_rows, regression_metric_points, regression_summary
from .report import DEFAULT_Z, QualityEvaluation, evaluate, metric_points, parse_rows

MetricSink = Callable[[str, float, str], None]  # (name, value, unit) -> None
DAY_MS = 86_400_000


class QualitySource(Protocol):
    def read(self, model: str, start_ms: int, end_ms: int) -> Sequence[Mapping[str, Any]]: ...

    def unreadable_lines(self, start_ms: int, end_ms: int) -> int:
        """Lines the engine skipped (not JSON, no usable timestamp): reported, as the monitor reports them."""


class SqlRunner(Protocol):
    def run(self, sql: str, parameters: Sequence[str]) -> Sequence[Mapping[str, Any]]: ...


@dataclass
class AthenaSource:
    """The shipped Athena text with the stack's table names; values as ExecutionParameters."""

    runner: SqlRunner
    predictions_table: str
    feedback_table: str
    regression: bool = False  # a regression model: the error sums' query (docs/regression.md)

    def __post_init__(self) -> None:
        self.sql = sql.with_tables(sql.athena_template(self.regression), self.predictions_table, self.feedback_table)

    def read(self, model: str, start_ms: int, end_ms: int) -> Sequence[Mapping[str, Any]]:
        return self.runner.run(self.sql, sql.athena_parameters(sql.parameters(model, start_ms, end_ms)))

    def unreadable_lines(self, start_ms: int, end_ms: int) -> int:
        text = sql.with_tables(sql.UNREADABLE_SQL, self.predictions_table, self.feedback_table)
        rows = self.runner.run(text, sql.athena_parameters(sql.unreadable_parameters(start_ms, end_ms)))
        return int(rows[0][sql.UNREADABLE_COLUMN] or 0) if rows else 0


def lookback_bounds(end: datetime, days: float) -> tuple[int, int]:
    if end.tzinfo is None:
        raise ValueError("lookback end must be timezone-aware")
    end_ms = int(end.timestamp() * 1000)
    return end_ms - round(days * DAY_MS), end_ms


scheduled_end = scheduled_minute  # the end of the judged data


@dataclass(frozen=True)
class QualityRunResult:
    evaluation: QualityEvaluation
    transitions: tuple[Transition, ...]
    notification: Notification | None
    unreadable_lines: int = 0  # skipped by the engine: not JSON, or a timestamp out of range or not a number

    def summary(self) -> dict[str, Any]:
        e, current = self.evaluation, self.evaluation.current
        return {
            "model": e.model,
            "model_version": e.model_version,
            "lookback_start_ms": e.start_ms,
            "lookback_end_ms": e.end_ms,
            "status": e.state.value,
            "predicted_rows": current.predicted_rows if current else 0,
            "labelled_rows": current.labelled_rows if current else 0,
            "accuracy": current.accuracy if current else None,
            **regression_summary(current),
            "unmatched_feedback": current.unmatched_feedback if current else 0,
            "alarms": [c.check for c in e.alarms],
            "not_judged": [c.check for c in e.checks if not c.judged],
            "other_versions": sorted(v for v in e.versions if v != e.model_version),
            "unreadable_lines": self.unreadable_lines,
            "notified": [f"{t.check.check}:{t.current}" for t in self.transitions] if self.notification else [],
        }


@dataclass
class QualityJob:
    baseline: Baseline
    source: QualitySource
    state_store: CheckStateStore
    publisher: Publisher
    lookback_days: float
    where: str
    min_labelled: int | None = None
    z: float = DEFAULT_Z

    def run(self, end: datetime, emit: MetricSink, now_ms: int) -> QualityRunResult:
        start_ms, end_ms = lookback_bounds(end, self.lookback_days)
        rows = self.source.read(self.baseline.model_name, start_ms, end_ms)
        unreadable = self.source.unreadable_lines(start_ms, end_ms)
        if self.baseline.is_regression:
            evaluation = evaluate_regression(
                self.baseline, parse_regression_rows(rows), start_ms, end_ms, min_labelled=self.min_labelled, z=self.z
            )
            points = regression_metric_points(evaluation)
        else:
            versions = parse_rows(rows, self.baseline.label_names)
            evaluation = evaluate(self.baseline, versions, start_ms, end_ms, min_labelled=self.min_labelled, z=self.z)
            points = metric_points(evaluation)
        for name, value, unit in points:
            emit(name, value, unit)
        ids = check_ids(evaluation)
        if not ids:
            return QualityRunResult(evaluation, (), None, unreadable)
        transitions = decide(evaluation, self.state_store.load(ids))
        if not transitions:
            return QualityRunResult(evaluation, (), None, unreadable)
        notification = build_notification(evaluation, transitions, where=self.where)
        self.publisher.publish(notification)
        self.state_store.save(state_updates(evaluation, transitions), now_ms)
        return QualityRunResult(evaluation, transitions, notification, unreadable)
