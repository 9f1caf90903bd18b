"""2. Log contract in CloudWatch: a known request's records arrive within a bound, one per row, equal to what the
local server writes for the same request (the handler run in-process locally), apart from the per-call values.
The same for a rejected request: exactly one `rejected` line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from functions.contract import prediction_log as log

from ..cloudwatch import request_id_pattern
from ..context import RunContext
from ..local_reference import reference
from ..results import CheckResult, Status
from ..traffic import normal_rows

NAME = "2 log contract"
ARRIVAL_BOUND_SECONDS = 120  # Lambda -> CloudWatch Logs is usually seconds; two minutes is our stated bound
VOLATILE_KEYS = frozenset({log.KEY_TIMESTAMP, log.KEY_REQUEST_ID, log.KEY_LATENCY_MS})  # differ between any two calls
ROWS = 3


def has_request_id(request_id: str, record: Mapping[str, Any]) -> bool:
    return record.get(log.KEY_REQUEST_ID) == request_id


def stable(record: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The record without per-call values, key order kept (the order is part of the contract: the field cap)."""
    return [(k, v) for k, v in record.items() if k not in VOLATILE_KEYS]


def compare_records(
    request_id: str, cloud: Sequence[Mapping[str, Any]], local: Sequence[Mapping[str, Any]], message: str
) -> list[str]:
    """Differences between the records CloudWatch holds for a request and the local server's, [] when equal."""
    problems: list[str] = []
    mine = [r for r in cloud if r.get(log.KEY_REQUEST_ID) == request_id and r.get(log.KEY_MESSAGE) == message]
    if len(mine) != len(local):
        problems.append(f"{message}: {len(mine)} records in CloudWatch for {request_id}, the local server wrote {len(local)}")
    if message == log.MESSAGE_PREDICTION:
        rows = sorted(int(r.get(log.KEY_ROW, -1)) for r in mine)
        if rows != list(range(len(local))):
            problems.append(f"rows in CloudWatch {rows}, expected each of 0..{len(local) - 1} exactly once")
    key = (lambda r: r.get(log.KEY_ROW, 0)) if message == log.MESSAGE_PREDICTION else (lambda r: 0)
    for cloud_record, local_record in zip(sorted(mine, key=key), sorted(local, key=key), strict=False):
        if stable(cloud_record) != stable(local_record):
            cloud_keys, local_keys = [k for k, _ in stable(cloud_record)], [k for k, _ in stable(local_record)]
            if cloud_keys != local_keys:
                problems.append(f"{message} key order differs: cloud {cloud_keys} vs local {local_keys}")
            else:
                diff = {
                    k: (v, dict(stable(local_record))[k]) for k, v in stable(cloud_record) if dict(stable(local_record))[k] != v
                }
                problems.append(f"{message} row {cloud_record.get(log.KEY_ROW)}: cloud vs local differ in {diff}")
    return problems


def check_log_contract(ctx: RunContext) -> list[CheckResult]:
    group = ctx.outputs.inference_log_group
    rows = normal_rows(ctx.config.model, ctx.baseline, ROWS, seed=2)
    body = json.dumps({"data": rows})
    [sent] = ctx.predict(rows)
    bad = ctx.api.request("POST", "/predict", json.dumps({"data": [rows[0][:-1]]}).encode())
    rejected_id = str((bad.json() or {}).get("job_id"))
    start = sent.sent_ms - 60_000
    end = ctx.wall_ms() + 300_000
    problems: list[str] = []
    observations: list[str] = []
    for request_id, message, expected, request_body in (
        (sent.request_id, log.MESSAGE_PREDICTION, ROWS, body),
        (rejected_id, log.MESSAGE_REJECTED, 1, json.dumps({"data": [rows[0][:-1]]})),
    ):
        found, waited = ctx.logs.wait_for(
            group,
            start,
            end,
            expected=expected,
            timeout_seconds=ARRIVAL_BOUND_SECONDS,
            pattern=request_id_pattern(request_id),
            where=partial(has_request_id, request_id),
            poll_seconds=3,
        )
        observations.append(
            f"{message}: {len(found)} record(s) for {request_id[:8]}… after {waited:.0f} s (bound {ARRIVAL_BOUND_SECONDS} s)"
        )
        local = [
            r for r in reference(ctx.config.model, "POST", "/predict", request_body)["lines"] if r.get(log.KEY_MESSAGE) == message
        ]
        problems += compare_records(request_id, found, local, message)
    ctx.usage.log_bytes_ingested += ctx.logs.bytes_read
    if problems:
        return [CheckResult(NAME, Status.FAIL, problems[0], observations=observations + problems)]
    return [
        CheckResult(
            NAME, Status.PASS, f"{ROWS} prediction rows + 1 rejected line, equal to the local server's", observations=observations
        )
    ]
