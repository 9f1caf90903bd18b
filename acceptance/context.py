"""Everything a check needs, built once per run by the runner (clients, outputs, API client, queue, counters)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from functions.contract.model_artifact import Baseline

from .alert_queue import AlertQueue
from .cloudwatch import LogReader, ProbeLog
from .config import RunConfig
from .cost import Usage
from .deploy import StackOutputs
from .http_api import ApiClient
from .traffic import Row, batches

INFERENCE_GB_SECONDS_PER_REQUEST = 1.0 * 0.05  # 1 GB x ~50 ms (estimate for the cost figure, not measured here)
MONITOR_GB_SECONDS_PER_RUN = 0.5 * 5.0  # 512 MB x ~5 s of Logs Insights polling


@dataclass(frozen=True)
class Sent:
    request_id: str
    rows: int
    sent_ms: int
    path: str


@dataclass
class RunContext:
    config: RunConfig
    clients: Callable[..., Any]  # (service, read_timeout=None) -> boto3 client (acceptance.aws.Clients)
    outputs: StackOutputs
    baseline: Baseline
    api: ApiClient
    queue: AlertQueue
    logs: LogReader
    probe_log: ProbeLog
    usage: Usage
    region: str
    account: str
    resources: list[dict[str, Any]] = field(default_factory=list)
    log: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall_ms: Callable[[], int] = lambda: int(time.time() * 1000)
    sent: list[Sent] = field(default_factory=list)
    shared: dict[str, Any] = field(default_factory=dict)

    def resource_ids(self, resource_type: str, logical_prefix: str = "") -> list[str]:
        return [
            str(r["PhysicalResourceId"])
            for r in self.resources
            if r.get("ResourceType") == resource_type
            and str(r.get("LogicalResourceId", "")).startswith(logical_prefix)
            and r.get("PhysicalResourceId")
        ]

    def predict(self, rows: list[Row], path: str = "/predict") -> list[Sent]:
        """Send rows in batches; every batch must be accepted (the checks build on known traffic)."""
        sent = []
        for batch in batches(rows):
            now = self.wall_ms()
            reply = self.api.post_json(path, {"data": batch})
            body = reply.json()
            if reply.status != 200 or not isinstance(body, dict):
                raise RuntimeError(f"POST {path} answered {reply.status}: {reply.body[:300]!r}")
            sent.append(Sent(str(body["job_id"]), len(batch), now, path))
        self.sent.extend(sent)
        self.usage.inference_invocations += len(sent)
        self.usage.inference_gb_seconds += len(sent) * INFERENCE_GB_SECONDS_PER_REQUEST
        return sent
