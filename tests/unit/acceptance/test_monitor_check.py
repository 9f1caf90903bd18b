"""The monitor check's choreography with AWS replaced: windows start on minute boundaries, each invocation's
scheduled event ends exactly the window its traffic went into, late rows are re-judged, and the check fails when
the outlier window is not in alarm or a message never arrives."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest

from acceptance.checks import monitor as monitor_check
from acceptance.config import RunConfig
from acceptance.context import RunContext
from acceptance.cost import Usage
from acceptance.results import Status

T0 = datetime(2026, 11, 25, 18, 0, 37, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.ms = int(T0.timestamp() * 1000)

    def wall_ms(self) -> int:
        return self.ms

    def sleep(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)

    def monotonic(self) -> float:
        return self.ms / 1000


class FakeLambda:
    """Answers like the monitor handler: the rows sent into the judged window (late rows the first time)."""

    def __init__(self, clock: Clock, alarms_on_outliers: bool = True) -> None:
        self.clock = clock
        self.events: list[dict[str, Any]] = []
        self.window_rows: dict[str, int] = {}
        self.alarms_on_outliers = alarms_on_outliers
        self.outlier_window: str | None = None

    def get_function_configuration(self, *, FunctionName: str) -> dict[str, Any]:  # noqa: N803
        return {"Environment": {"Variables": {"WINDOW_MINUTES": "2"}}}  # window mode

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        event = json.loads(Payload)
        self.events.append(event)
        seen_before = sum(e["time"] == event["time"] for e in self.events) > 1
        rows = self.window_rows.get(event["time"], 0)
        summary = {"rows": rows if seen_before else rows - 1, "status": "OK", "alarms": [], "notified": []}
        if event["time"] == self.outlier_window and self.alarms_on_outliers:
            summary |= {"status": "ALARM", "alarms": ["outlier_ratio"]}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(summary).encode())}


class FakeEvents:
    """EventBridge: records when the schedule was switched, relative to the monitor invocations."""

    def __init__(self, fake_lambda: FakeLambda) -> None:
        self.fake_lambda = fake_lambda
        self.calls: list[tuple[str, str, int]] = []  # (action, rule, invocations so far)

    def disable_rule(self, *, Name: str) -> None:  # noqa: N803
        self.calls.append(("disable", Name, len(self.fake_lambda.events)))

    def enable_rule(self, *, Name: str) -> None:  # noqa: N803
        self.calls.append(("enable", Name, len(self.fake_lambda.events)))


def make_ctx(clock: Clock, fake_lambda: FakeLambda, messages: dict[str, bool], events: Any = None) -> RunContext:
    def clients(service: str) -> Any:
        if service == "lambda":
            return fake_lambda
        if service == "events" and events is not None:
            return events
        cloudwatch = mock.Mock()
        stamp = datetime(2026, 11, 25, 18, 3, tzinfo=UTC)
        cloudwatch.get_metric_data.return_value = {
            "MetricDataResults": [
                {"Id": "minimum", "Timestamps": [stamp], "Values": [40.0]},
                {"Id": "maximum", "Timestamps": [stamp], "Values": [100.0]},
            ]
        }
        return cloudwatch

    queue = mock.Mock()
    queue.wait_for.side_effect = lambda predicates, _timeout: {
        k: {"Subject": f"{k}: iris"} for k in predicates if messages.get(k)
    }
    ctx = RunContext(
        config=RunConfig.from_env({"ACCEPTANCE_STACK_NAME": "ServerlessInference-acc-0123abcd"}),
        clients=clients,
        outputs=mock.Mock(),
        baseline=mock.Mock(model_name="iris"),
        api=mock.Mock(),
        queue=queue,
        logs=mock.Mock(),
        probe_log=mock.Mock(),
        usage=Usage(),
        region="eu-west-1",
        account="123456789012",
        resources=[
            {"ResourceType": "AWS::Lambda::Function", "LogicalResourceId": "MonitorFunction1A", "PhysicalResourceId": "mon"},
            {"ResourceType": "AWS::Events::Rule", "LogicalResourceId": "MonitorSchedule2B", "PhysicalResourceId": "rule"},
        ],
        log=lambda _: None,
        clock=clock.monotonic,
        sleep=clock.sleep,
        wall_ms=clock.wall_ms,
    )

    def predict(rows: list[list[float]], path: str = "/predict") -> list[Any]:
        start = datetime.fromtimestamp(clock.ms / 1000, tz=UTC).replace(second=0)
        end = start.replace(minute=start.minute + monitor_check.WINDOW_MINUTES).strftime("%Y-%m-%dT%H:%M:%SZ")
        fake_lambda.window_rows[end] = len(rows)
        if rows and rows[0][0] > 100:  # outlier_rows: far above the training range
            fake_lambda.outlier_window = end
        return []

    ctx.predict = predict  # type: ignore[method-assign]
    return ctx


@pytest.fixture(autouse=True)
def rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monitor_check, "normal_rows", lambda model, baseline, count, seed: [[5.0]] * count)
    monkeypatch.setattr(monitor_check, "outlier_rows", lambda baseline, count: [[500.0]] * count)


def test_three_windows_alarm_and_recovery() -> None:
    clock = Clock()
    fake = FakeLambda(clock)
    [result] = monitor_check.check_monitor(make_ctx(clock, fake, {"alarm": True, "ok": True}))
    assert result.status is Status.PASS, result.observations
    times = [e["time"] for e in fake.events]
    # Each window is judged twice (the first answer misses a late row), windows start on minute boundaries.
    assert times == ["2026-11-25T18:03:00Z"] * 2 + ["2026-11-25T18:06:00Z"] * 2 + ["2026-11-25T18:09:00Z"] * 2
    assert all(e["detail-type"] == "Scheduled Event" and e["source"] == "aws.events" for e in fake.events)
    assert fake.events[0]["resources"] == ["arn:aws:events:eu-west-1:123456789012:rule/rule"]


def test_fails_when_the_outlier_window_is_not_in_alarm() -> None:
    clock = Clock()
    [result] = monitor_check.check_monitor(
        make_ctx(clock, FakeLambda(clock, alarms_on_outliers=False), {"alarm": True, "ok": True})
    )
    assert result.status is Status.FAIL and "outlier_ratio not in alarm" in result.summary


def test_fails_when_the_recovery_message_never_arrives() -> None:
    clock = Clock()
    [result] = monitor_check.check_monitor(make_ctx(clock, FakeLambda(clock), {"alarm": True}))
    assert result.status is Status.FAIL and any("no recovery (OK) message" in o for o in result.observations)


def test_the_schedule_is_paused_for_the_check_and_resumed_after() -> None:
    """No scheduled run can collide with the check's invocations (throttling, an ALARM for an unjudged window)."""
    clock = Clock()
    fake = FakeLambda(clock)
    events = FakeEvents(fake)
    [result] = monitor_check.check_monitor(make_ctx(clock, fake, {"alarm": True, "ok": True}, events))
    assert result.status is Status.PASS
    assert events.calls == [("disable", "rule", 0), ("enable", "rule", 6)]


def test_the_schedule_is_resumed_when_the_check_crashes() -> None:
    clock = Clock()
    fake = FakeLambda(clock)
    events = FakeEvents(fake)
    ctx = make_ctx(clock, fake, {"alarm": True, "ok": True}, events)
    ctx.queue.wait_for.side_effect = RuntimeError("queue gone")
    with pytest.raises(RuntimeError):
        monitor_check.check_monitor(ctx)
    assert [call[0] for call in events.calls] == ["disable", "enable"]


def test_no_schedule_among_the_resources_is_an_error() -> None:
    clock = Clock()
    ctx = make_ctx(clock, FakeLambda(clock), {})
    ctx.resources = [r for r in ctx.resources if r["ResourceType"] != "AWS::Events::Rule"]
    [result] = monitor_check.check_monitor(ctx)
    assert result.status is Status.ERROR and "schedule" in result.summary


class FakeMinuteLambda(FakeLambda):
    """Minute mode: the event judges the minutes that ended SETTLE_MINUTES before it; the summary lists horizons."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.sent: list[dict[str, Any]] = []  # the events as the check sent them (self.events: the judged ends)

    def get_function_configuration(self, *, FunctionName: str) -> dict[str, Any]:  # noqa: N803
        return {"Environment": {"Variables": {"MINUTE_TABLE": "minutes"}}}

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        event = json.loads(Payload)
        moment = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
        judged_end = moment.replace(minute=moment.minute - monitor_check.SETTLE_MINUTES).strftime("%Y-%m-%dT%H:%M:%SZ")
        reply = super().invoke(FunctionName=FunctionName, InvocationType=InvocationType,
                               Payload=json.dumps({**event, "time": judged_end}).encode())  # fmt: skip
        self.sent.append(event)
        summary = json.loads(reply["Payload"].read())
        minute_summary = {"mode": "minutes", "horizons": [{"minutes": 2, "rows": summary.pop("rows")}], **summary,
                          "late_records": 1, "rows_seen": 300, "rows_counted": 300}  # fmt: skip
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(minute_summary).encode())}


def test_minute_mode_judges_settled_minutes_and_reports_late_records() -> None:
    clock = Clock()
    fake = FakeMinuteLambda(clock)
    [result] = monitor_check.check_monitor(make_ctx(clock, fake, {"alarm": True, "ok": True}))
    assert result.status is Status.PASS, result.observations
    assert fake.sent[0]["time"] == "2026-11-25T18:05:00Z"  # the window 18:01-18:03 settles 2 minutes later
    assert any("late_records" in o for o in result.observations)
    # the schedule is paused, so the check itself runs the monitor every minute of the recovery phase
    assert len(fake.sent) >= 3 + monitor_check.RECOVERY_MINUTES  # three phases (with their retries) + one a minute
