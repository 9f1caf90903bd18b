"""The one adapter to the monitor's alerting: same alert state, same SNS topic, same message format.

Everything this function takes from `functions.monitor` is imported here and nowhere else, so the lead can
re-point it after the monitor's alert modules change. The rule is the monitor's: a check notifies when it
enters ALARM and once when it recovers to OK; INSUFFICIENT_DATA and NO_TRAFFIC leave the stored state alone
(no data is not a recovery). One run sends at most one message listing every transition.
"""

from __future__ import annotations

from collections.abc import Mapping

from functions.contract.names import QUALITY_SERVICE
from functions.monitor.adapters import (
    CheckStateStore,
    DynamoCheckStore,
    FilePublisher,
    JsonFileCheckStore,
    Publisher,
    SnsPublisher,
)
from functions.monitor.alerts import (
    STATE_ALARM,
    STATE_OK,
    Notification,
    Transition,
    check_id,
    compose_notification,
    fmt_number,
)
from functions.monitor.checks import CheckResult, Status

from .report import QualityCheck, QualityEvaluation, State, iso_seconds

__all__ = [
    "CheckStateStore",
    "DynamoCheckStore",
    "FilePublisher",
    "JsonFileCheckStore",
    "Notification",
    "Publisher",
    "SnsPublisher",
    "Transition",
    "build_notification",
    "check_ids",
    "decide",
    "state_updates",
]


def _as_check_result(check: QualityCheck) -> CheckResult:
    status = {State.OK: Status.OK, State.ALARM: Status.ALARM}.get(check.state, Status.NOT_JUDGED)
    score = None if check.margin is None or check.observed is None else check.observed + check.margin
    return CheckResult(
        check=check.check,
        status=status,
        observed=check.observed,
        baseline=check.baseline,
        threshold=check.threshold if check.threshold is not None else 0.0,
        margin=check.margin,
        score=score,
        detail=check.detail,
        hint=check.hint,
    )


def check_ids(evaluation: QualityEvaluation) -> list[str]:
    return [check_id(evaluation.model, c.check) for c in evaluation.checks if c.judged]


def decide(evaluation: QualityEvaluation, previous: Mapping[str, str]) -> tuple[Transition, ...]:
    """Transitions of the judged checks against the stored states (unknown means OK)."""
    transitions = []
    for check in evaluation.checks:
        if not check.judged:
            continue
        before = previous.get(check_id(evaluation.model, check.check), STATE_OK)
        now = STATE_ALARM if check.state is State.ALARM else STATE_OK
        if before != now:
            transitions.append(Transition(_as_check_result(check), before, now))
    return tuple(transitions)


def state_updates(evaluation: QualityEvaluation, transitions: tuple[Transition, ...]) -> dict[str, tuple[str, str]]:
    return {check_id(evaluation.model, t.check.check): (t.current, t.check.detail) for t in transitions}


def build_notification(evaluation: QualityEvaluation, transitions: tuple[Transition, ...], *, where: str) -> Notification:
    """The monitor's layout: subject says what and where; body has observed vs baseline and what to check first."""
    current = evaluation.current
    labelled = current.labelled_rows if current else 0
    predicted = current.predicted_rows if current else 0
    unmatched = current.unmatched_feedback if current else 0
    return compose_notification(
        model=evaluation.model,
        model_version=evaluation.model_version,
        where=where,
        transitions=transitions,
        facts=[
            f"Window: {iso_seconds(evaluation.start_ms)} to {iso_seconds(evaluation.end_ms)} (end exclusive)",
            f"Rows: {predicted} predicted rows, {labelled} labelled, {unmatched} unmatched feedback labels",
            f"Checks now in alarm: {len(evaluation.alarms)}",
        ],
        check_lines=lambda c: [
            f"- {c.check}: observed {fmt_number(c.observed)} vs baseline {fmt_number(c.baseline)}, "
            f"threshold {fmt_number(c.threshold)} + margin {fmt_number(c.margin)}",
            f"  {c.detail}",
        ],
        footer=f"Sent by the {QUALITY_SERVICE} service once per state change; persisting alarms are not repeated.",
        chat_summary=f"Lookback {iso_seconds(evaluation.start_ms)} to {iso_seconds(evaluation.end_ms)}, "
        f"{labelled} labelled rows, model version {evaluation.model_version}.",
        chat_reason=lambda c: c.detail,
        thread=QUALITY_SERVICE,
    )
