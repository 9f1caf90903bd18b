"""The delivery-delay row and the quality-run row judged on fake AWS answers: each passes on the answer AWS gives
when the assumption holds, and fails on each way it could not."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from acceptance.checks import delivery
from acceptance.checks.quality import judge_quality_run
from acceptance.results import Status


class FakeLogs:
    """FilterLogEvents over lines that become visible `delay_ms` after their write; pages of two events."""

    def __init__(self, lines: list[tuple[str, int, int]]) -> None:
        self.lines = lines  # (request id, written at ms, visible at ms)
        self.now_ms = 0

    def get_paginator(self, name: str) -> Any:
        assert name == "filter_log_events"
        return self

    def paginate(self, *, logGroupName: str, startTime: int, endTime: int) -> list[dict[str, Any]]:  # noqa: N803
        visible = [
            {
                "timestamp": written,
                "ingestionTime": written + 50,
                "message": json.dumps({"message": "prediction", "request_id": rid}),
            }
            for rid, written, seen_at in self.lines
            if seen_at <= self.now_ms and startTime <= written <= endTime
        ]
        visible.append({"timestamp": 1, "message": "START RequestId: platform line"})  # not a contract record
        return [{"events": visible[i : i + 2]} for i in range(0, len(visible), 2)]


def tracked(lines: list[tuple[str, int, int]]) -> tuple[delivery.DeliveryTracker, FakeLogs]:
    tracker = delivery.DeliveryTracker(pending={rid: written for rid, written, _ in lines})
    return tracker, FakeLogs(lines)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert delivery.percentile(values, 50) == 50.0 and delivery.percentile(values, 99) == 99.0
    assert delivery.percentile([3.0], 99) == 3.0


def test_delays_are_measured_from_the_write_to_the_first_poll_that_sees_the_line() -> None:
    lines = [(f"r{i}", 1_000 * i, 1_000 * i + 2_500) for i in range(10)] + [("late", 0, 90_000)]
    tracker, logs = tracked(lines)
    for now in range(0, 100_000, 1_000):
        logs.now_ms = now
        tracker.poll(logs, "group", 0, now)
    assert tracker.delays["r0"] == 3.0  # visible at 2.5 s, first polled at 3 s
    assert tracker.delays["late"] == 90.0
    result = delivery.judge_delivery(tracker)
    assert result.status is Status.PASS
    assert result.data["p50_s"] == 3.0 and result.data["p99_s"] == 90.0 and result.data["max_s"] == 90.0
    assert result.data["later_than_monitor_period"] == 1
    assert "p50 3.0 s, p99 90.0 s" in result.summary and "1 later than the monitor's 60 s period" in result.summary


def test_a_line_never_seen_fails_the_row_with_the_figures_of_the_others() -> None:
    tracker, logs = tracked([("seen", 0, 1_000), ("lost", 0, 10**12)])
    logs.now_ms = 2_000
    tracker.poll(logs, "group", 0, 2_000)
    result = delivery.judge_delivery(tracker)
    assert result.status is Status.FAIL and result.summary.startswith("1 of 2 lines not found within 300 s")
    assert "p50 2.0 s" in result.summary


def test_no_line_seen_fails() -> None:
    tracker, logs = tracked([("lost", 0, 10**12)])
    tracker.poll(logs, "group", 0, 5_000)
    assert delivery.judge_delivery(tracker).status is Status.FAIL


def test_check_sends_the_lines_and_polls_until_all_are_seen(monkeypatch: Any) -> None:
    from unittest import mock

    from acceptance.context import Sent

    clock = {"ms": 1_000_000}
    lines: list[tuple[str, int, int]] = []
    logs = FakeLogs(lines)

    def predict(rows: list[list[float]]) -> list[Sent]:
        rid = f"r{len(lines)}"
        lines.append((rid, clock["ms"] + 100, clock["ms"] + 100 + 7_000))  # each line visible 7 s after its write
        return [Sent(rid, 1, clock["ms"], "/predict")]

    def sleep(seconds: float) -> None:
        clock["ms"] += int(seconds * 1000)
        logs.now_ms = clock["ms"]

    monkeypatch.setattr(delivery, "normal_rows", lambda model, baseline, count, seed: [[1.0]] * count)
    ctx = mock.Mock()
    ctx.clients.return_value = logs
    ctx.wall_ms.side_effect = lambda: clock["ms"]
    ctx.clock.side_effect = lambda: clock["ms"] / 1000
    ctx.sleep.side_effect = sleep
    ctx.predict.side_effect = predict
    [result] = delivery.check_delivery(ctx)
    assert result.status is Status.PASS, result.summary
    assert result.data["sent"] == result.data["seen"] == delivery.REQUESTS
    assert 7.0 <= result.data["p50_s"] <= 7.0 + delivery.SEND_INTERVAL_SECONDS


# --- quality run -------------------------------------------------------------------------------------------------
def test_the_quality_run_passes_only_when_it_joined_the_feedback_and_computed_accuracy() -> None:
    good = {"status": "OK", "predicted_rows": 300, "labelled_rows": 1, "accuracy": 1.0, "alarms": []}
    assert judge_quality_run(good, feedback_rows=1).status is Status.PASS
    unmatched = good | {"labelled_rows": 0, "accuracy": None}
    result = judge_quality_run(unmatched, feedback_rows=1)
    assert result.status is Status.FAIL and "matched 0 of 1 feedback lines" in result.summary
    no_accuracy = good | {"accuracy": None}
    assert judge_quality_run(no_accuracy, feedback_rows=1).status is Status.FAIL


def test_the_quality_run_invokes_the_deployed_function_after_the_feedback(monkeypatch: Any) -> None:
    from unittest import mock

    from acceptance.checks import quality
    from acceptance.checks.archive import NAME_FEEDBACK

    lambda_client = mock.Mock()
    summary = {"status": "OK", "predicted_rows": 3, "labelled_rows": 1, "accuracy": 1.0, "alarms": []}
    lambda_client.invoke.return_value = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(summary).encode())}
    ctx = mock.Mock(region="eu-west-1", account="123456789012", shared={NAME_FEEDBACK: 1})
    ctx.clients.return_value = lambda_client
    ctx.wall_ms.return_value = 1_795_600_030_000
    ctx.resource_ids.side_effect = lambda kind, prefix="": ["fn-quality"] if kind == "AWS::Lambda::Function" else ["rule-q"]
    [result] = quality.check_quality_run(ctx)
    assert result.status is Status.PASS
    kwargs = lambda_client.invoke.call_args.kwargs
    assert kwargs["FunctionName"] == "fn-quality" and kwargs["InvocationType"] == "RequestResponse"
    event = json.loads(kwargs["Payload"])
    assert event["detail-type"] == "Scheduled Event" and event["time"].endswith(":00Z")  # the next whole minute
    lambda_client.invoke.return_value = {"FunctionError": "Unhandled", "Payload": io.BytesIO(b'{"errorMessage": "AccessDenied"}')}
    [failed] = quality.check_quality_run(ctx)
    assert failed.status is Status.FAIL and "AccessDenied" in failed.summary
    ctx.shared = {}
    [skipped] = quality.check_quality_run(ctx)
    assert skipped.status is Status.SKIP


# --- dashboard: metrics emitted minutes before (the quality run's) are asked again, a bounded number of times ---------
class FakeCloudWatch:
    def __init__(self, lists_after: int | None) -> None:
        self.lists_after, self.calls = lists_after, 0
        body = {"widgets": [{"type": "metric", "properties": {"metrics": [["NS", "RealizedAccuracy", "model", "iris"]]}}]}
        self.body = json.dumps(body)

    def get_dashboard(self, **_: Any) -> dict[str, str]:
        return {"DashboardBody": self.body}

    def list_metrics(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.lists_after is None or self.calls < self.lists_after:
            return {"Metrics": []}
        return {"Metrics": [{"Dimensions": [{"Name": "model", "Value": "iris"}]}]}


def _dashboard_ctx(cloudwatch: FakeCloudWatch) -> Any:
    from unittest import mock

    from acceptance.cost import Usage

    ctx = mock.Mock(usage=Usage())
    ctx.resource_ids.return_value = ["dash"]
    ctx.clients.side_effect = lambda name: cloudwatch
    return ctx


def test_the_dashboard_waits_for_a_metric_that_lists_late() -> None:
    from acceptance.checks import dashboard

    ctx = _dashboard_ctx(FakeCloudWatch(lists_after=3))
    [result] = dashboard.check_dashboard(ctx)
    assert result.status is Status.PASS and ctx.sleep.call_count == 2


def test_the_dashboard_fails_when_a_metric_never_lists() -> None:
    from acceptance.checks import dashboard

    cloudwatch = FakeCloudWatch(lists_after=None)
    ctx = _dashboard_ctx(cloudwatch)
    [result] = dashboard.check_dashboard(ctx)
    assert result.status is Status.FAIL and result.observations == ["NS/RealizedAccuracy[model=iris]"]
    assert cloudwatch.calls == dashboard.METRIC_ATTEMPTS


# --- the throw-away deploy runs the deploy preflight first, with the run's own context ---------------------------------
def test_the_deploy_runs_the_preflight_with_the_options_first_and_stops_on_its_refusal(tmp_path: Any) -> None:
    from acceptance import config as cfg
    from acceptance.deploy import Deployer, DeployError

    name = cfg.new_stack_name()
    env = {
        "ACCEPTANCE_STACK_NAME": name,
        "ACCEPTANCE_CONTEXT": "reserved_concurrency=true",
        "ACCEPTANCE_RESULTS_DIR": str(tmp_path),
    }
    config = cfg.RunConfig.from_env(env)
    commands: list[list[str]] = []

    def refuse(command: Any, timeout: float) -> int:
        commands.append(list(command))
        return 2

    with pytest.raises(DeployError, match="preflight refused"):
        Deployer(config, runner=refuse).deploy()
    (only,) = commands  # nothing built, nothing deployed
    assert only[1].endswith("scripts/deploy_preflight.py")
    assert "reserved_concurrency=true" in only and f"stack_name={name}" in only


def test_a_long_synchronous_invoke_gets_its_own_client_tried_once() -> None:
    """The quality run may take minutes: the default 60 s read timeout with retries would invoke it again."""
    import boto3

    from acceptance.aws import Clients
    from acceptance.checks.quality import INVOKE_READ_TIMEOUT_SECONDS

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    clients = Clients(session, "eu-west-1")
    default, long = clients("lambda"), clients("lambda", read_timeout=INVOKE_READ_TIMEOUT_SECONDS)
    assert long is not default and clients("lambda", read_timeout=INVOKE_READ_TIMEOUT_SECONDS) is long
    assert long.meta.config.read_timeout == INVOKE_READ_TIMEOUT_SECONDS > 300  # the quality function's 5-minute timeout
    assert long.meta.config.retries["total_max_attempts"] == 1 and default.meta.config.read_timeout == 60
