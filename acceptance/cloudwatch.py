"""Read contract records back from CloudWatch Logs (FilterLogEvents), write probe records (PutLogEvents).

Filtering by request id uses a JSON filter pattern AND re-checks each record client-side: some emulators ignore
filter patterns, and a record must never be counted because a pattern matched loosely.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_000_000  # PutLogEvents: 1,048,576 bytes including 26 bytes per event; keep a margin
EVENT_OVERHEAD_BYTES = 26

Record = dict[str, Any]


def parse_message(message: str) -> Record | None:
    """A log event's message as a contract record, or None (platform lines, EMF documents, plain text)."""
    text = message.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or "_aws" in value or "message" not in value:
        return None
    return value


def request_id_pattern(request_id: str) -> str:
    return f'{{ $.request_id = "{request_id}" }}'


@dataclass
class LogReader:
    client: Any  # boto3 "logs"
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    bytes_read: int = 0
    calls: int = 0

    def records(
        self, group: str, start_ms: int, end_ms: int, *, pattern: str | None = None, where: Callable[[Record], bool] | None = None
    ) -> list[Record]:
        kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "endTime": end_ms}
        if pattern:
            kwargs["filterPattern"] = pattern
        found: list[Record] = []
        for page in self.client.get_paginator("filter_log_events").paginate(**kwargs):
            self.calls += 1
            for event in page.get("events", []):
                self.bytes_read += len(event.get("message", ""))
                record = parse_message(event.get("message", ""))
                if record is not None and (where is None or where(record)):
                    found.append(record)
        return found

    def wait_for(
        self,
        group: str,
        start_ms: int,
        end_ms: int,
        *,
        expected: int,
        timeout_seconds: float,
        pattern: str | None = None,
        where: Callable[[Record], bool] | None = None,
        poll_seconds: float = 5.0,
    ) -> tuple[list[Record], float]:
        """Poll until at least `expected` records match (or the bound passes): the records and the seconds waited."""
        started = self.clock()
        while True:
            found = self.records(group, start_ms, end_ms, pattern=pattern, where=where)
            waited = self.clock() - started
            if len(found) >= expected or waited >= timeout_seconds:
                return found, waited
            self.sleep(poll_seconds)


@dataclass
class ProbeLog:
    """A log group the suite owns for the Insights probes (deleted at teardown)."""

    client: Any
    group: str
    stream: str = "probes"
    created: bool = False
    events_written: int = 0
    bytes_written: int = 0
    batches: list[int] = field(default_factory=list)

    def create(self) -> None:
        self.client.create_log_group(logGroupName=self.group)
        self.created = True
        self.client.put_retention_policy(logGroupName=self.group, retentionInDays=1)
        self.client.create_log_stream(logGroupName=self.group, logStreamName=self.stream)

    def write(self, records: Iterable[Mapping[str, Any]], timestamp_ms: int) -> None:
        batch: list[dict[str, Any]] = []
        size = 0
        for record in records:
            message = json.dumps(record, separators=(",", ":"))
            cost = len(message.encode()) + EVENT_OVERHEAD_BYTES
            if batch and (len(batch) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES):
                self._put(batch)
                batch, size = [], 0
            batch.append({"timestamp": timestamp_ms, "message": message})
            size += cost
        if batch:
            self._put(batch)

    def _put(self, batch: list[dict[str, Any]]) -> None:
        self.client.put_log_events(logGroupName=self.group, logStreamName=self.stream, logEvents=batch)
        self.events_written += len(batch)
        self.bytes_written += sum(len(e["message"]) for e in batch)
        self.batches.append(len(batch))

    def delete(self) -> None:
        if self.created:
            self.client.delete_log_group(logGroupName=self.group)
            self.created = False
