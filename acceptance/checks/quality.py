"""6. Quality run: the hourly quality function, invoked once the feedback line is in its table, as its own role.

The dashboard plots `RealizedAccuracy` and `LabelledRows`, which only this function emits, and its schedule is
hourly: without this run the dashboard check would fail for want of a run, not for a fault. Invoking the deployed
function (not a local copy) runs it under its own role, so its Athena, Glue and S3 grants are exercised on the
archive's real objects (with `data_kms_key=true`, the key's Decrypt through S3 as well).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..context import RunContext
from ..results import CheckResult, Status
from .archive import NAME_FEEDBACK
from .monitor import next_minute, scheduled_event

NAME = "6 quality run"
INVOKE_READ_TIMEOUT_SECONDS = 330  # the function's own timeout is 5 minutes (infra/quality.py QUALITY_TIMEOUT)


def judge_quality_run(summary: dict[str, Any], feedback_rows: int) -> CheckResult:
    """Pass only when the run joined the feedback to its prediction and computed an accuracy from it."""
    shown = json.dumps({k: summary.get(k) for k in ("status", "predicted_rows", "labelled_rows", "accuracy", "alarms")})
    labelled = int(summary.get("labelled_rows") or 0)
    if labelled < feedback_rows:
        return CheckResult(NAME, Status.FAIL, f"the quality run matched {labelled} of {feedback_rows} feedback lines: {shown}")
    if summary.get("accuracy") is None:
        return CheckResult(NAME, Status.FAIL, f"the quality run labelled {labelled} rows but computed no accuracy: {shown}")
    return CheckResult(NAME, Status.PASS, f"joined {labelled} feedback line(s) to predictions in Athena: {shown}")


def check_quality_run(ctx: RunContext) -> list[CheckResult]:
    if not ctx.shared.get(NAME_FEEDBACK):
        return [CheckResult(NAME, Status.SKIP, "no feedback line reached its table, so there is nothing to judge")]
    functions = ctx.resource_ids("AWS::Lambda::Function", "Quality")
    if not functions:
        return [CheckResult(NAME, Status.ERROR, "no quality function among the stack's resources")]
    rules = ctx.resource_ids("AWS::Events::Rule", "Quality")
    rule_arn = f"arn:aws:events:{ctx.region}:{ctx.account}:rule/{rules[0] if rules else 'schedule'}"
    # The function judges data up to the event's minute: the next minute takes in everything sent so far.
    end = next_minute(datetime.fromtimestamp(ctx.wall_ms() / 1000, tz=UTC))
    reply = ctx.clients("lambda", read_timeout=INVOKE_READ_TIMEOUT_SECONDS).invoke(
        FunctionName=functions[0],
        InvocationType="RequestResponse",
        Payload=json.dumps(scheduled_event(end, ctx.account, ctx.region, rule_arn)).encode(),
    )
    payload = json.loads(reply["Payload"].read() or b"null")
    if reply.get("FunctionError"):
        return [CheckResult(NAME, Status.FAIL, f"the quality function failed: {str(payload)[:300]}")]
    return [judge_quality_run(dict(payload or {}), int(ctx.shared[NAME_FEEDBACK]))]
