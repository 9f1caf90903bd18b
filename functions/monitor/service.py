"""One evaluation: read the window, judge it, emit metrics, decide alert states, notify, remember.

Dependencies come in as arguments (engine, state store, publisher, metric
sink), so the same use case runs in the Lambda (Logs Insights, DynamoDB, SNS)
and in `local/monitor.py` (DuckDB, JSON file, JSON-lines file or SNS).

No duplicate and no stale notification, even when runs overlap or retry:
the new state is written first, conditionally on the version that was read
(a run that lost the race raises StateConflictError and sends nothing), and a
window that does not end after the last judged one is skipped. If the publish
then fails, the previous state is written back (again conditionally) so the
next evaluation sends the message again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from functions.contract import names
from functions.contract.model_artifact import Baseline
from functions.contract.schedule import scheduled_minute

from .adapters import Publisher, StateStore, StateStoreError
from .aggregates import WindowAggregates
from .alerts import AlertState, Decision, Notification, build_notification, decide, window_text
from .checks import (
    CHECK_CATEGORY_DRIFT,
    CHECK_DISTRIBUTION,
    CHECK_MEAN_SHIFT,
    CHECK_UNSEEN_CATEGORY,
    Evaluation,
    Overall,
    Status,
    evaluate,
)

MetricSink = Callable[[str, float, str], None]  # (name, value, unit) -> None


class AggregateSource(Protocol):
    def read(self, start_ms: int, end_ms: int) -> WindowAggregates: ...


class PublishError(RuntimeError):
    """The notification could not be sent; the alert state was restored so the next run sends it again."""


def window_bounds(end: datetime, minutes: float) -> tuple[int, int]:
    """[start, end) in epoch ms for a window of `minutes` ending at `end` (fractions serve local replays and the demo)."""
    if end.tzinfo is None:
        raise ValueError("window end must be timezone-aware")
    end_ms = int(end.timestamp() * 1000)
    return end_ms - round(minutes * 60_000), end_ms


scheduled_window_end = scheduled_minute  # the end of the judged data


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
    if "prediction_mean_shift" in m:  # regression: mean prediction minus training's, in training sd
        points.append((names.METRIC_PREDICTION_MEAN_SHIFT, m["prediction_mean_shift"], "None"))
    if "estimated_accuracy" in m:
        points.append((names.METRIC_ESTIMATED_ACCURACY, m["estimated_accuracy"], "None"))
    for key, value in m.items():
        if key.startswith(f"{CHECK_DISTRIBUTION}:"):
            points.append((names.drift_metric(key.split(":", 1)[1]), value, "None"))
        elif key.startswith(f"{CHECK_MEAN_SHIFT}:"):
            points.append((names.mean_shift_metric(key.split(":", 1)[1]), value, "None"))
        elif key.startswith(f"{CHECK_CATEGORY_DRIFT}:"):
            points.append((names.category_drift_metric(key.split(":", 1)[1]), value, "None"))
        elif key.startswith(f"{CHECK_UNSEEN_CATEGORY}:"):
            points.append((names.unseen_category_metric(key.split(":", 1)[1]), value, "None"))
    if evaluation.overall is not Overall.NO_TRAFFIC:
        points.append((names.METRIC_CHECKS_IN_ALARM, m["checks_in_alarm"], "Count"))
    return points


@dataclass(frozen=True)
class RunResult:
    evaluation: Evaluation
    decision: Decision | None  # None when nothing was judged (the state was not touched)
    notification: Notification | None
    published_to: str | None = None
    saved_to: str | None = None

    @property
    def status(self) -> str:
        """The alert state after this run; NO_TRAFFIC / INSUFFICIENT_DATA when the window could not be judged."""
        overall = self.evaluation.overall
        if overall in (Overall.NO_TRAFFIC, Overall.INSUFFICIENT_DATA) or self.decision is None:
            return overall.value
        return "ALARM" if self.decision.state.in_alarm() else "OK"

    def summary(self) -> dict[str, Any]:
        e = self.evaluation
        transitions = self.notification.transitions if self.notification else ()
        return {
            "model": e.model,
            "model_version": e.model_version,
            "window_start_ms": e.window.start_ms,
            "window_end_ms": e.window.end_ms,
            "window": window_text(e.window.start_ms, e.window.end_ms),
            "rows": e.window.rows,
            "rejected": e.window.rejected,
            "failed": e.window.failed,
            "unreadable_lines": e.window.unreadable_lines,
            "status": self.status,
            "window_status": e.overall.value,
            "alarms": self.decision.state.in_alarm() if self.decision else [],
            "window_alarms": [c.check for c in e.alarms],
            "insufficient_data": [c.check for c in e.checks if c.status is Status.INSUFFICIENT_DATA],
            "not_judged": [c.check for c in e.checks if c.status is Status.NOT_JUDGED],
            "notified": [f"{t.check.check}:{t.current}" for t in transitions],
            "held": list(self.decision.held) if self.decision else [],
            "stale": bool(self.decision and self.decision.stale),
            "published_to": self.published_to,
            "state_saved_to": self.saved_to,
        }


@dataclass
class Monitor:
    baseline: Baseline
    source: AggregateSource
    state_store: StateStore
    publisher: Publisher
    window_minutes: float
    where: str  # shown in alert subjects: account/region/environment or "local"

    def run(self, window_end: datetime, emit: MetricSink, now_ms: int) -> RunResult:
        start_ms, end_ms = window_bounds(window_end, self.window_minutes)
        window = self.source.read(start_ms, end_ms)
        evaluation = evaluate(self.baseline, window)
        for name, value, unit in metric_points(evaluation):
            emit(name, value, unit)
        if not any(c.judged for c in evaluation.checks):
            return RunResult(evaluation, None, None)
        previous: AlertState = self.state_store.load(evaluation.model)
        decision = decide(evaluation, previous, self.baseline.thresholds, end_ms)
        if decision.stale:
            return RunResult(evaluation, decision, None)
        self.state_store.save(evaluation.model, decision.state, previous.version, now_ms)  # StateConflictError: lost the race
        if not decision.notify:
            return RunResult(evaluation, decision, None, None, self.state_store.location)
        notification = build_notification(evaluation, decision.notify, where=self.where)
        try:
            published_to = self.publisher.publish(notification)
        except Exception as error:
            restored = replace(previous, version=decision.state.version + 1)
            with contextlib.suppress(StateStoreError):
                self.state_store.save(evaluation.model, restored, decision.state.version, now_ms)
            raise PublishError(f"could not publish the notification ({type(error).__name__}: {error}); state restored") from error
        return RunResult(evaluation, decision, notification, published_to, self.state_store.location)
