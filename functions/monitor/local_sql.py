"""The same window aggregates rendered as one DuckDB statement over the JSON-lines prediction log.

Pure string building (no duckdb import): `local/monitor.py` executes it. One
scan computes everything. `read_json` gets explicit column types (no schema
sampling; a categorical feature is VARCHAR, a numeric one DOUBLE) and
`ignore_errors`, so a truncated last line or a garbage line becomes an
all-NULL row: counted as unreadable, never fatal. So is a line with a
timestamp out of range or not a number, or a NaN, Infinity or 1e308 among
its numbers (`readable`). Because such a line has no usable timestamp,
the unreadable count covers the whole file; every other aggregate is filtered
to the window and to readable lines. Grouped counts use `histogram`; a
categorical feature's counts per listed category are a histogram of the
listed values only, as the Logs Insights query filters them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from functions.contract import prediction_log as log
from functions.contract.model_artifact import FEATURE_CATEGORICAL, Baseline

from .aggregates import ANY_MESSAGE, COUNTED_MESSAGES, AggregateSpec, Func, build_specs

ALIAS_UNREADABLE = "__unreadable"
ALIAS_TOTAL = "__total"
ALIAS_MINUTE = "__minute"
MINUTE_MS = 60_000


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column(field: str) -> str:
    return ".".join(_ident(part) for part in field.split("."))


def columns(baseline: Baseline) -> dict[str, str]:
    """Explicit read_json column types: only what the specs read (other keys are ignored)."""
    types = baseline.feature_types
    struct = ", ".join(
        f"{_ident(name)} {'VARCHAR' if kind == FEATURE_CATEGORICAL else 'DOUBLE'}"
        for name, kind in zip(baseline.feature_names, types, strict=True)
    )
    return {
        log.KEY_MESSAGE: "VARCHAR",
        log.KEY_TIMESTAMP: "BIGINT",
        log.KEY_REQUEST_ID: "VARCHAR",
        log.KEY_MODEL: "VARCHAR",
        log.KEY_ENDPOINT: "VARCHAR",
        log.KEY_FEATURES: f"STRUCT({struct})",
        log.KEY_PREDICTION: "DOUBLE" if baseline.is_regression else "VARCHAR",  # a regressor's is a number
        log.KEY_IS_OUTLIER: "VARCHAR",  # read as text, parsed like Logs Insights' answer ("true" / "1")
        log.KEY_CONFIDENCE: "DOUBLE",
        log.KEY_RECONSTRUCTION_ERROR: "DOUBLE",
    }


def read_json_call(baseline: Baseline, path: str) -> str:
    types = ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in columns(baseline).items())
    return f"read_json({sql_string(path)}, format = 'newline_delimited', ignore_errors = true, columns = {{{types}}})"


def readable(baseline: Baseline) -> str:
    """A line the service could have written: a timestamp datetime can hold, every feature and the confidence
    finite and within float32 (the service refuses anything else). Other lines are counted unreadable."""
    bound = repr(log.LARGEST_LOGGED_VALUE)
    numbers = [_column(f"{log.KEY_FEATURES}.{feature.name}") for feature in baseline.features] + [log.KEY_CONFIDENCE]
    checks = " AND ".join(f"({c} IS NULL OR (isfinite({c}) AND abs({c}) <= {bound}))" for c in numbers)
    return f"({log.KEY_TIMESTAMP} BETWEEN 0 AND {log.LAST_TIMESTAMP_MS} AND {checks})"


@dataclass(frozen=True)
class LocalQuery:
    sql: str
    output: tuple[AggregateSpec | str, ...]  # per selected column: its spec, or ALIAS_UNREADABLE / ALIAS_TOTAL


def render_sql(baseline: Baseline, path: str, start_ms: int, end_ms: int, *, by_minute: bool = False) -> LocalQuery:
    """One statement for the window; `by_minute` groups it into one row per minute (first column: the minute's start),
    so a catch-up over many minutes scans the file once. Grouped rows count only lines with a timestamp."""
    window = (
        f"{log.KEY_MODEL} = {sql_string(baseline.model_name)}"
        f" AND {log.KEY_TIMESTAMP} >= {int(start_ms)} AND {log.KEY_TIMESTAMP} < {int(end_ms)}"
        f" AND {log.KEY_ENDPOINT} NOT IN ({', '.join(sql_string(e) for e in log.SAMPLE_ENDPOINTS)})"
        f" AND {readable(baseline)}"
    )
    # The window and message conditions are two boolean columns computed once per line; counts are `count_if` and
    # statistics read a CASE that is NULL outside the window. A wide model's thousands of aggregates then run in
    # about a second (a FILTER clause per aggregate took ~25 s at 200 features here).
    counted = f"{log.KEY_MESSAGE} IN ({', '.join(sql_string(m) for m in COUNTED_MESSAGES)})"
    prediction = f"{log.KEY_MESSAGE} = {sql_string(log.MESSAGE_PREDICTION)}"
    flags = {ANY_MESSAGE: "__counted", log.MESSAGE_PREDICTION: "__prediction"}
    select: list[str] = []
    output: list[AggregateSpec | str] = []
    for spec in build_specs(baseline):
        where = flags[spec.message]
        column = "*" if spec.field is None else _column(spec.field)
        value = f"CASE WHEN {where} THEN {column} END"  # NULL outside the window: skipped by every aggregate
        if spec.func is Func.BELOW:
            select.append(f"count_if({where} AND {column} < {float(spec.cut or 0.0)!r})")
        elif spec.func is Func.COUNT_BY:
            select.append(f"histogram({column}) FILTER (WHERE {where})")
        elif spec.func is Func.COUNT_LISTED:  # the listed values only, as the Logs Insights query filters them
            listed = ", ".join(sql_string(category) for category in spec.categories)
            select.append(f"histogram({column}) FILTER (WHERE {where} AND {column} IN ({listed}))")
        elif spec.func is Func.COUNT and spec.field is None:
            select.append(f"count_if({where})")
        else:
            select.append(
                {
                    Func.COUNT: f"count({value})",
                    Func.AVG: f"avg({value})",
                    Func.STDDEV: f"stddev_samp({value})",
                    Func.COUNT_DISTINCT: f"count(DISTINCT {value})",
                }[spec.func]
            )
        output.append(spec)
    select += [f"count(*) FILTER (WHERE {log.KEY_MESSAGE} IS NULL OR NOT coalesce({readable(baseline)}, false))", "count(*)"]
    output += [ALIAS_UNREADABLE, ALIAS_TOTAL]
    lines = (
        f"SELECT *, coalesce({counted} AND {window}, false) AS __counted, "
        f"coalesce({prediction} AND {window}, false) AS __prediction FROM {read_json_call(baseline, path)}"
    )
    sql = "SELECT\n  " + ",\n  ".join(select) + f"\nFROM ({lines})"
    if by_minute:
        minute = f"{log.KEY_TIMESTAMP} - {log.KEY_TIMESTAMP} % {MINUTE_MS}"
        sql = sql.replace("SELECT\n  ", f"SELECT\n  {minute} AS {ALIAS_MINUTE},\n  ", 1)
        sql += f"\nWHERE {log.KEY_TIMESTAMP} >= {int(start_ms)} AND {log.KEY_TIMESTAMP} < {int(end_ms)}\nGROUP BY 1"
    return LocalQuery(sql=sql, output=tuple(output))


def read_row(query: LocalQuery, row: Sequence[object]) -> tuple[dict[str, float | None], dict[str, dict[str, int]], int, int]:
    """Map the single result row back to (values, groups, unreadable lines, total lines)."""
    values: dict[str, float | None] = {}
    groups: dict[str, dict[str, int]] = {}
    unreadable = total = 0
    for item, cell in zip(query.output, row, strict=True):
        if item == ALIAS_UNREADABLE:
            unreadable = int(cell or 0)  # type: ignore[call-overload]
        elif item == ALIAS_TOTAL:
            total = int(cell or 0)  # type: ignore[call-overload]
        elif isinstance(item, AggregateSpec) and item.func in (Func.COUNT_BY, Func.COUNT_LISTED):
            histogram: Mapping[object, object] = cell or {}  # type: ignore[assignment]
            groups[item.alias] = {str(key): int(n) for key, n in histogram.items()}  # type: ignore[call-overload]
        elif isinstance(item, AggregateSpec):
            values[item.alias] = None if cell is None else float(cell)  # type: ignore[arg-type]
    return values, groups, unreadable, total
