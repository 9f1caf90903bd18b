"""Compare the monitor's aggregates as Logs Insights computed them with DuckDB over the same records.

Tolerances are per kind of aggregate and written down here, so a failure names the aggregate and the gap:
- counts, rows below a drift cut (`below`) and every grouped count (`count_by`: outlier flag, predicted class,
  rejected/failed message) are exact: they are integers on both sides, and `least(1, greatest(0, ceil(cut - x)))`
  is exact in floating point (cut - x > 0 exactly when x < cut);
- avg and stddev agree to a relative 1e-6 (Insights answers numbers as strings; they carry at least that
  precision in every answer we know of);
- `count_distinct` is documented as approximate at high cardinality: it may differ by COUNT_DISTINCT_TOLERANCE
  (2 %, below the margin the rejected-ratio check uses at any window size the monitor judges), and the row says
  whether it was exact.
Then the numbers the monitor's checks judge (rows, outliers, unreadable outlier flags, requests, rejected, failed),
as the monitor's own reader types each engine's answer, are compared exactly (count_distinct's `requests` within
its tolerance).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from .monitor_queries import ALIAS_REQUESTS, SUMMARY_FIELDS, Aggregate, WindowValues

RELATIVE_TOLERANCE = 1e-6
COUNT_DISTINCT_TOLERANCE = 0.02
EXACT_KINDS = frozenset({"count", "below", "count_by"})
CLOSE_KINDS = frozenset({"avg", "stddev"})


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


def compare_value(alias: str, kind: str, insights: float | None, duckdb: float | None) -> Comparison:
    if kind in EXACT_KINDS or kind == "count_distinct":
        left, right = insights or 0.0, duckdb or 0.0  # no matching events: Insights returns no row, DuckDB NULL or 0
        if kind == "count_distinct" and left != right:
            error = abs(left - right) / max(right, 1.0)
            return Comparison(
                alias, kind, insights, duckdb, error <= COUNT_DISTINCT_TOLERANCE, f"approximate: off by {error:.2%}"
            )
        return Comparison(alias, kind, insights, duckdb, left == right, "exact" if kind == "count_distinct" else "")
    if kind in CLOSE_KINDS:
        if insights is None or duckdb is None:
            return Comparison(alias, kind, insights, duckdb, insights is None and duckdb is None)
        ok = math.isclose(insights, duckdb, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-9)
        return Comparison(alias, kind, insights, duckdb, ok)
    raise ValueError(f"{alias}: no comparison rule for {kind!r}")


def compare_window(aggregates: Iterable[Aggregate], insights: WindowValues, duckdb: WindowValues) -> list[Comparison]:
    """Every scalar aggregate, every group of every grouped count, then the numbers the monitor judges."""
    results: list[Comparison] = []
    for aggregate in aggregates:
        if aggregate.kind == "count_by":
            left_groups = insights.groups.get(aggregate.alias, {})
            right_groups = duckdb.groups.get(aggregate.alias, {})
            for key in sorted({k for k, n in left_groups.items() if n} | {k for k, n in right_groups.items() if n}):
                left_n, right_n = left_groups.get(key, 0), right_groups.get(key, 0)
                results.append(Comparison(f"{aggregate.alias}[{key}]", "count_by", left_n, right_n, left_n == right_n))
        else:
            results.append(
                compare_value(
                    aggregate.alias, aggregate.kind, insights.values.get(aggregate.alias), duckdb.values.get(aggregate.alias)
                )
            )
    for engine, answer in (("insights", insights), ("duckdb", duckdb)):
        if answer.error:
            results.append(Comparison(f"window ({engine})", "read", None, None, False, answer.error))
    if insights.error or duckdb.error:
        return results
    for name in SUMMARY_FIELDS:
        kind = "count_distinct" if name == ALIAS_REQUESTS else "count"
        results.append(compare_value(f"window.{name}", kind, insights.summary.get(name), duckdb.summary.get(name)))
    return results
