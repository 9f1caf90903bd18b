"""Where minute aggregates live: one DynamoDB item per model-minute (hourly roll-ups beside them), or a local file.

Item: {series: '<model>#<layout>#m' (or '#h' for hours), t: start ms, v: JSON vector, late: rows that
arrived after the minute was first read, expires_at: TTL epoch seconds}. Minutes live ~26 hours (a day's
window plus its edges), hours ~8 days. The layout key in the series means minutes of another model
version are never summed with these. Reads are Query on one series between two starts (strongly
consistent: the minute written by the previous run is always seen); writes are PutItem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from functions.contract import names

from .adapters import StateStoreError, _read_json_object, _write_json_object
from .minutes import HOUR_MS, MINUTE_MS, Minutes

MINUTE_TTL_SECONDS = 26 * 3600
HOUR_TTL_SECONDS = 8 * 24 * 3600
SERIES_KEY = names.MINUTE_TABLE_PARTITION_KEY
START_KEY = names.MINUTE_TABLE_SORT_KEY
EXPIRES_ATTRIBUTE = names.MINUTE_TABLE_TTL_ATTRIBUTE
KIND_MINUTE = "m"
KIND_HOUR = "h"


@dataclass(frozen=True)
class Stored:
    minutes: Minutes
    late: int = 0  # rows that landed after the first read of this minute (or of the hour's minutes)


class MinuteStore(Protocol):
    @property
    def location(self) -> str: ...

    def load(self, series: str, start_ms: int, end_ms: int) -> dict[int, Stored]:
        """Items whose start is in [start_ms, end_ms)."""
        ...

    def save(self, series: str, item: Stored, now_ms: int) -> None: ...


def series_name(model: str, layout: str, kind: str) -> str:
    return f"{model}#{layout}#{kind}"


def _ttl(series: str, start_ms: int, now_ms: int) -> int:
    keep = HOUR_TTL_SECONDS if series.endswith(f"#{KIND_HOUR}") else MINUTE_TTL_SECONDS
    return max(start_ms, now_ms) // 1000 + keep


def _span(series: str) -> int:
    return HOUR_MS if series.endswith(f"#{KIND_HOUR}") else MINUTE_MS


@dataclass
class DynamoMinuteStore:
    client: Any  # boto3 "dynamodb" client
    table: str
    sleep: Callable[[float], None] = lambda _seconds: None

    @property
    def location(self) -> str:
        return f"DynamoDB table {self.table}"

    def load(self, series: str, start_ms: int, end_ms: int) -> dict[int, Stored]:
        out: dict[int, Stored] = {}
        if end_ms <= start_ms:
            return out
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#s = :s AND #t BETWEEN :a AND :b",
            "ExpressionAttributeNames": {"#s": SERIES_KEY, "#t": START_KEY},
            "ExpressionAttributeValues": {":s": {"S": series}, ":a": {"N": str(start_ms)}, ":b": {"N": str(end_ms - 1)}},
            "ConsistentRead": True,
        }
        span = _span(series)
        while True:
            response = self.client.query(**request)
            for item in response.get("Items", []):
                try:
                    start = int(item[START_KEY]["N"])
                    values = tuple(float(x) for x in json.loads(item["v"]["S"]))
                    late = int(item.get("late", {}).get("N", "0"))
                except (KeyError, ValueError, TypeError) as error:
                    raise StateStoreError(f"minute item in {series!r} is unreadable: {error}") from error
                out[start] = Stored(Minutes(start, start + span, values), late)
            last = response.get("LastEvaluatedKey")
            if not last:
                return out
            request["ExclusiveStartKey"] = last

    def save(self, series: str, item: Stored, now_ms: int) -> None:
        from .minutes import to_json

        self.client.put_item(
            TableName=self.table,
            Item={
                SERIES_KEY: {"S": series},
                START_KEY: {"N": str(item.minutes.start_ms)},
                "v": {"S": json.dumps(to_json(item.minutes), separators=(",", ":"))},
                "late": {"N": str(item.late)},
                EXPIRES_ATTRIBUTE: {"N": str(_ttl(series, item.minutes.start_ms, now_ms))},
            },
        )


@dataclass
class JsonFileMinuteStore:
    """Local: {series: {start_ms: {"v": [...], "late": n, "expires_at": s}}} in one file beside the log, pruned on write."""

    path: Path

    @property
    def location(self) -> str:
        return f"minute file {self.path}"

    def load(self, series: str, start_ms: int, end_ms: int) -> dict[int, Stored]:
        raw = _read_json_object(self.path).get(series, {})
        out: dict[int, Stored] = {}
        span = _span(series)
        for key, item in raw.items():
            start = int(key)
            if start_ms <= start < end_ms:
                try:
                    out[start] = Stored(
                        Minutes(start, start + span, tuple(float(x) for x in item["v"])), int(item.get("late", 0))
                    )
                except (KeyError, ValueError, TypeError) as error:
                    raise StateStoreError(f"{self.path}: minute {key} of {series!r} is unreadable ({error})") from error
        return out

    def save(self, series: str, item: Stored, now_ms: int) -> None:
        from .minutes import to_json

        data = _read_json_object(self.path)
        now_s = now_ms // 1000
        for name, items in list(data.items()):
            if isinstance(items, dict):
                data[name] = {k: v for k, v in items.items() if int(v.get(EXPIRES_ATTRIBUTE, now_s)) >= now_s}
        data.setdefault(series, {})[str(item.minutes.start_ms)] = {
            "v": to_json(item.minutes),
            "late": item.late,
            EXPIRES_ATTRIBUTE: _ttl(series, item.minutes.start_ms, now_ms),
        }
        _write_json_object(self.path, data)
