"""One evaluation: read the window, judge it, emit metrics, notify state changes, remember them.

Dependencies come in as arguments (engine, state store, publisher, metric
sink), so the same use case runs in the Lambda (Logs Insights, DynamoDB, SNS)
and in `local/monitor.py` (DuckDB, JSON file, JSON-lines file or SNS).
The state is saved only after the notification went out: a failed publish is
retried by the next evaluation instead of being lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from functions.contract import names
from functions.contract.model_artifact import Baseline

from .adapters import Publisher, StateStore
from .aggregates import WindowAggregates
from .alerts import Notification, Transition, build_notification, check_id, decide
from .checks import CHECK_DISTRIBUTION, CHECK_MEAN_SHIFT, DEFAULT_Z, Evaluation, Overall, evaluate

MetricSink = Callable[[str, float, str], None]  # (name, value, unit) -> None


class AggregateSource(Protocol):
    def read(self, start_ms: int, end_ms: int) -> WindowAggregates: ...


def window_bounds(end: datetime, minutes: float) -> tuple[int, int]:
    """[start, end) in epoch ms for a window of `minutes` ending at `end` (fractions serve local replays and the demo)."""
    if end.tzinfo is None:
        raise ValueError("window end must be timezone-aware")
    end_ms = int(end.timestamp() * 1000)
    return end_ms - round(minutes * 60_000), end_ms


def scheduled_window_end(event_time: str) -> datetime:
    """EventBridge `time` (e.g. '2026-11-25T15:06:00Z'), floored to the minute so retries judge the same window."""
    try:
        moment = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    except (AttributeError, ValueError) as error:
        raise ValueError(f"scheduled event has no valid 'time': {event_time!r}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.replace(second=0, microsecond=0)


def metric_points(evaluation: Evaluation) -> list[tuple[str, float, str]]:
    """EMF metrics of one evaluation; names from the contract, only numbers the window supports."""
    m = evaluation.metrics
    points: list[tuple[str, float, str]] = [(names.METRIC_WINDOW_ROWS, m["window_rows"], "Count")]
    if "outlier_ratio" in m:
        points.append((names.METRIC_OUTLIER_RATIO, m["outlier_ratio"], "None"))
    if "rejected_ratio" in m:
        points.append((names.METRIC_REJECTED_RATIO, m["rejected_ratio"], "None"))
    if "prediction_drift" in m:
        points.append((names.METRIC_PREDICTION_DRIFT, m["prediction_drift"], "None"))
    for key, value in m.items():
        if key.startswith(f"{CHECK_DISTRIBUTION}:"):
            points.append((names.drift_metric(key.split(":", 1)[1]), value, "None"))
        elif key.startswith(f"{CHECK_MEAN_SHIFT}:"):
            points.append((names.mean_shift_metric(key.split(":", 1)[1]), value, "None"))
    if evaluation.overall is not Overall.NO_TRAFFIC:
        points.append((names.METRIC_CHECKS_IN_ALARM, m["checks_in_alarm"], "Count"))
    return points


@dataclass(frozen=True)
class RunResult:
    evaluation: Evaluation
    transitions: tuple[Transition, ...]
    notification: Notification | None

    def summary(self) -> dict[str, Any]:
        e = self.evaluation
        return {
            "model": e.model,
            "model_version": e.model_version,
            "window_start_ms": e.window.start_ms,
            "window_end_ms": e.window.end_ms,
            "rows": e.window.rows,
            "rejected": e.window.rejected,
            "status": e.overall.value,
            "alarms": [c.check for c in e.alarms],
            "not_judged": [c.check for c in e.checks if c.status.value == "NOT_JUDGED"],
            "notified": [f"{t.check.check}:{t.current}" for t in self.transitions] if self.notification else [],
        }


@dataclass
class Monitor:
    baseline: Baseline
    source: AggregateSource
    state_store: StateStore
    publisher: Publisher
    window_minutes: float
    where: str  # shown in alert subjects: account/region/environment or "local"
    z: float = DEFAULT_Z

    def run(self, window_end: datetime, emit: MetricSink, now_ms: int) -> RunResult:
        start_ms, end_ms = window_bounds(window_end, self.window_minutes)
        window = self.source.read(start_ms, end_ms)
        evaluation = evaluate(self.baseline, window, z=self.z)
        for name, value, unit in metric_points(evaluation):
            emit(name, value, unit)
        judged = [c for c in evaluation.checks if c.status.value != "NOT_JUDGED"]
        if not judged:
            return RunResult(evaluation, (), None)
        previous = self.state_store.load(check_id(evaluation.model, c.check) for c in judged)
        transitions = decide(evaluation, previous)
        if not transitions:
            return RunResult(evaluation, (), None)
        notification = build_notification(evaluation, transitions, where=self.where)
        self.publisher.publish(notification)
        self.state_store.save(
            {check_id(evaluation.model, t.check.check): (t.current, t.check.detail) for t in transitions}, now_ms
        )
        return RunResult(evaluation, transitions, notification)
