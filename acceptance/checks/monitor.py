"""4. Monitor: invoke it with a scheduled-event payload for windows of known traffic, read its EMF metrics back
with GetMetricData, and see an outlier episode's ALARM and then its recovery arrive in the suite's queue.

The monitor's EventBridge schedule is disabled for the check (and enabled again after it, whatever happened):
otherwise a scheduled run can collide with the check's own invocation (throttled under reserved concurrency,
which trips the throttle alarm) or publish the ALARM for a window the check has not judged yet. Every run during
the check is then one the check started, for a window it chose.

In minute mode (the stack sets MINUTE_TABLE) the monitor judges the minutes that ended SETTLE_MINUTES before the
event, so the check's events are that much later, the rows judged are the 2-minute horizon's, and the recovery
phase plays the paused schedule: normal traffic and one scheduled-event invocation every minute, for longer than
the clean runs a recovery needs. The summary's `late_records` and `rows_seen` / `rows_counted` (the inference
function's Predictions count) are reported: how many records landed after their minute was first read.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.contract import names

from ..alert_queue import is_monitor_alert
from ..context import MONITOR_GB_SECONDS_PER_RUN, RunContext
from ..results import CheckResult, Status
from ..traffic import Row, normal_rows, outlier_rows

NAME = "4 monitor"
PHASE_ROWS = 100  # per window: above min_rows (30) so every check is judged
WINDOW_MINUTES = 2  # the deployed monitor's window (infra/monitor.py default)
INGEST_MARGIN_SECONDS = 30
INVOKE_ATTEMPTS = 4  # re-judge the same window while late events are still arriving
INVOKE_RETRY_SECONDS = 20
MESSAGE_BOUND_SECONDS = 180
METRIC_BOUND_SECONDS = 300  # EMF -> CloudWatch metrics usually takes a minute or two
OUTLIER_CHECK = "outlier_ratio"
SETTLE_MINUTES = 2  # minute mode: infra/monitor.py DEFAULT_SETTLE_MINUTES
RECOVERY_MINUTES = 15 + 3  # minute mode: functions/monitor/horizons.RECOVERY_MIN_MINUTES clean runs, plus a margin
MINUTE_TABLE_VARIABLE = names.ENV_MINUTE_TABLE


def minute_mode(ctx: RunContext, function: str) -> bool:
    """Whether the deployed monitor runs in minute mode (its environment names a minute table)."""
    config = ctx.clients("lambda").get_function_configuration(FunctionName=function)
    return bool(config.get("Environment", {}).get("Variables", {}).get(MINUTE_TABLE_VARIABLE))


def judged_rows(summary: dict[str, Any]) -> int:
    """Rows of the judged window: the shortest horizon's in minute mode."""
    if summary.get("mode") == "minutes":
        horizons = summary.get("horizons") or []
        return int(horizons[0].get("rows", 0)) if horizons else 0
    return int(summary.get("rows", 0))


def scheduled_event(window_end: datetime, account: str, region: str, rule_arn: str) -> dict[str, Any]:
    """An EventBridge scheduled event, as the rule delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": window_end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def next_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _now(ctx: RunContext) -> datetime:
    return datetime.fromtimestamp(ctx.wall_ms() / 1000, tz=UTC)


def _sleep_until(ctx: RunContext, moment: datetime) -> None:
    remaining = (moment - _now(ctx)).total_seconds()
    if remaining > 0:
        ctx.sleep(remaining)


def _invoke(ctx: RunContext, function: str, event: dict[str, Any]) -> dict[str, Any]:
    reply = ctx.clients("lambda").invoke(
        FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
    )
    ctx.usage.monitor_invocations += 1
    ctx.usage.monitor_gb_seconds += MONITOR_GB_SECONDS_PER_RUN
    payload = json.loads(reply["Payload"].read() or b"null")
    if reply.get("FunctionError"):
        raise RuntimeError(f"monitor invocation failed: {payload}")
    return dict(payload)


def run_phase(
    ctx: RunContext, function: str, rule_arn: str, rows: list[Row], minutes: bool = False
) -> tuple[dict[str, Any], datetime]:
    """Send `rows` at the start of a fresh window, then judge exactly that window."""
    window_start = next_minute(_now(ctx))
    _sleep_until(ctx, window_start + timedelta(seconds=1))
    ctx.predict(rows)
    window_end = window_start + timedelta(minutes=WINDOW_MINUTES)
    event_time = window_end + timedelta(minutes=SETTLE_MINUTES if minutes else 0)
    _sleep_until(ctx, event_time + timedelta(seconds=INGEST_MARGIN_SECONDS))
    summary: dict[str, Any] = {}
    for attempt in range(1, INVOKE_ATTEMPTS + 1):
        summary = _invoke(ctx, function, scheduled_event(event_time, ctx.account, ctx.region, rule_arn))
        if judged_rows(summary) >= len(rows):
            break
        if attempt < INVOKE_ATTEMPTS:
            ctx.sleep(INVOKE_RETRY_SECONDS)
    return summary, _now(ctx)


def metric_range(ctx: RunContext, metric: str, start: datetime, end: datetime) -> list[tuple[float, float]]:
    """(Minimum, Maximum) per minute of one monitor metric over [start, end]."""
    dimensions = [
        {"Name": "service", "Value": names.MONITOR_SERVICE},
        {"Name": names.MODEL_DIMENSION, "Value": ctx.baseline.model_name},
    ]
    queries = [
        {
            "Id": stat.lower(),
            "MetricStat": {
                "Metric": {"Namespace": names.METRICS_NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
                "Period": 60,
                "Stat": stat,
            },
        }
        for stat in ("Minimum", "Maximum")
    ]
    reply = ctx.clients("cloudwatch").get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    ctx.usage.get_metric_data_metrics += 2
    series = {r["Id"]: dict(zip(r["Timestamps"], r["Values"], strict=True)) for r in reply["MetricDataResults"]}
    minimum, maximum = series.get("minimum", {}), series.get("maximum", {})
    return [(minimum[t], maximum[t]) for t in sorted(set(minimum) & set(maximum))]


def check_monitor(ctx: RunContext) -> list[CheckResult]:
    functions = ctx.resource_ids("AWS::Lambda::Function", "Monitor")
    rules = ctx.resource_ids("AWS::Events::Rule", "Monitor")
    if not functions:
        return [CheckResult(NAME, Status.ERROR, "no monitor function among the stack's resources")]
    if not rules:
        return [CheckResult(NAME, Status.ERROR, "no monitor schedule among the stack's resources")]
    events = ctx.clients("events")
    events.disable_rule(Name=rules[0])
    try:
        return _judge_monitor(ctx, functions[0], f"arn:aws:events:{ctx.region}:{ctx.account}:rule/{rules[0]}")
    finally:
        events.enable_rule(Name=rules[0])


def _judge_monitor(ctx: RunContext, function: str, rule_arn: str) -> list[CheckResult]:
    problems: list[str] = []
    notes: list[str] = []
    first_at = _now(ctx)
    minutes = minute_mode(ctx, function)
    notes.append("minute mode: horizons from stored minute aggregates" if minutes else "window mode: one window per run")
    normal_traffic = normal_rows(ctx.config.model, ctx.baseline, PHASE_ROWS, seed=4)
    normal, normal_at = run_phase(ctx, function, rule_arn, normal_traffic, minutes)
    notes.append(f"normal window: {json.dumps({k: normal.get(k) for k in ('rows', 'horizons', 'status', 'alarms')})}")
    if judged_rows(normal) != PHASE_ROWS:
        problems.append(f"normal window: the monitor judged {judged_rows(normal)} rows, {PHASE_ROWS} were sent")
    outliers, _ = run_phase(ctx, function, rule_arn, outlier_rows(ctx.baseline, PHASE_ROWS), minutes)
    notes.append(f"outlier window: {json.dumps({k: outliers.get(k) for k in ('rows', 'status', 'alarms', 'notified')})}")
    if OUTLIER_CHECK not in (outliers.get("alarms") or []):
        problems.append(f"outlier window: {OUTLIER_CHECK} not in alarm ({outliers.get('alarms')})")
    alarm = ctx.queue.wait_for({"alarm": is_monitor_alert("ALARM", OUTLIER_CHECK)}, MESSAGE_BOUND_SECONDS)
    if "alarm" not in alarm:
        problems.append(f"no ALARM message naming {OUTLIER_CHECK} reached the queue within {MESSAGE_BOUND_SECONDS} s")
    else:
        notes.append(f"ALARM message: {alarm['alarm'].get('Subject')}")
    if minutes:  # a minute-mode alarm recovers after clean runs on windows as large as the alarm's: keep traffic coming
        for minute in range(RECOVERY_MINUTES):  # the schedule is paused: the check runs the monitor every minute
            moment = next_minute(_now(ctx))
            _sleep_until(ctx, moment + timedelta(seconds=1))
            ctx.predict(normal_rows(ctx.config.model, ctx.baseline, PHASE_ROWS, seed=100 + minute))
            _invoke(ctx, function, scheduled_event(moment, ctx.account, ctx.region, rule_arn))
    recovery, _ = run_phase(ctx, function, rule_arn, normal_rows(ctx.config.model, ctx.baseline, PHASE_ROWS, seed=5), minutes)
    notes.append(f"recovery window: {json.dumps({k: recovery.get(k) for k in ('rows', 'status', 'alarms', 'notified')})}")
    if minutes:
        late = {k: recovery.get(k) for k in ("late_records", "rows_seen", "rows_counted", "future_records")}
        notes.append(f"delivery (last hour): {json.dumps(late)}: late_records landed after their minute was first read")
    ok = ctx.queue.wait_for({"ok": is_monitor_alert("OK", OUTLIER_CHECK)}, MESSAGE_BOUND_SECONDS)
    if "ok" not in ok:
        problems.append(f"no recovery (OK) message naming {OUTLIER_CHECK} reached the queue within {MESSAGE_BOUND_SECONDS} s")
    else:
        notes.append(f"recovery message: {ok['ok'].get('Subject')}")
    # EMF: the normal window's WindowRows, read back. Scheduled runs in the same minute judge other windows, so the
    # figure must lie within that minute's [Minimum, Maximum].
    started = ctx.clock()
    seen: list[tuple[float, float]] = []
    while ctx.clock() - started < METRIC_BOUND_SECONDS:
        seen = metric_range(ctx, names.METRIC_WINDOW_ROWS, first_at - timedelta(minutes=1), normal_at + timedelta(minutes=2))
        if any(low <= PHASE_ROWS <= high for low, high in seen):
            break
        ctx.sleep(20)
    if not any(low <= PHASE_ROWS <= high for low, high in seen):
        problems.append(f"GetMetricData: no {names.METRIC_WINDOW_ROWS} datapoint covering {PHASE_ROWS} rows ({seen})")
    else:
        notes.append(f"{names.METRIC_WINDOW_ROWS} read back with GetMetricData: {seen}")
    if problems:
        return [CheckResult(NAME, Status.FAIL, problems[0], observations=problems + notes)]
    return [
        CheckResult(
            NAME, Status.PASS, "judged known windows, EMF read back, ALARM then recovery reached the queue", observations=notes
        )
    ]
