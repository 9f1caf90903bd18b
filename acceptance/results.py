"""The result table: one named row per check, printed for a person and written as JSON for a bug report."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"  # AWS did not behave as the project assumes
    ERROR = "ERROR"  # the check itself could not run (timeout, missing output, exception)
    SKIP = "SKIP"  # not applicable to this stack (e.g. no feedback table), said why


@dataclass
class CheckResult:
    name: str
    status: Status
    summary: str
    seconds: float = 0.0
    observations: list[str] = field(default_factory=list)  # what AWS did, one line each (probes write these)
    data: dict[str, Any] = field(default_factory=dict)  # figures for the JSON report

    @property
    def ok(self) -> bool:
        return self.status in (Status.PASS, Status.SKIP)


def worst(statuses: Iterable[Status]) -> Status:
    """A group of sub-results: any ERROR, else any FAIL, else PASS (SKIP only when all are SKIP)."""
    seen = list(statuses)
    for status in (Status.ERROR, Status.FAIL):
        if status in seen:
            return status
    if seen and all(s is Status.SKIP for s in seen):
        return Status.SKIP
    return Status.PASS


@dataclass
class ResultTable:
    stack_name: str
    region: str | None
    model: str
    rows: list[CheckResult] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # cost estimate, teardown, timing

    def add(self, result: CheckResult) -> CheckResult:
        self.rows.append(result)
        return result

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(row.ok for row in self.rows)

    def render(self) -> str:
        name_width = max([len("check"), *(len(r.name) for r in self.rows)])
        lines = [f"acceptance: stack {self.stack_name}, model {self.model}, region {self.region or '?'}"]
        lines.append(f"{'check':<{name_width}}  {'status':<6}  {'secs':>6}  summary")
        lines.append(f"{'-' * name_width}  ------  ------  -------")
        for row in self.rows:
            lines.append(f"{row.name:<{name_width}}  {row.status.value:<6}  {row.seconds:>6.1f}  {row.summary}")
            lines.extend(f"{'':<{name_width}}  {'':<6}  {'':>6}    {note}" for note in row.observations)
        verdict = "PASSED" if self.passed else "FAILED"
        lines.append(f"{verdict}: {sum(r.ok for r in self.rows)} of {len(self.rows)} rows pass or are not applicable")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack_name": self.stack_name,
            "region": self.region,
            "model": self.model,
            "passed": self.passed,
            "rows": [{**asdict(r), "status": r.status.value} for r in self.rows],
            **self.extra,
        }

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
        return path

    def print(self, out: IO[str]) -> None:
        out.write(self.render() + "\n")
        out.flush()
