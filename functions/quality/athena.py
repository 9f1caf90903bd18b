"""Athena: StartQueryExecution, poll GetQueryExecution, page GetQueryResults. A query that did not succeed raises.

The clock and sleep are injected so tests never wait; on timeout the query is stopped (StopQueryExecution)
so it does not keep scanning, and the run fails: the quality check never judges data it did not read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

TERMINAL_OK = "SUCCEEDED"
TERMINAL_FAILED = ("FAILED", "CANCELLED")


class AthenaQueryError(RuntimeError):
    """The quality query failed, was cancelled or timed out."""


@dataclass(frozen=True)
class QueryResult:
    rows: list[dict[str, str | None]]
    bytes_scanned: int
    query_execution_id: str


@dataclass
class AthenaRunner:
    client: Any  # boto3 "athena" client
    workgroup: str
    database: str
    timeout_seconds: float = 300.0
    poll_seconds: float = 1.0
    max_poll_seconds: float = 10.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    page_size: int = 1000  # GetQueryResults' maximum
    last: QueryResult | None = field(default=None, init=False)

    def run(self, sql: str, parameters: Sequence[str]) -> list[dict[str, str | None]]:
        """Rows as {column: value or None}; Athena returns every value as a string."""
        request: dict[str, Any] = {
            "QueryString": sql,
            "WorkGroup": self.workgroup,
            "QueryExecutionContext": {"Database": self.database},
        }
        if parameters:
            request["ExecutionParameters"] = list(parameters)
        query_id = self.client.start_query_execution(**request)["QueryExecutionId"]
        execution = self._wait(query_id)
        rows = self._results(query_id)
        scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
        self.last = QueryResult(rows, scanned, query_id)
        return rows

    def _wait(self, query_id: str) -> dict[str, Any]:
        deadline = self.clock() + self.timeout_seconds
        delay = self.poll_seconds
        while True:
            execution = self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            status = execution["Status"]
            state = status["State"]
            if state == TERMINAL_OK:
                return dict(execution)
            if state in TERMINAL_FAILED:
                reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get("ErrorMessage") or "no reason given"
                raise AthenaQueryError(f"Athena query {query_id} {state}: {reason}")
            if self.clock() >= deadline:
                self.client.stop_query_execution(QueryExecutionId=query_id)
                raise AthenaQueryError(f"Athena query {query_id} still {state} after {self.timeout_seconds:g} s; stopped it")
            self.sleep(delay)
            delay = min(delay * 2, self.max_poll_seconds)

    def _results(self, query_id: str) -> list[dict[str, str | None]]:
        rows: list[dict[str, str | None]] = []
        columns: list[str] | None = None
        token: str | None = None
        while True:
            request: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": self.page_size}
            if token:
                request["NextToken"] = token
            page = self.client.get_query_results(**request)
            result_set = page["ResultSet"]
            if columns is None:
                columns = [c["Name"] for c in result_set["ResultSetMetadata"]["ColumnInfo"]]
                data = result_set["Rows"][1:]  # the first row of the first page repeats the column names
            else:
                data = result_set["Rows"]
            for row in data:
                values = [cell.get("VarCharValue") for cell in row["Data"]]
                rows.append(dict(zip(columns, values, strict=True)))
            token = page.get("NextToken")
            if not token:
                return rows
