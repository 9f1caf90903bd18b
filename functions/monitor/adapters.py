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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Protocol

from functions.contract.names import ALERT_STATE_PARTITION_KEY

from .alerts import AlertState, Notification, state_key

VERSION_ATTRIBUTE = "version"
UPDATED_ATTRIBUTE = "updated_at_ms"
DOCUMENT_ATTRIBUTE = "document"
IN_ALARM_ATTRIBUTE = "in_alarm"  # readable at a glance in the console: the checks in ALARM


class StateStore(Protocol):
    @property
    def location(self) -> str: ...

    def load(self, model: str) -> AlertState: ...

    def save(self, model: str, state: AlertState, expected_version: int, now_ms: int) -> None:
        """Write `state` only if the stored version is still `expected_version`; else raise StateConflictError."""
        ...


class Publisher(Protocol):
    def publish(self, notification: Notification) -> str: ...  # returns where it went, for the CLI to say


class StateStoreError(RuntimeError):
    """Alert state could not be read or written."""


class StateConflictError(StateStoreError):
    """Another evaluation saved the state first: this run must not notify (it would duplicate or go stale)."""


@dataclass
class DynamoStateStore:
    """One item per model: {check_id: '<model>#alert-state', version, updated_at_ms, in_alarm, document (JSON)}.

    Uses only BatchGetItem (strongly consistent) and PutItem with a ConditionExpression on `version`, the two
    actions the monitor's role is granted.
    """

    client: Any  # boto3 "dynamodb" client
    table: str
    max_attempts: int = 4
    sleep: Callable[[float], None] = lambda _seconds: None

    @property
    def location(self) -> str:
        return f"DynamoDB table {self.table}"

    def load(self, model: str) -> AlertState:
        request: dict[str, Any] = {
            self.table: {"Keys": [{ALERT_STATE_PARTITION_KEY: {"S": state_key(model)}}], "ConsistentRead": True}
        }
        for attempt in range(1, self.max_attempts + 1):
            response = self.client.batch_get_item(RequestItems=request)
            items = response.get("Responses", {}).get(self.table, [])
            if items:
                item = items[0]
                try:
                    state = AlertState.from_json(item[DOCUMENT_ATTRIBUTE]["S"])
                except (KeyError, ValueError, TypeError) as error:
                    raise StateStoreError(f"alert state item for {model!r} is unreadable: {error}") from error
                return replace(state, version=int(item[VERSION_ATTRIBUTE]["N"]))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return AlertState()
            if attempt == self.max_attempts:
                raise StateStoreError(f"DynamoDB left the alert state key unprocessed after {attempt} attempts")
            self.sleep(0.2 * 2**attempt)
        return AlertState()

    def save(self, model: str, state: AlertState, expected_version: int, now_ms: int) -> None:
        item = {
            ALERT_STATE_PARTITION_KEY: {"S": state_key(model)},
            VERSION_ATTRIBUTE: {"N": str(state.version)},
            UPDATED_ATTRIBUTE: {"N": str(now_ms)},
            IN_ALARM_ATTRIBUTE: {"S": ", ".join(state.in_alarm())[:1000] or "-"},
            DOCUMENT_ATTRIBUTE: {"S": state.to_json()},
        }
        if expected_version == 0:
            condition = {
                "ConditionExpression": "attribute_not_exists(#key)",
                "ExpressionAttributeNames": {"#key": ALERT_STATE_PARTITION_KEY},
            }
        else:
            condition = {
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": VERSION_ATTRIBUTE},
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        try:
            self.client.put_item(TableName=self.table, Item=item, **condition)
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                raise StateConflictError(
                    f"alert state for {model!r} changed since it was read (expected version {expected_version})"
                ) from error
            raise


def _read_json_object(path: Path) -> dict[str, Any]:
    """A local state file's JSON object ({} when the file does not exist yet)."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise StateStoreError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise StateStoreError(f"{path}: expected a JSON object")
    return data


def _write_json_object(path: Path, data: dict[str, Any]) -> None:
    """Replaced atomically: a crash mid-write leaves the previous state, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)


@dataclass
class JsonFileStateStore:
    """Local alert state: one JSON object {model: state document}, replaced atomically, version-checked."""

    path: Path

    @property
    def location(self) -> str:
        return f"state file {self.path}"

    def load(self, model: str) -> AlertState:
        raw = _read_json_object(self.path).get(model)
        if raw is None:
            return AlertState()
        try:
            return AlertState.from_json(json.dumps(raw))
        except (ValueError, TypeError, AttributeError) as error:
            raise StateStoreError(f"{self.path}: alert state for {model!r} is unreadable ({error})") from error

    def save(self, model: str, state: AlertState, expected_version: int, now_ms: int) -> None:
        data = _read_json_object(self.path)
        stored = data.get(model)
        current = int(stored.get("version", 0)) if isinstance(stored, dict) else 0
        if current != expected_version:
            raise StateConflictError(
                f"{self.path}: alert state for {model!r} is at version {current}, expected {expected_version}"
            )
        document = json.loads(state.to_json())
        document[UPDATED_ATTRIBUTE] = now_ms
        data[model] = document
        _write_json_object(self.path, data)


# --- per-check state, one item per check: the quality function's simpler rule (enter/recover in one run) ---------


class CheckStateStore(Protocol):
    def load(self, check_ids: Iterable[str]) -> dict[str, str]: ...

    def save(self, states: Mapping[str, tuple[str, str]], now_ms: int) -> None: ...


@dataclass
class DynamoCheckStore:
    """One item per check: {check_id: '<model>#<check>', state, updated_at_ms, detail} (BatchGetItem, PutItem)."""

    client: Any
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
                    states[item[ALERT_STATE_PARTITION_KEY]["S"]] = item["state"]["S"]
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                if attempt == self.max_attempts:
                    raise StateStoreError(f"DynamoDB left keys unprocessed after {attempt} attempts")
                self.sleep(0.2 * 2**attempt)
        return states

    def save(self, states: Mapping[str, tuple[str, str]], now_ms: int) -> None:
        for key, (state, detail) in states.items():
            item = {ALERT_STATE_PARTITION_KEY: {"S": key}, "state": {"S": state}, UPDATED_ATTRIBUTE: {"N": str(now_ms)},
                    "detail": {"S": detail[:1000]}}  # fmt: skip
            self.client.put_item(TableName=self.table, Item=item)


@dataclass
class JsonFileCheckStore:
    """Local per-check state: {check_id: {state, updated_at_ms, detail}}, replaced atomically."""

    path: Path

    def load(self, check_ids: Iterable[str]) -> dict[str, str]:
        data = _read_json_object(self.path)
        return {i: str(data[i]["state"]) for i in check_ids if isinstance(data.get(i), dict)}

    def save(self, states: Mapping[str, tuple[str, str]], now_ms: int) -> None:
        data = _read_json_object(self.path)
        for key, (state, detail) in states.items():
            data[key] = {"state": state, UPDATED_ATTRIBUTE: now_ms, "detail": detail}
        _write_json_object(self.path, data)


@dataclass
class SnsPublisher:
    client: Any  # boto3 "sns" client
    topic_arn: str

    def publish(self, notification: Notification) -> str:
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=notification.subject,
            Message=notification.sns_message(),
            MessageStructure="json",
        )
        return f"SNS topic {self.topic_arn}"


@dataclass
class FilePublisher:
    """Local alerts: the text on a stream (stdout) and one JSON line per notification in the alert file."""

    path: Path
    stream: IO[str] | None  # None: the alert file only (the CLI's --json mode keeps stdout for JSON)

    def publish(self, notification: Notification) -> str:
        if self.stream is not None:
            self.stream.write(f"\n=== ALERT: {notification.subject}\n{notification.text}\n")
            self.stream.flush()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(notification.record()) + "\n")  # ASCII: no raw U+2028 in a line
        return f"alert file {self.path}"
