"""A Logs Insights that agrees with DuckDB: GetQueryResults answers for the monitor's own queries, computed with the
monitor's DuckDB statement over the same records (optionally with some aliases overridden to play a wrong AWS)."""

from __future__ import annotations

from typing import Any

from acceptance import monitor_queries as mq


def fake_insights(
    baseline: Any, records: list[dict[str, Any]], start_ms: int, end_ms: int, overrides: dict[str, str] | None = None
) -> dict[str, Any]:
    """What GetQueryResults would return for each of the monitor's queries if Insights agreed with DuckDB."""
    values, classes = mq.duckdb_values(baseline, records, start_ms, end_ms)
    overrides = overrides or {}
    results: dict[str, Any] = {}
    for query in mq.insights_queries(baseline, start_ms, end_ms):
        if query.grouped:
            rows = [
                [
                    {"field": "message", "value": "prediction"},
                    {"field": "prediction", "value": label},
                    {"field": "n", "value": str(n)},
                ]
                for label, n in classes.items()
                if n
            ]
            rejected = overrides.get("rejected", str(int(values[mq.ALIAS_REJECTED] or 0)))
            rows.append([{"field": "message", "value": "rejected"}, {"field": "n", "value": rejected}])
            results[query.name] = rows
        else:
            aliases = [line.rsplit(" as ", 1)[1].rstrip(",") for line in query.text.split("\n") if " as " in line]
            row = []
            for alias in aliases:
                value = values.get(alias)
                text = overrides.get(alias, "" if value is None else repr(value))
                row.append({"field": alias, "value": text})
            results[query.name] = [row]
    return results
