"""A Logs Insights that agrees with DuckDB: GetQueryResults answers for the monitor's own queries, the scalar ones
computed with the monitor's DuckDB statement over the same records, the grouped ones counted from the records.

`overrides` plays a wrong AWS:
- a scalar alias ("rows", "f0_mean", "f2_b3") -> the text answered for it;
- "message_counts[rejected]" (or failed) -> the count answered for that message group;
- "is_outlier:true" / "is_outlier:false" -> how that group value is spelled ("1", "0", or e.g. "false" for an AWS
  that reads every flag as false, or "" for one that drops the field).
"""

from __future__ import annotations

from typing import Any

from acceptance import monitor_queries as mq
from functions.contract import prediction_log as log


def _cells(**fields: Any) -> list[dict[str, str]]:
    return [{"field": k, "value": str(v)} for k, v in fields.items() if v is not None]


def fake_insights(
    baseline: Any, records: list[dict[str, Any]], start_ms: int, end_ms: int, overrides: dict[str, str] | None = None
) -> dict[str, Any]:
    """What GetQueryResults would return for each of the monitor's queries if Insights agreed with DuckDB."""
    values = mq.duckdb_values(baseline, records, start_ms, end_ms).values
    overrides = overrides or {}
    predictions = [r for r in records if mq.in_window(r, baseline, start_ms, end_ms, log.MESSAGE_PREDICTION)]
    results: dict[str, Any] = {}
    for query in mq.insights_queries(baseline, start_ms, end_ms):
        if query.grouped and log.KEY_PREDICTION in query.aliases:
            joint: dict[tuple[str, str], int] = {}
            for r in predictions:
                flag = "true" if r[log.KEY_IS_OUTLIER] else "false"
                key = (overrides.get(f"is_outlier:{flag}", flag), r[log.KEY_PREDICTION])
                joint[key] = joint.get(key, 0) + 1
            results[query.name] = [
                _cells(is_outlier=flag or None, prediction=label, n=n) for (flag, label), n in sorted(joint.items())
            ]
        elif query.grouped:
            counts: dict[str, int] = {}
            for message in mq.MESSAGES_READ:
                n = sum(1 for r in records if mq.in_window(r, baseline, start_ms, end_ms, message))
                text = overrides.get(f"{mq.ALIAS_MESSAGE_COUNTS}[{message}]")
                counts[message] = int(text) if text is not None else n
            results[query.name] = [_cells(message=m, n=n) for m, n in counts.items() if n]
        else:
            row = []
            for alias in query.aliases:
                value = values.get(alias)
                text = overrides.get(alias, "" if value is None else repr(value))
                row.append({"field": alias, "value": text})
            results[query.name] = [row]
    return results
