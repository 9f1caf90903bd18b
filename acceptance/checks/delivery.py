"""2. Log delivery delay: how long a prediction line takes from its write in Lambda to its first FilterLogEvents hit.

The monitor judges a window as soon as it ends, and the Lambda guide warns that logs can take minutes to appear in
CloudWatch Logs. This row measures the delay over the run instead of assuming it: single-row requests sent a few
seconds apart, each followed by a FilterLogEvents poll, until every line is found or the bound passes. The write
time is the log event's own timestamp (Lambda's capture of the stdout line), the hit time the start of the first
poll that returned it, so a figure is at most one poll interval late. p50, p99 and max are printed; lines later
than one monitor period (60 s) are counted, since the monitor would have judged their window without them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from functions.contract import prediction_log as log

from ..cloudwatch import parse_message
from ..context import RunContext
from ..results import CheckResult, Status
from ..traffic import normal_rows

NAME = "2 log delivery delay"
REQUESTS = 30
SEND_INTERVAL_SECONDS = 2.0
POLL_SECONDS = 1.0  # the figures' resolution
BOUND_SECONDS = 300  # a line not found by then fails the row
MONITOR_PERIOD_SECONDS = 60  # the monitor's schedule: a line later than this missed its window's first judgement


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is one that was observed)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class DeliveryTracker:
    """Which request ids are still unseen, and the delay of each one seen (seconds)."""

    pending: dict[str, int] = field(default_factory=dict)  # request id -> sent at (wall ms)
    delays: dict[str, float] = field(default_factory=dict)
    ingestion: dict[str, float] = field(default_factory=dict)  # event timestamp -> CloudWatch's ingestionTime

    def poll(self, logs: Any, group: str, start_ms: int, hit_ms: int) -> int:
        """One FilterLogEvents pass (all pages) from `start_ms`; returns how many lines it found for the first time."""
        found = 0
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=start_ms, endTime=hit_ms + 1_000)
        for page in pages:
            for event in page.get("events", []):
                record = parse_message(str(event.get("message", "")))
                request_id = record.get(log.KEY_REQUEST_ID) if record else None
                if request_id not in self.pending or request_id in self.delays:
                    continue
                written = int(event.get("timestamp") or self.pending[request_id])
                self.delays[request_id] = max(0.0, (hit_ms - written) / 1000)
                if event.get("ingestionTime"):
                    self.ingestion[request_id] = max(0.0, (int(event["ingestionTime"]) - written) / 1000)
                found += 1
        return found

    @property
    def unseen(self) -> list[str]:
        return [r for r in self.pending if r not in self.delays]


def judge_delivery(tracker: DeliveryTracker, bound_seconds: float = BOUND_SECONDS) -> CheckResult:
    delays = list(tracker.delays.values())
    sent = len(tracker.pending)
    data: dict[str, Any] = {"sent": sent, "seen": len(delays), "poll_seconds": POLL_SECONDS}
    if delays:
        data |= {
            "p50_s": percentile(delays, 50),
            "p99_s": percentile(delays, 99),
            "max_s": max(delays),
            "later_than_monitor_period": sum(d > MONITOR_PERIOD_SECONDS for d in delays),
        }
        if tracker.ingestion:
            data["ingestion_p99_s"] = percentile(list(tracker.ingestion.values()), 99)
    if not delays:
        return CheckResult(
            NAME, Status.FAIL, f"none of {sent} lines reached FilterLogEvents within {bound_seconds:g} s", data=data
        )
    figures = (
        f"write -> first FilterLogEvents hit over {len(delays)} lines: p50 {data['p50_s']:.1f} s, p99 {data['p99_s']:.1f} s,"
        f" max {data['max_s']:.1f} s (poll every {POLL_SECONDS:g} s); {data['later_than_monitor_period']} later than the"
        f" monitor's {MONITOR_PERIOD_SECONDS} s period"
    )
    if tracker.unseen:
        return CheckResult(
            NAME, Status.FAIL, f"{len(tracker.unseen)} of {sent} lines not found within {bound_seconds:g} s; {figures}", data=data
        )
    return CheckResult(NAME, Status.PASS, figures, data=data)


def check_delivery(ctx: RunContext) -> list[CheckResult]:
    group = ctx.outputs.inference_log_group
    rows = normal_rows(ctx.config.model, ctx.baseline, REQUESTS, seed=11)
    tracker = DeliveryTracker()
    logs = ctx.clients("logs")
    start_ms = ctx.wall_ms() - 5_000
    for row in rows:
        (sent,) = ctx.predict([row])
        tracker.pending[sent.request_id] = sent.sent_ms
        tracker.poll(logs, group, start_ms, ctx.wall_ms())
        ctx.sleep(SEND_INTERVAL_SECONDS)
    began = ctx.clock()
    while tracker.unseen and ctx.clock() - began < BOUND_SECONDS:
        ctx.sleep(POLL_SECONDS)
        tracker.poll(logs, group, start_ms, ctx.wall_ms())
    return [judge_delivery(tracker)]
