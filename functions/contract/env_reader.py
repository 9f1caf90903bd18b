"""Environment parsing for the scheduled functions' settings: every problem collected, so one error lists them all."""

from __future__ import annotations

import re
from collections.abc import Mapping

SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$")


class EnvReader:
    """Reads one environment mapping; `problems` says, per variable, what is wrong with it (in the order read)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def required(self, name: str, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        """The stripped value; a problem when unset, or when `pattern` does not match it (it is not `what`)."""
        value = self.env.get(name, "").strip()
        if not value:
            self.problems.append(f"{name} is not set")
        elif pattern is not None:
            self.match(name, value, pattern, what)
        return value

    def match(self, name: str, value: str, pattern: re.Pattern[str], what: str) -> None:
        if not pattern.match(value):
            self.problems.append(f"{name}={value!r} is not {what}")

    def number(self, name: str, default: float, low: float, high: float) -> float:
        """The value in [low, high], or `default` when unset (or unparsable: then a problem)."""
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not a number")
            return default
        if not low <= value <= high:
            self.problems.append(f"{name}={raw!r} must be between {low:g} and {high:g}")
        return value

    def whole(self, name: str, default: int, low: int, high: int, unit: str) -> int:
        """`number`, which must also be a whole number of `unit`."""
        value = self.number(name, default, low, high)
        if value != int(value):
            self.problems.append(f"{name} must be a whole number of {unit}")
        return int(value)

    def region(self) -> str:
        return self.env.get("AWS_REGION") or self.env.get("AWS_DEFAULT_REGION") or "unknown-region"
