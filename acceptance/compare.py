"""Compare the monitor's aggregates as Logs Insights computed them with DuckDB over the same records.

Tolerances are per kind of aggregate and written down here, so a failure names the aggregate and the gap:
- counts and sums are exact (they are integers on both sides);
- avg, stddev, min, max agree to a relative 1e-6 (Insights answers numbers as strings; they carry at least
  that precision in every answer we know of);
- `pct` is judged by rank, not value: Logs Insights does not document its percentile method (DuckDB's
  `quantile_cont` interpolates), so the Insights value must sit at the requested rank of the window's own values
  within max(1/n, 1 %) (PCT_RANK_TOLERANCE);
- `count_distinct` is documented as approximate at high cardinality: it may differ by COUNT_DISTINCT_TOLERANCE
  (2 %, below the margin the rejected-ratio check uses at any window size the monitor judges), and the row says
  whether it was exact.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .monitor_queries import ALIAS_CLASS_COUNTS, ALIAS_REJECTED, Aggregate

RELATIVE_TOLERANCE = 1e-6
PCT_RANK_TOLERANCE = 0.01
COUNT_DISTINCT_TOLERANCE = 0.02
EXACT_KINDS = frozenset({"count", "sum"})
CLOSE_KINDS = frozenset({"avg", "stddev", "min", "max"})


@dataclass(frozen=True)
class Comparison:
    alias: str
    kind: str
    insights: float | None
    duckdb: float | None
    ok: bool
    note: str = ""

    def line(self) -> str:
        verdict = "ok  " if self.ok else "DIFF"
        note = f"  ({self.note})" if self.note else ""
        return f"{verdict} {self.alias} [{self.kind}]: insights {self.insights!r} vs duckdb {self.duckdb!r}{note}"


def field_value(record: Mapping[str, Any], path: str) -> Any:
    """Dotted path as Logs Insights flattens JSON: `features.petal_length`, `probabilities.0`."""
    value: Any = record
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def rank_interval(sorted_values: Sequence[float], value: float) -> tuple[float, float]:
    """Share of values strictly below `value`, and at or below it."""
    n = len(sorted_values)
    return bisect.bisect_left(sorted_values, value) / n, bisect.bisect_right(sorted_values, value) / n


def compare_pct(alias: str, percent: int, insights: float | None, duckdb: float | None, values: Sequence[float]) -> Comparison:
    if insights is None or not values:
        ok = insights is None and duckdb is None
        return Comparison(alias, "pct", insights, duckdb, ok, "" if ok else "one engine has no value")
    ordered = sorted(values)
    low, high = rank_interval(ordered, insights)
    target = percent / 100
    tolerance = max(1 / len(ordered), PCT_RANK_TOLERANCE)
    ok = low - tolerance <= target <= high + tolerance
    exact = duckdb is not None and math.isclose(insights, duckdb, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)
    note = f"rank {low:.3f}..{high:.3f} of n={len(ordered)} for p{percent}" + ("; equals duckdb quantile_cont" if exact else "")
    return Comparison(alias, "pct", insights, duckdb, ok, note)


def compare_scalar(aggregate: Aggregate, insights: float | None, duckdb: float | None) -> Comparison:
    kind = aggregate.kind
    if kind in EXACT_KINDS or kind == "count_distinct":
        left, right = insights or 0.0, duckdb or 0.0  # no matching events: Insights returns no row, DuckDB NULL or 0
        if kind == "count_distinct" and left != right:
            error = abs(left - right) / max(right, 1.0)
            return Comparison(
                aggregate.alias, kind, insights, duckdb, error <= COUNT_DISTINCT_TOLERANCE, f"approximate: off by {error:.2%}"
            )
        return Comparison(aggregate.alias, kind, insights, duckdb, left == right, "" if kind != "count_distinct" else "exact")
    if kind in CLOSE_KINDS:
        if insights is None or duckdb is None:
            return Comparison(aggregate.alias, kind, insights, duckdb, insights is None and duckdb is None)
        ok = math.isclose(insights, duckdb, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-9)
        return Comparison(aggregate.alias, kind, insights, duckdb, ok)
    raise ValueError(f"{aggregate.alias}: no comparison rule for {kind!r}")


def compare_window(
    aggregates: Iterable[Aggregate],
    insights: tuple[Mapping[str, float | None], Mapping[str, int]],
    duckdb: tuple[Mapping[str, float | None], Mapping[str, int]],
    window_records: Sequence[Mapping[str, Any]],
) -> list[Comparison]:
    """Every aggregate of the window, plus one row per predicted class; `window_records` are the records in the window."""
    insights_values, insights_classes = insights
    duckdb_values, duckdb_classes = duckdb
    results: list[Comparison] = []
    for aggregate in aggregates:
        if aggregate.kind == "count_by":
            continue
        left, right = insights_values.get(aggregate.alias), duckdb_values.get(aggregate.alias)
        if aggregate.kind == "pct":
            values = [
                float(v)
                for r in window_records
                if r.get("message") == aggregate.message
                and isinstance(v := field_value(r, aggregate.field or ""), int | float)
                and not isinstance(v, bool)
            ]
            results.append(compare_pct(aggregate.alias, aggregate.percent or 0, left, right, values))
        else:
            results.append(compare_scalar(aggregate, left, right))
    for label in sorted(set(insights_classes) | {k for k, v in duckdb_classes.items() if v}):
        left_n, right_n = insights_classes.get(label, 0), duckdb_classes.get(label, 0)
        results.append(Comparison(f"{ALIAS_CLASS_COUNTS}[{label}]", "count_by", left_n, right_n, left_n == right_n))
    if ALIAS_REJECTED not in {c.alias for c in results}:
        left, right = insights_values.get(ALIAS_REJECTED), duckdb_values.get(ALIAS_REJECTED)
        results.append(Comparison(ALIAS_REJECTED, "count", left, right, (left or 0) == (right or 0)))
    return results
