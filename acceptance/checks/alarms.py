"""5. Every alarm reaches the topic: SetAlarmState to ALARM on each of the stack's alarms, and each message must
arrive in the suite's queue. This proves the topic policy and the KMS key policy (CloudWatch publishes as a
service principal), not just an IAM role.
"""

from __future__ import annotations

from ..alert_queue import is_alarm
from ..context import RunContext
from ..results import CheckResult, Status

NAME = "5 alarms reach the topic"
MESSAGE_BOUND_SECONDS = 180


def check_alarms(ctx: RunContext) -> list[CheckResult]:
    alarms = sorted(ctx.resource_ids("AWS::CloudWatch::Alarm"))
    if not alarms:
        return [CheckResult(NAME, Status.ERROR, "the stack has no alarms")]
    cloudwatch = ctx.clients("cloudwatch")
    reason = f"acceptance run {ctx.config.run_id}: proving the alarm reaches the topic"
    # Actions fire on a state change only: an alarm already in ALARM is first set to OK.
    current = {a["AlarmName"]: a["StateValue"] for a in cloudwatch.describe_alarms(AlarmNames=alarms).get("MetricAlarms", [])}
    for name in alarms:
        if current.get(name) == "ALARM":
            cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason=reason)
    for name in alarms:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=reason)
    ctx.usage.cloudwatch_requests += 2 * len(alarms) + 1
    found = ctx.queue.wait_for({name: is_alarm(name, "ALARM") for name in alarms}, MESSAGE_BOUND_SECONDS)
    missing = [name for name in alarms if name not in found]
    observations = [f"{name}: {'arrived' if name in found else 'MISSING'}" for name in alarms]
    if missing:
        return [
            CheckResult(NAME, Status.FAIL, f"{len(missing)} of {len(alarms)} alarm messages missing", observations=observations)
        ]
    return [CheckResult(NAME, Status.PASS, f"all {len(alarms)} alarms published ALARM to the topic", observations=observations)]
