"""Where alert state lives and where notifications go: DynamoDB + SNS in AWS, files locally.

Each adapter takes its boto3 client as an argument (built once by the
composition root). Failures propagate: a state that cannot be read or a
message that cannot be published ends the invocation with an exception.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from functions.contract.names import ALERT_STATE_PARTITION_KEY

from .alerts import Notification

STATE_ATTRIBUTE = "state"
UPDATED_ATTRIBUTE = "updated_at_ms"
DETAIL_ATTRIBUTE = "detail"


class StateStore(Protocol):
    def load(self, check_ids: Iterable[str]) -> dict[str, str]: ...

    def save(self, states: Mapping[str, tuple[str, str]], now_ms: int) -> None: ...


class Publisher(Protocol):
    def publish(self, notification: Notification) -> None: ...


class StateStoreError(RuntimeError):
    """Alert state could not be read or written."""


@dataclass
class DynamoStateStore:
    """One item per check: {check_id: '<model>#<check>', state: OK|ALARM, updated_at_ms, detail}."""

    client: Any  # boto3 "dynamodb" client
    table: str
    max_attempts: int = 4
    sleep: Callable[[float], None] = lambda _seconds: None

    def load(self, check_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(check_ids))
        states: dict[str, str] = {}
        for start in range(0, len(ids), 100):  # BatchGetItem takes at most 100 keys
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [{ALERT_STATE_PARTITION_KEY: {"S": i}} for i in ids[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(1, self.max_attempts + 1):
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    states[item[ALERT_STATE_PARTITION_KEY]["S"]] = item[STATE_ATTRIBUTE]["S"]
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                if attempt == self.max_attempts:
                    raise StateStoreError(f"DynamoDB left keys unprocessed after {attempt} attempts")
                self.sleep(0.2 * 2**attempt)
        return states

    def save(self, states: Mapping[str, tuple[str, str]], now_ms: int) -> None:
        for key, (state, detail) in states.items():
            self.client.put_item(
                TableName=self.table,
                Item={
                    ALERT_STATE_PARTITION_KEY: {"S": key},
                    STATE_ATTRIBUTE: {"S": state},
                    UPDATED_ATTRIBUTE: {"N": str(now_ms)},
                    DETAIL_ATTRIBUTE: {"S": detail[:1000]},
                },
            )


@dataclass
class JsonFileStateStore:
    """Local alert state: one JSON object {check_id: {state, updated_at_ms, detail}}, replaced atomically."""

    path: Path

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise StateStoreError(f"{self.path}: not valid JSON ({error})") from error
        if not isinstance(data, dict):
            raise StateStoreError(f"{self.path}: expected a JSON object")
        return data

    def load(self, check_ids: Iterable[str]) -> dict[str, str]:
        data = self._read()
        return {i: str(data[i][STATE_ATTRIBUTE]) for i in check_ids if isinstance(data.get(i), dict)}

    def save(self, states: Mapping[str, tuple[str, str]], now_ms: int) -> None:
        data = self._read()
        for key, (state, detail) in states.items():
            data[key] = {STATE_ATTRIBUTE: state, UPDATED_ATTRIBUTE: now_ms, DETAIL_ATTRIBUTE: detail}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


@dataclass
class SnsPublisher:
    client: Any  # boto3 "sns" client
    topic_arn: str

    def publish(self, notification: Notification) -> None:
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=notification.subject,
            Message=notification.sns_message(),
            MessageStructure="json",
        )


@dataclass
class FilePublisher:
    """Local alerts: the text on a stream (stdout) and one JSON line per notification in the alert file."""

    path: Path
    stream: IO[str]

    def publish(self, notification: Notification) -> None:
        self.stream.write(f"\n=== ALERT: {notification.subject}\n{notification.text}\n")
        self.stream.flush()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(notification.record(), ensure_ascii=False) + "\n")
