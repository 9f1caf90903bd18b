"""The scheduled functions' run time: an EventBridge event's `time`, floored to the minute."""

from __future__ import annotations

from datetime import UTC, datetime


def scheduled_minute(event_time: str) -> datetime:
    """EventBridge `time` (e.g. '2026-11-25T15:06:00Z'), floored to the minute so a retried event judges the same data."""
    try:
        moment = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    except (AttributeError, ValueError) as error:
        raise ValueError(f"scheduled event has no valid 'time': {event_time!r}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.replace(second=0, microsecond=0)
